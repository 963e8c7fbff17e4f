"""Cross-validate settings of the classic engine and tracker on DAVIS-layout sequences.

Each *setting* is a list of ``section.key=value`` overrides (as ``streamseg --set``);
``--grid KEY=V1,V2,...`` (repeatable) spans the product of values, and the empty
setting (the defaults) is always included. Every (setting, init, sequence) is run
through the pipeline (streamseg.segment, as ``streamseg eval`` does) and scored with
streamseg.eval.metrics; its per-frame J, F, score and present flags are cached as JSON
under ``--cache``, keyed by the setting, the init, the sequence and a hash of the
streamseg sources (so a code change re-runs, and an interrupted run resumes).

Report, per init:
- each setting's mean J&F over all sequences (in-sample);
- k-fold cross-validation (``--folds``, sequences dealt round-robin in listed order):
  for each fold the setting with the best mean on the other folds is chosen and
  scored on the held-out fold; the held-out mean over all sequences stands beside
  the in-sample mean of the overall best setting;
- per sequence J, F, J&F of the defaults, and their frames/s;
- Spearman correlation of the per-frame score (0 where absent) with the per-frame
  IoU, pooled over all scored frames.

``--stride N`` scores every Nth frame (objects then move N times as far between
frames): a check that settings chosen on the dev set hold up on faster motion.

Example::

    PYTHONPATH=$PWD python scripts/crossval_classic.py ../shared/data/davis2016-train \\
        --init mask click --grid classic.colour_weight=0.5,1.0,1.5 --jobs 2
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

log = logging.getLogger("crossval")

ROOT = Path(__file__).resolve().parent.parent


def code_hash() -> str:
    """Short hash of every streamseg source file (a change re-runs the cache)."""
    h = hashlib.sha1()
    for p in sorted((ROOT / "streamseg").rglob("*.py")):
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def run_one(root: str, seq: str, init: str, setting: tuple[str, ...]) -> dict:
    """Track ``seq`` from its frame-0 prompt under ``setting``; per-frame scores."""
    from streamseg.config import load_config
    from streamseg.eval.davis import _files, first_prompt, read_annotation
    from streamseg.eval.metrics import boundary_f, jaccard
    from streamseg.session import segment

    config = load_config(None, list(setting))
    if config.model.name == "auto":
        config.model.name = "classic"
    jpgs, pngs = _files(Path(root), seq)
    gts = [read_annotation(p) for p in pngs]
    start = time.perf_counter()
    if init.startswith("click") and init != "click":  # clickN: N clicks spread inside
        from streamseg.track.points import interior_points
        from streamseg.types import Prompt

        k = int(init[len("click") :])
        prompt = Prompt(1, 0, points=interior_points(gts[0], k), labels=np.ones(k, np.int32))
    else:
        prompt = first_prompt(gts[0], init)
    results = list(segment(str(jpgs[0].parent), [prompt], config=config))
    seconds = time.perf_counter() - start
    preds = [r.masks[0] for r in results]
    # Frames 1 .. T-2, as the DAVIS protocol (streamseg.eval.metrics.score_sequence).
    scored = range(1, len(gts) - 1)
    js = [jaccard(preds[i], gts[i]) for i in scored]
    fs = [boundary_f(preds[i], gts[i]) for i in scored]
    return {
        "J": js,
        "F": fs,
        "score": [float(results[i].scores[0]) for i in scored],
        "present": [bool(results[i].present[0]) for i in scored],
        "gt_present": [bool(gts[i].any()) for i in scored],
        "frames": len(preds),
        "seconds": seconds,
    }


def _key(seq: str, init: str, setting: tuple[str, ...], code: str) -> str:
    text = json.dumps([seq, init, list(setting), code])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _task(args: tuple[str, str, str, tuple[str, ...], str]) -> tuple[str, dict]:
    root, seq, init, setting, path = args
    if Path(path).exists():  # another run of this script got there first
        return path, json.loads(Path(path).read_text())
    row = run_one(root, seq, init, setting)
    Path(path).write_text(json.dumps(row))
    return path, row


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two 1-D arrays (average ranks for ties)."""
    if len(a) < 3:
        return float("nan")

    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x), np.float64)
        r[order] = np.arange(len(x), dtype=np.float64)
        # Average the ranks of tied values.
        _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, r)
        return (sums / counts)[inv]

    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def jf(row: dict) -> float:
    return 0.5 * (float(np.mean(row["J"])) + float(np.mean(row["F"])))


