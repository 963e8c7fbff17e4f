"""Synthetic clips for tests and benchmarks, encoded with PyAV: a textured disc moving over
texture, and a panning background with an object to remove.

Every clip comes with its true masks, so tests can check IoU, frame counts and
timestamps exactly. Seeded: the same call gives the same pixels.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from streamseg.types import Frame, FrameResult, mask_box


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 smooth random texture (blurred noise at two scales), greenish-grey."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = cv2.resize(
        rng.random((height // 16 + 2, width // 16 + 2, 3)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = rng.random((height, width, 3)).astype(np.float32)
    base = 0.7 * coarse + 0.3 * fine
    tint = np.array([0.45, 0.55, 0.45], np.float32)
    return np.clip(base * tint * 255 + 40, 0, 255).astype(np.uint8)


def disc_clip(
    n: int = 24,
    width: int = 160,
    height: int = 120,
    radius: int = 0,
    seed: int = 0,
    wobble: float = 1 / 8,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """n RGB frames of a red-orange disc moving left to right, and its (H, W) bool masks.

    wobble: amplitude of its up-and-down motion, as a fraction of the height.
    """
    radius = radius or max(6, min(width, height) // 6)
    background = texture(height, width, seed)
    yy, xx = np.mgrid[:height, :width]
    frames, masks = [], []
    for t in range(n):
        cx = radius + 2 + (width - 2 * radius - 4) * t / max(n - 1, 1)
        cy = height / 2 + height * wobble * np.sin(t / 4)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
        frame = background.copy()
        shade = 0.85 + 0.15 * np.cos((xx - cx) / radius * 2)[..., None]
        frame[mask] = (np.array([220, 90, 40]) * shade[mask]).clip(0, 255).astype(np.uint8)
        frames.append(frame)
        masks.append(mask)
    return frames, masks


def encode(
    path: Path,
    frames: list[np.ndarray],
    fps: int = 24,
    codec: str = "libx264",
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio_seconds: float = 0.0,
    fmt: str | None = None,
) -> Path:
    """Encode RGB frames to ``path``; optional explicit pts (VFR) and an AAC sine track."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if time_base is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        audio = None
        if audio_seconds:
            audio = container.add_stream("aac", rate=48000)
            audio.layout = "mono"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio is not None:
            samples = int(48000 * audio_seconds)
            wave = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = wave[start : start + 1024][None, :]
                aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                aframe.sample_rate, aframe.pts = 48000, start
                aframe.time_base = Fraction(1, 48000)
                for packet in audio.encode(aframe):
                    container.mux(packet)
            for packet in audio.encode():
                container.mux(packet)
    return path


def disc_video(
    path: Path, n: int = 24, width: int = 160, height: int = 120, **kwargs
) -> list[np.ndarray]:
    """Write a disc clip to ``path`` (see ``encode`` for kwargs); return its true masks."""
    frames, masks = disc_clip(n, width, height)
    encode(path, frames, **kwargs)
    return masks


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def stream_chunks(frames: list[np.ndarray], fps: int = 30, fmt: str = "mpegts") -> list[bytes]:
    """Encode frames as a live stream: one chunk of container bytes per frame, in order.

    x264 runs with zerolatency so each frame's packet is out before the next frame,
    which lets a writer pace the chunks at ``fps`` like a camera would.
    """
    import io

    buffer = io.BytesIO()
    chunks, start = [], 0
    height, width = frames[0].shape[:2]
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"tune": "zerolatency", "preset": "ultrafast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
            chunks.append(buffer.getvalue()[start:])
            start = len(buffer.getvalue())
        for packet in stream.encode():
            container.mux(packet)
    chunks.append(buffer.getvalue()[start:])
    return chunks


def pace(write, chunks: list[bytes], fps: float) -> None:
    """Call ``write(chunk)`` for each chunk at ``fps`` chunks per second (a live camera)."""
    import time

    start = time.monotonic()
    for i, chunk in enumerate(chunks):
        delay = start + i / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        write(chunk)


def audio_only(path: Path) -> Path:
    """A file with one short AAC track and no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def removal_clip(
    n: int = 24, width: int = 192, height: int = 144, seed: int = 0, speed: float = 4.5
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(frames, true backgrounds, object masks): lists of n (H, W, 3) uint8 / (H, W) bool.

    The background is a seeded texture (blobs, stripes, fine grain) on a plane twice
    the frame's size; the camera pans across it by 1.5 px/frame right and 0.5 down.
    The object, a shaded disc a quarter of the frame high, moves ``speed`` px/frame
    right (6 px/frame over the background by default), so what it hides now was mostly
    seen a few frames ago.
    """
    rng = np.random.default_rng(seed)
    big_h, big_w = 2 * height, 2 * width
    coarse = cv2.resize(
        rng.random((big_h // 24, big_w // 24, 3)).astype(np.float32),
        (big_w, big_h),
        interpolation=cv2.INTER_CUBIC,
    )
    yy, xx = np.mgrid[:big_h, :big_w].astype(np.float32)
    stripes = 0.5 + 0.5 * np.sin((xx * 0.9 + yy * 0.4) / 7.0)[..., None]
    grain = rng.random((big_h, big_w, 3)).astype(np.float32)
    plane = 0.45 * coarse + 0.3 * stripes * np.array([0.9, 0.7, 0.5]) + 0.25 * grain
    plane = np.clip(plane * 200 + 30, 0, 255).astype(np.float32)
    r = height // 8
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    frames, backgrounds, masks = [], [], []
    for t in range(n):
        shift = np.array([[1, 0, -(10 + 1.5 * t)], [0, 1, -(10 + 0.5 * t)]], np.float32)
        bg = cv2.warpAffine(plane, shift, (width, height), flags=cv2.INTER_LINEAR)
        cx, cy = r + 6 + speed * t, height / 2 + 0.2 * height * np.sin(t / 5)
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r**2
        alpha = np.clip((1.0 - d2) * r / 2, 0, 1)[..., None]  # ~1 px antialiased edge
        shade = (0.7 + 0.3 * np.cos((xx - cx) / 5.0) * np.sin((yy - cy) / 6.0))[..., None]
        obj = np.array([215, 90, 40], np.float32) * shade
        frame = bg * (1 - alpha) + obj * alpha
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        backgrounds.append(np.clip(bg + 0.5, 0, 255).astype(np.uint8))
        masks.append(alpha[..., 0] > 0)
    return frames, backgrounds, masks


def result_for(image: np.ndarray, masks: list[np.ndarray], t: int = 0, ids=None) -> FrameResult:
    """A FrameResult of ``image`` with the given (H, W) bool masks as objects 1..N."""
    ids = ids or list(range(1, len(masks) + 1))
    stack = np.stack(masks) if masks else np.zeros((0, *image.shape[:2]), bool)
    return FrameResult(
        frame=Frame(index=t, pts=t, time=t / 24, image=image),
        object_ids=ids,
        masks=stack,
        scores=np.ones(len(ids), np.float32),
        boxes=np.stack([mask_box(m) for m in masks]) if masks else np.zeros((0, 4), np.float32),
        present=np.array([m.any() for m in masks], bool),
    )


def psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    err = (a[where].astype(np.float64) - b[where].astype(np.float64)) ** 2
    return float(10 * np.log10(255.0**2 / max(err.mean(), 1e-10)))
