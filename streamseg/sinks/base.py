"""What every sink is: ``write(item)`` per frame, ``close(complete)`` once, a context manager.

``close(complete)`` finalizes the output; ``complete`` is True only when the input was
read to its end (the Zarr store records it). Used as a context manager, a sink is
closed complete when the block ends normally and incomplete when it raises.
"""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    def write(self, item: Any) -> None: ...

    def close(self, complete: bool) -> None: ...


class SinkBase:
    """The context-manager half of a sink; subclasses give ``write`` and ``close``."""

    def close(self, complete: bool) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.close(complete=kind is None)
