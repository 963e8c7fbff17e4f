"""The preview's HTTP API, against a real server on a free port with fake callbacks."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import cv2
import numpy as np
import pytest
from helpers import RecordingTracker

from streamseg.errors import UsageError
from streamseg.live import PreviewServer, parse_bind
from streamseg.objects import ObjectRegistry
from streamseg.render.overlay import object_colour
from streamseg.render.stage import Overlay
from streamseg.sinks.preview import PreviewSink
from streamseg.types import Frame, FrameResult, Prompt

WIDTH, HEIGHT = 160, 120


class Recorder(RecordingTracker):
    """The registry-fed stand-in tracker, with objects the run already has."""

    def list_objects(self, named: dict[int, str | None]) -> None:
        """Objects the run already has (given on the command line)."""
        self.registry.register(
            [Prompt(i, 0, [[1, 1]], [1], name=name) for i, name in named.items()], "cli"
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[PreviewServer]:
    preview = PreviewServer(
        port=0,
        registry=recorder.registry,
        status=recorder.status,
    )
    preview.start()
    preview.publish(5, np.full((HEIGHT, WIDTH, 3), (200, 40, 40), np.uint8))
    yield preview
    preview.close()


def call(
    server: PreviewServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: Mapping[str, str | None] | None = None,
    timeout: float = 20,
) -> tuple[int, dict[str, str], bytes]:
    """One request with full control of the headers: (status, headers, body).

    ``body`` is sent as JSON, ``raw`` as is; Host defaults to the server's own.
    """
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        sent: dict[str, str | None] = {"Host": f"127.0.0.1:{server.port}"}
        if body is not None:
            raw = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in sent.items():
            if value is not None:
                connection.putheader(key, value)
        if raw is not None and "Content-Length" not in sent:
            connection.putheader("Content-Length", str(len(raw)))
        connection.endheaders(raw)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def decode(jpeg: bytes) -> np.ndarray:
    """JPEG bytes -> (H, W, 3) uint8 BGR."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


def post_prompt(server: PreviewServer, **fields: Any) -> tuple[int, Any]:
    body = {"frame": 5, "object": None, "points": [[50, 60]], "labels": [1], **fields}
    status, _, data = call(server, "POST", "/api/prompts", body)
    return status, json.loads(data)


# -- the page's assets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind", "text"),
    [
        ("/", "text/html", b"<canvas"),
        ("/index.html", "text/html", b"app.js"),
        ("/app.js", "text/javascript", b"/api/prompts"),
        ("/style.css", "text/css", b"canvas"),
    ],
)
def test_assets_are_served(server: PreviewServer, path: str, kind: str, text: bytes) -> None:
    status, headers, body = call(server, "GET", path)
    assert status == 200
    assert headers["Content-Type"].startswith(kind)
    assert text in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/app.js",
        "/../pyproject.toml",
        "/%2e%2e/streamseg/live/preview.py",
        "/preview.py",
        "/app.js/",
        "//etc/passwd",
        "/api",
        "/api/objects/abc",
        "/api/objects/1/x",
    ],
)
def test_no_other_path_is_served(server: PreviewServer, path: str) -> None:
    status, headers, body = call(server, "GET", path)
    assert status in (404, 405), (path, status)
    assert headers["Content-Type"] == "application/json"
    assert "error" in json.loads(body)


# -- prompts and objects --------------------------------------------------------------


def test_click_makes_a_prompt_on_that_frame(server: PreviewServer, recorder: Recorder) -> None:
    status, data = post_prompt(server, points=[[50.5, 60.25], [10, 10]], labels=[1, 0])
    assert status == 200
    assert data == {"object": 1, "frame": 5, "new": True}
    (prompt,) = recorder.prompts
    assert prompt.object_id == 1 and prompt.frame == 5
    np.testing.assert_allclose(prompt.points, np.array([[50.5, 60.25], [10, 10]]))
    assert prompt.labels.tolist() == [1, 0]
    assert prompt.box is None and prompt.mask is None

    # shift-click: a point for the selected object; a named second object gets id 2
    assert post_prompt(server, object=1, frame=3, labels=[0])[1]["object"] == 1
    assert recorder.prompts[-1].object_id == 1 and recorder.prompts[-1].frame == 3
    assert post_prompt(server, name="cup")[1] == {"object": 2, "frame": 5, "new": True}
    assert recorder.prompts[-1].name == "cup"


