"""DAVIS-layout sequences: loading, and the semi-supervised evaluation of a tracker.

Layout: ``<root>/JPEGImages/480p/<seq>/NNNNN.jpg`` and
``<root>/Annotations/480p/<seq>/NNNNN.png``; optional ``<root>/sequences.txt``.
Quirks handled: some annotations are grey+alpha PNGs (read as grey), some frames
have an empty annotation (object out of view); any value > 0 is the object (DAVIS
2016 is single-object).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from streamseg.errors import SourceError, SourceNotFoundError, UsageError
from streamseg.eval.metrics import score_sequence
from streamseg.track.points import interior_points
from streamseg.types import Prompt

log = logging.getLogger(__name__)


def list_sequences(root: str | Path) -> list[str]:
    """Sequence names: from ``sequences.txt`` when present, else the image folders."""
    root = Path(root)
    images = root / "JPEGImages" / "480p"
    if not images.is_dir():
        raise SourceNotFoundError(f"{images} does not exist; point root at a DAVIS-layout folder")
    listing = root / "sequences.txt"
    if listing.is_file():
        names = [s.strip() for s in listing.read_text().splitlines() if s.strip()]
    else:
        names = sorted(p.name for p in images.iterdir() if p.is_dir())
    return names


def _has_frames(root: Path, seq: str) -> bool:
    folder = root / "JPEGImages" / "480p" / seq
    return folder.is_dir() and any(folder.glob("*.jpg"))


def _files(root: Path, seq: str) -> tuple[list[Path], list[Path]]:
    jpgs = sorted((root / "JPEGImages" / "480p" / seq).glob("*.jpg"))
    pngs = sorted((root / "Annotations" / "480p" / seq).glob("*.png"))
    if not jpgs:
        raise SourceNotFoundError(f"no frames for sequence {seq!r} under {root}; check the name")
    if len(pngs) != len(jpgs):
        raise SourceError(f"sequence {seq!r}: {len(jpgs)} frames but {len(pngs)} annotations")
    return jpgs, pngs


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SourceError(f"cannot decode {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_annotation(path: Path) -> np.ndarray:
    """(H, W) bool object mask; grey+alpha PNGs are read as grey (alpha dropped)."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise SourceError(f"cannot decode {path}")
    return grey > 0


def load_sequence(root: str | Path, seq: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (image (H, W, 3) uint8 RGB, mask (H, W) bool) per frame, decoded lazily."""
    jpgs, pngs = _files(Path(root), seq)
    for jpg, png in zip(jpgs, pngs):
        yield read_image(jpg), read_annotation(png)


def interior_point(mask: np.ndarray) -> np.ndarray:
    """(2,) float32 x, y of the most interior pixel of a (H, W) bool mask (max distance)."""
    if not mask.any():
        raise UsageError("cannot click inside an empty mask")
    return interior_points(mask)[0]


def first_prompt(gt: np.ndarray, init: str) -> Prompt:
    """The frame-0 prompt of the protocol: the whole mask, or one click deep inside it."""
    if init == "mask":
        return Prompt(object_id=1, frame=0, mask=gt)
    if init == "click":
        return Prompt(1, 0, points=interior_point(gt)[None], labels=np.ones(1, np.int32))
    raise UsageError(f"init {init!r} is unknown; use 'mask' or 'click'")


def run_sequence(
    root: str | Path, seq: str, init: str = "mask", config: Any = None
) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """Track the frame-0 object through ``seq`` with the pipeline (streamseg.segment).

    Returns (predictions, truths, seconds); seconds is the pipeline's wall time,
    JPEG decoding (in its own thread) included, writing nothing.
    """
    import dataclasses

    from streamseg.config import Config
    from streamseg.session import Session

    config = config or Config()
    if config.model.name == "auto" and not config.model.checkpoint:
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, name="classic")
        )
    jpgs, pngs = _files(Path(root), seq)
    gts = [read_annotation(p) for p in pngs]
    prompt = first_prompt(gts[0], init)
    start = time.perf_counter()
    with Session(str(jpgs[0].parent), [prompt], config, via="eval") as session:
        preds = [r.masks[0] for r in session]
    seconds = time.perf_counter() - start
    if len(preds) != len(gts):
        raise SourceError(f"sequence {seq!r}: {len(preds)} frames segmented, {len(gts)} annotated")
    return preds, gts, seconds


def evaluate(
    root: str | Path,
    sequences: Sequence[str] | None = None,
    init: str = "mask",
    config: Any = None,
) -> list[dict]:
    """Semi-supervised DAVIS evaluation, one dict per sequence.

    init: "mask" gives the frame-0 annotation; "click" one positive click at the most
    interior point of it. config: a streamseg Config (its model, tracker and engine
    settings; default: classic). Each dict holds sequence, frames, J, F, JF (means
    over frames 1 .. T-2) and fps (the pipeline end to end, without writing).
    """
    names = list(sequences) if sequences else list_sequences(root)
    missing = [seq for seq in names if not _has_frames(Path(root), seq)]
    if missing:  # every name checked before any sequence runs
        known = ", ".join(list_sequences(root)[:20])
        raise SourceNotFoundError(
            f"no sequence {', '.join(map(repr, missing))} under {root}; known: {known}"
        )
    rows = []
    for seq in names:
        preds, gts, spent = run_sequence(root, seq, init, copy.deepcopy(config))
        score = score_sequence(preds, gts)
        row = {
            "sequence": seq,
            "frames": len(preds),
            "J": score.j_mean,
            "F": score.f_mean,
            "JF": score.jf,
            "fps": len(preds) / spent if spent > 0 else float("inf"),
        }
        log.info(
            "%s: J %.3f F %.3f J&F %.3f %.1f fps", seq, row["J"], row["F"], row["JF"], row["fps"]
        )
        rows.append(row)
    return rows
