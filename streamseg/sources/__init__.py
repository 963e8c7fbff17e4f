"""Frame sources: anything FFmpeg reads, image folders and patterns, Aria VRS; one ``open_source``.

``open_source(spec, config)`` picks the source from the spec and turns its frames as
``config.rotate`` says. Every source has ``info`` (a SourceInfo, known before the
first frame), ``frames()`` (an iterator of Frame) and ``close()``, and is a context
manager. Adding a kind of source: a class with those three (see base.py), and a
line in ``_open``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from streamseg.errors import SourceNotFoundError
from streamseg.sources.base import (
    DEVICE_FORMATS,
    IMAGE_SUFFIXES,
    URL_SCHEMES,
    Source,
    SourceConfig,
    SourceInfo,
)

__all__ = ["Source", "SourceConfig", "SourceInfo", "open_source"]


def open_source(spec: str, config: SourceConfig | None = None) -> Source:
    """Open ``spec`` and turn its frames as ``config.rotate`` says (see _open for kinds)."""
    from streamseg.sources.images import ImageSource
    from streamseg.sources.rotated import RotatedSource

    config = config or SourceConfig()
    source = _open(spec, config)
    if getattr(source, "applied_rotation", None) is not None:
        return source  # Aria recordings turn their own frames
    if config.rotate == "0" or isinstance(source, ImageSource) and config.rotate == "auto":
        return source
    return RotatedSource(source, config.rotate)


def _open(spec: str, config: SourceConfig) -> Source:
    """A video path, URL, ``-`` (stdin), device, Aria .vrs, image folder or ``%d`` pattern."""
    from streamseg.sources.images import ImageSource
    from streamseg.sources.pyav import PyAVSource

    if spec.startswith("/dev/video") and config.format is None:
        config = dataclasses.replace(config, format="v4l2")  # the caller's config stays as it is
    if spec == "-" or spec.startswith(URL_SCHEMES) or config.format in DEVICE_FORMATS:
        return PyAVSource(spec, config)
    path = Path(spec)
    if path.is_dir() or re.search(r"%0?\d*d", spec):
        return ImageSource(spec, config)
    if not path.exists():
        raise SourceNotFoundError(f"no such file: {spec}; check the path")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(spec, config)
    if path.suffix.lower() == ".vrs":
        from streamseg.sources.aria import AriaSource

        return AriaSource(spec, config, config.stream, config.rotate, config.undistort)
    return PyAVSource(spec, config)
