"""The weights registry and cache: download, resume, checksums, cache folders, and the
``auto`` choice. A local http.server on 127.0.0.1 stands in for Meta's server and
serves a small fake checkpoint; no real weights are touched."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import streamseg

from streamseg.cli import cli
from streamseg.config import Config
from streamseg.engines import select, weights
from streamseg.engines.classic import ClassicEngine
from streamseg.errors import EngineError

DATA = os.urandom(300_000)


class Handler(http.server.BaseHTTPRequestHandler):
    """GET with Range support. ``mode``: "range" (206 for Range requests), "ignore"
    (always 200 with everything), "cut" (stops after ``cut`` bytes and hangs up)."""

    data = DATA
    mode = "range"
    cut = 0
    ranges: list[str | None] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        start = 0
        if rng and self.mode != "ignore":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(self.data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(self.data) - 1}/{len(self.data)}"
            )
        else:
            self.send_response(200)
        body = self.data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.mode == "cut":
            body = body[: self.cut]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.mode, Handler.cut, Handler.ranges = "range", 0, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSEG_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "weights"


@pytest.fixture
def fake(server, home, monkeypatch):
    """sam-vit-b pointed at the local server's small file."""
    entry = replace(
        weights.REGISTRY["sam-vit-b"],
        url=f"{server}/sam_vit_b_01ec64.pth",
        size=len(DATA),
        sha256=hashlib.sha256(DATA).hexdigest(),
    )
    monkeypatch.setitem(weights.REGISTRY, "sam-vit-b", entry)
    return entry


def test_registry_holds_the_official_checkpoints():
    assert set(weights.REGISTRY) == {"sam-vit-b", "sam-vit-l", "sam-vit-h"}
    for name, e in weights.REGISTRY.items():
        assert e.url.startswith("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_")
        assert e.arch == name.replace("sam-", "").replace("-", "_")
        assert len(e.sha256) == 64 and int(e.sha256, 16) >= 0
    assert weights.REGISTRY["sam-vit-b"].size == 375_042_383
    assert weights.REGISTRY["sam-vit-b"].filename == "sam_vit_b_01ec64.pth"


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMSEG_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert weights.cache_dir() == tmp_path / "s" / "weights"
    monkeypatch.delenv("STREAMSEG_HOME")
    assert weights.cache_dir() == tmp_path / "x" / "streamseg" / "weights"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert weights.cache_dir() == tmp_path / "h" / ".cache" / "streamseg" / "weights"
    assert weights.cached_path("sam-vit-h").name == "sam_vit_h_4b8939.pth"


def test_download_verifies_and_renames(fake, home, capsys):
    path = weights.ensure_weights("sam-vit-b", progress=True)
    assert path == home / "sam_vit_b_01ec64.pth" and path.read_bytes() == DATA
    assert not (home / "sam_vit_b_01ec64.pth.part").exists()
    assert "sam_vit_b_01ec64.pth" in capsys.readouterr().err  # tqdm bar on stderr
    assert weights.is_cached("sam-vit-b")
    assert Handler.ranges == [None]
    assert weights.ensure_weights("sam-vit-b") == path  # cached: no second request
    assert Handler.ranges == [None]


def test_download_resumes_a_part_file(fake, home):
    home.mkdir(parents=True)
    (home / "sam_vit_b_01ec64.pth.part").write_bytes(DATA[:120_000])
    path = weights.ensure_weights("sam-vit-b", progress=False)
    assert path.read_bytes() == DATA
    assert Handler.ranges == ["bytes=120000-"]


def test_a_server_without_range_support_restarts_cleanly(fake, home):
    Handler.mode = "ignore"
    home.mkdir(parents=True)
    (home / "sam_vit_b_01ec64.pth.part").write_bytes(DATA[:1000])
    assert weights.ensure_weights("sam-vit-b", progress=False).read_bytes() == DATA


def test_an_interrupted_download_keeps_its_part_and_resumes(fake, home):
    Handler.mode, Handler.cut = "cut", 100_000
    with pytest.raises(EngineError, match="resume|cannot get"):
        weights.ensure_weights("sam-vit-b", progress=False)
    part = home / "sam_vit_b_01ec64.pth.part"
    assert part.stat().st_size == 100_000
    Handler.mode = "range"
    assert weights.ensure_weights("sam-vit-b", progress=False).read_bytes() == DATA
    assert Handler.ranges[-1] == "bytes=100000-"


def test_a_page_instead_of_the_file_is_refused_before_writing(fake, home, monkeypatch):
    monkeypatch.setattr(Handler, "data", b"<html>please log in to the wifi</html>")
    with pytest.raises(EngineError, match="something else than the 300000-byte checkpoint"):
        weights.ensure_weights("sam-vit-b", progress=False)
    part = home / (fake.filename + ".part")
    assert not part.exists() or part.stat().st_size == 0  # nothing of the page was kept


