"""Which recordings a rerun can skip: a settings fingerprint and a marker per result.

When a recording finishes, its worker writes ``NAME/batch.json``: the fingerprint of
everything that decides its output (source, prompts, the full config after the row's
own options) and its row of the results table. A rerun skips a recording only when
that marker is there with the same fingerprint AND ``NAME/masks.zarr`` says
``complete: true``; a missing marker (the job died, or crashed between the last
chunk and the marker), another fingerprint (settings changed) or an incomplete
store means the recording is done again, from the start.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from streamseg.batch.manifest import Recording
from streamseg.config import Config, as_dict, set_value
from streamseg.storage import Location

MARKER = "batch.json"


def recording_config(config: Config, rec: Recording) -> Config:
    """A copy of the batch's config with the recording's own options set."""
    mine = copy.deepcopy(config)
    for key, value in rec.options.items():
        set_value(mine, key, value)
    return mine


def fingerprint(rec: Recording, config: Config) -> str:
    """sha256 of the recording's source, prompts and config (``recording_config``)."""
    settings = {
        "source": rec.source,
        "prompts": rec.prompt_digest(),
        "config": as_dict(recording_config(config, rec)),
    }
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def store_complete(target: Location) -> bool:
    """True when ``target``/masks.zarr's attributes say complete (read from its zarr.json)."""
    text = target.child("masks.zarr", "zarr.json").read_text()
    if text is None:
        return False
    try:
        return bool(json.loads(text).get("attributes", {}).get("complete"))
    except ValueError:
        return False


def previous(target: Location, fp: str) -> dict[str, Any] | None:
    """The row of an earlier run if ``target`` is complete with fingerprint ``fp``, else None."""
    text = target.child(MARKER).read_text()
    if text is None:
        return None
    try:
        marker = json.loads(text)
    except ValueError:
        return None
    if marker.get("fingerprint") != fp or not store_complete(target):
        return None
    row = marker.get("row")
    return row if isinstance(row, dict) else None


def write_marker(target: Location, fp: str, row: dict[str, Any]) -> None:
    target.child(MARKER).write_text(json.dumps({"fingerprint": fp, "row": row}, indent=1))
