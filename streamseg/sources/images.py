"""Folders of images (sorted by name) and ffmpeg-style ``%05d`` patterns as a source."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from streamseg.errors import SourceError
from streamseg.sources.base import (
    IMAGE_SUFFIXES,
    SourceBase,
    SourceConfig,
    SourceInfo,
    limit_frames,
)
from streamseg.types import Frame

log = logging.getLogger(__name__)


class ImageSource(SourceBase):
    """A folder of images (sorted by name), or an ffmpeg-style ``%05d`` pattern."""

    def __init__(self, spec: str, config: SourceConfig) -> None:
        self.config = config
        self.paths = _image_paths(spec)
        if not self.paths:
            raise SourceError(
                f"no images found at {spec}; give a folder of .jpg/.png files "
                "or a pattern like frames/%05d.jpg"
            )
        first = self._read(self.paths[0])
        if first is None:
            raise SourceError(f"cannot read the image {self.paths[0]}; is it an image file?")
        rate = Fraction(config.fps).limit_denominator(1001)
        self.info = SourceInfo(
            uri=spec,
            kind="images",
            width=first.shape[1],
            height=first.shape[0],
            rate=str(rate),
            time_base=str(1 / rate),
            frames=len(self.paths),
            duration=len(self.paths) / float(rate),
            rotation=0,
            has_audio=False,
        )

    @staticmethod
    def _read(path: Path) -> Any:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def frames(self) -> Iterator[Frame]:
        return limit_frames(self._decode(), self.config)

    def _decode(self) -> Iterator[Frame]:
        time_base = Fraction(self.info.time_base)
        for i, path in enumerate(self.paths):
            image = self._read(path)
            if image is None:
                log.warning("cannot read %s; skipping it", path)
                continue
            if image.shape[:2] != (self.info.height, self.info.width):
                raise SourceError(
                    f"{path} is {image.shape[1]}x{image.shape[0]}, the first image is "
                    f"{self.info.width}x{self.info.height}; all images must have one size"
                )
            yield Frame(index=i, pts=i, time=float(i * time_base), image=image)


def _image_paths(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if path.suffix.lower() in IMAGE_SUFFIXES and "%" not in spec:
        return [path]
    # ffmpeg image2 pattern: like ffmpeg, the first number is 0..4, then consecutive.
    start = next((i for i in range(5) if os.path.exists(spec % i)), None)
    if start is None:
        return []
    paths = []
    i = start
    while os.path.exists(spec % i):
        paths.append(Path(spec % i))
        i += 1
    return paths