def test_checksum_mismatch_is_refused_and_deleted(fake, home, monkeypatch):
    monkeypatch.setitem(weights.REGISTRY, "sam-vit-b", replace(fake, sha256="0" * 64))
    with pytest.raises(EngineError, match="checksum mismatch for sam_vit_b_01ec64.pth") as info:
        weights.ensure_weights("sam-vit-b", progress=False)
    assert "\n" not in str(info.value)
    assert list(home.iterdir()) == []  # neither the .part nor a final file is left


def test_a_bad_cached_file_is_deleted(fake, home):
    home.mkdir(parents=True)
    bad = home / "sam_vit_b_01ec64.pth"
    bad.write_bytes(b"x" * len(DATA))
    with pytest.raises(EngineError, match="checksum mismatch"):
        weights.ensure_weights("sam-vit-b", download=False)
    assert not bad.exists()


def test_no_network_says_where_to_put_the_file(home, monkeypatch):
    entry = replace(weights.REGISTRY["sam-vit-b"], url="http://127.0.0.1:9/sam_vit_b_01ec64.pth")
    monkeypatch.setitem(weights.REGISTRY, "sam-vit-b", entry)
    with pytest.raises(EngineError) as info:
        weights.ensure_weights("sam-vit-b", progress=False)
    message = str(info.value)
    assert "\n" not in message and entry.url in message and "--model classic" in message
    assert str(home / "sam_vit_b_01ec64.pth") in message
    assert list(home.iterdir()) == []  # not even an empty .part
    with pytest.raises(EngineError, match="not in the cache"):
        weights.ensure_weights("sam-vit-b", download=False)


def test_list_weights(home):
    rows = weights.list_weights()
    assert [r["name"] for r in rows] == ["sam-vit-b", "sam-vit-l", "sam-vit-h"]
    assert not any(r["cached"] for r in rows) and rows[0]["path"].startswith(str(home))


# -- select: auto, checkpoints, random weights -------------------------------------------


@pytest.fixture
def tiny_loader(monkeypatch):
    """Loading any checkpoint gives a tiny random SAM: no real weights needed."""
    from streamseg.engines import sam_models

    loaded = []

    def load(arch, state, source="checkpoint"):
        loaded.append((arch, source))
        return sam_models.build_sam("tiny")

    monkeypatch.setattr(sam_models, "read_state_dict", lambda path: {"path": str(path)})
    monkeypatch.setattr(sam_models, "load_weights", load)
    return loaded


def fake_cached(name: str) -> Path:
    """A sparse file of the official size, with a verification note (no hashing)."""
    entry = weights.REGISTRY[name]
    path = weights.cached_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(entry.size)
    st = path.stat()
    path.with_name(path.name + ".sha256").write_text(
        f"{st.st_size} {st.st_mtime_ns}\n{entry.sha256}\n"
    )
    return path


def test_auto_takes_cached_sam_weights(home, tiny_loader):
    path = fake_cached("sam-vit-b")
    fake_cached("sam-vit-h")
    engine, meta = select.resolve_model(Config())  # model auto, device auto: the CPU here
    assert engine.name == meta["name"] == "sam-vit-b"  # on the CPU the fastest first
    assert meta["requested"] == "auto" and "cached" in meta["reason"]
    assert meta["weights"] == {
        "path": str(path),
        "sha256": weights.REGISTRY["sam-vit-b"].sha256,
        "source": "cache",
    }
    assert tiny_loader == [("vit_b", str(path))]
    assert select.auto_order("cuda")[0] == "sam-vit-h"
    assert select.auto_order("cpu")[0] == "sam-vit-b"


def test_auto_without_weights_runs_classic_and_says_so(home, caplog):
    caplog.set_level("INFO", logger="streamseg")
    engine, meta = select.build_engine(Config())
    assert isinstance(engine, ClassicEngine) and meta["name"] == "classic"
    assert meta["requested"] == "auto" and str(home) in meta["reason"]
    # said on stderr unless --quiet (info: the user did nothing wrong), and in the metadata
    assert any("classic" in r.message for r in caplog.records if r.levelname == "INFO")


def test_checkpoint_file_picks_its_architecture(home, tmp_path, tiny_loader, monkeypatch):
    import torch

    from streamseg.engines import sam_models

    ckpt = tmp_path / "mine.pth"
    ckpt.write_bytes(b"not really")
    state = {"image_encoder.pos_embed": torch.zeros(1, 64, 64, 1024)}
    monkeypatch.setattr(sam_models, "read_state_dict", lambda path: state)
    config = Config()
    config.model.checkpoint = str(ckpt)
    engine, meta = select.resolve_model(config)
    assert meta["name"] == "sam-vit-l" and meta["weights"]["source"] == "checkpoint"
    assert meta["weights"]["sha256"] == hashlib.sha256(b"not really").hexdigest()
    assert meta["weights"]["official"] is False
    assert sorted(tmp_path.iterdir()) == [ckpt]  # nothing written beside the user's file
    config.model.name = "sam-vit-h"
    with pytest.raises(EngineError, match="holds a sam-vit-l model"):
        select.resolve_model(config)


