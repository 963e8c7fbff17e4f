"""Wall time from launching ``streamseg run`` to its first frame processed.

Starts ``streamseg run SOURCE --prompt X,Y --max-frames 3 --debug`` as a new process
and times, from the moment it is launched, the "first frame processed" line the run
logs as soon as the first mask is made (before the outputs open), then the
process's exit. The first launch reads the libraries from disk; the runs after it
find them in the page cache, as a user's second run does.

    python scripts/startup_time.py sample_data/sample.mp4 --prompt 143,206 --runs 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once(source: str, prompt: str, model: str, out: Path) -> tuple[float, float]:
    """(seconds to the first frame, seconds to exit) of one run."""
    exe = shutil.which("streamseg") or sys.exit("streamseg is not on PATH")
    cmd = [exe, "run", source, "--prompt", prompt, "--model", model, "--max-frames", "3"]
    cmd += ["--debug", "--out", str(out), "--overwrite"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    first = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if first is None and "first frame processed" in line:
            first = time.perf_counter() - start
    if proc.wait() != 0 or first is None:
        sys.exit(f"streamseg run failed (exit {proc.returncode})")
    return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--model", default="classic")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        times = [
            once(args.source, args.prompt, args.model, Path(tmp) / "out") for _ in range(args.runs)
        ]
    for i, (first, done) in enumerate(times):
        sys.stdout.write(f"run {i + 1}: first frame {first:.2f} s, exit {done:.2f} s\n")
    warm = times[1:] or times
    sys.stdout.write(
        f"after the first run: first frame median {statistics.median(t[0] for t in warm):.2f} s, "
        f"exit median {statistics.median(t[1] for t in warm):.2f} s\n"
    )


if __name__ == "__main__":
    main()
