"""The results table ``batch.jsonl`` at the output root, and the batch's progress display.

One JSON object per finished recording: recording, source, status (done, failed,
skipped), frames, seconds, fps, objects, error, and for jobs that ran, the worker
that ran them (pid, host, its n-th job, engine load seconds, restarted) and
``replaced_partial`` (a half-written store of an earlier attempt was replaced). The
whole file is rewritten as each job finishes (one object PUT on a bucket, a rename on
disk), so a reader never sees a torn line.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from streamseg.storage import Location

log = logging.getLogger("streamseg")
TABLE = "batch.jsonl"


class ResultsTable:
    """The rows of this batch run, in the order they finished, written to ``out``/batch.jsonl."""

    def __init__(self, out: Location) -> None:
        self.target = out.child(TABLE)
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.target.write_text("".join(json.dumps(r, default=str) + "\n" for r in self.rows))

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] == "failed"]


class Progress:
    """One bar of recordings finished / total with overall frames/s and ETA; one log line
    per finished recording."""

    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="rec", disable=quiet, dynamic_ncols=True)
        self.frames = 0
        self.started = time.monotonic()

    def finished(self, row: dict[str, Any]) -> None:
        status = row["status"]
        if status == "done":
            self.frames += int(row.get("frames") or 0)
            worker = row.get("worker") or {}
            log.info(
                "done %s: %d frames in %.1f s (%.1f frames/s) on %s pid %s%s",
                row["recording"],
                row["frames"],
                row["seconds"],
                row["fps"] or 0,
                worker.get("host"),
                worker.get("pid"),
                " (retried after a lost worker)" if worker.get("restarted") else "",
            )
        elif status == "skipped":
            log.info("skipped %s: complete with the same settings", row["recording"])
        else:
            log.warning("FAILED %s: %s", row["recording"], row.get("error"))
        fps = self.frames / max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{fps:.1f} frames/s", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
