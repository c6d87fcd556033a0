"""The kill-switch command: what an operator asks an agent to do.

A :class:`Command` is the *content* of a command, independent of any wire
format. Profiles (:mod:`killswitch.profiles`) turn it into signed bytes and
back. Its ``repr`` is valid Python (with ``from datetime import datetime,
timezone`` and ``from killswitch import Command, CommandType`` in scope), so a
failing case can be replayed by pasting it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

WILDCARD = "*"
"""A ``target_instance_id`` that names every instance (only if policy allows)."""


class CommandType(enum.Enum):
    """What the operator asks for."""

    #: Permanent shutdown after a grace period for cleanup; cannot be undone.
    TERMINATE = "TERMINATE"
    #: Suspend execution, keep state; undone by RESUME.
    PAUSE = "PAUSE"
    #: Reactivate a paused agent.
    RESUME = "RESUME"

    # Members are singletons compared by identity, so identity hashing is exact;
    # Enum's own __hash__ runs in Python, and the state table is hit per delivery.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"CommandType.{self.name}"


class _PosixSeconds:
    """``Command.<field>_s``: a timestamp field as POSIX seconds, computed once.

    A cascade hands one Command to every agent of a subtree, and each asks for
    its times; ``datetime.timestamp()`` costs about 0.3 us. The value is kept in
    the instance's ``__dict__``, which this non-data descriptor then yields to:
    the fields themselves stay frozen.
    """

    def __init__(self, field: str) -> None:
        self.field = field
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        seconds: float = getattr(instance, self.field).timestamp()
        instance.__dict__[self.name] = seconds
        return seconds


@dataclass(frozen=True)
class Command:
    """One operator command, as the seed defines it, plus ``key_id`` and ``sequence``.

    Timestamps are timezone-aware :class:`datetime` objects; a naive timestamp
    is refused at construction, because comparing it with ``now`` would
    silently assume a zone.
    """

    command_id: str
    command_type: CommandType
    target_instance_id: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    nonce: str
    reason: str = ""
    target_asset_id: str | None = None
    cascade: bool = True
    grace_period_seconds: int = 30
    key_id: str | None = None
    sequence: int | None = None

    def __post_init__(self) -> None:
        for name in ("issued_at", "expires_at"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"Command.{name} must be a timezone-aware datetime, got {value!r}")

    if TYPE_CHECKING:

        @property
        def issued_at_s(self) -> float:
            """``issued_at`` as POSIX seconds."""

        @property
        def expires_at_s(self) -> float:
            """``expires_at`` as POSIX seconds."""

    else:
        issued_at_s = _PosixSeconds("issued_at")
        expires_at_s = _PosixSeconds("expires_at")


def from_posix(seconds: float) -> datetime:
    """A UTC datetime for POSIX ``seconds`` (the sans-IO core's notion of ``now``)."""
    return datetime.fromtimestamp(seconds, tz=UTC)
