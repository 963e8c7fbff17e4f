"""Generate the bundled sample clip and its ground-truth masks.

Writes ``sample_data/sample.mp4`` (640x360, 24 fps, H.264 + AAC), one DAVIS-style palette
PNG mask per frame in ``sample_data/sample_masks/`` and ``sample_data/sample_prompt.json``
(a click point inside the object on frame 0).

The scene is fully procedural and seeded, so re-running gives the same pixels: a paved plaza
with moss and painted lines (fractal noise, tiles, soft shading) seen by a hand-held camera that
pans, zooms and rolls slightly; a textured, shaded red-orange blob moves across it and turns;
a painted metal post in the foreground (with parallax) passes in front of the blob for part
of the clip. Layers are rendered at 2x and downsampled (antialiased edges), then get a little
motion blur and sensor noise. The ground truth is the object's visible alpha (its alpha times
one minus the post's alpha) thresholded at 0.5.

Usage::

    python scripts/make_sample.py [--out sample_data]
"""

from __future__ import annotations

import argparse
import json
import logging
import struct
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

log = logging.getLogger("make_sample")

SEED = 20240521
W, H = 640, 360
FPS = 24
N_FRAMES = 4 * FPS
SS = 2  # supersampling factor for the layers
WORLD_W, WORLD_H = 1400, 800
AUDIO_RATE = 48000

OBJ_A, OBJ_B = 78.0, 50.0  # object semi-axes in world pixels
POST_HALF_WIDTH = 12.5  # post half-width in world pixels
POST_X = 700.0  # post position in world pixels
PARALLAX = 1.3  # the post is nearer to the camera than the ground

# DAVIS palette: index 0 black (background), index 1 dark red (the object).
PALETTE = bytes([0, 0, 0, 128, 0, 0])


