"""A local HTTP server that sends some bytes and then drops or stalls the connection."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serve_bytes(data: bytes, mode: str = "close") -> Iterator[str]:
    """``http://127.0.0.1:PORT/clip.ts`` serving ``data`` (no length); then, by ``mode``:
    "close" drops the connection, "stall" keeps it open and silent until the block ends."""
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.end_headers()
            try:
                self.wfile.write(data)
                self.wfile.flush()
                if mode == "stall":
                    done.wait(60)
            except OSError:
                pass
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/clip.ts"
    finally:
        done.set()
        server.shutdown()
        server.server_close()
