"""Running hostile cases a few at a time, each in a folder of its own, each with a deadline.

Every wait inside a case is bounded, but a case is code too: one stuck in the harness
itself (a blocking call with no timeout, a library deadlock) must not hold the whole
test session. Each case runs on a daemon thread; one not done within ``CASE_LIMIT``
seconds is reported as a hang with the line its thread was stuck on, and the session
goes on (a daemon thread does not keep the interpreter from exiting).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from pathlib import Path

from harness import CASES, Verdict, verdict

WORKERS = 3  # the cases wait on subprocesses; two cores stay busy with three
# The slowest case takes about a minute alone on two loaded cores; ten is a hang.
CASE_LIMIT = float(os.environ.get("HOSTILE_CASE_LIMIT", "600"))


def run_cases(
    names: list[str], root: Path, workers: int = WORKERS, limit: float = CASE_LIMIT
) -> dict[str, Verdict]:
    """name -> Verdict, with ``seconds`` set, for the named cases (in ``names``' order)."""
    results: dict[str, Verdict] = {}
    waiting = list(names)
    running: dict[str, tuple[threading.Thread, float]] = {}

    def one(name: str) -> None:
        work = root / name
        work.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        result = verdict(CASES[name], work)
        result.seconds = time.monotonic() - started
        results.setdefault(name, result)  # a case past its deadline stays a hang

    while waiting or running:
        while waiting and len(running) < workers:
            name = waiting.pop(0)
            thread = threading.Thread(target=one, args=(name,), name=f"hostile-{name}")
            thread.daemon = True
            running[name] = (thread, time.monotonic())
            thread.start()
        time.sleep(0.05)
        for name, (thread, started) in list(running.items()):
            if not thread.is_alive():
                del running[name]
            elif time.monotonic() - started > limit:
                del running[name]  # left to itself: its slot goes to the next case
                stuck = Verdict("hang", f"the case ran past {limit:g} s; {_where(thread)}")
                stuck.seconds = time.monotonic() - started
                results.setdefault(name, stuck)
    return {name: results[name] for name in names}


def _where(thread: threading.Thread) -> str:
    """The innermost lines of ``thread``'s stack, for the report."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None:
        return "its stack is gone"
    lines = traceback.format_stack(frame)[-3:]
    return "stuck at: " + " | ".join(" ".join(line.split()) for line in lines)