def test_new_ids_follow_the_pipeline_objects(server: PreviewServer, recorder: Recorder) -> None:
    recorder.list_objects({1: "dog", 7: None})
    assert post_prompt(server)[1]["object"] == 8
    status, _, body = call(server, "GET", "/api/objects")
    assert status == 200
    assert [o["id"] for o in json.loads(body)] == [1, 7, 8]  # 8 shown while pending


def test_new_ids_are_unique_under_concurrency(server: PreviewServer, recorder: Recorder) -> None:
    ids: list[int] = []
    threads = [
        threading.Thread(target=lambda: ids.append(post_prompt(server)[1]["object"]))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == list(range(1, 9))
    assert sorted(p.object_id for p in recorder.prompts) == list(range(1, 9))


def test_remove_an_object(server: PreviewServer, recorder: Recorder) -> None:
    recorder.list_objects({1: "dog", 2: "cat"})
    status, _, body = call(server, "DELETE", "/api/objects/2")
    assert status == 200 and json.loads(body) == {"removed": 2}
    assert recorder.removed == [2]
    # listed by the pipeline until it acts on it, but no longer shown or usable
    assert [o["id"] for o in json.loads(call(server, "GET", "/api/objects")[2])] == [1]
    assert call(server, "DELETE", "/api/objects/2")[0] == 404
    assert post_prompt(server, object=2)[0] == 400
    assert post_prompt(server)[1]["object"] == 3  # a removed id is never given again
    assert call(server, "DELETE", "/api/objects/99")[0] == 404
    assert recorder.removed == [2]


def test_status_merges_the_pipeline_and_preview(server: PreviewServer) -> None:
    status, _, body = call(server, "GET", "/api/status")
    data = json.loads(body)
    assert status == 200
    assert data["fps"] == 12.5 and data["dropped"] == 3
    assert data["preview"]["frame_index"] == 5
    assert (data["preview"]["width"], data["preview"]["height"]) == (WIDTH, HEIGHT)


def test_callback_errors(server: PreviewServer, recorder: Recorder) -> None:
    recorder.registry.close()  # the run has ended
    status, data = post_prompt(server)
    assert status == 400 and "ended" in data["error"]

    def bug(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("bug")

    recorder.registry.request_prompt = bug  # type: ignore[method-assign]
    assert post_prompt(server)[0] == 500


def test_prompt_before_any_frame_is_refused(recorder: Recorder) -> None:
    with PreviewServer(
        port=0,
        registry=recorder.registry,
        status=recorder.status,
    ) as preview:
        assert post_prompt(preview)[0] == 409
    assert not recorder.prompts


# -- malformed requests ---------------------------------------------------------------

BAD_BODIES = {
    "frame as string": {"frame": "5"},
    "frame as bool": {"frame": True},
    "frame in the future": {"frame": 6},
    "negative frame": {"frame": -1},
    "object as string": {"object": "1"},
    "unknown object": {"object": 4},
    "points not a list": {"points": "50,60"},
    "point of three": {"points": [[1, 2, 3]]},
    "point as dict": {"points": [{"x": 1, "y": 2}]},
    "coordinate as string": {"points": [["1", 2]]},
    "negative coordinate": {"points": [[-1, 2]]},
    "x outside the frame": {"points": [[WIDTH, 2]]},
    "y outside the frame": {"points": [[2, HEIGHT + 0.5]]},
    "huge coordinate": {"points": [[1e308, 2]]},
    "no points": {"points": [], "labels": []},
    "too many points": {"points": [[1, 1]] * 65, "labels": [1] * 65},
    "label 2": {"labels": [2]},
    "label as bool": {"labels": [True]},
    "fewer labels": {"labels": []},
    "new object with only negatives": {"labels": [0]},
    "unknown key": {"box": [0, 0, 10, 10]},
    "name too long": {"name": "x" * 65},
    "name not a string": {"name": 3},
}


@pytest.mark.parametrize("fields", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_prompt_bodies_are_400(
    server: PreviewServer, recorder: Recorder, fields: dict[str, Any]
) -> None:
    status, data = post_prompt(server, **fields)
    assert status == 400, data
    assert data["error"]
    assert not recorder.prompts


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"frame": NaN}', b"[" * 5000],
    ids=["truncated", "text", "list", "null", "string", "not utf8", "NaN", "deep"],
)
def test_bad_json_is_400(server: PreviewServer, recorder: Recorder, raw: bytes) -> None:
    status, _, body = call(
        server, "POST", "/api/prompts", raw=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 400, body
    assert not recorder.prompts


def test_missing_key_is_400(server: PreviewServer) -> None:
    body = {"frame": 5, "points": [[1, 1]]}
    assert call(server, "POST", "/api/prompts", body)[0] == 400


@pytest.mark.parametrize(
    ("headers", "raw", "expected"),
    [
        ({"Content-Type": "application/json"}, b"{}" + b" " * 20000, 413),
        ({"Content-Type": "text/plain"}, b"{}", 415),
        ({"Content-Type": None}, b"{}", 415),
        ({"Content-Type": "application/json", "Content-Length": "12x"}, b"{}", 400),
        ({"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, b"0\r\n\r\n", 411),
    ],
    ids=["too big", "wrong type", "no type", "bad length", "chunked"],
)
def test_bad_bodies_are_4xx(
    server: PreviewServer, headers: dict[str, str | None], raw: bytes, expected: int
) -> None:
    assert call(server, "POST", "/api/prompts", raw=raw, headers=headers)[0] == expected


def test_missing_content_length_is_411(server: PreviewServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", "/api/prompts")
    connection.putheader("Content-Type", "application/json")
    connection.endheaders()
    assert connection.getresponse().status == 411
    connection.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:{port}"},
        {"Host": "evil.example"},
        {"Host": "127.0.0.1:1"},
        {"Host": "127.0.0.1.evil.example:{port}"},
        {"Host": None},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],
    ids=["rebinding", "no port", "wrong port", "suffix", "no host", "cross origin", "null origin"],
)
def test_foreign_host_or_origin_is_403(
    server: PreviewServer, recorder: Recorder, headers: dict[str, str | None]
) -> None:
    headers = {k: v.format(port=server.port) if v else v for k, v in headers.items()}
    assert call(server, "GET", "/api/objects", headers=headers)[0] == 403
    assert call(server, "GET", "/", headers=headers)[0] == 403
    body = {"frame": 5, "object": None, "points": [[1, 1]], "labels": [1]}
    assert call(server, "POST", "/api/prompts", body, headers=headers)[0] == 403
    assert not recorder.prompts


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}"])
def test_local_hosts_are_accepted(server: PreviewServer, host: str) -> None:
    origin = "http://" + host.format(port=server.port).lower()
    headers = {"Host": host.format(port=server.port), "Origin": origin}
    assert call(server, "GET", "/api/status", headers=headers)[0] == 200


def test_wildcard_bind_accepts_ip_literals_only() -> None:
    preview = PreviewServer("0.0.0.0", 8765, registry=ObjectRegistry(), status=dict)
    assert preview.host_allowed("192.168.1.20:8765")
    assert preview.host_allowed("[fe80::1]:8765")
    assert preview.host_allowed("localhost:8765")
    assert not preview.host_allowed("attacker.example:8765")
    assert not preview.host_allowed("192.168.1.20:80")
    assert preview.url == "http://127.0.0.1:8765/"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/prompts"),
        ("PUT", "/api/prompts"),
        ("POST", "/api/status"),
        ("DELETE", "/api/objects"),
        ("PATCH", "/api/objects/1"),
        ("GET", "/api/objects/1"),
        ("POST", "/"),
        ("OPTIONS", "/api/prompts"),
        ("HEAD", "/"),
        ("BREW", "/frame.jpg"),
    ],
)
def test_wrong_method_is_405(server: PreviewServer, method: str, path: str) -> None:
    status, headers, _ = call(server, method, path)
    assert status == 405
    assert headers["Allow"] in ("GET", "POST", "DELETE")


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PUT"])
def test_unknown_path_is_404(server: PreviewServer, method: str) -> None:
    assert call(server, method, "/nope")[0] == 404


