"""Engines: promptable segmenters behind one protocol (see base.py), chosen by name."""

from __future__ import annotations

import logging
from typing import Any

from streamseg.errors import EngineError

log = logging.getLogger(__name__)

SAM_MODELS = ("sam-vit-b", "sam-vit-l", "sam-vit-h")
MODELS = ("auto", "classic", *SAM_MODELS)


def build_engine(config: Any) -> tuple[Any, dict[str, Any]]:
    """The engine named by ``config.model.name``, and metadata saying what was chosen and why.

    config: a streamseg.config.Config.
    """
    name = config.model.name
    if name not in MODELS:
        raise EngineError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if name in SAM_MODELS:
        raise EngineError(
            f"{name} is not available in this version yet (the SAM engine is "
            "coming); use --model classic"
        )
    meta: dict[str, Any] = {"requested": name, "name": "classic", "weights": None}
    if name == "auto":
        meta["reason"] = "no SAM engine or weights at hand; the weight-free classic engine runs"
        log.warning("model auto: %s", meta["reason"])
    from streamseg.engines.classic import ClassicEngine

    return ClassicEngine(config.classic), meta