def settings_from(grid: list[str], extra: list[list[str]]) -> list[tuple[str, ...]]:
    """The defaults, the grid's product and any explicit settings, without repeats."""
    axes = []
    for item in grid:
        key, _, values = item.partition("=")
        axes.append([f"{key}={v}" for v in values.split(",")])
    out: list[tuple[str, ...]] = [()]
    out += [tuple(c) for c in itertools.product(*axes)] if axes else []
    out += [tuple(s) for s in extra]
    seen, unique = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def report(
    init: str, seqs: list[str], settings: list[tuple[str, ...]], rows: dict, folds: int
) -> list[str]:
    """Lines of the report for one init (see the module docstring)."""
    lines = [f"== init {init}: {len(seqs)} sequences, {len(settings)} settings"]
    table = np.array([[jf(rows[s, q]) for q in seqs] for s in settings])  # (S, Q)
    means = table.mean(axis=1)
    for s, m in sorted(zip(settings, means), key=lambda t: -t[1]):
        lines.append(f"  {m:.4f}  {' '.join(s) or '(defaults)'}")
    fold_of = np.arange(len(seqs)) % folds
    held = np.zeros(len(seqs))
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        best = int(np.argmax(table[:, train].mean(axis=1)))
        held[test] = table[best, test]
        lines.append(
            f"  fold {k} ({', '.join(q for q, t in zip(seqs, test) if t)}): chose "
            f"{' '.join(settings[best]) or '(defaults)'}: train {table[best, train].mean():.4f}"
            f" held-out {table[best, test].mean():.4f}"
        )
    best = int(np.argmax(means))
    lines.append(
        f"  CV held-out mean {held.mean():.4f}  vs in-sample best {means[best]:.4f} "
        f"({' '.join(settings[best]) or '(defaults)'}); defaults {means[0]:.4f}"
    )
    for si in sorted({0, best}):
        s = settings[si]
        lines.append(f"  per sequence, {' '.join(s) or '(defaults)'}:")
        frames = seconds = 0.0
        score, iou = [], []
        for q in seqs:
            r = rows[s, q]
            j, f = float(np.mean(r["J"])), float(np.mean(r["F"]))
            lines.append(
                f"    {q:16s} J {j:.3f} F {f:.3f} J&F {(j + f) / 2:.3f} "
                f"{r['frames'] / r['seconds']:.1f} fps"
            )
            frames += r["frames"]
            seconds += r["seconds"]
            present = np.array(r["present"])
            score += list(np.where(present, r["score"], 0.0))
            iou += r["J"]
        sq = np.array([jf(rows[s, q]) for q in seqs])
        lines.append(
            f"    mean J&F {sq.mean():.4f} min {sq.min():.3f}; {frames / seconds:.2f} fps overall;"
            f" Spearman(score, IoU) {spearman(np.array(score), np.array(iou)):.3f}"
            f" over {len(iou)} frames"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("root", help="DAVIS-layout folder (JPEGImages/480p, Annotations/480p)")
    ap.add_argument(
        "--init",
        nargs="+",
        default=["mask", "click"],
        choices=["mask", "click", "click3", "click5"],
        help="frame-0 prompt: the mask, one click, or 3 / 5 clicks spread inside the object",
    )
    ap.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... (repeatable)")
    ap.add_argument(
        "--setting",
        action="append",
        nargs="+",
        default=[],
        help="one explicit setting: KEY=V [KEY=V ...] (repeatable)",
    )
    ap.add_argument("--sequences", nargs="*", help="default: all listed in the root")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/streamseg_crossval")
    ap.add_argument("--tag", default=None, help="cache tag (default: hash of the sources)")
    ap.add_argument(
        "--stride",
        type=int,
        default=1,
        help="keep every Nth frame (and its annotation): objects move N times as far "
        "between frames, a check that settings hold up on faster motion",
    )
    args = ap.parse_args(argv)
    if args.stride < 1:
        ap.error(f"--stride is {args.stride}; give 1 or more")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    sys.path.insert(0, str(ROOT))
    from streamseg.eval.davis import list_sequences

    seqs = args.sequences or list_sequences(args.root)
    settings = settings_from(args.grid, args.setting)
    code = args.tag or code_hash()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    root = args.root
    if args.stride > 1:
        root = str(strided(Path(args.root), seqs, args.stride, cache / f"stride{args.stride}"))
        code = f"{code}@stride{args.stride}"
    rows: dict = {}
    todo = []
    for init in args.init:
        for s in settings:
            for q in seqs:
                path = cache / f"{_key(q, init, s, code)}.json"
                if path.exists():
                    rows[init, s, q] = json.loads(path.read_text())
                else:
                    todo.append((init, s, q, str(path)))
    # The defaults last: a run that only adds settings then rarely repeats one in flight.
    todo.sort(key=lambda t: len(t[1]) == 0)
    sys.stdout.write(f"code {code}: {len(todo)} runs to do, {len(rows)} cached\n")
    sys.stdout.flush()
    tasks = [(root, q, init, s, p) for init, s, q, p in todo]
    if args.jobs > 1 and tasks:
        with ProcessPoolExecutor(args.jobs) as pool:
            for (init, s, q, _), (_, row) in zip(todo, pool.map(_task, tasks)):
                rows[init, s, q] = row
    else:
        for (init, s, q, _), t in zip(todo, tasks):
            rows[init, s, q] = _task(t)[1]
    for init in args.init:
        sub = {(s, q): rows[init, s, q] for s in settings for q in seqs}
        sys.stdout.write("\n".join(report(init, seqs, settings, sub, args.folds)) + "\n")
        sys.stdout.flush()
    if len(args.init) > 1:
        sys.stdout.write("\n".join(joint(args.init, seqs, settings, rows, args.folds)) + "\n")
    return 0


def strided(root: Path, seqs: list[str], stride: int, out: Path) -> Path:
    """A DAVIS-layout root under ``out`` holding every ``stride``-th frame and
    annotation of each sequence in ``root``, as symbolic links numbered from 0."""
    from streamseg.eval.davis import _files  # streamseg is on the path (main)

    for q in seqs:
        jpgs, pngs = _files(root, q)
        for kind, files, ext in (("JPEGImages", jpgs, "jpg"), ("Annotations", pngs, "png")):
            folder = out / kind / "480p" / q
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                old.unlink()
            for i, f in enumerate(files[::stride]):
                (folder / f"{i:05d}.{ext}").symlink_to(f.resolve())
    return out


def joint(
    inits: list[str], seqs: list[str], settings: list[tuple[str, ...]], rows: dict, folds: int
) -> list[str]:
    """One set of defaults serves every init: the CV of the mean J&F over the inits."""
    table = np.array(
        [[np.mean([jf(rows[i, s, q]) for i in inits]) for q in seqs] for s in settings]
    )
    means = table.mean(axis=1)
    fold_of = np.arange(len(seqs)) % folds
    held = np.zeros(len(seqs))
    lines = [f"== joint ({' + '.join(inits)}), mean J&F over the inits"]
    for s, m in sorted(zip(settings, means), key=lambda t: -t[1]):
        lines.append(f"  {m:.4f}  {' '.join(s) or '(defaults)'}")
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        best = int(np.argmax(table[:, train].mean(axis=1)))
        held[test] = table[best, test]
        lines.append(f"  fold {k}: chose {' '.join(settings[best]) or '(defaults)'}")
    best = int(np.argmax(means))
    lines.append(f"  CV held-out mean {held.mean():.4f}  vs in-sample best {means[best]:.4f}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
