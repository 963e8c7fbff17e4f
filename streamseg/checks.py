"""Checks that settings sections share: every number finite and in its range.

``check_numbers(section, label, signed=...)`` raises a UsageError naming the key, its
value and what is allowed for the first number (int or float field, or numbers in a
list/tuple field) that is NaN, infinite or negative (unless the field is in
``signed``); nested sections are checked by their own ``validate``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from streamseg.errors import UsageError


def check_numbers(section: Any, label: str, signed: tuple[str, ...] = ()) -> None:
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value.validate()  # type: ignore[attr-defined]  # every section has one
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            if not math.isfinite(v):
                raise UsageError(f"{label}.{f.name} is {v!r}; give a finite number")
            if v < 0 and f.name not in signed:
                raise UsageError(f"{label}.{f.name} is {v!r}; give 0 or more")


def check_range(value: float, low: float, high: float, what: str) -> None:
    """UsageError unless low <= value <= high."""
    if not low <= value <= high:
        raise UsageError(f"{what} is {value!r}; give a value in [{low:g}, {high:g}]")
