"""Running hostile cases a few at a time, each in a folder of its own."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import CASES, Verdict, verdict

WORKERS = 3  # the cases wait on subprocesses; two cores stay busy with three


def run_cases(names: list[str], root: Path, workers: int = WORKERS) -> dict[str, Verdict]:
    """name -> Verdict, with ``seconds`` set, for the named cases."""

    def one(name: str) -> tuple[str, Verdict]:
        work = root / name
        work.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        result = verdict(CASES[name], work)
        result.seconds = time.monotonic() - started
        return name, result

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, names))
