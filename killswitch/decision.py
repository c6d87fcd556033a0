"""What the listener decided about one delivery: accepted with an effect, or rejected."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from killswitch.command import Command, CommandType
    from killswitch.states import AgentState, Input


class Reason(enum.Enum):
    """Why a delivery changed nothing. Listed in the order the listener checks them."""

    #: Not parseable, a field missing or of the wrong type, too large, naive timestamp.
    MALFORMED = "MALFORMED"
    #: The algorithm is unknown, ``none``, or not the one the key is pinned to.
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
    #: No trusted (unrevoked) key with that id, or no trust anchor at all.
    UNKNOWN_KEY = "UNKNOWN_KEY"
    #: The signature does not verify over the signed bytes.
    BAD_SIGNATURE = "BAD_SIGNATURE"
    #: Addressed to another instance or asset (or a wildcard the policy refuses).
    NOT_FOR_THIS_AGENT = "NOT_FOR_THIS_AGENT"
    #: ``expires_at - issued_at`` exceeds the policy's maximum lifetime.
    LIFETIME_TOO_LONG = "LIFETIME_TOO_LONG"
    #: ``issued_at`` is in the future, beyond the clock-skew leeway.
    NOT_YET_VALID = "NOT_YET_VALID"
    #: ``expires_at`` is in the past, beyond the clock-skew leeway.
    EXPIRED = "EXPIRED"
    #: This command id or nonce was already accepted.
    REPLAY = "REPLAY"
    #: A PAUSE/RESUME older than the last command this agent accepted.
    STALE = "STALE"
    #: The agent is terminating or terminated; nothing changes that.
    ALREADY_TERMINATED = "ALREADY_TERMINATED"
    #: RESUME for an agent that is not paused.
    NOT_PAUSED = "NOT_PAUSED"

    def __repr__(self) -> str:
        return f"Reason.{self.name}"


@dataclass(frozen=True)
class Effect:
    """A state change (or confirmation) and what caused it."""

    cause: Input
    previous_state: AgentState
    state: AgentState
    #: The accepted command, when a command caused it (None for watchdog, grace expiry).
    command: Command | None = None
    #: For TERMINATE: POSIX time after which the runtime must hard-kill.
    hard_kill_at: float | None = None
    #: The transport it arrived on ("sse", "poll", "cascade", ...), as the caller said.
    via: str = ""

    @property
    def command_type(self) -> CommandType | None:
        return None if self.command is None else self.command.command_type

    @property
    def cascade(self) -> bool:
        return self.command is not None and self.command.cascade

    @property
    def changed(self) -> bool:
        return self.previous_state is not self.state


@dataclass(frozen=True)
class Accepted:
    """The command verified and changed (or confirmed) the agent's state."""

    effect: Effect
    accepted: bool = True


@dataclass(frozen=True, slots=True)
class Rejected:
    """The delivery changed nothing, for ``reason``; ``detail`` says more for humans."""

    reason: Reason
    detail: str = ""
    accepted: bool = False


Decision = Accepted | Rejected
