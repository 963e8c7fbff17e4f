"""The live browser preview: a local web server showing the overlay; clicks become prompts."""

from streamseg.live.server import PreviewServer, parse_bind

__all__ = ["PreviewServer", "parse_bind"]