def test_requests_are_not_logged_to_stderr(
    server: PreviewServer, capfd: pytest.CaptureFixture[str]
) -> None:
    call(server, "GET", "/")
    call(server, "GET", "/nope")
    assert capfd.readouterr().err == ""


# -- frames ---------------------------------------------------------------------------


def wait_for_viewers(server: PreviewServer, count: int, timeout: float = 60) -> None:
    """Until ``count`` requests are waiting for a frame (a loaded machine may take a
    while to get a request that far; a fixed sleep would race)."""
    deadline = time.monotonic() + timeout
    while server.board.stats()["viewers"] < count:
        assert time.monotonic() < deadline, f"no {count} waiting viewers after {timeout} s"
        time.sleep(0.01)


def test_long_poll_returns_the_next_newer_frame(server: PreviewServer) -> None:
    status, headers, body = call(server, "GET", "/frame.jpg?after=-1")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["X-Frame-Index"] == "5"
    image = decode(body)
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert abs(int(image[..., 2].mean()) - 200) < 8  # RGB red arrived as red (BGR order)

    def later() -> None:
        wait_for_viewers(server, 1)  # the request below is waiting for a newer frame
        server.publish(6, np.zeros((HEIGHT, WIDTH, 3), np.uint8))
        server.publish(7, np.zeros((HEIGHT, WIDTH, 3), np.uint8))

    threading.Thread(target=later).start()
    status, headers, _ = call(server, "GET", "/frame.jpg?after=5")
    assert status == 200  # not 204: it waited for frame 6 or 7, not for the 10 s limit
    assert headers["X-Frame-Index"] in ("6", "7")  # never a queued stale one: the newest


