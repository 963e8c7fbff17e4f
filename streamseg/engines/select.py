"""Choosing and building the engine named by the config, and saying why.

``resolve_model(config)`` returns the engine and a metadata dict that goes into the
Zarr attributes: ``requested`` (the model asked for), ``name`` (the engine that
runs), ``weights`` (path, sha256, source; None for classic), ``device``, ``dtype``
and ``reason`` (why this engine, when it is not simply the one asked for).

``auto`` takes SAM when weights are at hand without downloading anything: a
``--checkpoint`` file (its architecture read from the file), else the first cached
official checkpoint in ``auto_order(device)`` (on CUDA the most accurate first,
vit_h > vit_l > vit_b; on the CPU the fastest first, vit_b > vit_l > vit_h, since
vit_h takes minutes per frame there). Otherwise the weight-free classic engine
runs, and that is said on stderr and in the metadata.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from streamseg.choices import MODELS, SAM_MODELS, VIDEO_MODELS
from streamseg.errors import EngineError

log = logging.getLogger(__name__)

_ARCH_NAMES = {"vit_b": "sam-vit-b", "vit_l": "sam-vit-l", "vit_h": "sam-vit-h"}


def auto_order(device_type: str) -> tuple[str, ...]:
    """The order in which ``auto`` looks for cached SAM weights on a device type."""
    return ("sam-vit-h", "sam-vit-l", "sam-vit-b") if device_type == "cuda" else SAM_MODELS


def build_engine(config: Any) -> tuple[Any, dict[str, Any]]:
    """The engine named by ``config.model.name`` and its metadata (see resolve_model)."""
    return resolve_model(config, sam=getattr(config, "sam", None))


def resolve_model(
    config: Any,
    *,
    random_weights: bool = False,
    sam: Any = None,
    download: bool = True,
    progress: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """The engine for ``config`` (a streamseg.config.Config) and its metadata.

    random_weights: build the named SAM architecture with seeded random weights (for
    speed measurements without a download; ``auto`` then means sam-vit-b).
    sam: a SamConfig (None: defaults). download: fetch missing official weights for
    an explicit sam-vit-* (never for auto). progress: the download's progress bar.
    """
    m = config.model
    name = m.name
    if name not in MODELS:
        raise EngineError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    meta: dict[str, Any] = {"requested": name, "name": name, "weights": None}
    if name == "classic":
        if random_weights:
            raise EngineError(
                "--random-weights builds a model with weights; pass --model sam-vit-b|l|h, "
                "sam2.1-hiera-tiny or edgetam"
            )
        return _classic(config, meta)
    if random_weights and name not in VIDEO_MODELS:
        if m.checkpoint:
            raise EngineError("--random-weights and --checkpoint exclude each other; pick one")
        meta["name"] = name = "sam-vit-b" if name == "auto" else name
        meta["weights"] = {"source": "random", "seed": _sam_config(sam).seed}
        meta["reason"] = "random weights asked for (speed measurement; masks are meaningless)"
        return _sam(config, name, None, meta, sam)
    if name in VIDEO_MODELS or (m.checkpoint and Path(m.checkpoint).is_dir()):
        if random_weights:
            return _random_video(config, name, meta)
        return _video(config, name, meta, download=download, progress=progress)
    if m.checkpoint:
        return _from_checkpoint(config, name, meta, sam)
    if name != "auto":
        from streamseg.engines import weights

        path = weights.ensure_weights(name, download=download, progress=progress)
        meta["weights"] = _weights_meta(path, weights.checkpoint(name).sha256, "cache")
        return _sam(config, name, str(path), meta, sam)
    return _auto(config, meta, sam)


def _auto(config: Any, meta: dict[str, Any], sam: Any) -> tuple[Any, dict[str, Any]]:
    """A cached video model, else cached SAM weights, else (Hub reachable, not offline)
    the device's default video model downloaded, else classic. Nothing here imports
    torch unless some weights are at hand or will be fetched."""
    from streamseg.engines import hub, weights

    cached_video = hub.cached_video_models()
    cached_sam = [name for name in SAM_MODELS if weights.is_cached(name)]
    device_type = _device_type(config) if cached_video or cached_sam else "cpu"
    if cached_video:
        from streamseg.engines.video_select import auto_video_model

        video = auto_video_model(device_type)
        if video is not None:
            meta["reason"] = f"auto: {video} is in the Hugging Face Hub cache ({device_type})"
            log.info("model %s", meta["reason"])
            return _video(config, video, meta, download=False)
    order = auto_order(device_type) if cached_sam else ()
    for name in order:
        if not weights.is_cached(name):
            continue
        try:
            path = weights.ensure_weights(name, download=False)
        except EngineError as error:  # a corrupt cached file: deleted; try the next one
            log.warning("model auto: %s", error)
            continue
        meta["name"] = name
        meta["weights"] = _weights_meta(path, weights.checkpoint(name).sha256, "cache")
        meta["reason"] = (
            f"auto: {name} weights are cached in {path.parent} "
            f"(looked for {', '.join(order)} in that order on {device_type})"
        )
        log.info("model auto: %s", meta["reason"])
        return _sam(config, name, str(path), meta, sam)
    if hub.hub_reachable():  # at most a second; at once False with HF_HUB_OFFLINE set
        from streamseg.engines.video_select import download_default

        name = download_default(_device_type(config))
        meta["reason"] = f"auto: no weights at hand; downloading {name} from the Hub"
        log.info("model %s", meta["reason"])
        return _video(config, name, meta, download=True)
    why = "HF_HUB_OFFLINE is set" if hub.offline() else "the Hugging Face Hub cannot be reached"
    meta["reason"] = (
        f"auto: no video model in the Hub cache, no SAM weights in {weights.cache_dir()}, "
        f"and {why}; the weight-free classic engine runs (streamseg weights download "
        "edgetam, or sam-vit-b, fetches one)"
    )
    log.info("model %s", meta["reason"])  # said unless --quiet; and in the output's metadata
    return _classic(config, meta)


def _device_type(config: Any) -> str:
    from streamseg.devices import resolve_device

    return str(resolve_device(config.model.device).type)


def _video(
    config: Any, name: str, meta: dict[str, Any], *, download: bool = True, progress: bool = True
) -> tuple[Any, dict[str, Any]]:
    """A video engine (engines/video_select.py) by name, or from a --checkpoint folder."""
    from streamseg.engines.video_select import build_video_engine

    m = config.model
    engine, built = build_video_engine(
        name,
        m.device,
        m.dtype,
        m.checkpoint,
        _video_settings(config),
        download=download,
        progress=progress,
    )
    built["requested"] = meta["requested"]
    if "reason" in meta and "reason" not in built:
        built["reason"] = meta["reason"]
    return engine, built


def _video_settings(config: Any) -> Any:
    """The video section, with ``--batch-size`` (model.batch_size) as the vision
    encoder's batch unless video.batch_size sets one itself."""
    import dataclasses

    if config.model.batch_size and not config.video.batch_size:
        return dataclasses.replace(config.video, batch_size=config.model.batch_size)
    return config.video


