"""Score the classic engine on the DAVIS 2016 sequences in the shared data folder.

    python scripts/eval_classic.py [--init mask|click] [--sequences bear,boat]

The data root is $STREAMSEG_TEST_DATA (default: <repo>/../shared/data); the
sequences are read from its davis2016-train/ folder.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from streamseg.eval.davis import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--init", choices=["mask", "click"], default="mask")
    parser.add_argument("--sequences", default="", help="comma-separated names (default: all)")
    parser.add_argument("--dataset", default="davis2016-train", help="folder under the data root")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    repo = Path(__file__).resolve().parents[1]
    data = Path(os.environ.get("STREAMSEG_TEST_DATA", repo.parent / "shared" / "data"))
    sequences = [s for s in args.sequences.split(",") if s] or None
    rows = evaluate(data / args.dataset, sequences, init=args.init)

    print(f"{'sequence':<18}{'frames':>7}{'J':>8}{'F':>8}{'J&F':>8}{'fps':>8}")  # noqa: T201
    for r in rows:
        print(  # noqa: T201
            f"{r['sequence']:<18}{r['frames']:>7}{r['J']:>8.3f}{r['F']:>8.3f}{r['JF']:>8.3f}{r['fps']:>8.1f}"
        )
    n = len(rows)
    frames = sum(r["frames"] for r in rows)
    mean = {k: sum(r[k] for r in rows) / n for k in ("J", "F", "JF")}
    # Overall speed: all frames over all time, not the mean of per-sequence rates.
    seconds = sum(r["frames"] / r["fps"] for r in rows)
    print(  # noqa: T201
        f"{'mean':<18}{frames:>7}{mean['J']:>8.3f}{mean['F']:>8.3f}{mean['JF']:>8.3f}"
        f"{frames / seconds:>8.1f}"
    )


if __name__ == "__main__":
    main()
