"""streamseg: segment objects in video streams and keep them segmented.

``streamseg.segment(source, prompts)`` yields one FrameResult per frame; the
``streamseg`` command writes masks.zarr and overlay.mp4. Heavy modules load on
first use so that importing streamseg (and ``streamseg --help``) stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from streamseg.version import __version__

if TYPE_CHECKING:
    from streamseg.types import FrameResult


def segment(source: str, prompts: Any = (), **kwargs: Any) -> Iterator[FrameResult]:
    """Yield a FrameResult per frame of ``source``; see streamseg.session.segment."""
    from streamseg.session import segment as _segment

    return _segment(source, prompts, **kwargs)


__all__ = ["__version__", "segment"]
