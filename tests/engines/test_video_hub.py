"""Video-model weights: download through a local HTTP server standing in for the Hub
(HF_ENDPOINT), pinned revisions, offline and gated errors, --checkpoint DIR."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")

from fake_hub import FakeHub  # noqa: E402
from video_helpers import clip  # noqa: E402

from streamseg import choices
from streamseg.engines import hub  # noqa: E402
from streamseg.engines.video_model import build_random  # noqa: E402
from streamseg.engines.video_select import (  # noqa: E402
    auto_video_model,
    build_video_engine,
    cached_video_models,
)
from streamseg.errors import EngineError  # noqa: E402
from streamseg.types import Frame, Prompt  # noqa: E402

COMMIT = "c0ffee" + "0" * 34
TINY = hub.VIDEO_MODELS["sam2.1-hiera-tiny"].revision  # the pinned commit


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """An empty Hub cache of the test's own; online, no token."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return tmp_path / "hf"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small random-weight SAM 2 engine, and a folder with it saved (model and
    processor) as on the Hub."""
    engine = build_random("sam2", image_size=128, device="cpu")
    folder = tmp_path_factory.mktemp("repo")
    engine.model.save_pretrained(folder)
    engine.processor.save_pretrained(folder)
    return engine, folder


def _masks(engine, frames):
    tracker = engine.create_tracker()
    tracker.add_prompts([Prompt(1, points=np.array([[30, 40]]), labels=np.array([1]))])
    out = []
    for t, im in enumerate(frames):
        res = tracker.step(Frame(t, None, t / 30, im), engine.embed([im])[0])
        out.append((res.masks.copy(), tracker.track(1).logits))
    return out


def _same(a, b):
    for (ma, la), (mb, lb) in zip(a, b):
        np.testing.assert_array_equal(ma, mb)
        assert float((la - lb).abs().max()) < 1e-6


def test_download_from_local_hub_then_offline(hf_home, saved, monkeypatch) -> None:
    engine, folder = saved
    with FakeHub() as server:
        server.add("facebook/sam2.1-hiera-tiny", folder, TINY)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        assert hub.hub_reachable()
        assert cached_video_models() == []
        got, meta = build_video_engine("sam2.1-hiera-tiny", device="cpu", progress=False)
        assert meta["weights"]["source"] == "hub"
        assert meta["weights"]["commit"] == TINY
        assert meta["weights"]["path"].startswith(str(hf_home))
        assert any("/resolve/" in p and p.endswith("model.safetensors") for _, p in server.requests)
        assert cached_video_models() == ["sam2.1-hiera-tiny"]
        assert auto_video_model("cpu") == "sam2.1-hiera-tiny"
        # Offline: from the cache, not one request; and the probe says no at once.
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        before = len(server.requests)
        again, _ = build_video_engine("sam2.1-hiera-tiny", device="cpu")
        assert not hub.hub_reachable()
        assert len(server.requests) == before
    frames = clip(4)
    _same(_masks(engine, frames), _masks(got, frames))
    _same(_masks(engine, frames), _masks(again, frames))


def test_pinned_revision_is_what_is_asked_for(hf_home, saved, monkeypatch) -> None:
    _, folder = saved
    pinned = hub.VideoModel("edgetam", "yonigozlan/EdgeTAM-hf", COMMIT, "sam2")
    monkeypatch.setitem(hub.VIDEO_MODELS, "edgetam", pinned)
    with FakeHub() as server:
        server.add("yonigozlan/EdgeTAM-hf", folder, COMMIT)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        path = hub.ensure_snapshot("edgetam", progress=False)
    assert path.name == COMMIT
    paths = [p for _, p in server.requests]
    assert paths and all(COMMIT in p for p in paths)  # never "main"
    wrong = hub.VideoModel("edgetam", "yonigozlan/EdgeTAM-hf", "f" * 40, "sam2")
    monkeypatch.setitem(hub.VIDEO_MODELS, "edgetam", wrong)
    with FakeHub() as server:
        server.add("yonigozlan/EdgeTAM-hf", folder, COMMIT)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        with pytest.raises(EngineError, match="f{40}"):
            hub.ensure_snapshot("edgetam", progress=False)


def test_offline_without_cache_is_one_line_error(hf_home, monkeypatch) -> None:
    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(EngineError) as info:
            build_video_engine("sam2.1-hiera-large", device="cpu")
        assert server.requests == []
    message = str(info.value)
    assert "\n" not in message and "HF_HUB_OFFLINE" in message and "--checkpoint" in message
    assert info.value.exit_code == 5


def test_gated_model_names_the_fix(hf_home, monkeypatch) -> None:
    with FakeHub() as server:
        server.gated.add("facebook/sam3")
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        with pytest.raises(EngineError) as info:
            build_video_engine("sam3-tracker", device="cpu", progress=False)
    message = str(info.value)
    assert "\n" not in message and "gated" in message
    assert "HF_TOKEN" in message and "log in" in message
    assert info.value.exit_code == 5


def test_unreachable_hub(hf_home, monkeypatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    assert not hub.hub_reachable()
    with pytest.raises(EngineError, match="download from .* failed"):
        hub.ensure_snapshot("edgetam", progress=False)


def test_checkpoint_dir(tmp_path, saved) -> None:
    engine, _ = saved
    folder = tmp_path / "ckpt"
    engine.model.save_pretrained(folder)  # the model alone: default processor for its size
    got, meta = build_video_engine("auto", device="cpu", checkpoint_dir=folder)
    assert meta["weights"] == {"source": "checkpoint", "path": str(folder)}
    assert meta["name"] == "sam2.1-custom" and got.family == "sam2"
    frames = clip(4)
    _same(_masks(engine, frames), _masks(got, frames))
    with pytest.raises(EngineError, match="holds a sam2 model, not edgetam"):
        build_video_engine("edgetam", device="cpu", checkpoint_dir=folder)
    with pytest.raises(EngineError, match="no config.json"):
        build_video_engine("auto", device="cpu", checkpoint_dir=tmp_path / "empty")


def test_model_table() -> None:
    assert sorted(hub.VIDEO_MODELS) == sorted(choices.VIDEO_MODELS)  # the names the CLI takes
    for m in hub.VIDEO_MODELS.values():
        assert m.revision and len(m.revision) == 40 and int(m.revision, 16) >= 0  # pinned
    assert hub.AUTO_ORDER["cpu"][0] == "edgetam" and hub.AUTO_ORDER["cuda"][0] == "sam3-tracker"
    assert hub.DEFAULT_DOWNLOAD == {"cuda": "sam2.1-hiera-base-plus", "cpu": "edgetam"}


def test_weights_cli_lists_and_downloads_video_models(hf_home, saved, monkeypatch) -> None:
    from click.testing import CliRunner

    from streamseg.cli import cli

    _, folder = saved
    with FakeHub() as server:
        server.add("facebook/sam2.1-hiera-tiny", folder, TINY)
        server.gated.add("facebook/sam3")
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        listed = CliRunner().invoke(cli, ["weights", "list"])
        assert listed.exit_code == 0, listed.output
        assert "sam2.1-hiera-tiny" in listed.output and "not downloaded" in listed.output
        got = CliRunner().invoke(cli, ["weights", "download", "sam2.1-hiera-tiny", "-q"])
        assert got.exit_code == 0, got.output
        assert got.output.strip().endswith(TINY)
        gated = CliRunner().invoke(cli, ["weights", "download", "sam3-tracker", "-q"])
        assert gated.exit_code == 5 and "HF_TOKEN" in gated.output
        listed = CliRunner().invoke(cli, ["weights", "list"])
    row = next(line for line in listed.output.splitlines() if line.startswith("sam2.1-hiera-tiny"))
    assert " cached " in row
