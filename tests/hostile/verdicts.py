"""Run hostile cases in a process of their own and write their verdicts as JSON.

    python tests/hostile/verdicts.py OUT.json ROOT NAME...

The test session calls this instead of running the cases in its own process. By the
time the hostile tests come, pytest's process holds what earlier tests left (torch's
and PyAV's thread pools, Ray's client, zarr's event loop thread); starting the cases'
subprocesses from there, Popen was seen to wait for good on its exec-status pipe. A
fresh interpreter holds only the cases.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import cases_preview  # noqa: E402, F401 - registers its cases
import cases_runs  # noqa: E402, F401
import cases_values  # noqa: E402, F401
from pool import run_cases  # noqa: E402


def main(argv: list[str]) -> None:
    out, root, names = Path(argv[0]), Path(argv[1]), argv[2:]
    verdicts = run_cases(names, root)
    out.write_text(json.dumps({name: dataclasses.asdict(v) for name, v in verdicts.items()}))


if __name__ == "__main__":
    main(sys.argv[1:])
    os._exit(0)  # the pool's threads are daemons: one left stuck must not hold this process
