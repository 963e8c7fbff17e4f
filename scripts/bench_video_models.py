"""CPU measurements of the video engines, random weights (no download).

  speed    streamseg's per-frame wall vs transformers' whole-video inference per frame,
           same frames and prompt, in one process (order alternated over --repeat runs)
  rss      peak RSS of one run of N frames (a subprocess per run; --mode ours|library)
  objects  streamseg's per-frame cost for N objects

Frames are synthetic (a moving disc on noise) at --size WxH. --real uses the real
architecture (Sam2VideoConfig's defaults are SAM 2.1 Hiera-tiny; EdgeTAM's vision
config is timm's RepViT-M1) at 1024 px; otherwise the small test config at --image-size.

  python scripts/bench_video_models.py speed --family sam2 --real --frames 60
  python scripts/bench_video_models.py rss --family sam2 --frames 300 3000
  python scripts/bench_video_models.py objects --family edgetam --real --n 1 2 4 8
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamseg.engines.video_configs import real_architecture  # noqa: E402
from streamseg.engines.video_model import VideoSettings, build_random  # noqa: E402
from streamseg.types import Frame, Prompt  # noqa: E402


def real_config(family: str):
    return real_architecture("sam2.1-hiera-tiny" if family == "sam2" else "edgetam")


def engine_of(args):
    config = real_config(args.family) if args.real else None
    return build_random(
        args.family,
        image_size=args.image_size,
        config=config,
        device=args.device,
        settings=VideoSettings(batch_size=args.batch),
    )


def frame_at(t: int, w: int, h: int, n_obj: int = 1) -> np.ndarray:
    rng = np.random.default_rng(t)
    im = rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
    yy, xx = np.ogrid[:h, :w]
    for k in range(n_obj):
        cx = (w * (k + 1)) // (n_obj + 1) + int(20 * np.sin(t / 10 + k))
        cy = h // 2 + int(20 * np.cos(t / 10 + k))
        im[(xx - cx) ** 2 + (yy - cy) ** 2 < (h // 10) ** 2] = (200, 60 + 20 * k, 50)
    return im


def points(w: int, h: int, n_obj: int) -> list[list[float]]:
    return [[(w * (k + 1)) // (n_obj + 1), h // 2 + 20] for k in range(n_obj)]


def run_ours(engine, n: int, w: int, h: int, n_obj: int = 1) -> float:
    """Seconds for n frames: embed (batched) + tracker.step (masks at frame size)."""
    tracker = engine.create_tracker()
    tracker.add_prompts(
        [
            Prompt(k + 1, points=np.array([p]), labels=np.array([1]))
            for k, p in enumerate(points(w, h, n_obj))
        ]
    )
    start = time.perf_counter()
    for s in range(0, n, engine.batch_size):
        images = [frame_at(t, w, h, n_obj) for t in range(s, min(n, s + engine.batch_size))]
        for i, emb in enumerate(engine.embed(images)):
            tracker.step(Frame(s + i, None, 0.0, images[i]), emb)
    return time.perf_counter() - start


def run_library(engine, n: int, w: int, h: int, n_obj: int = 1) -> float:
    """Seconds for n frames: init_video_session(video=...) + propagate_in_video_iterator,
    and post_process_masks per frame (masks at frame size, as streamseg gives them)."""

    model, proc = engine.model, engine.processor
    start = time.perf_counter()
    frames = [frame_at(t, w, h, n_obj) for t in range(n)]
    session = proc.init_video_session(
        video=frames, inference_device=engine.device, dtype=engine.dtype
    )
    proc.add_inputs_to_inference_session(
        session,
        frame_idx=0,
        obj_ids=list(range(1, n_obj + 1)),
        input_points=[[[p] for p in points(w, h, n_obj)]],
        input_labels=[[[1] for _ in range(n_obj)]],
        original_size=(h, w),
    )
    for out in model.propagate_in_video_iterator(session, start_frame_idx=0):
        proc.post_process_masks([out.pred_masks], original_sizes=[[h, w]], binarize=True)
    return time.perf_counter() - start


def cmd_speed(args) -> dict:
    import torch

    torch.manual_seed(0)
    engine = engine_of(args)
    w, h = args.size
    run_ours(engine, 2, w, h)  # warm-up (allocator, first-call overheads)
    rows = []
    for r in range(args.repeat):
        order = ("library", "ours") if r % 2 == 0 else ("ours", "library")
        for which in order:
            fn = run_ours if which == "ours" else run_library
            rows.append((which, fn(engine, args.frames, w, h) / args.frames))
    ours = [s for k, s in rows if k == "ours"]
    lib = [s for k, s in rows if k == "library"]
    return {
        "family": args.family,
        "real": args.real,
        "frames": args.frames,
        "size": args.size,
        "ours_s_per_frame": ours,
        "library_s_per_frame": lib,
        "ratio_of_medians": float(np.median(ours) / np.median(lib)),
    }


def cmd_rss_one(args) -> dict:
    engine = engine_of(args)
    w, h = args.size
    fn = run_ours if args.mode == "ours" else run_library
    seconds = fn(engine, args.frames[0], w, h)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": args.mode,
        "frames": args.frames[0],
        "peak_rss_mb": peak_kb / 1024,
        "seconds": seconds,
    }


def cmd_rss(args) -> list:
    out = []
    for mode in ("ours", "library"):
        for n in args.frames:
            cmd = [
                sys.executable,
                __file__,
                "rss-one",
                "--family",
                args.family,
                "--mode",
                mode,
                "--frames",
                str(n),
                "--image-size",
                str(args.image_size),
                "--size",
                str(args.size[0]),
                str(args.size[1]),
                "--threads",
                str(args.threads),
                "--device",
                args.device,
            ] + (["--real"] if args.real else [])
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            out.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(json.dumps(out[-1]), file=sys.stderr)  # noqa: T201
    return out


def cmd_objects(args) -> list:
    engine = engine_of(args)
    w, h = args.size
    run_ours(engine, 2, w, h)
    out = []
    for n_obj in args.n:
        ours = run_ours(engine, args.frames, w, h, n_obj) / args.frames
        row = {"objects": n_obj, "ours_s_per_frame": ours}
        if args.library:
            row["library_s_per_frame"] = run_library(engine, args.frames, w, h, n_obj) / args.frames
        out.append(row)
        print(json.dumps(row), file=sys.stderr)  # noqa: T201
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=("speed", "rss", "rss-one", "objects"))
    p.add_argument("--family", choices=("sam2", "edgetam"), default="sam2")
    p.add_argument("--real", action="store_true", help="the real architecture at 1024 px")
    p.add_argument("--image-size", type=int, default=128, help="small config's input size")
    p.add_argument("--size", type=int, nargs=2, default=(854, 480), metavar=("W", "H"))
    p.add_argument("--frames", type=int, nargs="+", default=[60])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--batch", type=int, default=1, help="frames per vision-encoder call")
    p.add_argument("--mode", choices=("ours", "library"), default="ours")
    p.add_argument("--n", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--library", action="store_true", help="objects: the library's cost too")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.command in ("speed", "objects"):
        args.frames = args.frames[0]
    fn = {"speed": cmd_speed, "rss": cmd_rss, "rss-one": cmd_rss_one, "objects": cmd_objects}
    print(json.dumps(fn[args.command](args)))  # noqa: T201


if __name__ == "__main__":
    main()
