"""Verdicts, levels, and the exceptions a case body uses to report them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

Strength = Literal["MUST", "SHOULD"]
Limitation = Literal["capability", "profile", "clock"]

#: Conformance levels in order (SPEC.md): L1 local file kill, L2 remote delivery +
#: signature verification, L3 pause/resume, cascade, transports, replay
#: prevention, H hardened (the v1 profile's rules).
LEVELS = ("L1", "L2", "L3", "H")


def level_rank(level: str) -> int:
    return LEVELS.index(level)


class Verdict(enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    #: A SHOULD that failed: reported, does not fail the run.
    NON_STRICT = "NON-STRICT"
    #: Figures for a human (timing); never fails the run.
    INFORMATIONAL = "INFORMATIONAL"
    #: Not testable here: feature not declared, profile limitation, or clock.
    UNSUPPORTED = "UNSUPPORTED"


class CaseFailure(AssertionError):
    """A property was violated. ``transcript`` is attached by the context."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.transcript: dict[str, Any] | None = None
        self.example: str | None = None


class Unsupported(Exception):
    """The case cannot be decided for this implementation/profile/clock."""

    def __init__(self, reason: str, limitation: Limitation = "capability") -> None:
        super().__init__(reason)
        self.reason = reason
        self.limitation: Limitation = limitation


@dataclass
class Info:
    """What an INFORMATIONAL case returns: a sentence and its figures."""

    text: str
    figures: dict[str, float] = field(default_factory=dict)
