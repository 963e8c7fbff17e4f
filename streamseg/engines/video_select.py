"""Building a video engine by name, for streamseg/engines/select.py.

``build_video_engine(name, device, dtype, checkpoint_dir, settings)`` returns the
engine and the metadata dict that goes into the Zarr attributes (as
select.resolve_model does for SAM): ``requested``, ``name``, ``weights`` (source
"hub" with repo, revision, commit and path; "checkpoint" with the folder),
``device``, ``dtype``, ``batch_size``.

``name`` is one of hub.VIDEO_MODELS, or "auto" together with a checkpoint folder
(the model type is read from its config.json). ``auto_video_model(device_type)``
gives what ``--model auto`` should take among the cached video models, without any
network access; ``download_default(device_type)`` names the model to fetch when none
is cached and the Hub can be reached.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from streamseg.engines import hub
from streamseg.engines.video_model import (
    VideoEngine,
    VideoSettings,
    default_processor,
    family_of,
    model_class,
)
from streamseg.errors import EngineError

log = logging.getLogger(__name__)

VIDEO_NAMES = tuple(hub.VIDEO_MODELS)
cached_video_models = hub.cached_video_models


def auto_video_model(device_type: str) -> str | None:
    """The cached video model ``--model auto`` takes on a device type, or None."""
    cached = set(cached_video_models())
    order = hub.AUTO_ORDER["cuda" if device_type == "cuda" else "cpu"]
    return next((name for name in order if name in cached), None)


def download_default(device_type: str) -> str:
    """The video model ``--model auto`` downloads when nothing is cached."""
    return hub.DEFAULT_DOWNLOAD["cuda" if device_type == "cuda" else "cpu"]


# SAM 2.1's sizes by their Hiera backbone: (hidden size, blocks per stage).
_HIERA: dict[tuple[Any, tuple[Any, ...]], str] = {
    (96, (1, 2, 7, 2)): "sam2.1-hiera-tiny",
    (96, (1, 2, 11, 2)): "sam2.1-hiera-small",
    (112, (2, 3, 16, 3)): "sam2.1-hiera-base-plus",
    (144, (2, 6, 36, 4)): "sam2.1-hiera-large",
}


def _name_of(family: str, config: Any) -> str:
    """The table name of a checkpoint's architecture; "<family>-custom" when no SAM 2.1
    size has its backbone (random-weight and fine-tuned variants)."""
    if family == "edgetam":
        return "edgetam"
    if family == "sam3":
        return "sam3-tracker"
    backbone = getattr(config.vision_config, "backbone_config", None)
    key = (getattr(backbone, "hidden_size", None), tuple(getattr(backbone, "blocks_per_stage", ())))
    return _HIERA.get(key, "sam2.1-custom")


def _load(
    folder: Path, family: str, device: str, dtype: str, settings: VideoSettings, name: str
) -> VideoEngine:
    """The model and processor saved in ``folder`` (save_pretrained)."""
    cls = model_class(family)
    try:
        model = cls.from_pretrained(str(folder))
    except (OSError, ValueError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EngineError(f"{folder}: cannot load a {family} video model ({first})") from None
    processor = _processor(folder, family, int(model.config.image_size))
    return VideoEngine(model, processor, settings, name=name, device=device, dtype=dtype)


def _processor(folder: Path, family: str, image_size: int) -> Any:
    """The processor saved beside the model, else the library's default for its size
    (a folder written by model.save_pretrained alone has no processor files)."""
    saved = [
        p for p in ("processor_config.json", "preprocessor_config.json") if (folder / p).is_file()
    ]
    if not saved:
        return default_processor(family, image_size)
    import transformers

    cls = (
        transformers.Sam3TrackerVideoProcessor
        if family == "sam3"
        else (transformers.Sam2VideoProcessor)
    )
    try:
        return cls.from_pretrained(str(folder))
    except (OSError, ValueError) as error:
        raise EngineError(f"{folder}: processor files unreadable ({error})") from None


def build_video_engine(
    name: str,
    device: str = "auto",
    dtype: str = "auto",
    checkpoint_dir: str | Path | None = None,
    settings: VideoSettings | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> tuple[VideoEngine, dict[str, Any]]:
    """The video engine ``name`` and its metadata (module docstring).

    download: fetch missing Hub weights (never when HF_HUB_OFFLINE is set).
    """
    settings = settings or VideoSettings()
    meta: dict[str, Any] = {"requested": name, "name": name, "weights": None}
    if checkpoint_dir is not None:
        folder = Path(checkpoint_dir).expanduser()
        family = family_of(hub.checkpoint_type(folder))
        if name != "auto" and hub.video_model(name).family != family:
            raise EngineError(
                f"--checkpoint {folder} holds a {family} model, not {name}; "
                f"pass --model auto or a {family} model name"
            )
        engine = _load(folder, family, device, dtype, settings, name)
        if meta["name"] == "auto":
            meta["name"] = engine.name = _name_of(family, engine.model.config)
            meta["reason"] = f"auto: --checkpoint {folder} holds a {meta['name']} model"
        meta["weights"] = {"source": "checkpoint", "path": str(folder)}
    else:
        m = hub.video_model(name)
        folder = hub.ensure_snapshot(name, download=download, progress=progress)
        engine = _load(folder, m.family, device, dtype, settings, name)
        meta["weights"] = {
            "source": "hub",
            "repo": m.repo,
            "revision": m.revision,
            "commit": hub.commit_of(folder),
            "path": str(folder),
        }
    meta["device"] = str(engine.device)
    meta["dtype"] = str(engine.dtype).replace("torch.", "")
    meta["batch_size"] = engine.batch_size
    return engine, meta