def test_random_weights_and_errors(home, monkeypatch):
    from streamseg.engines import sam_models

    build = sam_models.build_sam
    monkeypatch.setattr(sam_models, "build_sam", lambda arch, seed=0: build("tiny", seed=seed))
    config = Config()
    config.model.name = "sam-vit-h"
    engine, meta = select.resolve_model(config, random_weights=True)
    assert engine.name == "sam-vit-h" and meta["weights"]["source"] == "random"
    assert meta["device"] == "cpu" and meta["dtype"] == "float32"
    config.model.name = "sam-vit-x"
    with pytest.raises(EngineError, match="unknown model"):
        select.resolve_model(config)
    config.model.name = "classic"
    assert isinstance(select.resolve_model(config)[0], ClassicEngine)
    with pytest.raises(EngineError, match="--random-weights builds a model with weights"):
        select.resolve_model(config, random_weights=True)


def test_read_state_dict_refuses_pickled_code(tmp_path):
    import torch

    from streamseg.engines.sam_models import arch_of, read_state_dict

    good = tmp_path / "good.pth"
    torch.save({"image_encoder.pos_embed": torch.zeros(1, 2, 2, 768)}, good)
    assert arch_of(read_state_dict(good)) == "vit_b"
    evil = tmp_path / "evil.pth"
    torch.save({"image_encoder.pos_embed": Handler}, evil)  # a class: not weights only
    with pytest.raises(EngineError, match="cannot read checkpoint"):
        read_state_dict(evil)
    with pytest.raises(EngineError, match="no such checkpoint"):
        read_state_dict(tmp_path / "missing.pth")
    noise = tmp_path / "noise.pth"
    noise.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(EngineError, match="not a PyTorch file") as info:
        read_state_dict(noise)
    assert "weights_only" not in str(info.value)  # PyTorch's unsafe advice is not passed on
    flat = {"image_encoder.pos_embed": torch.zeros(768)}
    with pytest.raises(EngineError, match=r"shape \(768,\), not \(1, 64, 64, width\)"):
        arch_of(flat)


def test_a_checkpoint_that_does_not_fit_says_which_tensors():
    import torch

    from streamseg.engines.sam_models import build_sam, load_weights

    state = {k: torch.zeros(v.shape) for k, v in build_sam("vit_b", meta=True).state_dict().items()}
    broken = {k: v for k, v in state.items() if k != "image_encoder.neck.0.weight"}
    with pytest.raises(EngineError, match=r"1 missing tensor \(image_encoder.neck.0.weight\); it"):
        load_weights("vit_b", broken)
    with pytest.raises(EngineError, match=r"280 missing tensors .*; pass --model sam-vit-b$"):
        load_weights("vit_h", state)
    state["image_encoder.neck.0.weight"] = torch.zeros(3)
    with pytest.raises(EngineError, match="size mismatch for image_encoder.neck.0.weight"):
        load_weights("vit_b", state)


def test_engine_modules_import_without_torch():
    code = (
        "import sys, streamseg.engines, streamseg.engines.select, streamseg.engines.weights, "
        "streamseg.engines.sam, streamseg.bench; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the `streamseg weights` commands ----------------------------------------------------


def test_weights_list_command_shows_sizes_and_what_is_cached():
    fake_cached("sam-vit-l")  # in the per-test cache the subprocess inherits
    r = streamseg("weights", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"cache: {weights.cache_dir()}"
    end = lines.index("video models (Hugging Face Hub cache):")  # then the video models
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:end]}
    assert rows == {
        "sam-vit-b": ["375", "MB", "not", "downloaded", weights.REGISTRY["sam-vit-b"].url],
        "sam-vit-l": ["1250", "MB", "cached", weights.REGISTRY["sam-vit-l"].url],
        "sam-vit-h": ["2565", "MB", "not", "downloaded", weights.REGISTRY["sam-vit-h"].url],
    }


def test_weights_download_command_fetches_into_the_cache(fake, home):
    r = CliRunner().invoke(cli, ["weights", "download", "sam-vit-b", "-q"])
    assert r.exit_code == 0, r.output
    path = home / "sam_vit_b_01ec64.pth"
    assert r.stdout == f"{path}\n" and path.read_bytes() == DATA
    assert not path.with_name(path.name + ".part").exists()
    listed = CliRunner().invoke(cli, ["weights", "list"])
    assert "cached" in listed.stdout.splitlines()[1].split()  # the sam-vit-b row
    again = CliRunner().invoke(cli, ["weights", "download", "sam-vit-b", "-q"])
    assert again.exit_code == 0 and again.stdout == f"{path}\n"
    assert Handler.ranges == [None]  # cached: not downloaded twice


def test_weights_download_command_refuses_a_checksum_mismatch(fake, home, monkeypatch):
    monkeypatch.setitem(weights.REGISTRY, "sam-vit-b", replace(fake, sha256="0" * 64))
    r = CliRunner().invoke(cli, ["weights", "download", "sam-vit-b", "-q"])
    assert r.exit_code == 5 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("streamseg: error: checksum mismatch for sam_vit_b_01ec64.pth")
    assert list(home.iterdir()) == []  # neither the .part nor a final file is left
    r = CliRunner().invoke(cli, ["weights", "download", "sam-vit-q"])
    assert r.exit_code == 5 and "no official weights named 'sam-vit-q'" in r.stderr
