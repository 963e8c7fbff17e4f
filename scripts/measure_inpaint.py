"""Measure the inpainting renderers: temporal flicker, PSNR against the true background, speed.

    python scripts/measure_inpaint.py [--sequences bear,boat] [--max-frames 60]
                                      [--skip-davis] [--skip-schedule] [--skip-diffusion]

Flicker: the mean absolute difference (grey levels, over RGB), inside the object's
mask, between rendered frame t and rendered frame t-1 carried to t by the *source's*
optical flow (DIS); lower is steadier. Tables:

1. DAVIS 2016 train (``$STREAMSEG_TEST_DATA``, default <repo>/../shared/data), the
   ground-truth masks removed by the weight-free remover: flow-guided vs plain
   per-frame cv2.inpaint.
2. The same sequences through the keyframe renderer with cv2.inpaint on the crop as
   the "model": per-frame (every=1) vs keyframe + carry. Shows what the schedule does
   on real motion, without weights.
3. A synthetic 854x480 clip with a known background: PSNR inside the mask.
4. A tiny random-weight diffusion pipeline on a synthetic clip (plumbing and the
   schedule's cost; its pictures are noise, so only the relative flicker means much).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from streamseg.flow import FlowEstimator
from streamseg.render.inpaint import InpaintConfig, Inpainter
from streamseg.render.masks import dilate
from streamseg.render.remove import BackgroundFlow, FlowRemover, OpenCVCropModel
from streamseg.testing.clips import psnr, removal_clip, result_for

REPO = Path(__file__).resolve().parents[1]

log = logging.getLogger("measure_inpaint")


class Flicker:
    """Streaming flicker: feed (rendered, source, mask) frame by frame.

    ``value``: along the source's flow (the measure asked for: inside a removed
    object that is the *object's* motion). ``background``: along the background's
    motion extended under the (dilated) mask, which is how a removed region should move.
    """

    def __init__(self) -> None:
        self.flow = FlowEstimator(scale=0.5, preset="medium", consistency=False)
        self.bg = BackgroundFlow(0.5)
        self.prev: tuple[np.ndarray, np.ndarray] | None = None
        self.values: list[float] = []
        self.bg_values: list[float] = []

    def add(self, rendered: np.ndarray, source: np.ndarray, mask: np.ndarray) -> None:
        grey = self.flow.prepare(source)
        h, w = source.shape[:2]
        back = self.bg.step(source, dilate(mask, 8))
        if self.prev is not None and mask.any():
            prev_render, prev_grey = self.prev
            field = self.flow.compute(grey, prev_grey, (w, h))
            self.values.append(_mad(rendered, field.warp(prev_render), mask))
            if back is not None:
                gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
                full = self.bg.full(back, (w, h))
                carried = cv2.remap(
                    prev_render.astype(np.float32),
                    gx + full[..., 0],
                    gy + full[..., 1],
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                )
                self.bg_values.append(_mad(rendered, carried, mask))
        self.prev = (rendered, grey)

    @property
    def value(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    @property
    def background(self) -> float:
        return float(np.mean(self.bg_values)) if self.bg_values else float("nan")


def _mad(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b)[mask].mean())


def run(renderer: Callable, frames: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Render (image, mask) pairs; flicker, mean ms/frame, and the rendered frames' count."""
    flicker, seconds, n = Flicker(), 0.0, 0
    for t, (image, mask) in enumerate(frames):
        result = result_for(image, [mask], t)
        start = time.perf_counter()
        out = renderer(result)
        seconds += time.perf_counter() - start
        flicker.add(out, image, mask)
        n += 1
    return {
        "flicker": flicker.value,
        "bg_flicker": flicker.background,
        "ms": 1000 * seconds / max(n, 1),
        "frames": n,
    }


