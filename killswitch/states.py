"""Agent lifecycle: one table holds every transition.

Modelled on h11's ``_state.py``: the table is the single source of truth, and
an input the table has no entry for is an error that names the state and the
input. Like h2, the machine first moves to a safe state (TERMINATED, the only
absorbing state: an agent whose kill switch is confused must stop) and only
then raises.

Operator commands (PAUSE, RESUME, TERMINATE) have an entry in *every* state,
either a transition or a refusal with a :class:`~killswitch.decision.Reason`,
so an operator command can never hit a missing entry. Runtime events
(cleanup done, grace expired, watchdog) are only valid in some states.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from killswitch.decision import Reason


class AgentState(enum.Enum):
    """Where an agent is in its lifecycle."""

    #: Working normally.
    RUNNING = "RUNNING"
    #: Suspended by PAUSE (or the watchdog); state kept; RESUME undoes it.
    PAUSED = "PAUSED"
    #: TERMINATE accepted; cleanup running until done or the grace deadline.
    TERMINATING = "TERMINATING"
    #: Stopped for good. Final: nothing leaves this state.
    TERMINATED = "TERMINATED"

    # Members are singletons compared by identity, so identity hashing is exact;
    # Enum's own __hash__ runs in Python, and the state table is hit per delivery.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"AgentState.{self.name}"

    @property
    def halted(self) -> bool:
        """True when the agent must not perform actions."""
        return self is not AgentState.RUNNING


class Input(enum.Enum):
    """Everything that can move an agent between states."""

    #: A verified PAUSE command.
    PAUSE = "PAUSE"
    #: A verified RESUME command.
    RESUME = "RESUME"
    #: A verified TERMINATE command.
    TERMINATE = "TERMINATE"
    #: The runtime reports that cleanup finished within the grace period.
    CLEANUP_DONE = "CLEANUP_DONE"
    #: The grace deadline passed: the runtime hard-kills the agent.
    GRACE_EXPIRED = "GRACE_EXPIRED"
    #: Nothing heard from the control plane for the watchdog timeout.
    WATCHDOG_EXPIRED = "WATCHDOG_EXPIRED"

    # Members are singletons compared by identity, so identity hashing is exact;
    # Enum's own __hash__ runs in Python, and the state table is hit per delivery.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Input.{self.name}"


@dataclass(frozen=True, slots=True)
class Refuse:
    """A table entry that refuses the input and leaves the state unchanged."""

    reason: Reason


S = AgentState
I = Input  # noqa: E741 - the table reads better with a one-letter alias

#: Every transition. A value is the next state, or a refusal.
TRANSITIONS: dict[tuple[AgentState, Input], AgentState | Refuse] = {
    (S.RUNNING, I.PAUSE): S.PAUSED,
    (S.RUNNING, I.RESUME): Refuse(Reason.NOT_PAUSED),
    (S.RUNNING, I.TERMINATE): S.TERMINATING,
    (S.RUNNING, I.WATCHDOG_EXPIRED): S.PAUSED,
    (S.PAUSED, I.PAUSE): S.PAUSED,
    (S.PAUSED, I.RESUME): S.RUNNING,
    (S.PAUSED, I.TERMINATE): S.TERMINATING,
    (S.PAUSED, I.WATCHDOG_EXPIRED): S.PAUSED,
    (S.TERMINATING, I.PAUSE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATING, I.RESUME): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATING, I.TERMINATE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATING, I.CLEANUP_DONE): S.TERMINATED,
    (S.TERMINATING, I.GRACE_EXPIRED): S.TERMINATED,
    (S.TERMINATING, I.WATCHDOG_EXPIRED): S.TERMINATING,
    (S.TERMINATED, I.PAUSE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATED, I.RESUME): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATED, I.TERMINATE): Refuse(Reason.ALREADY_TERMINATED),
    (S.TERMINATED, I.WATCHDOG_EXPIRED): S.TERMINATED,
    # Cleanup may report done just after the hard kill (or the kill timer fire just
    # after cleanup): a benign race, and the state is already final.
    (S.TERMINATED, I.CLEANUP_DONE): S.TERMINATED,
    (S.TERMINATED, I.GRACE_EXPIRED): S.TERMINATED,
}
del S, I

COMMAND_INPUTS = frozenset({Input.PAUSE, Input.RESUME, Input.TERMINATE})


class InvalidTransition(Exception):
    """An input the table has no entry for. The machine is already TERMINATED."""

    def __init__(self, state: AgentState, event: Input) -> None:
        super().__init__(f"no transition for input {event.name} in state {state.name}")
        self.state = state
        self.event = event


class StateMachine:
    """One agent's lifecycle, driven only through :data:`TRANSITIONS`."""

    __slots__ = ("state",)

    def __init__(self, state: AgentState = AgentState.RUNNING) -> None:
        self.state = state

    def lookup(self, event: Input) -> AgentState | Refuse:
        """What ``event`` would do now, without doing it (raises like :meth:`fire`)."""
        try:
            return TRANSITIONS[(self.state, event)]
        except KeyError:
            failed = self.state
            self.state = AgentState.TERMINATED  # fail closed before raising
            raise InvalidTransition(failed, event) from None

    def fire(self, event: Input) -> AgentState | Refuse:
        """Apply ``event``; return the new state, or the refusal (state unchanged)."""
        outcome = TRANSITIONS.get((self.state, event))
        if outcome is None:
            return self.lookup(event)  # raises InvalidTransition, after failing closed
        if isinstance(outcome, AgentState):
            self.state = outcome
        return outcome
