"""Run a batch on Ray: skip what is done, hand the rest to a pool of workers, record results.

Each worker is a Ray actor holding one engine (built once, in its constructor). The
driver keeps exactly one job in flight per worker, so in-flight work (and memory on
the driver and in the object store) is bounded by the pool size, whatever the batch
size. A worker whose process or node is lost is restarted by Ray (``max_restarts``)
and its job retried there (``max_task_retries``); the retry rewrites the recording
from the start. A job that still fails, or a recording that fails on its own
(corrupt file, bad prompt), becomes a "failed" row, and the batch goes on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamseg.batch.manifest import Recording
from streamseg.batch.resume import fingerprint, previous
from streamseg.batch.table import Progress, ResultsTable
from streamseg.config import Config
from streamseg.errors import EngineError, StreamsegError, UsageError
from streamseg.storage import Location

log = logging.getLogger("streamseg")


class ClusterError(StreamsegError, RuntimeError):
    """Ray could not be started or joined."""

    exit_code = 1


@dataclass
class BatchOptions:
    """address: None (a local Ray instance), "auto" or "ray://HOST:PORT". workers: pool
    size (0: as many as the cluster's CPUs/GPUs fit). cpus/gpus: resources per job.
    retries: how often Ray retries a job whose worker was lost."""

    address: str | None = None
    workers: int = 0
    cpus: float = 1.0
    gpus: float = 0.0
    retries: int = 3
    overwrite: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.cpus <= 0 or self.gpus < 0:
            raise UsageError(
                f"--cpus-per-job {self.cpus} / --gpus-per-job {self.gpus}: CPUs must be "
                "above 0 and GPUs 0 or more"
            )
        if self.workers < 0 or self.retries < 0:
            raise UsageError("--workers and --retries must be 0 or more")


def run_batch(
    recordings: list[Recording],
    out: Location,
    config: Config,
    options: BatchOptions,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> ResultsTable:
    """Process ``recordings`` into ``out``/NAME each; the results table (also in batch.jsonl).

    on_row: called with each finished row (skipped ones first).
    """
    config.validate()
    out.check_writable()
    table = ResultsTable(out)
    progress = Progress(len(recordings), options.quiet)

    def finish(row: dict[str, Any]) -> None:
        table.add(row)
        progress.finished(row)
        if on_row is not None:
            on_row(row)

    todo: list[Recording] = []
    try:
        for rec in recordings:
            if rec.error:
                finish(_failed(rec, rec.error))
                continue
            old = (
                None
                if options.overwrite
                else previous(out.child(rec.name), fingerprint(rec, config))
            )
            if old is not None:
                finish(_skipped(rec, old))
            else:
                todo.append(rec)
        if todo:
            _run_pool(todo, out, config, options, finish)
    finally:
        progress.close()
    return table


def _run_pool(
    todo: list[Recording],
    out: Location,
    config: Config,
    options: BatchOptions,
    finish: Callable[[dict[str, Any]], None],
) -> None:
    import ray

    started_here = _connect(ray, options.address)
    workers: list[Any] = []
    try:
        size = min(len(todo), options.workers or _fit(ray, options))
        actor = _actor(options)
        workers = [actor.remote(config) for _ in range(size)]
        infos = ray.get([w.ready.remote() for w in workers])
        for info in infos:
            if info["error"]:
                raise EngineError(f"a worker could not load the engine: {info['error']}")
        log.info(
            "%d recordings to run on %d workers (%s CPU, %s GPU each); engine loaded in %s s",
            len(todo),
            size,
            options.cpus,
            options.gpus,
            max(float(i["load_seconds"]) for i in infos),
        )
        queue = list(reversed(todo))
        in_flight: dict[Any, tuple[Any, Recording]] = {}
        idle = list(workers)
        while queue or in_flight:
            while idle and queue:  # one job per worker: bounded in-flight work
                worker, rec = idle.pop(), queue.pop()
                in_flight[worker.process.remote(rec, out)] = (worker, rec)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            worker, rec = in_flight.pop(ready[0])
            idle.append(worker)
            finish(_result(ray, ready[0], rec, options.retries))
    finally:
        for w in workers:
            ray.kill(w)
        if started_here:
            ray.shutdown()


def _result(ray: Any, ref: Any, rec: Recording, retries: int) -> dict[str, Any]:
    """The job's row; a job Ray gave up on (worker lost more than ``retries`` times, or an
    unexpected error inside the job) becomes a failed row naming the cause."""
    try:
        return dict(ray.get(ref))
    except ray.exceptions.RayActorError as error:
        reason = f"WorkerLost: the worker died {retries + 1} times on this recording ({error})"
        return _failed(rec, reason.splitlines()[0])
    except ray.exceptions.RayTaskError as error:
        cause = error.cause if error.cause is not None else error
        return _failed(rec, f"{type(cause).__name__}: {str(cause).splitlines()[-1]}")


def _connect(ray: Any, address: str | None) -> bool:
    """Join ``address`` or start a local Ray instance; True when this call started Ray."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(**kwargs)
    except ConnectionError as error:
        raise UsageError(
            f"cannot reach a Ray cluster at {address!r} ({error}); start one "
            "(ray start --head) or pass --address auto|ray://HOST:10001"
        ) from error
    except Exception as error:  # noqa: BLE001 - Ray raises a bare Exception on start-up timeouts
        if address:
            raise
        raise ClusterError(
            f"could not start a local Ray instance ({error}); retry on a less loaded machine, "
            "or start one (ray start --head) and pass --address auto"
        ) from error
    return True


def _fit(ray: Any, options: BatchOptions) -> int:
    """How many workers the cluster's CPUs (and GPUs, when jobs ask for them) hold."""
    total = ray.cluster_resources()
    count = math.floor(total.get("CPU", 0) / options.cpus)
    if options.gpus:
        count = min(count, math.floor(total.get("GPU", 0) / options.gpus))
    if count < 1:
        raise UsageError(
            f"the Ray cluster has {total.get('CPU', 0)} CPUs and {total.get('GPU', 0)} GPUs: "
            f"not enough for one job of {options.cpus} CPU / {options.gpus} GPU; "
            "lower --cpus-per-job/--gpus-per-job or add nodes"
        )
    return count


def _actor(options: BatchOptions) -> Any:
    from streamseg.batch.worker import actor_class

    return actor_class(options.cpus, options.gpus, options.retries)


def _failed(rec: Recording, error: str) -> dict[str, Any]:
    return {
        "recording": rec.name,
        "source": rec.source,
        "status": "failed",
        "frames": 0,
        "seconds": 0.0,
        "fps": None,
        "objects": 0,
        "error": error,
    }


def _skipped(rec: Recording, old: dict[str, Any]) -> dict[str, Any]:
    return {
        "recording": rec.name,
        "source": rec.source,
        "status": "skipped",
        "frames": old.get("frames", 0),
        "seconds": 0.0,
        "fps": None,
        "objects": old.get("objects", 0),
        "error": None,
        "previous": {k: old.get(k) for k in ("seconds", "fps")},
    }