def davis(root: Path, sequence: str, limit: int | None) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    images = sorted((root / "JPEGImages" / "480p" / sequence).glob("*.jpg"))[:limit]
    for path in images:
        picture = cv2.imread(str(path))
        ann = cv2.imread(
            str(root / "Annotations" / "480p" / sequence / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED
        )
        if picture is None or ann is None:
            raise FileNotFoundError(f"cannot read {path} or its annotation")
        image = cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)
        mask = np.asarray(ann, np.uint8).reshape(*ann.shape[:2], -1).max(axis=2) > 0
        yield image, mask


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")  # noqa: T201
    widths = [max(len(str(h)), 10) for h in header]
    widths[0] = max(widths[0], *(len(str(r[0])) for r in rows)) if rows else widths[0]
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, widths)))  # noqa: T201
    for row in rows:
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row]
        print("  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))  # noqa: T201


def mean_row(rows: list[list], label: str = "mean") -> list:
    cols = list(zip(*rows))
    return [label] + [float(np.mean(c)) if isinstance(c[0], float) else "" for c in cols[1:]]


def davis_tables(root: Path, sequences: list[str], limit: int | None, schedule: bool) -> None:
    rows, sched_rows = [], []
    for seq in sequences:
        flow = run(FlowRemover(InpaintConfig(mode="remove")), davis(root, seq, limit))
        plain = run(FlowRemover(InpaintConfig(mode="remove", ring=0)), davis(root, seq, limit))
        rows.append(
            [
                seq,
                flow["flicker"],
                plain["flicker"],
                flow["bg_flicker"],
                plain["bg_flicker"],
                flow["ms"],
                plain["ms"],
            ]
        )
        log.info("%s: %s", seq, rows[-1])
        if schedule:
            got = {}
            for every in (1, 12):
                inp = Inpainter(
                    OpenCVCropModel(resolution=256), InpaintConfig(mode="remove", every=every)
                )
                got[every] = run(inp, davis(root, seq, limit))
                got[every]["keys"] = inp.stats["keyframes"] / max(1, got[every]["frames"])
            a, b = got[1], got[12]
            sched_rows.append(
                [
                    seq,
                    a["flicker"],
                    b["flicker"],
                    a["bg_flicker"],
                    b["bg_flicker"],
                    b["keys"],
                    a["ms"],
                    b["ms"],
                ]
            )
    rows.append(mean_row(rows))
    table(
        "1. DAVIS 2016 train, GT masks removed (weight-free), flicker in grey levels",
        ["sequence", "flow", "plain", "bg flow", "bg plain", "ms flow", "ms plain"],
        rows,
    )
    if sched_rows:
        sched_rows.append(mean_row(sched_rows))
        table(
            "2. DAVIS, keyframe renderer with cv2.inpaint crops as the model",
            ["sequence", "K=1", "K=12", "bg K=1", "bg K=12", "keys/frame", "ms K=1", "ms K=12"],
            sched_rows,
        )


def synthetic_table(n: int) -> None:
    frames, backgrounds, masks = removal_clip(n=n, width=854, height=480)
    rows = []
    for name, ring in (("flow-guided", 3), ("per-frame cv2.inpaint", 0)):
        remover = FlowRemover(InpaintConfig(mode="remove", ring=ring))
        r = run(remover, zip(frames, masks))
        # Re-render to score (run() keeps no frames): same settings, deterministic.
        remover = FlowRemover(InpaintConfig(mode="remove", ring=ring))
        outs = [remover(result_for(f, [m], t)) for t, (f, m) in enumerate(zip(frames, masks))]
        score = np.mean([psnr(o, b, m) for o, b, m in zip(outs[4:], backgrounds[4:], masks[4:])])
        # The camera's true motion is known here: 1.5 px right and 0.5 down per frame.
        shift = np.array([[1, 0, 1.5], [0, 1, 0.5]], np.float32)
        true_bg = np.mean(
            [
                _mad(
                    outs[t],
                    cv2.warpAffine(
                        outs[t - 1].astype(np.float32),
                        shift,
                        (854, 480),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                    ),
                    masks[t],
                )
                for t in range(1, n)
            ]
        )
        rows.append([name, float(score), r["flicker"], r["bg_flicker"], float(true_bg), r["ms"]])
    table(
        f"3. synthetic 854x480, {n} frames, known background (PSNR from frame 4)",
        ["remover", "PSNR dB", "flicker", "bg flicker", "true-bg flicker", "ms/frame"],
        rows,
    )


def diffusion_table(n: int) -> None:
    try:
        from streamseg.testing.models import tiny_pipeline
    except ImportError as error:  # diffusers missing
        log.warning("skipping the diffusion table: %s", error)
        return
    import torch

    from streamseg.render.diffusion import DiffusionModel

    torch.set_num_threads(1)  # tiny convolutions: a shared pool only waits for busy cores
    frames, _, masks = removal_clip(n=n, width=192, height=144)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pipe = tiny_pipeline(Path(tmp))
        for mode, prompt in (("remove", None), ("replace", "a red vase")):
            for label, every, refresh in (
                ("per-frame", 1, 1.0),
                ("K=12", 12, 1.0),
                ("K=12 refresh 0.6", 12, 0.6),
            ):
                config = InpaintConfig(
                    mode=mode, prompt=prompt, every=every, steps=4, refresh=refresh
                )
                model = DiffusionModel(pipe, config, "cpu")
                model.pipe.set_progress_bar_config(disable=True)
                inp = Inpainter(model, config)
                r = run(inp, zip(frames, masks))
                rows.append(
                    [
                        f"{mode} {label}",
                        r["flicker"],
                        r["bg_flicker"],
                        inp.stats["keyframes"],
                        r["ms"],
                    ]
                )
    table(
        f"4. tiny random diffusion pipeline, synthetic 192x144, {n} frames, 4 steps",
        ["schedule", "flicker", "bg flicker", "model calls", "ms/frame"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequences", default="", help="comma-separated (default: all)")
    parser.add_argument("--max-frames", type=int, default=None, help="per sequence")
    parser.add_argument("--dataset", default="davis2016-train")
    parser.add_argument("--skip-davis", action="store_true")
    parser.add_argument("--skip-schedule", action="store_true")
    parser.add_argument("--skip-diffusion", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    root = Path(os.environ.get("STREAMSEG_TEST_DATA", REPO.parent / "shared" / "data"))
    root = root / args.dataset
    if not args.skip_davis:
        if (root / "JPEGImages").is_dir():
            names = [s for s in args.sequences.split(",") if s] or sorted(
                p.name for p in (root / "JPEGImages" / "480p").iterdir()
            )
            davis_tables(root, names, args.max_frames, not args.skip_schedule)
        else:
            log.warning("no DAVIS data at %s; set STREAMSEG_TEST_DATA", root)
    synthetic_table(48)
    if not args.skip_diffusion:
        diffusion_table(24)


if __name__ == "__main__":
    main()
