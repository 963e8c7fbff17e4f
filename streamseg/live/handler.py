"""HTTP for the live preview: routing, request checks and responses (standard library only).

Every request passes the same gate before any work is done: the Host header must
name this server (so a hostile web page cannot reach it through DNS rebinding),
an Origin header, when sent, must be this server too (so another site's page
cannot post prompts), bodies must be small JSON. The only files served are the
page's own assets, looked up by name in a fixed table: no path from a request
ever reaches the filesystem.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from streamseg.errors import UsageError
from streamseg.live.schema import MAX_BODY, parse_json

if TYPE_CHECKING:
    from streamseg.live.server import PreviewServer

log = logging.getLogger(__name__)

LONG_POLL = 10.0  # seconds a /frame.jpg request waits for a new frame before 204
ASSET_ROUTES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/app.js": "app.js",
    "/style.css": "style.css",
}
GET_ROUTES = {*ASSET_ROUTES, "/frame.jpg", "/api/status", "/api/objects", "/favicon.ico"}
OBJECT_PATH = re.compile(r"/api/objects/(\d{1,10})")
QUERY_PARAMETERS = {"/frame.jpg": {"after"}}  # every other path takes none
# Served with every response: no caching, no sniffing, no framing by other sites,
# nothing loaded from anywhere but this server, no embedding of frames elsewhere.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


class HttpError(UsageError):
    """A request the server refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.allow = allow


def _allowed_method(path: str) -> str | None:
    """The one method a known path takes; None for an unknown path."""
    if path in GET_ROUTES:
        return "GET"
    if path in ("/api/prompts", "/api/playback"):
        return "POST"
    if OBJECT_PATH.fullmatch(path):
        return "DELETE"
    return None