def fractal_noise(
    shape: tuple[int, int], rng: np.random.Generator, cells: int = 4, octaves: int = 5, gain=0.55
) -> np.ndarray:
    """Multi-octave value noise in [0, 1]: random grids upsampled with bicubic interpolation."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = cells * 2**o
        grid = rng.random((max(2, round(n * h / w)) + 1, n + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= gain
    out /= total
    return (out - out.min()) / (out.max() - out.min() + 1e-6)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 (x <= e0) to 1 (x >= e1)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def mix(img: np.ndarray, colour, weight: np.ndarray) -> np.ndarray:
    """Blend ``colour`` (RGB triple or image) over ``img`` with a per-pixel ``weight`` in [0, 1]."""
    w = weight[..., None]
    return img * (1 - w) + np.asarray(colour, np.float32) * w


def make_background(rng: np.random.Generator) -> np.ndarray:
    """Paint the world: running-bond paving with moss, worn lines, stains and dappled light."""
    h, w = WORLD_H, WORLD_W
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tile, grout = 96, 4
    row = (yy // tile).astype(int)
    xs = xx + (row % 2) * tile / 2
    col = (xs // tile).astype(int)
    lx, ly = xs % tile, yy % tile
    # Per-tile colour (greys, beige, slate green) and a soft gradient across each tile.
    n_rows, n_cols = h // tile + 2, w // tile + 3
    base = np.array([0.55, 0.54, 0.50], np.float32)
    tints = base + rng.normal(0, 0.035, (n_rows, n_cols, 3)).astype(np.float32)
    tints += rng.normal(0, 0.06, (n_rows, n_cols, 1)).astype(np.float32)
    tints[..., 0] -= 0.02  # keep the ground away from red
    ang = rng.uniform(0, 2 * np.pi, (n_rows, n_cols)).astype(np.float32)
    img = tints[row, col]
    grad = np.cos(ang[row, col]) * (lx / tile - 0.5) + np.sin(ang[row, col]) * (ly / tile - 0.5)
    img *= (1 + 0.12 * grad)[..., None]
    edge = np.minimum(np.minimum(lx, tile - lx), np.minimum(ly, tile - ly))
    img *= (0.82 + 0.18 * smoothstep(grout, grout + 6, edge))[..., None]
    gmask = (edge < grout / 2 + 0.5).astype(np.float32)
    gmask = cv2.GaussianBlur(gmask, (0, 0), 0.8)
    img = mix(img, (0.27, 0.27, 0.25), gmask)
    # Grain and dirt.
    fine = fractal_noise((h, w), rng, cells=60, octaves=3)
    dirt = fractal_noise((h, w), rng, cells=6, octaves=5)
    img *= (0.78 + 0.3 * fine * (0.6 + 0.4 * dirt))[..., None]
    # Faded painted lines (white), worn away by noise.
    wear = fractal_noise((h, w), rng, cells=40, octaves=3)
    for x0, slope in ((260.0, 0.35), (1050.0, -0.25)):
        d = np.abs(xx - (x0 + slope * yy)) / np.sqrt(1 + slope**2)
        line = smoothstep(16, 13, d) * smoothstep(0.25, 0.55, wear) * 0.75
        img = mix(img, (0.86, 0.86, 0.82), line)
    # Moss / grass patches in the cracks and low spots.
    patch = fractal_noise((h, w), rng, cells=5, octaves=5)
    moss = smoothstep(0.62, 0.72, patch + 0.1 * gmask)
    mtex = fractal_noise((h, w), rng, cells=90, octaves=3)
    mtex = 0.6 * mtex + 0.4 * fractal_noise((h, w), rng, cells=250, octaves=1)
    green = np.stack([0.14 + 0.16 * mtex, 0.26 + 0.30 * mtex, 0.10 + 0.10 * mtex], -1)
    img = mix(img, green, moss)
    # Dark stains (soft blobs).
    stains = np.zeros((h, w), np.float32)
    for _ in range(14):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        ax = (int(rng.uniform(20, 70)), int(rng.uniform(12, 40)))
        cv2.ellipse(stains, c, ax, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    stains = cv2.GaussianBlur(stains, (0, 0), 12) * 0.35
    img *= (1 - stains)[..., None]
    # Dappled light from trees plus a broad gradient.
    dapple = fractal_noise((h, w), rng, cells=8, octaves=4)
    light = 0.72 + 0.38 * smoothstep(0.35, 0.65, dapple)
    light *= 0.92 + 0.12 * (xx / w)
    img *= light[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def make_object_texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Texture of the blob in its own frame: mottled red-orange with maroon spots and a band."""
    n1 = fractal_noise((size, size), rng, cells=4, octaves=5)
    n2 = fractal_noise((size, size), rng, cells=12, octaves=3)
    grain = fractal_noise((size, size), rng, cells=64, octaves=2)
    base = np.array([0.88, 0.34, 0.12], np.float32)
    spot = np.array([0.52, 0.10, 0.07], np.float32)
    band = np.array([0.95, 0.55, 0.18], np.float32)
    tex = base * (0.85 + 0.3 * n1[..., None])
    tex = mix(tex, spot, smoothstep(0.62, 0.70, n2))
    v = np.linspace(-1, 1, size, dtype=np.float32)[:, None]
    u = np.linspace(-1, 1, size, dtype=np.float32)[None, :]
    tex = mix(tex, band, 0.8 * smoothstep(0.10, 0.05, np.abs(v - 0.25 * np.sin(3 * u) - 0.1)))
    tex *= (0.9 + 0.2 * grain)[..., None]
    return np.clip(tex, 0, 1).astype(np.float32)


