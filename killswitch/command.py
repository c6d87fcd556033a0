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

    @property
    def issued_at_s(self) -> float:
        """``issued_at`` as POSIX seconds."""
        return self.issued_at.timestamp()

    @property
    def expires_at_s(self) -> float:
        """``expires_at`` as POSIX seconds."""
        return self.expires_at.timestamp()


def from_posix(seconds: float) -> datetime:
    """A UTC datetime for POSIX ``seconds`` (the sans-IO core's notion of ``now``)."""
    return datetime.fromtimestamp(seconds, tz=UTC)
