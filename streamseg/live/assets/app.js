// streamseg live preview: draws the newest overlay frame, turns clicks into prompts.
// No framework, no external URL: the server's Content-Security-Policy allows only itself.
"use strict";

const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
const stage = document.getElementById("stage");
const list = document.getElementById("objects");

const state = {
  shown: -1,        // index of the frame on the canvas (sent with every click)
  bitmap: null,     // that frame, kept to redraw click marks over it
  selected: null,   // id of the selected object
  objects: [],
  marks: [],        // recent clicks {x, y, label, until}, drawn over the frames
  drawTimes: [],    // when frames were drawn, for the page's own frame rate
  paused: false,    // the run is paused (or waiting at its first frame for a click)
};

const MARK_MS = 1500;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The DAVIS palette, as the overlay colours objects by their position in the results.
function paletteColour(i) {
  let c = i, r = 0, g = 0, b = 0;
  for (let j = 0; j < 8; j++) {
    r |= ((c >> 0) & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
    c >>= 3;
  }
  return [r, g, b];
}

function say(text) {
  document.getElementById("message").textContent = text || "";
}

// JSON API call; shows the server's error message and returns null on failure.
async function api(method, path, body) {
  try {
    const options = { method, cache: "no-store" };
    if (body !== undefined) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) {
      say(data.error || `${method} ${path}: HTTP ${response.status}`);
      return null;
    }
    return data;
  } catch (error) {
    say(`${method} ${path}: ${error.message}`);
    return null;
  }
}

// ---- frames: long-poll the next newer frame, draw it, ask again at once -----------

function fit() {
  if (!canvas.width) return;
  const room = Math.max(100, window.innerHeight - canvas.getBoundingClientRect().top - 90);
  const scale = Math.min(stage.clientWidth / canvas.width, room / canvas.height);
  canvas.style.width = `${Math.floor(canvas.width * scale)}px`;
  canvas.style.height = `${Math.floor(canvas.height * scale)}px`;
}

function redraw() {
  if (!state.bitmap) return;
  ctx.drawImage(state.bitmap, 0, 0);
  const now = performance.now();
  state.marks = state.marks.filter((m) => m.until > now);
  const size = Math.max(4, canvas.width / 120);
  ctx.lineWidth = Math.max(2, size / 3);
  for (const m of state.marks) {
    ctx.strokeStyle = m.label ? "#3dff7a" : "#ff4d4d";
    ctx.beginPath();
    if (m.label) {
      ctx.arc(m.x, m.y, size, 0, 2 * Math.PI);
    } else {
      ctx.moveTo(m.x - size, m.y - size); ctx.lineTo(m.x + size, m.y + size);
      ctx.moveTo(m.x + size, m.y - size); ctx.lineTo(m.x - size, m.y + size);
    }
    ctx.stroke();
  }
}

function show(bitmap, index) {
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    fit();
  }
  if (state.bitmap) state.bitmap.close();
  state.bitmap = bitmap;
  state.shown = index;
  redraw();
  document.getElementById("frame-index").textContent = String(index);
  document.body.dataset.frame = String(index);
  const now = performance.now();
  state.drawTimes.push(now);
  while (state.drawTimes.length > 30) state.drawTimes.shift();
}

async function frameLoop() {
  for (;;) {
    try {
      const response = await fetch(`/frame.jpg?after=${state.shown}`, { cache: "no-store" });
      if (response.status === 200) {
        const index = Number(response.headers.get("X-Frame-Index"));
        show(await createImageBitmap(await response.blob()), index);
      } else if (response.status !== 204) {
        throw new Error(`HTTP ${response.status}`);
      }
    } catch (error) {
      setOffline(`no frames (${error.message}); retrying`);
      state.shown = -1; // the server may have restarted with a new stream
      await sleep(1000);
    }
  }
}

// ---- clicks -> prompts -------------------------------------------------------------

// Event position -> source pixels of the frame on the canvas, whatever its display size.
function toSource(event) {
  const box = canvas.getBoundingClientRect();
  const x = ((event.clientX - box.left) * canvas.width) / box.width;
  const y = ((event.clientY - box.top) * canvas.height) / box.height;
  const clamp = (v, n) => Math.min(Math.max(v, 0), n - 0.01);
  return [clamp(x, canvas.width), clamp(y, canvas.height)];
}

