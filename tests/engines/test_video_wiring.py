"""The video engines inside streamseg: chosen by name and by --model auto, run by the Session."""

from __future__ import annotations

import numpy as np
import pytest

from streamseg import choices
from streamseg.config import Config, load_config
from streamseg.engines import hub, select
from streamseg.errors import EngineError, UsageError


def test_one_list_of_video_model_names():
    assert set(choices.VIDEO_MODELS) == set(hub.VIDEO_MODELS)
    assert set(choices.VIDEO_MODELS) <= set(choices.MODELS)


def test_video_settings_are_a_checked_config_section():
    assert Config().video.max_conditioning_frames == 8
    with pytest.raises(UsageError, match="max_conditioning_frames"):
        load_config(None, ["video.max_conditioning_frames=1"]).validate()


def test_a_named_video_model_not_cached_offline_is_one_engine_error():
    config = load_config(None, ["model.name=edgetam"])  # HF_HUB_OFFLINE is set in tests
    with pytest.raises(EngineError) as error:
        select.build_engine(config)
    assert "\n" not in str(error.value) and "edgetam" in str(error.value)


def test_random_weights_build_the_real_architecture_where_it_is_known():
    overrides = ["model.name=sam2.1-hiera-tiny", "model.device=cpu", "model.batch_size=3"]
    config = load_config(None, overrides)
    engine, meta = select.resolve_model(config, random_weights=True)
    assert engine.name == "sam2.1-hiera-tiny" and meta["weights"]["source"] == "random"
    assert engine.model.config.image_size == 1024  # the real input size, not a small test config
    assert meta["device"] == "cpu"
    assert engine.batch_size == meta["batch_size"] == 3  # --batch-size is the encoder's batch
    from streamseg.engines.video_configs import real_architecture

    # transformers' own default names its backbone under a misspelt key (a ResNet-50 then)
    assert real_architecture("edgetam").vision_config.backbone_config.architecture == "repvit_m1"
    config.model.name = "sam2.1-hiera-large"
    with pytest.raises(EngineError, match="sam2.1-hiera-large needs its weights"):
        select.resolve_model(config, random_weights=True)


def test_auto_offline_without_weights_is_classic_and_says_why():
    engine, meta = select.build_engine(Config())
    assert meta["name"] == "classic" and "HF_HUB_OFFLINE is set" in meta["reason"]


def test_the_session_runs_a_video_engine_with_its_own_tracker(clip):
    torch = pytest.importorskip("torch")
    from streamseg.engines.video_model import build_random
    from streamseg.session import Session

    torch.set_num_threads(1)
    engine = build_random("sam2", image_size=128, device="cpu")
    path, masks = clip
    ys, xs = np.nonzero(masks[0])
    prompt = f"{int(xs.mean())},{int(ys.mean())}"
    config = load_config(None, ["source.max_frames=4"])
    with Session(str(path), [prompt], config, engine=engine, engine_meta={"name": "sam2"}) as s:
        results = list(s)
    assert type(s.tracker).__name__ == "VideoTracker"  # the engine's own, not the flow tracker
    assert [r.frame.index for r in results] == [0, 1, 2, 3]
    assert all(r.object_ids == [1] and r.masks.shape == (1, 120, 160) for r in results)
