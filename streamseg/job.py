"""One ``streamseg run``: a Session with the standard outputs in a folder, and progress.

Whatever ends the run (end of input, an error in any stage, Ctrl-C or SIGTERM),
every frame processed so far is on disk and every output is valid; the error is
re-raised. The flow itself is built in streamseg/session.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamseg.config import Config
from streamseg.session import Session, StopFlag
from streamseg.sinks.outputs import FolderOutputs
from streamseg.sources import Source
from streamseg.stats import RunStats
from streamseg.storage import Location
from streamseg.types import Prompt

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    out: Path | str
    frames: int
    complete: bool
    seconds: float
    engine: dict[str, Any]
    stats: RunStats


def run(
    source: str,
    prompts: list[Prompt],
    out: Path | str | Location,
    config: Config,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    stop: StopFlag | None = None,
    via: str = "cli",
    engine: tuple[Any, dict[str, Any]] | None = None,
) -> RunSummary:
    """Segment ``source`` into ``out``/masks.zarr and ``out``/overlay.mp4 (and the others
    the config asks for).

    out: a folder, or an fsspec URL / streamseg.storage.Location (s3://bucket/x).
    stop: set it (from a signal handler) to end the run cleanly between frames.
    engine: an already built (engine, metadata) to reuse (batch workers load it once).
    """
    from tqdm import tqdm

    outputs = FolderOutputs(out, config.output, overwrite)
    built, meta = engine if engine is not None else (None, None)
    started = time.monotonic()
    session = Session(
        source, prompts, config, via=via, outputs=outputs, stop=stop, engine=built, engine_meta=meta
    )
    with session:
        total = expected_frames(session.source, config)
        with tqdm(total=total, unit="frame", disable=quiet, dynamic_ncols=True, leave=False) as bar:
            for _ in session:
                bar.update(1)
    where = outputs.out.path if outputs.out.local else str(outputs.out)
    return RunSummary(
        where,
        session.frames,
        session.complete,
        time.monotonic() - started,
        session.engine_meta,
        session.stats,
    )


def expected_frames(src: Source, config: Config) -> int | None:
    """Frames the progress bar expects: the source's count less --start, capped by --max-frames."""
    total = src.info.frames
    if total is not None:
        total = max(0, total - round(config.source.start * (src.info.fps or 0)))
    if config.source.max_frames is not None:
        total = min(total or config.source.max_frames, config.source.max_frames)
    return total
