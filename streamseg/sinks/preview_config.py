"""Settings of the live preview: what one page (or anyone who can reach it) may ask for.

Every limit keeps a hostile or runaway client from costing the run more than a
bounded amount: objects and points cap the tracker's work per frame, the queue and
the rate cap requests, connections and timeouts cap threads and sockets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streamseg.errors import UsageError


@dataclass
class PreviewConfig:
    """Limits of the preview server (``--preview``).

    max_objects: objects at once (not removed) a page may have; more answer 409.
    max_points: points an object carries into the tracker (the newest are kept).
    max_pending: requests queued for the frame loop; more answer 429.
    rate: prompt and removal requests per second per client (bursts of twice that);
    more answer 429. max_connections: connections served at once (more are closed).
    timeout: seconds a connection may take for one request, or wait idle between
    requests, before it is closed (a client sending a header line every few seconds
    is closed too).
    """

    max_objects: int = 8
    max_points: int = 64
    max_pending: int = 64
    rate: float = 10.0
    max_connections: int = 16
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check the limits (UsageError); also after ``--set`` edits."""
        for name in ("max_objects", "max_points", "max_pending", "max_connections"):
            if getattr(self, name) < 1:
                raise UsageError(f"preview {name} {getattr(self, name)} is below 1")
        for name in ("rate", "timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"preview {name} {value:g} must be above 0")
