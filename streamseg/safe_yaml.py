"""YAML as plain data only: no tags beyond the standard ones, no aliases.

``yaml.safe_load`` already refuses ``!!python`` tags, but it expands aliases: nine
nested lists of nine aliases each are a few lines of text and a billion strings in
memory (the "billion laughs"). Prompts and config files never need an alias, so
they are refused with a message that says so.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that stops at the first alias (``*name``)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None,
                None,
                f"YAML aliases such as *{event.anchor} are not accepted; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_plain_yaml(text: str, where: str = "<yaml>") -> Any:
    """Parse ``text`` as plain YAML data; yaml.YAMLError for aliases, tags, bad syntax."""
    loader = _PlainLoader(text)
    loader.name = where
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
