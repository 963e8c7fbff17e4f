"""The live browser preview: watch the overlay as it is made, click to add objects."""

from streamseg.live.preview import PreviewServer, PreviewSink, parse_bind

__all__ = ["PreviewServer", "PreviewSink", "parse_bind"]