def test_long_poll_follows_a_restarted_stream(server: PreviewServer) -> None:
    server.publish(0, np.zeros((HEIGHT, WIDTH, 3), np.uint8))  # indices start again
    assert call(server, "GET", "/frame.jpg?after=5")[1]["X-Frame-Index"] == "0"


def test_long_poll_times_out_with_204(
    server: PreviewServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streamseg.live.handler.LONG_POLL", 0.2)
    assert call(server, "GET", "/frame.jpg?after=5")[0] == 204
    assert call(server, "GET", "/frame.jpg?after=abc")[0] == 400


def test_close_wakes_waiting_viewers(server: PreviewServer) -> None:
    statuses: list[int] = []
    waiter = threading.Thread(
        target=lambda: statuses.append(call(server, "GET", "/frame.jpg?after=5")[0])
    )
    waiter.start()
    wait_for_viewers(server, 1)
    server.close()
    waiter.join(timeout=5)
    assert statuses == [503]


def test_frames_are_drawn_and_encoded_only_when_asked(server: PreviewServer) -> None:
    calls: list[int] = []

    def render() -> np.ndarray:
        calls.append(1)
        return np.zeros((HEIGHT, WIDTH, 3), np.uint8)

    for index in range(6, 20):
        server.publish_lazy(index, (WIDTH, HEIGHT), render)
    assert not calls
    assert call(server, "GET", "/frame.jpg?after=5")[1]["X-Frame-Index"] == "19"
    assert call(server, "GET", "/frame.jpg?after=-1")[1]["X-Frame-Index"] == "19"
    assert len(calls) == 1  # one encoding shared by both viewers


def test_publish_checks_the_image(server: PreviewServer) -> None:
    with pytest.raises(ValueError, match="uint8"):
        server.publish(6, np.zeros((HEIGHT, WIDTH), np.uint8))


def test_preview_sink_publishes_the_overlay(server: PreviewServer) -> None:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    mask = np.zeros((1, HEIGHT, WIDTH), bool)
    mask[0, 40:80, 60:100] = True
    result = FrameResult(
        Frame(9, 9, 0.3, image),
        [1],
        mask,
        np.ones(1, np.float32),
        np.array([[60, 40, 100, 80]], np.float32),
        np.ones(1, bool),
    )
    sink = PreviewSink(server, Overlay(alpha=1.0))
    sink.write(result)
    sink.close(True)
    status, headers, body = call(server, "GET", "/frame.jpg?after=5")
    assert headers["X-Frame-Index"] == "9"
    bgr = decode(body)
    colour = object_colour(0)  # the first object's colour, drawn at alpha 1
    assert np.abs(bgr[60, 80, ::-1].astype(int) - colour).max() < 12
    assert bgr[10, 10].max() < 12  # the background stays black
    assert call(server, "GET", "/api/status")[0] == 200  # close(complete) kept it serving


# -- --preview [HOST:]PORT ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8765", ("127.0.0.1", 8765)),
        (":9000", ("127.0.0.1", 9000)),
        ("0", ("127.0.0.1", 0)),
        ("localhost:8000", ("localhost", 8000)),
        ("0.0.0.0:8765", ("0.0.0.0", 8765)),
        ("[::1]:8765", ("::1", 8765)),
    ],
)
def test_parse_bind(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "70000", "::1:8765", "host:-1", "a b:80", "1.2.3.4:"])
def test_parse_bind_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--preview"):
        parse_bind(text)


def test_port_in_use_is_a_usage_error(server: PreviewServer) -> None:
    clash = PreviewServer(port=server.port, registry=ObjectRegistry(), status=dict)
    with pytest.raises(UsageError, match="another port"):
        clash.start()