class PreviewHandler(BaseHTTPRequestHandler):
    """One request to the preview; ``self.server.app`` is the PreviewServer."""

    protocol_version = "HTTP/1.1"  # keep-alive: the page's back-to-back frame requests reuse it
    server_version = "streamseg-preview"
    timeout = 30  # seconds of silence before a connection is dropped (no idle thread pile-up)

    @property
    def app(self) -> PreviewServer:
        return self.server.app  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        # socket reads time out with the limit too; the guard bounds a request as a whole
        self.connection.settimeout(self.app.limits.timeout)

    def handle_one_request(self) -> None:
        # each request (or idle wait for the next) gets ``timeout`` seconds in all
        self.app.guard.renew(self.connection)
        super().handle_one_request()

    def version_string(self) -> str:
        return self.server_version  # not the Python version: no need to advertise it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        # http.server writes every request to stderr; at debug level only, here.
        log.debug("%s %s", self.address_string(), format % args)

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 for any method without a do_X; every method this
        # server does not route is answered 405 instead, as a client error.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._dispatch(self._raise_not_allowed)

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def do_DELETE(self) -> None:
        self._dispatch(self._delete)

    # -- routing -------------------------------------------------------------

    def _dispatch(self, route: Any) -> None:
        try:
            self._check_origin()
            path = urlsplit(self.path).path
            self._check_query(path)
            route(path)
        except HttpError as error:
            self._send_error(error.status, str(error), error.allow)
        except UsageError as error:  # a schema check failed
            self._send_error(HTTPStatus.BAD_REQUEST, str(error))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the page went away mid-answer
        except Exception:
            log.exception("preview: %s %s failed", self.command, self.path[:200])
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; see the log")

    def _raise_not_allowed(self, path: str) -> None:
        allow = _allowed_method(path)
        if allow is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such path: {path[:100]}")
        raise HttpError(
            HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command[:10]} {path}: use {allow}", allow
        )

    def _get(self, path: str) -> None:
        if path in ASSET_ROUTES:
            body, content_type = self.app.assets[ASSET_ROUTES[path]]
            self._send(HTTPStatus.OK, body, content_type)
        elif path == "/frame.jpg":
            self._frame()
        elif path == "/api/status":
            self._send_json(self.app.api_status())
        elif path == "/api/objects":
            self._send_json(self.app.api_objects())
        elif path == "/favicon.ico":  # browsers ask for it; an empty answer, not a 404 in the log
            self._send(HTTPStatus.NO_CONTENT, b"", None)
        else:
            self._raise_not_allowed(path)

    def _post(self, path: str) -> None:
        if path == "/api/prompts":
            self._check_rate()
            self._send_json(self.app.api_prompt(parse_json(self._read_body())))
        elif path == "/api/playback":
            self._check_rate()
            self._send_json(self.app.api_playback(parse_json(self._read_body())))
        else:
            self._raise_not_allowed(path)

    def _delete(self, path: str) -> None:
        match = OBJECT_PATH.fullmatch(path)
        if match is None:
            self._raise_not_allowed(path)
            return
        self._check_rate()
        self._send_json(self.app.api_remove(int(match.group(1))))

    # -- checks ----------------------------------------------------------------

    def _check_query(self, path: str) -> dict[str, list[str]]:
        """The query's parameters; 400 for any this path does not take, or a repeat."""
        try:
            query = parse_qs(urlsplit(self.path).query, keep_blank_values=True, max_num_fields=8)
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "too many query parameters") from None
        allowed = QUERY_PARAMETERS.get(path, set())
        unknown = sorted(set(query) - allowed)
        if unknown:
            shown = ", ".join(repr(k[:20]) for k in unknown[:3])
            takes = f"it takes {', '.join(sorted(allowed))}" if allowed else "it takes none"
            raise HttpError(HTTPStatus.BAD_REQUEST, f"unknown query parameter {shown}; {takes}")
        if any(len(v) > 1 for v in query.values()):
            raise HttpError(HTTPStatus.BAD_REQUEST, "a query parameter is given twice")
        return query

    def _check_rate(self) -> None:
        if not self.app.rate.allow(self.client_address[0]):
            raise HttpError(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"more than {self.app.limits.rate:g} requests a second; slow down",
            )

    def _check_origin(self) -> None:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise HttpError(HTTPStatus.BAD_REQUEST, "more than one Host header")
        host = self.headers.get("Host")
        if host is None or not self.app.host_allowed(host):
            shown = str(host)[:80]
            raise HttpError(
                HTTPStatus.FORBIDDEN, f"Host {shown!r} is not this server; use {self.app.url}"
            )
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}".lower():
            raise HttpError(HTTPStatus.FORBIDDEN, f"cross-origin request from {origin[:80]!r}")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not accepted")
        content_type = self.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise HttpError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json"
            )
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send Content-Length")
        if not length_header.isdigit():
            raise HttpError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number")
        length = int(length_header)
        if length > MAX_BODY:
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {length} bytes; at most {MAX_BODY}"
            )
        body = self.rfile.read(length)
        if len(body) != length:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body ended before Content-Length")
        return body

    # -- frames ----------------------------------------------------------------

    def _frame(self) -> None:
        """Long-poll: the newest frame once it is newer than ``after`` (204 after LONG_POLL s)."""
        query = self._check_query("/frame.jpg")
        values = query.get("after", ["-1"])
        try:
            after = int(values[0])
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "after must be a frame index") from None
        self.app.guard.renew(self.connection, LONG_POLL + self.app.limits.timeout)
        frame = self.app.board.next_after(after, LONG_POLL)
        if frame is None:
            self._send(HTTPStatus.NO_CONTENT, b"", None)
            return
        index, jpeg, (width, height) = frame
        extra = {
            "X-Frame-Index": str(index),
            "X-Frame-Width": str(width),
            "X-Frame-Height": str(height),
        }
        self._send(HTTPStatus.OK, jpeg, "image/jpeg", extra)

    # -- responses ---------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        for key, value in {**SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send_error(self, status: int, message: str, allow: str | None = None) -> None:
        # The request body may be unread: close rather than parse it as the next request.
        self.close_connection = True
        extra = {"Allow": allow} if allow else None
        body = json.dumps({"error": message}).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client left
            self._send(status, body, "application/json", extra)
