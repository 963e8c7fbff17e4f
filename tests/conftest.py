"""Shared fixtures: synthetic clips made once per session, the shared data folder, and a
private weights cache for every test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, for the tests in folders

from streamseg.testing.clips import disc_video  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """``$STREAMSEG_TEST_DATA``, else ../shared/data beside the repository."""
    return Path(os.environ.get("STREAMSEG_TEST_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def weights_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty STREAMSEG_HOME (and XDG_CACHE_HOME) of the test's own, so no test reads or
    writes the developer's real weights cache; CLI subprocesses inherit the environment."""
    home = tmp_path_factory.mktemp("streamseg-home")
    monkeypatch.setenv("STREAMSEG_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xdg-cache"))
    # the Hugging Face Hub cache too, and never the real Hub (its own tests serve one)
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared test data not found at {root} (set STREAMSEG_TEST_DATA)")
    return root


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """A 24-frame 160x120 disc clip at 24 fps with one second of AAC audio, and its masks."""
    path = tmp_path_factory.mktemp("clip") / "disc.mp4"
    masks = disc_video(path, n=24, audio_seconds=1.0)
    return path, masks