async function prompt(event, label, toSelected) {
  event.preventDefault();
  if (state.shown < 0) return;
  const [x, y] = toSource(event);
  const frame = state.shown; // the frame the user saw when clicking
  let object = null;
  if (toSelected && state.selected !== null) {
    object = state.selected;
  } else if (toSelected && label === 0) {
    say("Select an object first: a negative point belongs to an object.");
    return;
  }
  state.marks.push({ x, y, label, until: performance.now() + MARK_MS });
  redraw();
  const result = await api("POST", "/api/prompts", { frame, object, points: [[x, y]], labels: [label] });
  if (result) {
    state.selected = result.object;
    say(`${result.new ? "New object" : "Point added to object"} ${result.object} at frame ${frame}`);
    refreshObjects();
  }
}

canvas.addEventListener("click", (e) => prompt(e, e.altKey ? 0 : 1, e.shiftKey || e.altKey));
canvas.addEventListener("contextmenu", (e) => prompt(e, 0, true));

// ---- objects panel -----------------------------------------------------------------

async function removeObject(id) {
  if ((await api("DELETE", `/api/objects/${id}`)) !== null) {
    if (state.selected === id) state.selected = null;
    say(`Object ${id} removed`);
    refreshObjects();
  }
}

function renderObjects() {
  list.replaceChildren();
  state.objects.forEach((obj, position) => {
    const item = document.createElement("li");
    item.dataset.id = String(obj.id);
    if (obj.id === state.selected) item.classList.add("selected");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    const [r, g, b] = Array.isArray(obj.colour) ? obj.colour : paletteColour(position + 1);
    swatch.style.background = `rgb(${r}, ${g}, ${b})`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = obj.name || `object ${obj.id}`; // textContent: names are user input
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = obj.pending ? "starting" : obj.status || (obj.present === false ? "lost" : "");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.title = `Remove object ${obj.id}`;
    remove.textContent = "✕";
    remove.addEventListener("click", (e) => {
      e.stopPropagation();
      removeObject(obj.id);
    });
    item.addEventListener("click", () => {
      state.selected = obj.id === state.selected ? null : obj.id;
      renderObjects();
    });
    item.append(swatch, name, meta, remove);
    list.append(item);
  });
  document.getElementById("empty").hidden = state.objects.length > 0;
}

async function refreshObjects() {
  const objects = await api("GET", "/api/objects");
  if (!objects) return;
  const selected = objects.some((o) => o.id === state.selected) ? state.selected : null;
  // Rebuild the list only when it changed, so a button is never replaced mid-click.
  if (JSON.stringify(objects) === JSON.stringify(state.objects) && selected === state.selected) {
    return;
  }
  state.objects = objects;
  state.selected = selected;
  renderObjects();
}

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    state.selected = null;
    renderObjects();
  } else if ((e.key === "Delete" || e.key === "Backspace") && state.selected !== null) {
    removeObject(state.selected);
  }
});

// ---- status line -------------------------------------------------------------------

function setOffline(text) {
  const line = document.getElementById("status");
  line.textContent = text;
  line.classList.add("offline");
}

const ms = (seconds) => (typeof seconds === "number" ? `${Math.round(seconds * 1000)} ms` : "–");

async function refreshStatus() {
  let s;
  try {
    const response = await fetch("/api/status", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    s = await response.json();
  } catch (error) {
    setOffline(`offline (${error.message})`);
    return;
  }
  const t = state.drawTimes;
  const viewFps = t.length > 1 ? ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]) : 0;
  const parts = [
    `${typeof s.fps === "number" ? s.fps.toFixed(1) : "–"} fps`,
    `latency p50 ${ms(s.latency_p50)} / p95 ${ms(s.latency_p95)}`,
    `dropped ${s.dropped ?? 0}`,
    `frame ${s.frame_index ?? s.preview?.frame_index ?? "–"} (shown ${state.shown})`,
    `view ${viewFps.toFixed(1)} fps`,
  ];
  if (s.waiting) parts.unshift(s.waiting);
  else if (s.paused) parts.unshift("paused");
  state.paused = Boolean(s.paused);
  document.getElementById("playback").textContent = state.paused ? "Play" : "Pause";
  const line = document.getElementById("status");
  line.textContent = parts.join(" · ");
  line.classList.remove("offline");
}

// ---- pause / play ------------------------------------------------------------------

document.getElementById("playback").addEventListener("click", async () => {
  const answer = await api("POST", "/api/playback", { paused: !state.paused });
  if (answer) {
    state.paused = answer.paused;
    document.getElementById("playback").textContent = state.paused ? "Play" : "Pause";
  }
});

window.addEventListener("resize", fit);
setInterval(refreshStatus, 1000);
setInterval(refreshObjects, 1000);
refreshStatus();
refreshObjects();
frameLoop();