def _random_video(config: Any, name: str, meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``name``'s real architecture with seeded random weights (speed measurements)."""
    from streamseg.engines import hub
    from streamseg.engines.video_configs import real_architecture
    from streamseg.engines.video_model import build_random

    m = config.model
    if m.checkpoint:
        raise EngineError("--random-weights and --checkpoint exclude each other; pick one")
    architecture = real_architecture(name)
    engine = build_random(
        hub.video_model(name).family,
        config=architecture,
        settings=_video_settings(config),
        name=name,
        device=m.device,
        dtype=m.dtype,
    )
    meta["weights"] = {"source": "random", "seed": config.video.seed}
    meta["reason"] = "random weights asked for (speed measurement; masks are meaningless)"
    meta["device"] = str(engine.device)
    meta["dtype"] = str(engine.dtype).replace("torch.", "")
    meta["batch_size"] = engine.batch_size
    return engine, meta


def _from_checkpoint(
    config: Any, name: str, meta: dict[str, Any], sam: Any
) -> tuple[Any, dict[str, Any]]:
    """SAM from a local --checkpoint; its architecture must fit the named model."""
    from pathlib import Path

    from streamseg.engines import weights
    from streamseg.engines.sam_models import arch_of, read_state_dict

    path = Path(config.model.checkpoint).expanduser()
    state = read_state_dict(path)
    found = _ARCH_NAMES[arch_of(state)]
    if name == "auto":
        name = meta["name"] = found
        meta["reason"] = f"auto: --checkpoint {path} holds a {found} model"
    elif name != found:
        raise EngineError(
            f"--checkpoint {path} holds a {found} model, not {name}; pass --model {found}"
        )
    digest = weights.sha256_file(path)  # no note written beside the user's file
    official = weights.checkpoint(found).sha256 == digest
    meta["weights"] = _weights_meta(path, digest, "checkpoint")
    meta["weights"]["official"] = official
    return _sam(config, name, state, meta, sam)


def _weights_meta(path: Any, sha256: str, source: str) -> dict[str, Any]:
    return {"path": str(path), "sha256": sha256, "source": source}


def _sam_config(sam: Any) -> Any:
    from streamseg.engines.sam import SamConfig

    return sam or SamConfig()


def _sam(
    config: Any, name: str, weights_from: Any, meta: dict[str, Any], sam: Any
) -> tuple[Any, dict[str, Any]]:
    """Build the SAM engine. weights_from: a path, a loaded state dict, or None (random)."""
    from streamseg.engines.sam import SamEngine
    from streamseg.engines.sam_models import build_sam, load_weights, read_state_dict
    from streamseg.engines.weights import checkpoint

    sam = _sam_config(sam)
    arch = checkpoint(name).arch
    if weights_from is None:
        model = build_sam(arch, seed=sam.seed)
    else:
        state = read_state_dict(weights_from) if isinstance(weights_from, str) else weights_from
        model = load_weights(arch, state, source=str(meta["weights"]["path"]))
    m = config.model
    engine = SamEngine(
        model, sam, name=name, device=m.device, dtype=m.dtype, batch_size=m.batch_size
    )
    meta["device"] = str(engine.device)
    meta["dtype"] = str(engine.dtype or "float32").replace("torch.", "")
    meta["batch_size"] = engine.batch_size
    return engine, meta


def _classic(config: Any, meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from streamseg.engines.classic import ClassicEngine

    meta["name"] = "classic"
    return ClassicEngine(config.classic), meta
