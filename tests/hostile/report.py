"""The table of issue #15's closing note: every hostile case, run against this checkout.

    PYTHONPATH=<checkout> python tests/hostile/report.py [--markdown] [NAME...]

The cases run the command line of whatever ``streamseg`` PYTHONPATH gives, so the same
cases measure an older checkout (the "before" column). Prints one line per case and
the counts: cases tried, clean (a clear one-line error or a clean finish, right exit
code, valid outputs), tracebacks, hangs, frames lost, other failures.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import cases_preview  # noqa: E402, F401 - registers its cases
import cases_runs  # noqa: E402, F401
import cases_values  # noqa: E402, F401
from harness import CASES  # noqa: E402
from pool import run_cases  # noqa: E402


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or sorted(CASES)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hostile-") as root:
        verdicts = run_cases(names, Path(root))
    for name in names:
        v = verdicts[name]
        say(f"{name:32s} {v.kind:9s} {v.seconds:5.1f}s {v.detail[:150]}")
    counts = Counter(v.kind for v in verdicts.values())
    say(
        f"\ncases {len(names)} | clean {counts['ok']} | tracebacks {counts['traceback']} | "
        f"hangs {counts['hang']} | frames lost {counts['lost']} | other {counts['wrong']} "
        f"| {time.monotonic() - started:.0f} s"
    )
    return 0 if counts["ok"] == len(names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
