"""One recording on one worker, and the Ray actor that runs them with its engine loaded once.

``process_recording`` is the only place a batch calls the single-recording flow
(``streamseg.job.run``: a Session with the standard outputs). It always writes from the
start (overwrite): by the time it runs, the driver has decided the recording must be
(re)done, and when Ray retries it after a lost worker the half-written store of the
first attempt is replaced, never appended to.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from streamseg.batch.manifest import Recording
from streamseg.batch.resume import fingerprint, recording_config, write_marker
from streamseg.config import Config
from streamseg.errors import StreamsegError
from streamseg.storage import Location

log = logging.getLogger(__name__)


def process_recording(
    rec: Recording,
    out: Location,
    config: Config,
    engine: tuple[Any, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Segment ``rec`` into ``out``/``rec.name``; its row of the results table.

    A failure of this recording (unreadable source, bad prompt, an engine error) is
    returned as a row with status "failed" and the error, so the batch goes on.
    engine: (engine, metadata) built once by the worker, reused here.
    """
    from streamseg.job import run as run_job

    target = out.child(rec.name)
    row: dict[str, Any] = {"recording": rec.name, "source": rec.source}
    started = time.monotonic()
    try:
        fp = fingerprint(rec, config)
        target.child("batch.json").remove()  # the old marker goes first: never a stale "done"
        row["replaced_partial"] = target.child("masks.zarr").exists()
        summary = run_job(
            rec.source,
            rec.prompts,
            target,
            recording_config(config, rec),
            overwrite=True,
            quiet=True,
            engine=engine,
        )
    except (StreamsegError, OSError, ValueError, RuntimeError) as error:
        # One recording's failure (corrupt file, bad prompt, storage) must not stop the batch.
        seconds = time.monotonic() - started
        row.update(status="failed", frames=0, seconds=round(seconds, 3), fps=None, objects=0)
        row["error"] = f"{type(error).__name__}: {error}"
        return row
    seconds = time.monotonic() - started
    row.update(
        status="done" if summary.complete else "failed",
        frames=summary.frames,
        seconds=round(seconds, 3),
        fps=round(summary.frames / max(seconds, 1e-9), 2),
        objects=len({p.object_id for p in rec.prompts}),
        error=None if summary.complete else "stopped before the end of the input",
    )
    if summary.complete:
        write_marker(target, fp, row)
    return row


class BatchWorker:
    """The actor's body (made a Ray actor by ``actor_class``): the engine is built once in
    ``__init__`` (again only when Ray restarts a lost worker) and reused for every job."""

    def __init__(self, config: Config) -> None:
        from streamseg.engines import build_engine

        self.config = config
        self.jobs = 0
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.restarted = _reconstructed()
        self.error: str | None = None
        self.engine: tuple[Any, dict[str, Any]] | None = None
        started = time.monotonic()
        try:
            config.validate()
            self.engine = build_engine(config)
        except StreamsegError as error:  # reported by ready(); the driver stops the batch
            self.error = f"{type(error).__name__}: {error}"
        self.load_seconds = round(time.monotonic() - started, 3)

    def ready(self) -> dict[str, Any]:
        """Where the worker runs, its engine load time, or the error that stopped the load."""
        return {
            "pid": self.pid,
            "host": self.host,
            "load_seconds": self.load_seconds,
            "error": self.error,
        }

    def process(self, rec: Recording, out: Location) -> dict[str, Any]:
        self.jobs += 1
        row = process_recording(rec, out, self.config, self.engine)
        row["worker"] = {
            "pid": self.pid,
            "host": self.host,
            "job": self.jobs,  # 1 for the first recording of this process, 2, ...
            "engine_load_seconds": self.load_seconds,
            "restarted": self.restarted,  # a Ray restart after the worker was lost
        }
        return row


def actor_class(cpus: float, gpus: float, retries: int) -> Any:
    """BatchWorker as a Ray actor: restarted when its process or node is lost, and the
    job it had retried on the new one (``retries`` times)."""
    import ray

    return ray.remote(
        num_cpus=cpus,
        num_gpus=gpus,
        max_restarts=-1,  # a lost worker is always replaced; its job is retried up to `retries`
        max_task_retries=retries,
    )(BatchWorker)


def _reconstructed() -> bool:
    try:
        import ray

        return bool(ray.get_runtime_context().was_current_actor_reconstructed)
    except (ImportError, RuntimeError, AttributeError):
        return False
