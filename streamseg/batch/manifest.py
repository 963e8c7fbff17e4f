"""What a batch runs: recordings from a manifest (CSV or JSONL) or from inputs + one prompt spec.

Manifest columns (CSV header or JSONL keys); only ``source`` is required:
  source      a video file, image folder, URL or Aria .vrs (relative paths: from the manifest)
  name        the output folder under --out [default: the source's stem]
  prompt      inline prompts in --prompt syntax; several objects separated by '|' in CSV
              (a list in JSONL); 'gaze' = what the wearer looks at first
  box         boxes X0,Y0,X1,Y1, '|'-separated (a list in JSONL)
  prompts     a JSON/YAML prompts file;  mask: a label PNG on the first frame
  gaze        an MPS eye gaze CSV (or 'device');  gaze_mode: off|first|fixation
  start       seconds to skip;  max_frames: stop after this many frames
A row without any prompt takes the shared spec given on the command line (--prompt, --box,
--prompts, --mask). A row whose prompts cannot be read is not run: it is recorded as failed.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamseg.errors import StreamsegError, UsageError
from streamseg.types import Prompt

COLUMNS = (
    "source",
    "name",
    "prompt",
    "box",
    "prompts",
    "mask",
    "gaze",
    "gaze_mode",
    "start",
    "max_frames",
)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".ts", ".m4v", ".vrs")


@dataclass(frozen=True)
class PromptSpec:
    """Prompts as given (text), parsed per recording: --prompt texts, --box texts, files."""

    prompt: tuple[str, ...] = ()
    box: tuple[str, ...] = ()
    prompts: str | None = None
    mask: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.prompt or self.box or self.prompts or self.mask)

    @property
    def gaze(self) -> bool:
        """'gaze' among the prompts: segment what the wearer looks at (gaze mode first)."""
        return any(t.strip() == "gaze" for t in self.prompt)

    def parse(self) -> list[Prompt]:
        """The Prompt objects (ids: mask/file ids first, then --prompt, then --box)."""
        from streamseg.prompts import load_prompts_file, masks_from_png, parse_box, parse_prompt

        prompts: list[Prompt] = []
        if self.mask:
            prompts += masks_from_png(self.mask)
        if self.prompts:
            prompts += load_prompts_file(self.prompts)
        next_id = max((p.object_id for p in prompts), default=0) + 1
        for text in self.prompt:
            if text.strip() != "gaze":
                prompts.append(parse_prompt(text, next_id))
                next_id += 1
        for text in self.box:
            prompts.append(parse_box(text, next_id))
            next_id += 1
        return prompts


@dataclass
class Recording:
    """One job of a batch. ``prompts`` are parsed on the driver; ``error`` is set (and the
    recording not run) when they cannot be. ``options``: config keys set for this row only."""

    name: str
    source: str
    spec: PromptSpec
    options: dict[str, Any] = field(default_factory=dict)
    prompts: list[Prompt] = field(default_factory=list)
    error: str | None = None

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise UsageError(f"bad output name {self.name!r} for {self.source}; give a plain name")

    def prompt_digest(self) -> list[dict[str, Any]]:
        """JSON-friendly prompts for the settings fingerprint (a mask by its pixels' hash)."""
        out = []
        for p in self.prompts:
            d = {"id": p.object_id, **p.describe()}
            if p.mask is not None:
                d["mask_sha256"] = hashlib.sha256(p.mask.tobytes()).hexdigest()
            out.append(d)
        return out


def read_manifest(path: str | Path, shared: PromptSpec) -> list[Recording]:
    """Recordings from a .csv or .jsonl manifest; relative paths are taken from its folder."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no manifest file {path}; give a .csv or .jsonl file")
    rows: list[dict[str, Any]] = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            rows = [dict(r) for r in csv.DictReader(f)]
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as error:
                    raise UsageError(f"{path} line {n} is not JSON ({error}); fix it") from None
                if not isinstance(rows[-1], dict):
                    raise UsageError(f"{path} line {n}: expected a JSON object per line")
    else:
        raise UsageError(f"manifest {path}: expected a .csv or .jsonl file")
    if not rows:
        raise UsageError(f"manifest {path} has no rows")
    for n, r in enumerate(rows, 1):
        if None in r:  # csv.DictReader puts extra fields under None
            raise UsageError(
                f"manifest {path} row {n} has more fields than its header; quote values "
                'that hold commas, e.g. "100,80"'
            )
    unknown = sorted({k for r in rows for k in r if k not in COLUMNS})
    if unknown:
        raise UsageError(f"manifest {path}: unknown column(s) {unknown}; known: {list(COLUMNS)}")
    return _named([_row(r, n, path.parent, shared) for n, r in enumerate(rows, 1)])


def from_inputs(inputs: tuple[str, ...], shared: PromptSpec) -> list[Recording]:
    """Recordings from files, folders (their videos) and glob patterns, all with ``shared``."""
    sources: list[str] = []
    for item in inputs:
        if "://" in item:
            sources.append(item)
        elif any(c in item for c in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(f"no file matches {item!r}; check the pattern")
            sources += [str(Path(m).resolve()) for m in matches]
        elif Path(item).is_dir() and not _is_image_folder(Path(item)):
            found = sorted(p for p in Path(item).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise UsageError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in the folder {item}")
            sources += [str(p.resolve()) for p in found]
        else:
            sources.append(str(Path(item).resolve()) if Path(item).exists() else item)
    if not sources:
        raise UsageError("no inputs; give files, folders, glob patterns or --manifest FILE")
    recs = [Recording(_stem(s), s, shared) for s in sources]
    for r in recs:
        _parse(r)
    return _named(recs)


def _row(row: dict[str, Any], n: int, base: Path, shared: PromptSpec) -> Recording:
    def text(key: str) -> str | None:
        value = row.get(key)
        return None if value is None or str(value).strip() == "" else str(value).strip()

    def many(key: str) -> tuple[str, ...]:
        value = row.get(key)
        if isinstance(value, list):
            return tuple(str(v) for v in value if str(v).strip())
        return tuple(v.strip() for v in (text(key) or "").split("|") if v.strip())

    def local(value: str | None) -> str | None:
        if value is None or "://" in value or value == "device":
            return value
        return str((base / value).resolve())

    source = local(text("source"))
    if not source:
        raise UsageError(f"manifest row {n} has no source")
    spec = PromptSpec(many("prompt"), many("box"), local(text("prompts")), local(text("mask")))
    rec = Recording(text("name") or _stem(source), source, shared if spec.empty else spec)
    try:
        if text("gaze"):
            rec.options["gaze.path"] = local(text("gaze"))
        if text("gaze_mode"):
            rec.options["gaze.mode"] = text("gaze_mode")
        if text("start"):
            rec.options["source.start"] = float(str(text("start")))
        if text("max_frames"):
            rec.options["source.max_frames"] = int(str(text("max_frames")))
    except ValueError as error:
        raise UsageError(f"manifest row {n} ({source}): {error}; fix start/max_frames") from None
    _parse(rec)
    return rec


def _parse(rec: Recording) -> None:
    """Parse the recording's prompts; a failure is kept as its error (the batch goes on)."""
    try:
        rec.prompts = rec.spec.parse()
    except StreamsegError as error:
        rec.error = f"{type(error).__name__}: {error}"
        return
    if rec.spec.gaze and "gaze.mode" not in rec.options:
        rec.options["gaze.mode"] = "first"
    if not rec.prompts and not rec.spec.gaze and rec.options.get("gaze.mode") in (None, "off"):
        rec.error = "UsageError: no prompt for this recording; give prompt/box/prompts/mask"


def _named(recs: list[Recording]) -> list[Recording]:
    seen: dict[str, str] = {}
    for r in recs:
        if r.name in seen:
            raise UsageError(
                f"two recordings would write {r.name!r} ({seen[r.name]} and {r.source}); "
                "give each a name (manifest column 'name')"
            )
        seen[r.name] = r.source
    return recs


def _stem(source: str) -> str:
    tail = source.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
    return Path(tail).stem or tail or "recording"


def _is_image_folder(path: Path) -> bool:
    return any(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in path.iterdir())
