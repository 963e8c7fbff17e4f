"""The live preview: a small local web server showing the overlay, where clicks become prompts.

``PreviewServer`` serves the page (``assets/``), the newest overlay frame as a JPEG
long-poll, and a JSON API (documented in the README, "HTTP API"):

  GET    /frame.jpg?after=N  the newest frame once it is newer than N (header
                             X-Frame-Index), or 204 after 10 s without one
  GET    /api/status         ``status()``, plus "preview": frame size and index
  GET    /api/objects        ``objects()``, plus objects added here not yet listed
  POST   /api/prompts        {"frame", "object" (null = new), "points", "labels", "name"?}
  DELETE /api/objects/<id>   ``on_remove(id)``

It is standard library only (``http.server``), local by default, and checks every
request (``handler.py``). Frames cost nothing until a page asks: ``publish``
keeps a reference, and the JPEG (and, through sinks/preview.py, the overlay
drawing itself) is made on the first request for that frame, once for all viewers.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np

from streamseg.errors import UsageError
from streamseg.live.board import FrameBoard
from streamseg.live.handler import HttpError, PreviewHandler
from streamseg.live.limits import ConnectionGuard, RateLimiter
from streamseg.live.schema import parse_prompt_request
from streamseg.objects import Busy, ObjectRegistry, TooMany
from streamseg.playback import Playback
from streamseg.sinks.preview_config import PreviewConfig

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_WILDCARDS = {"", "0.0.0.0", "::"}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def parse_bind(text: str) -> tuple[str, int]:
    """``--preview [HOST:]PORT`` into (host, port); HOST defaults to 127.0.0.1.

    "8765" -> ("127.0.0.1", 8765); "0.0.0.0:8765"; "[::1]:8765" (IPv6 in brackets);
    port 0 picks a free port.
    """
    host, _, port = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"--preview {text!r}: put an IPv6 address in brackets, e.g. [::1]:8765")
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--preview {text!r}: expected [HOST:]PORT with PORT in 0..65535")
    if host and not all(c.isalnum() or c in ".-:" for c in host):
        raise UsageError(f"--preview {text!r}: {host!r} is not a host name or address")
    return host or DEFAULT_HOST, int(port)


def _split_host(header: str) -> tuple[str, int]:
    """A Host header into (lower-case name without brackets, port; 80 when absent)."""
    header = header.strip().lower()
    if header.startswith("["):
        name, _, rest = header[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = header.partition(":")
    return name, int(port) if port.isdigit() else (80 if not port else -1)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a viewer's open connection never keeps the process alive
    block_on_close = False
    app: PreviewServer

    def process_request(self, request: Any, client_address: Any) -> None:
        # one thread per connection, so connections are bounded: past the limit, closed
        if not self.app.guard.admit(request):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.app.guard.release(request)


class _Server6(_Server):
    address_family = socket.AF_INET6


class PreviewServer:
    """The preview web server. Runs its requests in its own threads.

    registry: the run's ObjectRegistry: clicks become its prompt requests (it picks
    new ids and queues them for the pipeline), removals its removal requests, and
    the object panel lists its objects. status() -> dict: shown as is (the page
    reads fps, latency_p50, latency_p95 in seconds, dropped, frame_index).
    colour(position) -> (3,) uint8: the overlay colour of the object at that position
    among all objects (so the panel matches the video).
    allowed_hosts: extra names accepted in the Host header (e.g. the machine's
    DNS name when bound to 0.0.0.0). playback: the run's Playback, paused and played
    from the page (``POST /api/playback``).
    DNS name when bound to 0.0.0.0). limits: the PreviewConfig bounds (rate per
    client, connections, timeouts; objects and points are the registry's).
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        registry: ObjectRegistry,
        status: Callable[[], dict],
        colour: Callable[[int], np.ndarray] | None = None,
        playback: Playback | None = None,
        jpeg_quality: int = 80,
        allowed_hosts: Iterable[str] = (),
        limits: PreviewConfig | None = None,
    ) -> None:
        if not 1 <= jpeg_quality <= 100:
            raise UsageError(f"jpeg_quality {jpeg_quality} is not in 1..100")
        self.host, self.port = host, port
        self.limits = limits or PreviewConfig()
        self.rate = RateLimiter(self.limits.rate)
        self.guard = ConnectionGuard(self.limits.max_connections, self.limits.timeout)
        self.registry, self._status, self._colour = registry, status, colour
        self.playback = playback or Playback()
        self.board = FrameBoard(jpeg_quality)
        self.assets = {
            name: ((resources.files("streamseg.live") / "assets" / name).read_bytes(), kind)
            for name, kind in ASSETS.items()
        }
        self._wildcard = host in _WILDCARDS
        names = {host.lower(), *_LOOPBACK_NAMES, *(h.lower() for h in allowed_hosts)}
        if self._wildcard:
            names.add(socket.gethostname().lower())
        self._host_names = names
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Listen and serve in a daemon thread. Port 0 picks a free port (see ``url``)."""
        server_class = _Server6 if ":" in self.host else _Server
        try:
            self._httpd = server_class((self.host, self.port), PreviewHandler)
        except OSError as error:
            raise UsageError(
                f"cannot serve the preview on {self.host}:{self.port} ({error.strerror}); "
                "choose another port, e.g. --preview 8766"
            ) from error
        self._httpd.app = self
        self.port = self._httpd.server_address[1]
        # close() waits up to one poll interval for the serving loop to notice
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="preview"
        )
        self._thread.daemon = True
        self._thread.start()
        if not self._is_loopback():
            log.warning(
                "the preview on %s:%d is reachable from other machines: anyone who can "
                "reach it can see the video and add prompts",
                self.host,
                self.port,
            )
        log.info("live preview at %s", self.url)

    def _is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        return _is_ip(self.host) and ipaddress.ip_address(self.host).is_loopback

    @property
    def url(self) -> str:
        """The page's address; for a 0.0.0.0 bind, the loopback one."""
        host = ("::1" if self.host == "::" else DEFAULT_HOST) if self._wildcard else self.host
        return f"http://[{host}]:{self.port}/" if ":" in host else f"http://{host}:{self.port}/"

    def close(self) -> None:
        """Stop serving; viewers waiting for a frame get 503. Safe to call twice."""
        self.board.close()
        self.guard.close()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> PreviewServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ---------------------------------------------------------------------

    def publish(self, frame_index: int, image: np.ndarray) -> None:
        """Show ``image`` ((H, W, 3) uint8 RGB) as frame ``frame_index``; do not modify it after.

        Cheap: only a reference is kept; the JPEG is made if and when a page asks.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"publish: expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
            )
        self.board.put(frame_index, (image.shape[1], image.shape[0]), lambda: image)

    def publish_lazy(
        self, frame_index: int, size: tuple[int, int], render: Callable[[], np.ndarray]
    ) -> None:
        """Like ``publish``, with the image drawn by ``render()`` only when a page asks for it.

        size: (width, height) of the image ``render`` returns (clicks are checked against it).
        """
        self.board.put(frame_index, size, render)

    # -- the API (called from request threads) ---------------------------------------

    def host_allowed(self, header: str) -> bool:
        """Whether a Host header names this server (anything else may be DNS rebinding)."""
        name, port = _split_host(header)
        if port != self.port:
            return False
        # A rebinding attack needs the attacker's domain name in Host; an IP literal is
        # safe, so a wildcard bind accepts any address the machine is reached by.
        return name in self._host_names or (self._wildcard and _is_ip(name))

    def api_status(self) -> dict[str, Any]:
        playback = {"paused": self.playback.paused, "waiting": self.playback.reason or None}
        return {**self._status(), **playback, "preview": self.board.stats()}

    def api_playback(self, data: Any) -> dict[str, Any]:
        """``{"paused": true|false}``: pause or play the run (files; a camera goes on)."""
        if (
            not isinstance(data, dict)
            or set(data) != {"paused"}
            or not isinstance(data["paused"], bool)
        ):
            raise UsageError('expected {"paused": true} or {"paused": false}')
        if data["paused"]:
            self.playback.pause()
        else:
            self.playback.play()
        log.info("preview: %s", "paused" if data["paused"] else "playing")
        return {"paused": self.playback.paused}

    def api_objects(self) -> list[dict[str, Any]]:
        """The registry's objects, each with its overlay colour."""
        positions = {i: k for k, i in enumerate(self.registry.describe())}
        listed = self.registry.listed()
        if self._colour is not None:
            for item in listed:
                item["colour"] = self._colour(positions[item["id"]]).tolist()
        return listed

    def api_prompt(self, data: Any) -> dict[str, Any]:
        """Check a prompt body and hand it to the registry; {"object": id, "frame", "new"}."""
        last, size = self.board.latest
        if size is None:
            raise HttpError(HTTPStatus.CONFLICT, "no frame has been shown yet; click on a frame")
        request = parse_prompt_request(data, size[0], size[1], last, set(self.registry.ids()))
        try:
            object_id = self.registry.request_prompt(
                request.object_id,
                request.frame,
                np.array(request.points, np.float32),
                np.array(request.labels, np.int32),
                name=request.name,
            )
        except Busy as error:
            raise HttpError(HTTPStatus.TOO_MANY_REQUESTS, str(error)) from None
        except TooMany as error:
            raise HttpError(HTTPStatus.CONFLICT, str(error)) from None
        log.info("preview: prompt for object %d at frame %d", object_id, request.frame)
        return {"object": object_id, "frame": request.frame, "new": request.object_id is None}

    def api_remove(self, object_id: int) -> dict[str, Any]:
        try:
            self.registry.request_removal(object_id)
        except Busy as error:
            raise HttpError(HTTPStatus.TOO_MANY_REQUESTS, str(error)) from None
        except UsageError:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no object {object_id}") from None
        log.info("preview: object %d removed", object_id)
        return {"removed": object_id}
