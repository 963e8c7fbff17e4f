"""Issue #15: every hostile input and fault ends cleanly and loses nothing.

Each case (cases_*.py) generates its own inputs, runs the real command line and
checks the exit code, the one line, that there is no traceback and no hang, and
that the outputs are valid and hold every frame. The cases run a few at a time in
a pool (they mostly wait on subprocesses) and each test reads its case's verdict.
``python tests/hostile/report.py`` prints the table of issue #15's closing note.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HOSTILE_SIGNAL_LIMIT", "6")  # 2 s is the goal; CI machines are loaded

import cases_preview  # noqa: E402, F401 - registers its cases
import cases_runs  # noqa: E402, F401
import cases_values  # noqa: E402, F401
from harness import CASES, Verdict  # noqa: E402
from pool import run_cases  # noqa: E402

ALL_CASES_LIMIT = 1000  # seconds for every case together (pytest-timeout's is 1200)


@pytest.fixture(scope="session")
def verdicts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    wanted = [
        item.callspec.params["name"]
        for item in request.session.items
        if item.originalname == "test_hostile" and hasattr(item, "callspec")
    ]
    root = tmp_path_factory.mktemp("hostile")
    out = root / "verdicts.json"
    script = Path(__file__).parent / "verdicts.py"
    # In a fresh process (verdicts.py says why), with a bound of its own.
    command = [sys.executable, str(script), str(out), str(root), *wanted]
    # A session of its own, so that past the bound the runs it started end with it.
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=ALL_CASES_LIMIT)
        kind, why = "wrong", f"the cases' process exited {proc.returncode}: "
        why += err.decode(errors="replace")[-200:]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kind, why = "hang", f"the cases' process did not finish within {ALL_CASES_LIMIT} s"
    found = json.loads(out.read_text()) if out.exists() else {}
    missing = Verdict(kind, why)
    return {name: Verdict(**found[name]) if name in found else missing for name in wanted}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(name: str, verdicts: dict[str, Verdict]) -> None:
    verdict = verdicts[name]
    assert verdict.kind == "ok", f"{name}: {verdict.kind}: {verdict.detail}"


def test_enough_cases() -> None:
    assert len(CASES) >= 40


def test_a_stuck_case_is_a_hang_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(work: Path) -> None:
        release.wait()  # no timeout: the harness's own code blocking for good

    def quick(work: Path) -> None:
        (work / "ran").write_text("yes")

    monkeypatch.setitem(CASES, "stuck_case", stuck)
    monkeypatch.setitem(CASES, "quick_case", quick)
    try:
        verdicts = run_cases(["stuck_case", "quick_case"], tmp_path, workers=1, limit=1.0)
    finally:
        release.set()
    assert verdicts["stuck_case"].kind == "hang"
    assert "release.wait()" in verdicts["stuck_case"].detail  # where it was stuck
    assert verdicts["quick_case"].kind == "ok"  # its turn came though one worker was stuck
    assert (tmp_path / "quick_case" / "ran").read_text() == "yes"
