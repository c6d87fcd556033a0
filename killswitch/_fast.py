"""Construction of frozen dataclasses on the per-delivery hot path.

A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (about 0.2 µs a field here). Every delivery builds a
Command, a record and a decision, and ``bench/core.py`` holds
``Listener.receive`` to within 25% of the bare signature check, so the hot
path fills the instance ``__dict__`` in one call instead. Callers have
already validated every value; the classes stay frozen for everyone else.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def build(cls: type[T], **fields: Any) -> T:
    """An instance of the frozen, non-slotted dataclass ``cls`` with ``fields`` (all of them)."""
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)  # ``fields`` is a fresh dict per call
    return instance
