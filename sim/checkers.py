"""Checkers: invariants judged from the observations, separate from the model.

Each checker reads :class:`~sim.observe.Observations` and the hierarchy and
returns a :class:`Check`. Scenarios choose which failures they *expect*
(a documented weakness of the seed's design); every other checker must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from killswitch.hierarchy import Hierarchy
from sim.observe import Observations

_HALTED_FROM = {"TERMINATING", "TERMINATED"}


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    violations: int
    detail: str


def no_action_after_halt(h: Hierarchy, obs: Observations) -> Check:
    """No action starts once an agent is PAUSED, TERMINATING or TERMINATED, nor
    after a restart that forgot it was (until it accepts a command again)."""
    bad = obs.actions_while_halted
    detail = ""
    if bad:
        t, agent, state = bad[0]
        detail = f"first: {agent} acted at t={t:.3f} s while {state}"
    return Check("no_action_after_halt", not bad, len(bad), detail)


def no_orphans(h: Hierarchy, obs: Observations) -> Check:
    """Every descendant of an agent that accepted TERMINATE with cascade ends
    TERMINATED (or TERMINATING, when the run ends during its cleanup), or down
    (crashed and never restarted: no process is left to act)."""
    # One walk over the union of the roots' subtrees: with agent-side cascade
    # every agent on the way down is a root too, and walking each root's
    # descendants separately would cost the sum of all subtree sizes.
    roots = set(obs.cascade_roots)
    children = dict(h.graph.adjacency()) if roots else {}  # agent -> {child: ...}
    covered: set[str] = set()
    for root in roots:
        stack = list(children[root])
        while stack:
            agent = stack.pop()
            if agent not in covered:
                covered.add(agent)
                stack.extend(children[agent])
    final = obs.final_states
    # TERMINATING at the end: it took the command and was still cleaning up when
    # the run ended (its hard-kill deadline is set); an orphan never got it.
    down = obs.down_at_end
    orphans = {a for a in covered if final.get(a) not in _HALTED_FROM and a not in down}
    detail = ""
    if orphans:
        first = sorted(orphans)[0]
        detail = f"e.g. {first} ended {obs.final_states.get(first)}"
    return Check("no_orphans", not orphans, len(orphans), detail)


def attacks_change_nothing(h: Hierarchy, obs: Observations) -> Check:
    """No replayed, modified or forged delivery is ever accepted."""
    bad = obs.attack_effects
    detail = ""
    if bad:
        t, agent, origin, state = bad[0]
        detail = f"first: {origin} accepted by {agent} at t={t:.3f} s -> {state}"
    return Check("attacks_change_nothing", not bad, len(bad), detail)


def terminate_final(h: Hierarchy, obs: Observations) -> Check:
    """Once TERMINATING or TERMINATED, an agent never runs or pauses again (restarts included)."""
    bad = []
    for agent, transitions in obs.transitions.items():
        for t, before, after, cause in transitions:
            if before in _HALTED_FROM and after not in _HALTED_FROM:
                bad.append((t, agent, before, after, cause))
    detail = ""
    if bad:
        t, agent, before, after, cause = bad[0]
        detail = f"first: {agent} {before} -> {after} ({cause}) at t={t:.3f} s"
    return Check("terminate_final", not bad, len(bad), detail)


def newest_command_wins(h: Hierarchy, obs: Observations) -> Check:
    """Order independence (SPEC.md KS-160..165): no PAUSE or RESUME takes effect at an
    agent after a newer one was decided there, and an agent that was not terminated,
    restarted or halted by its watchdog since its newest decided command ends in the
    state that command asks for (PAUSED for a PAUSE, RUNNING for a RESUME)."""
    bad: list[str] = []
    for agent, decided in obs.decided.items():
        newest, newest_at, newest_kind = -1, 0.0, ""
        for t, index, kind, outcome in decided:
            if outcome == "accepted" and index < newest:
                bad.append(f"{agent} took op{index} ({kind}) at t={t:.3f} s after op{newest}")
            if index > newest:
                newest, newest_at, newest_kind = index, t, kind
        final = obs.final_states.get(agent)
        if final in _HALTED_FROM:
            continue
        later = [
            cause
            for t, _before, _after, cause in obs.transitions.get(agent, ())
            if t > newest_at and cause not in ("PAUSE", "RESUME")
        ]
        want = "PAUSED" if newest_kind == "PAUSE" else "RUNNING"
        if not later and final != want:
            bad.append(f"{agent} ended {final} although op{newest} ({newest_kind}) was newest")
    return Check("newest_command_wins", not bad, len(bad), f"first: {bad[0]}" if bad else "")


CHECKERS: dict[str, Callable[[Hierarchy, Observations], Check]] = {
    "no_action_after_halt": no_action_after_halt,
    "no_orphans": no_orphans,
    "attacks_change_nothing": attacks_change_nothing,
    "terminate_final": terminate_final,
    "newest_command_wins": newest_command_wins,
}


def run_checkers(h: Hierarchy, obs: Observations) -> list[Check]:
    return [checker(h, obs) for checker in CHECKERS.values()]