def make_post_texture(rng: np.random.Generator, height: int = 1600) -> np.ndarray:
    """Texture of the post (u across, v along): painted teal metal with streaks and two bands."""
    streak = fractal_noise((height // 16, 48), rng, cells=12, octaves=3)
    streak = cv2.resize(streak, (48, height), interpolation=cv2.INTER_CUBIC)
    grain = fractal_noise((height, 48), rng, cells=24, octaves=3)
    paint = np.array([0.16, 0.30, 0.36], np.float32)
    tex = paint * (0.75 + 0.35 * streak + 0.15 * grain)[..., None]
    v = np.arange(height, dtype=np.float32)[:, None]
    for v0 in (700.0, 760.0):
        tape = smoothstep(14, 10, np.abs(v - v0)) * (0.7 + 0.3 * grain)
        tex = mix(tex, (0.85, 0.85, 0.82), tape)
    return np.clip(tex, 0, 1).astype(np.float32)


def ease(t: np.ndarray | float) -> np.ndarray | float:
    """Time warp shared by the camera pan and the object: slower in the middle of the clip."""
    return t + 0.1 * np.sin(2 * np.pi * t)


def camera_path(rng: np.random.Generator) -> list[tuple[np.ndarray, float, float]]:
    """Per frame (world point at the image centre, zoom, roll in radians), with hand-held shake."""
    n = N_FRAMES
    t = np.linspace(0, 1, n)
    k = np.exp(-0.5 * (np.arange(-8, 9) / 3.0) ** 2)
    k /= k.sum()

    def shake(scale: float) -> np.ndarray:
        return np.convolve(rng.normal(0, 1, n + 16), k, mode="valid")[:n] * scale

    cx = 430 + 500 * ease(t) + shake(6.0)
    cy = 400 + 25 * np.sin(np.pi * t) + shake(5.0)
    zoom = 1.0 + 0.08 * t + shake(0.004)
    roll = np.deg2rad(2.0 * np.sin(2 * np.pi * 0.4 * t) + shake(0.6))
    return [(np.array([cx[i], cy[i]]), float(zoom[i]), float(roll[i])) for i in range(n)]


def world_to_screen(p: np.ndarray, cam: tuple[np.ndarray, float, float], depth=1.0) -> np.ndarray:
    """Project a world point to 1x screen pixels; ``depth`` > 1 amplifies motion (parallax)."""
    c, s, r = cam
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    return s * depth * rot @ (p - c) + np.array([W / 2, H / 2])


def render_background(bg: np.ndarray, cam: tuple[np.ndarray, float, float]) -> np.ndarray:
    """Warp the world image into a 2x frame for this camera pose."""
    c, s, r = cam
    a = SS * s * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    m = np.hstack([a, (SS * np.array([W / 2, H / 2]) - a @ c)[:, None]])
    return cv2.warpAffine(
        bg, m, (W * SS, H * SS), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def object_state(i: int) -> tuple[np.ndarray, float, float, float, float]:
    """World centre, rotation (rad), semi-axes and shape phase of the object at frame ``i``."""
    t = i / (N_FRAMES - 1)
    centre = np.array([250 + 860 * ease(t), 430 + 28 * np.sin(2 * np.pi * 1.1 * t)])
    angle = np.deg2rad(-12 + 80 * t)
    turn = np.cos(2 * np.pi * 0.7 * t)  # turning in depth: apparent width changes
    return centre, angle, OBJ_A * (0.9 + 0.1 * turn), OBJ_B * (1.0 - 0.04 * turn), 2 * np.pi * t


def render_object(
    tex: np.ndarray, i: int, cam: tuple[np.ndarray, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Render the shaded blob at 2x: premultiplied RGB and alpha."""
    centre_w, angle, a, b, phase = object_state(i)
    _, s, roll = cam
    centre = world_to_screen(centre_w, cam)
    a2, b2, th = SS * s * a, SS * s * b, angle + roll
    yy, xx = np.mgrid[0 : H * SS, 0 : W * SS].astype(np.float32)
    dx, dy = xx - SS * centre[0], yy - SS * centre[1]
    lu = dx * np.cos(th) + dy * np.sin(th)  # object-local coordinates (2x pixels)
    lv = -dx * np.sin(th) + dy * np.cos(th)
    psi = np.arctan2(lv, lu)
    rho = np.hypot(lu, lv)
    r_ell = a2 * b2 / np.sqrt((b2 * np.cos(psi)) ** 2 + (a2 * np.sin(psi)) ** 2)
    wobble = 1 + 0.07 * np.sin(3 * psi + phase) + 0.04 * np.sin(5 * psi - 1.7 * phase + 1.0)
    r_edge = r_ell * wobble
    alpha = np.clip(r_edge - rho + 0.5, 0, 1)
    # Texture lookup in the object's frame (fixed base size, so it does not swim).
    ts = tex.shape[0]
    mx = ((lu / (SS * s * OBJ_A * 1.2) + 1) * 0.5 * (ts - 1)).astype(np.float32)
    my = ((lv / (SS * s * OBJ_B * 1.2) + 1) * 0.5 * (ts - 1)).astype(np.float32)
    col = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # Shading as a squashed ellipsoid lit from the top left, with a soft specular highlight.
    q = np.clip(rho / np.maximum(r_edge, 1e-3), 0, 1)
    nz = np.sqrt(1 - 0.85 * q**2)
    nx, ny = q * dx / np.maximum(rho, 1e-3), q * dy / np.maximum(rho, 1e-3)
    nrm = np.sqrt(nx**2 + ny**2 + nz**2)
    light = np.array([-0.45, -0.55, 0.70])
    light /= np.linalg.norm(light)
    diff = np.clip((nx * light[0] + ny * light[1] + nz * light[2]) / nrm, 0, 1)
    half = light + np.array([0, 0, 1.0])
    half /= np.linalg.norm(half)
    spec = np.clip((nx * half[0] + ny * half[1] + nz * half[2]) / nrm, 0, 1) ** 30
    col = col * (0.30 + 0.85 * diff)[..., None] + 0.22 * spec[..., None]
    col = np.clip(col, 0, 1)
    return col * alpha[..., None], alpha


def render_post(
    tex: np.ndarray, cam: tuple[np.ndarray, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Render the foreground post at 2x: premultiplied RGB and alpha."""
    _, s, roll = cam
    anchor = world_to_screen(np.array([POST_X, 400.0]), cam, depth=PARALLAX)
    lean = roll + np.deg2rad(3.0)
    yy, xx = np.mgrid[0 : H * SS, 0 : W * SS].astype(np.float32)
    dx, dy = xx - SS * anchor[0], yy - SS * anchor[1]
    u = dx * np.cos(lean) + dy * np.sin(lean)  # across the post
    v = -dx * np.sin(lean) + dy * np.cos(lean)  # along the post
    hw = SS * s * PARALLAX * POST_HALF_WIDTH
    alpha = np.clip(hw - np.abs(u) + 0.5, 0, 1)
    th, tw = tex.shape[:2]
    mx = ((u / hw + 1) * 0.5 * (tw - 1)).astype(np.float32)
    my = (v / (SS * s * PARALLAX) + th / 2).astype(np.float32)
    col = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    uc = np.clip(u / hw, -1, 1)
    shade = (
        0.45
        + 0.55 * np.sqrt(1 - uc**2) * (1 - 0.35 * uc)
        + 0.25 * np.exp(-(((uc + 0.4) / 0.12) ** 2))
    )
    col = np.clip(col * shade[..., None], 0, 1)
    return col * alpha[..., None], alpha


def down(img: np.ndarray) -> np.ndarray:
    """Downsample a 2x layer to the output size (area averaging = antialiasing)."""
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)


def motion_kernel(v: np.ndarray, shutter: float = 0.5) -> np.ndarray | None:
    """Linear motion-blur kernel for a velocity of ``v`` pixels/frame (None if negligible)."""
    length = shutter * float(np.hypot(*v))
    if length < 0.75:
        return None
    size = 2 * int(np.ceil(length / 2)) + 3
    k = np.zeros((size, size), np.float32)
    c = size // 2
    for f in np.linspace(-0.5, 0.5, 33):
        x, y = c + f * shutter * v[0], c + f * shutter * v[1]
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    return k / k.sum()


def blur(img: np.ndarray, k: np.ndarray | None) -> np.ndarray:
    """Apply a motion-blur kernel (no-op for None)."""
    return img if k is None else cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)


def render_frames(rng: np.random.Generator):
    """Yield (RGB uint8 frame, bool visible-object mask, occluded fraction) for every frame."""
    bg = make_background(rng)
    otex = make_object_texture(rng)
    ptex = make_post_texture(rng)
    cams = camera_path(rng)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    vignette = 1 - 0.18 * (((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2) / 2
    for i, cam in enumerate(cams):
        prev, nxt = cams[max(i - 1, 0)], cams[min(i + 1, N_FRAMES - 1)]
        span = min(i + 1, N_FRAMES - 1) - max(i - 1, 0)
        # Screen velocities (1x px/frame) of the ground, the object and the post.
        v_bg = (world_to_screen(cam[0], nxt) - world_to_screen(cam[0], prev)) / span
        o_prev = world_to_screen(object_state(max(i - 1, 0))[0], prev)
        o_next = world_to_screen(object_state(min(i + 1, N_FRAMES - 1))[0], nxt)
        v_obj = (o_next - o_prev) / span
        p_ref = np.array([POST_X, 400.0])
        v_post = (
            world_to_screen(p_ref, nxt, PARALLAX) - world_to_screen(p_ref, prev, PARALLAX)
        ) / span

        frame = blur(down(render_background(bg, cam)), motion_kernel(v_bg))
        ocol, oalpha = render_object(otex, i, cam)
        ocol, oalpha = down(ocol), down(oalpha)
        # Soft contact shadow on the ground, cast down-right.
        shadow = cv2.warpAffine(oalpha, np.array([[1, 0, 10], [0, 1, 14]], np.float32), (W, H))
        frame *= (1 - 0.35 * cv2.GaussianBlur(shadow, (0, 0), 7))[..., None]
        k_obj = motion_kernel(v_obj)
        ocol, oalpha = blur(ocol, k_obj), blur(oalpha, k_obj)
        frame = frame * (1 - oalpha[..., None]) + ocol
        pcol, palpha = render_post(ptex, cam)
        k_post = motion_kernel(v_post)
        pcol, palpha = blur(down(pcol), k_post), blur(down(palpha), k_post)
        frame = frame * (1 - palpha[..., None]) + pcol

        frame *= vignette[..., None]
        noise = rng.normal(0, 1.8 / 255, (H, W, 1)) + rng.normal(0, 0.8 / 255, (H, W, 3))
        frame = np.clip(frame + noise, 0, 1)
        visible = oalpha * (1 - palpha)
        mask = visible >= 0.5
        full = int((oalpha >= 0.5).sum())
        occluded = 1 - mask.sum() / max(full, 1)
        yield (frame * 255 + 0.5).astype(np.uint8), mask, float(occluded)


def write_palette_png(path: Path, index: np.ndarray) -> None:
    """Write a mode-"P" PNG (DAVIS palette) of uint8 indices, using only zlib."""
    h, w = index.shape

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = np.hstack([np.zeros((h, 1), np.uint8), index.astype(np.uint8)]).tobytes()
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
    png += chunk(b"PLTE", PALETTE) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def make_audio(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A soft A-major chord with slow tremolo, a little noise and fades; stereo float32 (2, n)."""
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    chord = (220.0, 277.18, 329.63, 440.0)  # A3, C#4, E4, A4
    sig = sum(np.sin(2 * np.pi * f * t) / (k + 1) for k, f in enumerate(chord))
    sig = sig * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
    env = np.minimum(1, t / 0.3) * np.minimum(1, (seconds - t) / 0.5)
    left = 0.15 * sig * env + 0.01 * rng.normal(size=t.size)
    right = 0.15 * np.roll(sig, 240) * env + 0.01 * rng.normal(size=t.size)
    return np.stack([left, right]).astype(np.float32)


def encode(path: Path, frames, audio: np.ndarray) -> None:
    """Mux RGB frames (H.264, yuv420p) and planar float audio (AAC) into an MP4."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"crf": "23", "preset": "medium"}
        as_ = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        as_.bit_rate = 96000
        chunk, a_pos = 1024, 0
        for i, rgb in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, FPS)
            out.mux(vs.encode(vf))
            # Keep the audio roughly interleaved with the video.
            while a_pos < audio.shape[1] and a_pos < (i + 1) * AUDIO_RATE // FPS:
                block = audio[:, a_pos : a_pos + chunk]
                if block.shape[1] < chunk:
                    block = np.pad(block, ((0, 0), (0, chunk - block.shape[1])))
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(block), format="fltp", layout="stereo"
                )
                af.sample_rate, af.pts, af.time_base = AUDIO_RATE, a_pos, Fraction(1, AUDIO_RATE)
                out.mux(as_.encode(af))
                a_pos += chunk
        out.mux(vs.encode(None))
        out.mux(as_.encode(None))


def check(ok: bool, what: str) -> None:
    """Raise if a sanity check on the generated data fails."""
    if not ok:
        raise RuntimeError(f"sample check failed: {what}")


def verify(video: Path, mask_dir: Path) -> int:
    """Decode the MP4 back and check codecs, rate, frame count and size against the masks."""
    with av.open(str(video)) as c:
        vstream = c.streams.video[0]
        check(vstream.codec_context.name == "h264", "video codec is h264")
        check(vstream.codec_context.pix_fmt == "yuv420p", "pixel format is yuv420p")
        check(vstream.average_rate == Fraction(FPS, 1), f"frame rate is {FPS}/1")
        check(bool(c.streams.audio) and c.streams.audio[0].codec_context.name == "aac", "aac audio")
        n = 0
        for f in c.decode(video=0):
            check((f.width, f.height) == (W, H), f"frame size {W}x{H}")
            n += 1
    n_masks = len(list(mask_dir.glob("*.png")))
    check(n == n_masks == N_FRAMES, f"{n} frames == {n_masks} masks == {N_FRAMES}")
    return n


def main() -> None:
    """Render, encode and verify the sample clip, masks, prompt and audio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "sample_data")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out: Path = args.out
    mask_dir = out / "sample_masks"
    mask_dir.mkdir(parents=True, exist_ok=True)
    for old in mask_dir.glob("*.png"):
        old.unlink()

    rng = np.random.default_rng(SEED)
    stats: dict[str, Any] = {"max_occluded": 0.0, "occluded_frames": 0}

    def frames():
        for i, (rgb, mask, occ) in enumerate(render_frames(rng)):
            check(bool(mask.any()), f"object visible in frame {i}")
            check(occ <= 0.4, f"frame {i} at most 40% occluded (got {occ:.0%})")
            if occ > stats["max_occluded"]:
                stats["max_occluded"], stats["most_occluded_frame"] = occ, i
            stats["occluded_frames"] += occ > 0
            if i == 0:
                dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
                y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
                stats["point"] = [int(x), int(y)]
            write_palette_png(mask_dir / f"{i:05d}.png", mask)
            yield rgb

    log.info("rendering %d frames of %dx%d and encoding to %s", N_FRAMES, W, H, out)
    audio = make_audio(np.random.default_rng(SEED + 1), N_FRAMES / FPS)
    video = out / "sample.mp4"
    encode(video, frames(), audio)
    (out / "sample_prompt.json").write_text(json.dumps({"point": stats["point"]}) + "\n")
    log.info("verifying %s", video)
    n = verify(video, mask_dir)
    print(  # noqa: T201
        f"wrote {video} ({video.stat().st_size / 1024:.0f} KiB, {n} frames), {n} masks, "
        f"click point {stats['point']}, occluded in {stats['occluded_frames']} frames "
        f"(max {stats['max_occluded']:.0%} in frame {stats['most_occluded_frame']})"
    )


if __name__ == "__main__":
    main()
