"""A child that was down while its parent cascaded catches up when it restarts.

Found by `killswitch sim swarm`: with agent-side cascade, a child that crashed
before the parent's TERMINATE and came back after it stayed RUNNING for good
(an orphan). A restarted agent now re-registers with its parent, as a new
child does (killswitch.hierarchy.add_agent), and takes the cascade it missed.
"""

from __future__ import annotations

import pytest

from sim.runner import run_once
from sim.scenario import parse_scenario

SCENARIO = """
[meta]
name = "rejoin"
duration_s = 150

[topology]
kind = "balanced"
fanout = 2
depth = 2

[agents]
store = "{store}"

[[operator]]
at_s = 30
command = "{command}"
cascade = true

[[faults]]
kind = "agent_crash"
at_s = 10
duration_s = 40
agents = ["depth:1"]
"""


def run(command: str, store: str = "durable") -> dict[str, object]:
    scenario = parse_scenario(SCENARIO.format(command=command, store=store))
    result = run_once(scenario, 7)
    checks = {c.name: c.passed for c in result.checks}
    return {"states": result.final_states, "checks": checks, "counters": result.counters}


def test_a_child_down_during_the_cascade_terminates_when_it_returns() -> None:
    outcome = run("TERMINATE")
    assert outcome["states"] == {"TERMINATED": 7}
    assert outcome["checks"]["no_orphans"]
    assert outcome["counters"]["rejoin_cascades"] == 2  # type: ignore[index]


def test_a_child_down_during_a_cascading_pause_is_paused_when_it_returns() -> None:
    outcome = run("PAUSE")
    assert outcome["states"] == {"PAUSED": 7}


@pytest.mark.parametrize("store", ["memory", "durable"])
def test_rejoin_does_not_depend_on_the_childs_own_store(store: str) -> None:
    assert run("TERMINATE", store)["states"] == {"TERMINATED": 7}


def test_without_rejoin_the_seeds_lineage_leaves_the_returning_child_an_orphan() -> None:
    text = SCENARIO.format(command="TERMINATE", store="durable").replace(
        'store = "durable"', 'store = "durable"\nrejoin = false'
    )
    result = run_once(parse_scenario(text), 7)
    assert result.final_states == {"TERMINATED": 1, "RUNNING": 6}
    assert not {c.name: c.passed for c in result.checks}["no_orphans"]
