"""Bounds on what clients of the preview can cost: a rate per client, connections, time.

``RateLimiter``: a token bucket per client address (``rate`` requests a second,
bursts of twice that), for the requests that change the run. ``ConnectionGuard``:
at most ``max_connections`` served at once (one thread each), and a deadline per
connection, renewed for each request: a request must arrive and be read within
``timeout`` seconds, however slowly its bytes trickle in (a header line every 12 s
resets a socket timeout, not this deadline). A reaper thread shuts down the socket
of a connection past its deadline, which ends its thread.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import OrderedDict
from typing import Any

MAX_CLIENTS = 1024  # buckets kept; the least recently seen client is forgotten first


class RateLimiter:
    """``allow(client)``: True while the client stays within ``rate`` requests a second."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate, self.burst = rate, burst if burst is not None else 2 * rate
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return allowed


class ConnectionGuard:
    """Counts connections and closes those past their deadline. Thread-safe."""

    def __init__(self, max_connections: int, timeout: float) -> None:
        self.max_connections, self.timeout = max_connections, timeout
        self._deadlines: dict[socket.socket, float] = {}
        self._evicted: set[socket.socket] = set()  # shut to make room; threads ending
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="preview-reaper", daemon=True)
        self._reaper.start()

    def admit(self, connection: socket.socket) -> bool:
        """Take a new connection (deadline from now). When every slot is taken, the
        connection nearest its deadline (the longest idle, mostly) is closed to make
        room, so idle sockets cannot lock a viewer out. False only while the evicted
        ones' threads have not ended yet (at most ``max_connections`` of them)."""
        with self._lock:
            if len(self._evicted) >= self.max_connections:
                return False
            if len(self._deadlines) >= self.max_connections:
                oldest = min(self._deadlines, key=self._deadlines.__getitem__)
                del self._deadlines[oldest]
                self._evicted.add(oldest)
                _shut(oldest)
            self._deadlines[connection] = time.monotonic() + self.timeout
            return True

    def renew(self, connection: socket.socket, seconds: float | None = None) -> None:
        """A new request starts on ``connection``: it has ``timeout`` (or ``seconds``) more."""
        with self._lock:
            if connection in self._deadlines:
                self._deadlines[connection] = time.monotonic() + (seconds or self.timeout)

    def release(self, connection: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(connection, None)
            self._evicted.discard(connection)

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._deadlines) + len(self._evicted)

    def close(self) -> None:
        self._closed.set()

    def _reap(self) -> None:
        while not self._closed.wait(0.25):
            now = time.monotonic()
            with self._lock:
                late = [c for c, deadline in self._deadlines.items() if deadline < now]
            for connection in late:
                _shut(connection)


def _shut(connection: Any) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)  # the thread reading it sees the end at once
