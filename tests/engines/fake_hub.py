"""A small HTTP server on 127.0.0.1 that answers the Hugging Face Hub requests
huggingface_hub makes to download a snapshot (repo info, file tree, resolve), serving
local folders as repositories. Tests point HF_ENDPOINT at it."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FakeHub:
    """repos: repo id -> (folder, commit). gated: repo ids answered 401 GatedRepo.
    requests: (method, path) of every request, in order."""

    def __init__(self) -> None:
        self.repos: dict[str, tuple[Path, str]] = {}
        self.gated: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                hub._answer(self, body=False)

            def do_GET(self) -> None:  # noqa: N802
                hub._answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo: str, folder: Path, commit: str) -> None:
        self.repos[repo] = (Path(folder), commit)

    # -- answers ----------------------------------------------------------------------

    def _files(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def _answer(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = h.path.split("?", 1)[0]
        self.requests.append((h.command, h.path))
        api = re.fullmatch(r"/api/models/(.+?)/(revision|tree)/([^/]+)(/.*)?", path)
        resolve = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        repo = api.group(1) if api else resolve.group(1) if resolve else None
        if repo in self.gated:
            self._send(h, 401, b"", {"X-Error-Code": "GatedRepo"}, body)
            return
        if repo not in self.repos:
            self._send(h, 404, b"", {"X-Error-Code": "RepoNotFound"}, body)
            return
        folder, commit = self.repos[repo]
        if api:
            if api.group(3) not in ("main", commit):
                self._send(h, 404, b"", {"X-Error-Code": "RevisionNotFound"}, body)
                return
            files = self._files(folder)
            if api.group(2) == "revision":
                data: Any = {
                    "id": repo,
                    "sha": commit,
                    "siblings": [{"rfilename": str(p.relative_to(folder))} for p in files],
                }
            else:
                data = [
                    {
                        "type": "file",
                        "oid": hashlib.sha1(p.read_bytes()).hexdigest(),
                        "size": p.stat().st_size,
                        "path": str(p.relative_to(folder)),
                    }
                    for p in files
                ]
            self._send(
                h, 200, json.dumps(data).encode(), {"Content-Type": "application/json"}, body
            )
            return
        assert resolve is not None
        if resolve.group(2) not in ("main", commit):
            self._send(h, 404, b"", {"X-Error-Code": "RevisionNotFound"}, body)
            return
        file = folder / resolve.group(3)
        if not file.is_file():
            self._send(h, 404, b"", {"X-Error-Code": "EntryNotFound"}, body)
            return
        data_bytes = file.read_bytes()
        etag = hashlib.sha1(data_bytes).hexdigest()
        headers = {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}
        self._send(h, 200, data_bytes, headers, body)

    def _send(
        self, h: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict, body: bool
    ) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if body:
            h.wfile.write(data)
