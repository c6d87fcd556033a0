"""What the model observed, in the form the checkers and metrics read.

The model writes here; checkers (sim/checkers.py) only read. Keeping the two
apart is what lets a checker catch a model that misbehaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Command kind -> the agent states in which it has nothing to do: a TERMINATE
#: to an agent already terminating, a PAUSE to one paused or terminating, a
#: RESUME to one running or terminating. (With agent-side cascade such a command
#: never reaches the children either; their pairs are moot only if they were
#: settled too, otherwise they count as never delivered.)
SETTLED = {
    "TERMINATE": frozenset({"TERMINATING", "TERMINATED"}),
    "PAUSE": frozenset({"PAUSED", "TERMINATING", "TERMINATED"}),
    "RESUME": frozenset({"RUNNING", "TERMINATING", "TERMINATED"}),
}


def is_moot(kind: str, rejected: str | None) -> bool:
    """Whether a (command, agent) pair that never took effect had nothing to do:
    the agent refused the command because it was already where the command
    would take it, or past it (a TERMINATE or PAUSE to an agent already
    terminating, a RESUME to one that is not paused or is terminating). Such a
    pair is no SLA sample: a second TERMINATE to a terminated agent did not fail.
    ``rejected`` is the pair's last refusal (None once the command took effect)."""
    return rejected == "ALREADY_TERMINATED" or (kind == "RESUME" and rejected == "NOT_PAUSED")


@dataclass(slots=True)
class Phases:
    """SLA phase timestamps (virtual seconds) of one command at one agent."""

    command_id: str
    agent: str
    kind: str
    click: float
    issued: float | None = None
    delivered: float | None = None
    via: str | None = None
    verify_s: float | None = None
    effective: float | None = None
    halted: float | None = None
    done: float | None = None
    #: Why the agent never took the command, if it did not (last rejection reason).
    rejected: str | None = None
    #: Actions performed and their cost between the click and this agent's halt.
    actions: int = 0
    spend: float = 0.0
    #: When the operator clicked, the agent was already where the command would
    #: take it, or past it (see SETTLED).
    settled_at_click: bool = False

    @property
    def moot(self) -> bool:
        """The command never took effect and had nothing to do: the agent was
        settled at the click, or refused it as already in effect (is_moot)."""
        return self.effective is None and (
            self.settled_at_click or is_moot(self.kind, self.rejected)
        )

    def durations(self) -> dict[str, float]:
        """The seed's SLA phases, in seconds, for the parts that happened."""
        out: dict[str, float] = {}
        if self.issued is not None:
            out["issuance"] = self.issued - self.click
        if self.delivered is not None and self.issued is not None:
            out["delivery"] = max(0.0, self.delivered - self.issued)
        if self.verify_s is not None:
            out["verification"] = self.verify_s
        if self.done is not None and self.effective is not None:
            out["shutdown"] = self.done - self.effective
        end = self.done if self.kind == "TERMINATE" else self.effective
        if end is not None:
            out["total"] = end - self.click
        if self.halted is not None:
            out["time_to_halt"] = self.halted - self.click
        return out


@dataclass
class Observations:
    #: (command_id, agent) -> phases, for every agent a command was meant for.
    phases: dict[tuple[str, str], Phases] = field(default_factory=dict)
    #: agent -> list of (time, from_state, to_state, cause)
    transitions: dict[str, list[tuple[float, str, str, str]]] = field(default_factory=dict)
    #: Actions started while the agent was halted: (time, agent, state).
    actions_while_halted: list[tuple[float, str, str]] = field(default_factory=list)
    #: Deliveries by the attacker (replayed, modified, forged) that changed state.
    attack_effects: list[tuple[float, str, str, str]] = field(default_factory=list)
    #: Agents on which a TERMINATE with cascade was accepted.
    cascade_roots: list[str] = field(default_factory=list)
    #: agent -> PAUSE/RESUME decisions that move the ordering watermark (SPEC.md
    #: KS-163): (time, operator command index, kind, "accepted" or "NOT_PAUSED").
    #: Only genuine deliveries and cascades; attacker traffic is judged separately.
    decided: dict[str, list[tuple[float, int, str, str]]] = field(default_factory=dict)
    #: Final states, filled at the end of the run.
    final_states: dict[str, str] = field(default_factory=dict)
    #: Agents crashed and not restarted when the run ended (their process is gone).
    down_at_end: set[str] = field(default_factory=set)
    #: Counters: deliveries by transport, rejections by reason, and so on.
    counters: dict[str, int] = field(default_factory=dict)
    #: Workload totals from the first click: actions and spend.
    actions_after_click: int = 0
    spend_after_click: float = 0.0

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n
