"""Engines: promptable segmenters behind one protocol (see base.py), chosen by name.

``build_engine(config)`` (select.py) returns the engine and metadata saying what was
chosen and why; importing this package does not import torch.
"""

from streamseg.engines.select import MODELS, SAM_MODELS, build_engine

__all__ = ["MODELS", "SAM_MODELS", "build_engine"]
