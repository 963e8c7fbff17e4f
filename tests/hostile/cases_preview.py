"""Hostile clients of the live preview: floods, odd requests, slow and idle connections."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cases_runs import long_clip
from harness import (
    CLI,
    COMMON,
    ENV,
    SIGTERM,
    Bad,
    case,
    frames_written,
    no_traceback,
    signal_and_wait,
    store,
    wait_for,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(port: int, method: str, path: str, body: object = None) -> int:
    """One request on its own connection; the status (0: the connection failed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        headers = {"Host": f"127.0.0.1:{port}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def raw(port: int, text: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(text)
        return s.recv(4096)


@contextmanager
def preview_run(work: Path, *extra: object) -> Iterator[tuple[subprocess.Popen, int]]:
    """A run of the long clip with --preview, once a frame is on the page; it is then
    stopped with SIGTERM, which must end it within the limit, outputs valid."""
    port = free_port()
    args = ["run", long_clip(work), *COMMON, "-q", "--prompt", "40,120", "--out", work / "o"]
    proc = subprocess.Popen(
        [*CLI, *map(str, args), "--preview", str(port), *map(str, extra)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        wait_for(lambda: request(port, "GET", "/frame.jpg?after=-1") == 200, 60, "a frame")
        yield proc, port
        if proc.poll() is not None:
            raise Bad("wrong", f"the run ended early: {proc.communicate()[1].decode()[-200:]}")
        r = signal_and_wait(proc, [SIGTERM])
        no_traceback(r)
        if r.returncode != 130:
            raise Bad("wrong", f"exit {r.returncode}: {r.stderr[-200:]}")
        # A loaded machine may not finish the last write within the stop's bound: the run
        # says so (even with -q), and the store then holds what frames_written counts.
        finished = "was still writing when the run had to stop" not in r.stderr
        if store(work / "o", strict=finished).attrs["complete"] is not False:
            raise Bad("wrong", "complete after SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def still_running(work: Path, what: str, frames: int = 3) -> None:
    """The frame loop goes on: ``frames`` more frames written within 15 s."""
    before = frames_written(work / "o")
    wait_for(lambda: frames_written(work / "o") >= before + frames, 15, f"frames after {what}")


def flood(port: int, bodies: list[object], threads: int = 4) -> Counter:
    statuses: Counter = Counter()
    lock = threading.Lock()
    queue = list(bodies)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            status = request(port, "POST", "/api/prompts", body)
            with lock:
                statuses[status] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(120)
    return statuses


def refused_only(statuses: Counter, allowed: set[int]) -> None:
    if set(statuses) - allowed:
        raise Bad("wrong", f"answers {dict(statuses)}; expected only {sorted(allowed)}")


@case
def preview_point_flood(work: Path) -> None:
    with preview_run(work) as (_, port):
        body = {"frame": 0, "object": 1, "points": [[40, 120]], "labels": [1]}
        statuses = flood(port, [body] * 200)
        refused_only(statuses, {200, 429})
        if not statuses[429]:
            raise Bad("wrong", f"200 POSTs in a burst, none limited: {dict(statuses)}")
        still_running(work, "200 prompts")


@case
def preview_new_object_flood(work: Path) -> None:
    with preview_run(work) as (_, port):
        bodies = [{"frame": 0, "object": None, "points": [[10 + i % 300, 10 + i % 200]],
                   "labels": [1]} for i in range(1000)]  # fmt: skip
        statuses = flood(port, bodies)
        refused_only(statuses, {200, 409, 429})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/objects", headers={"Host": f"127.0.0.1:{port}"})
        objects = json.loads(connection.getresponse().read())
        if len(objects) > 8:  # the default cap (the object from --prompt counts)
            raise Bad("wrong", f"{len(objects)} objects accepted")
        still_running(work, "1000 new objects", frames=1)  # 33 objects now: slower frames


@case
def preview_many_points(work: Path) -> None:
    with preview_run(work) as (_, port):
        points = [[40 + i % 8, 100 + i // 8] for i in range(64)]
        body = {"frame": 0, "object": 1, "points": points, "labels": [1] * 64}
        refused_only(flood(port, [body] * 20, threads=2), {200, 429})
        still_running(work, "20 prompts of 64 points")


@case
def preview_duplicate_host(work: Path) -> None:
    with preview_run(work) as (_, port):
        answer = raw(port, f"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Host: evil.com\r\n\r\n".encode())  # fmt: skip
        if not answer.startswith(b"HTTP/1.1 400"):
            raise Bad("wrong", f"two Host headers answered {answer[:40]!r}")


@case
def preview_six_query_parameters(work: Path) -> None:
    with preview_run(work) as (proc, port):
        status = request(port, "GET", "/frame.jpg?after=1&a=1&b=2&c=3&d=4&e=5")
        if status != 400:
            raise Bad("wrong", f"six query parameters answered {status}")


@case
def preview_unknown_query_parameter(work: Path) -> None:
    with preview_run(work) as (_, port):
        status = request(port, "GET", "/api/status?debug=1")
        if status != 400:
            raise Bad("wrong", f"an unknown query parameter answered {status}")


@case
def preview_slowloris(work: Path) -> None:
    # the case scaled by ten: a header line every 1.2 s, a 3 s limit
    with preview_run(work, "--set", "preview.timeout=3") as (_, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.monotonic()
        try:
            s.sendall(b"GET /api/status HTTP/1.1\r\n")
            while time.monotonic() - started < 8:
                time.sleep(1.2)
                s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass  # closed by the server
        finally:
            s.close()
        held = time.monotonic() - started
        if held >= 8:
            raise Bad("hang", f"a slow client kept its connection {held:.0f} s (limit 3 s)")


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


@case
def preview_idle_connections(work: Path) -> None:
    with preview_run(work) as (proc, port):
        baseline = threads_of(proc.pid)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(100)]
        try:
            time.sleep(1)
            grown = threads_of(proc.pid) - baseline
            if grown > 40:  # 16 served, 16 being shut to make room, some slack; not 100
                raise Bad("wrong", f"100 idle connections made {grown} threads")
            if request(port, "GET", "/api/status") != 200:
                raise Bad("wrong", "a viewer was locked out by idle connections")
        finally:
            for s in idle:
                s.close()
