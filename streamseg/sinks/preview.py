"""The live preview as a sink: each frame's picture goes to the preview server's board."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from streamseg.sinks.base import SinkBase
from streamseg.types import FrameResult

if TYPE_CHECKING:
    from streamseg.live.server import PreviewServer


class PreviewSink(SinkBase):
    """Show each FrameResult in the preview.

    ``write`` is cheap: ``render`` (FrameResult -> (H, W, 3) uint8 RGB, the overlay)
    runs only when a page asks for the frame, once for all viewers. ``close`` leaves
    the server running (the page keeps showing the last frame) unless
    ``close_server``; whoever started the server closes it.
    """

    def __init__(
        self,
        server: PreviewServer,
        render: Callable[[FrameResult], np.ndarray],
        close_server: bool = False,
    ) -> None:
        self.server, self.render, self.close_server = server, render, close_server

    def write(self, result: FrameResult) -> None:
        width, height = result.frame.size
        self.server.publish_lazy(result.frame.index, (width, height), lambda: self.render(result))

    def close(self, complete: bool) -> None:
        if self.close_server:
            self.server.close()
