"""Prompts from the command line, PNG masks and prompts files, checked against the frame.

Command-line syntax (source pixel coordinates, one ``--prompt`` per object):
  ``--prompt "100,80"``                 a positive point
  ``--prompt "100,80 120,90 -300,40"``  two positive points and a negative one
  ``--prompt "100,80 50,40,220,200"``   a point and a box (x0,y0,x1,y1)
  ``--box 50,40,220,200``               an object given by its box alone
  ``--mask first.png``                  objects from a mask: each non-zero value is an
                                        object id (a 0/255 mask is object 1)
Prompts file (JSON or YAML): a list of entries, or ``{"prompts": [...]}``:
  ``{"object": 1, "frame": 0, "name": "dog", "points": [[x, y]], "negative": [[x, y]],
     "box": [x0, y0, x1, y1], "mask": "path.png"}``
An entry at a later frame re-prompts that object there, or adds a new one from there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceNotFoundError, UsageError
from streamseg.types import Prompt

PROMPT_HELP = (
    "expected points 'X,Y' separated by spaces (a leading '-' marks a negative "
    "point) and optionally a box 'X0,Y0,X1,Y1', e.g. --prompt \"100,80 -300,40\""
)


def parse_prompt(text: str, object_id: int) -> Prompt:
    """One ``--prompt`` value into a Prompt for ``object_id`` at frame 0."""
    points, labels, box = [], [], None
    for token in text.replace(";", " ").split():
        negative = token.startswith("-")
        try:
            values = [float(v) for v in token.lstrip("-+").split(",")]
        except ValueError:
            raise UsageError(
                f"malformed --prompt {text!r}: {token!r} is not numbers; {PROMPT_HELP}"
            ) from None
        if len(values) == 2:
            points.append(values)
            labels.append(0 if negative else 1)
        elif len(values) == 4 and not negative and box is None:
            box = values
        else:
            raise UsageError(f"malformed --prompt {text!r} at {token!r}; {PROMPT_HELP}")
    if not points and box is None:
        raise UsageError(f"empty --prompt {text!r}; {PROMPT_HELP}")
    if points and not any(labels) and box is None:
        raise UsageError(
            f"--prompt {text!r} has only negative points; add a positive point on the object"
        )
    return Prompt(
        object_id,
        0,
        np.array(points, np.float32).reshape(-1, 2),
        np.array(labels),
        box=np.array(box, np.float32) if box is not None else None,
    )


def parse_box(text: str, object_id: int) -> Prompt:
    """One ``--box X0,Y0,X1,Y1`` value into a Prompt."""
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise UsageError(f"malformed --box {text!r}: expected X0,Y0,X1,Y1, e.g. 50,40,220,200")
    return Prompt(object_id, 0, box=np.array(box, np.float32))


def read_mask_png(path: str | Path) -> np.ndarray:
    """(H, W) uint8 label image from a PNG: palette indices or grey values; 0/255 -> 0/1."""
    from PIL import Image

    path = Path(path)
    if not path.exists():
        raise SourceNotFoundError(f"no such mask file: {path}; check the path")
    try:
        opened = Image.open(path)
        # e.g. mode LA in DAVIS: keep the grey values
        image = opened if opened.mode in ("P", "L", "1") else opened.convert("L")
        labels = np.array(image, np.uint8)
    except OSError as error:
        raise UsageError(f"cannot read the mask {path} ({error}); give a PNG") from error
    if set(np.unique(labels)) <= {0, 255}:
        labels = (labels > 0).astype(np.uint8)
    return labels


def masks_from_png(path: str | Path, frame: int = 0) -> list[Prompt]:
    """One Prompt per non-zero value of a label PNG (value = object id)."""
    labels = read_mask_png(path)
    ids = [int(v) for v in np.unique(labels) if v]
    if not ids:
        raise UsageError(f"the mask {path} is empty; it needs at least one non-zero pixel")
    return [Prompt(i, frame, mask=labels == i) for i in ids]


def load_prompts_file(path: str | Path) -> list[Prompt]:
    """Prompts from a JSON or YAML file (see the module docstring)."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise SourceNotFoundError(f"no such prompts file: {path}; check the path")
    try:
        data = (
            yaml.safe_load(path.read_text())
            if path.suffix in (".yaml", ".yml")
            else json.loads(path.read_text())
        )
    except (ValueError, yaml.YAMLError) as error:
        raise UsageError(
            f"cannot parse {path} ({str(error).splitlines()[0]}); fix the JSON/YAML syntax"
        ) from error
    entries = data.get("prompts") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UsageError(f"{path}: expected a list of prompts (or {{'prompts': [...]}})")
    return [_entry(e, i, path) for i, e in enumerate(entries)]


def _entry(entry: Any, position: int, path: Path) -> Prompt:
    where = f"{path}, prompt {position + 1}"
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected an object with 'object', 'frame', 'points'...")
    unknown = set(entry) - {"object", "frame", "name", "points", "negative", "box", "mask"}
    if unknown:
        raise UsageError(
            f"{where}: unknown keys {sorted(unknown)}; use object, frame, name, "
            "points, negative, box, mask"
        )
    try:
        object_id, frame = int(entry.get("object", 1)), int(entry.get("frame", 0))
        pos = np.array(entry.get("points", []), np.float32).reshape(-1, 2)
        neg = np.array(entry.get("negative", []), np.float32).reshape(-1, 2)
        box = np.array(entry["box"], np.float32).reshape(4) if "box" in entry else None
    except (TypeError, ValueError) as error:
        raise UsageError(
            f"{where}: {error}; points are [[x, y], ...], box is [x0, y0, x1, y1]"
        ) from error
    mask = None
    if "mask" in entry:
        labels = read_mask_png(path.parent / entry["mask"])
        mask = labels == (object_id if object_id in labels else 1)
    try:
        return Prompt(
            object_id,
            frame,
            np.concatenate([pos, neg]),
            np.array([1] * len(pos) + [0] * len(neg)),
            box=box,
            mask=mask,
            name=entry.get("name"),
        )
    except ValueError as error:
        raise UsageError(f"{where}: {error}") from error


def validate(prompts: list[Prompt], width: int, height: int) -> None:
    """Raise UsageError for any prompt outside a width x height frame, before work starts."""
    for p in prompts:
        what = f"the prompt for object {p.object_id} (frame {p.frame})"
        if p.frame < 0:
            raise UsageError(f"{what}: frame must be >= 0")
        for x, y in p.points:
            if not (0 <= x < width and 0 <= y < height):
                raise UsageError(
                    f"{what}: point {x:g},{y:g} is outside the {width}x{height} "
                    f"frame; give x in 0..{width - 1} and y in 0..{height - 1}"
                )
        if p.box is not None:
            x0, y0, x1, y1 = p.box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise UsageError(
                    f"{what}: box {x0:g},{y0:g},{x1:g},{y1:g} is not inside the "
                    f"{width}x{height} frame with x0 < x1 and y0 < y1"
                )
        if p.mask is not None:
            if p.mask.shape != (height, width):
                raise UsageError(
                    f"{what}: the mask is {p.mask.shape[1]}x{p.mask.shape[0]}, the "
                    f"video is {width}x{height}; give a mask of the frame's size"
                )
            if not p.mask.any():
                raise UsageError(f"{what}: the mask is empty")
