"""Model behaviour on small handmade scenarios: each test states what the design
must (or, as in the seed, must not) do, and reads it back from the run's rows,
timeline, counters and trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_support import LATENCY_S, ROOT, one_agent, only_row, run, scenario, states, trace_events

from sim.runner import RunResult, run_once

# -- delivery ---------------------------------------------------------------------

POLL_ONLY = one_agent("""
[meta]
duration_s = 120

[transports]
listen = ["poll"]
poll = { interval_s = 10, jitter_s = 0 }

[[operator]]
at_s = 30
command = "TERMINATE"
""")


def test_polling_only_delivery_waits_at_most_one_interval_and_a_round_trip() -> None:
    deliveries = []
    for seed in range(25):
        result = run(POLL_ONLY, seed)
        row = only_row(result)
        assert row["via"] == "poll"
        deliveries.append(row["phases"]["delivery"])
        assert result.final_states == {"TERMINATED": 1}
    # The command waits for the next poll (at most one interval) plus request and response.
    assert max(deliveries) <= 10 + 2 * LATENCY_S + 1e-9
    # Polling is not push: over 25 seeds the wait spreads across the interval.
    assert min(deliveries) < 5 < max(deliveries)


SSE_ONLY = one_agent("""
[meta]
duration_s = 60

[transports]
listen = ["sse"]

[[operator]]
at_s = 30
command = "TERMINATE"
""")


def test_sse_push_is_sub_second() -> None:
    for seed in range(10):
        row = only_row(run(SSE_ONLY, seed))
        assert row["via"] == "sse"
        assert row["phases"]["delivery"] == pytest.approx(LATENCY_S)
        assert row["phases"]["time_to_halt"] < 1.0


# -- return-and-clear (seed) vs acknowledgement ---------------------------------

# Requests take 6 s each way and polls go every 5 s, so some poll request is
# always in flight when the partition starts at t=30: it reaches the control
# plane after the command was queued (t=30.005), the control plane answers,
# and the answer is lost (a partition is loss = 1 for its window).
LOST_POLL_RESPONSE = """
[meta]
duration_s = 200

[topology]
kind = "balanced"
depth = 0

[control_plane]
mode = "$mode"

[transports]
listen = ["poll"]
poll = { interval_s = 5, jitter_s = 0, timeout_s = 20 }

[network]
latency = { dist = "constant", value = 6 }

[[operator]]
at_s = 30
command = "TERMINATE"
lifetime_s = 300

[[faults]]
kind = "partition"
at_s = 30
duration_s = 40
agents = ["root"]
"""


@pytest.mark.parametrize("seed", range(4))
def test_seed_return_and_clear_loses_a_command_in_a_lost_poll_response(seed: int) -> None:
    result = run(LOST_POLL_RESPONSE, seed, mode="seed")
    assert result.counters.get("poll_response_lost", 0) >= 1
    assert result.counters.get("poll_commands_lost", 0) >= 1
    # Long after the partition healed (t=70) the agent still never heard of it.
    assert "delivery" not in only_row(result)["phases"]
    assert result.final_states == {"RUNNING": 1}


@pytest.mark.parametrize("seed", range(4))
def test_ack_mode_redelivers_after_a_lost_poll_response(seed: int) -> None:
    result = run(LOST_POLL_RESPONSE, seed, mode="ack")
    assert result.counters.get("poll_response_lost", 0) >= 1
    row = only_row(result)
    assert row["via"] == "poll"
    # Delivered by the first poll after the heal at t=70 (issued at 30.005).
    assert 70 - 30.005 < row["phases"]["delivery"] <= 70 + 5 + 12 - 30.005
    assert result.final_states == {"TERMINATED": 1}


# -- poll request timeout ------------------------------------------------------

# Requests take 6 s each way: every answer arrives 12 s after its request, so a
# 10 s timeout abandons every one and a 15 s timeout none. Polls go every 5 s.
SLOW_POLL = """
[meta]
duration_s = 200

[topology]
kind = "balanced"
depth = 0

[control_plane]
mode = "$mode"

[transports]
listen = ["poll"]
poll = { interval_s = 5, jitter_s = 0, timeout_s = $timeout }

[network]
latency = { dist = "constant", value = 6 }

[agents]
cleanup_s = { dist = "constant", value = 2 }
$agents

[[operator]]
at_s = 30
command = "TERMINATE"
lifetime_s = 300
"""


@pytest.mark.parametrize("mode", ["seed", "ack"])
def test_a_poll_answered_after_its_timeout_is_abandoned(mode: str) -> None:
    result = run(SLOW_POLL, mode=mode, timeout=10)
    # Every answer came too late, so the agent never read one: the TERMINATE the
    # control plane handed out never took effect.
    assert result.counters["poll_timed_out"] >= (200 - 12) // 5 - 1
    assert "delivered_poll" not in result.counters
    assert "delivery" not in only_row(result)["phases"]
    assert result.final_states == {"RUNNING": 1}
    if mode == "seed":
        # Return-and-clear: the first poll after the click took the command off
        # the pending list, and its late answer lost it.
        assert result.counters["poll_commands_lost"] == 1
    else:
        assert "poll_commands_lost" not in result.counters  # still pending, offered again


@pytest.mark.parametrize("mode", ["seed", "ack"])
def test_a_poll_answered_within_its_timeout_delivers(mode: str) -> None:
    result = run(SLOW_POLL, mode=mode, timeout=15)
    assert "poll_timed_out" not in result.counters
    row = only_row(result)
    assert row["via"] == "poll"
    # A request reaches the control plane within 5 s of the command being queued
    # (one leaves every 5 s and they take 6 s), and its answer takes 6 s more.
    assert 6 < row["phases"]["delivery"] <= 5 + 6 + 1e-9
    assert result.final_states == {"TERMINATED": 1}


def test_an_abandoned_poll_is_not_a_sign_of_life() -> None:
    """A late answer is not read, so it does not feed the watchdog either."""
    late = run(SLOW_POLL, mode="ack", timeout=10, agents="watchdog_s = 40")
    assert late.counters["watchdog_halts"] == 1
    in_time = run(SLOW_POLL, mode="ack", timeout=15, agents="watchdog_s = 40")
    assert "watchdog_halts" not in in_time.counters


# -- half-open SSE --------------------------------------------------------------

HALF_OPEN = one_agent("""
[meta]
duration_s = 200

[transports]
listen = ["sse", "poll"]
sse = { heartbeat_s = $heartbeat, read_timeout_s = $timeout, retry_s = 5 }
poll = { interval_s = 30 }

[[operator]]
at_s = 100
command = "TERMINATE"

[[faults]]
kind = "half_open"
at_s = 10
agents = ["root"]
""")


@pytest.mark.parametrize("seed", range(3))
def test_half_open_sse_without_read_timeout_never_recovers(seed: int, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    result = run(HALF_OPEN, seed, trace, heartbeat=0, timeout=0)
    events = trace_events(trace)
    assert any(e["ev"] == "stalled" for e in events)
    assert not any(e["ev"] == "disconnected" for e in events)  # nobody notices
    assert sum(e["ev"] == "connected" for e in events) == 1  # the first connection only
    assert result.counters.get("sse_push_lost", 0) >= 1
    row = only_row(result)
    assert row["via"] == "poll"  # only the fallback delivers
    assert row["phases"]["delivery"] > LATENCY_S * 2
    assert result.final_states == {"TERMINATED": 1}


@pytest.mark.parametrize("seed", range(3))
def test_half_open_sse_with_read_timeout_reconnects(seed: int, tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    result = run(HALF_OPEN, seed, trace, heartbeat=15, timeout=45)
    events = trace_events(trace)
    (dropped,) = [e for e in events if e["ev"] == "disconnected"]
    assert dropped["why"] == "read timeout"
    # The last heartbeat came at most 15 s before the stall at t=10; the timeout is 45 s.
    assert 10 + 45 - 15 <= dropped["t"] <= 10 + 45
    reconnects = [e for e in events if e["ev"] == "connected" and e["t"] > dropped["t"]]
    assert reconnects and reconnects[0]["t"] < 100  # back before the click
    row = only_row(result)
    assert row["via"] == "sse"
    assert row["phases"]["delivery"] == pytest.approx(LATENCY_S)


# -- crashes ---------------------------------------------------------------------

CP_CRASH = one_agent("""
[meta]
duration_s = 260

[control_plane]
durable_pending = $durable

[transports]
listen = ["sse", "poll"]
poll = { interval_s = 10 }

[[operator]]
at_s = 30
command = "TERMINATE"

# The agent cannot be reached when the command is issued, so it is still
# pending when the control plane crashes (t=40) and restarts (t=50).
[[faults]]
kind = "partition"
at_s = 20
duration_s = 80
agents = ["root"]

[[faults]]
kind = "cp_crash"
at_s = 40
duration_s = 10
""")


def test_cp_crash_without_durable_pending_loses_the_command() -> None:
    result = run(CP_CRASH, durable="false")
    row = only_row(result)
    assert row["phases"].get("issuance") is not None  # it was issued...
    assert "delivery" not in row["phases"]  # ...and lost in the crash
    assert result.final_states == {"RUNNING": 1}


def test_cp_crash_with_durable_pending_delivers_after_the_heal() -> None:
    result = run(CP_CRASH, durable="true")
    row = only_row(result)
    assert row["phases"]["delivery"] > 100 - 30  # only after the partition healed at t=100
    assert result.final_states == {"TERMINATED": 1}


AGENT_CRASH = one_agent("""
[meta]
duration_s = 150

[transports]
listen = ["sse", "poll"]

[[operator]]
at_s = 30
command = "TERMINATE"
grace_s = 30

# Cleanup hangs, so the agent is still TERMINATING when it crashes at t=35.
[[faults]]
kind = "slow_cleanup"
hang = true

[[faults]]
kind = "agent_crash"
at_s = 35
duration_s = 5
agents = ["root"]
""")


def check_passed(result: RunResult, name: str) -> bool:
    (check,) = [c for c in result.checks if c.name == name]
    return check.passed


def test_agent_crash_with_memory_store_forgets_terminate() -> None:
    result = run(AGENT_CRASH, agents='store = "memory"')
    assert states(result) == ["TERMINATING", "RUNNING"]  # the restart forgot
    assert not check_passed(result, "terminate_final")
    assert result.final_states == {"RUNNING": 1}


def test_agent_crash_with_durable_store_keeps_terminating() -> None:
    result = run(AGENT_CRASH, agents='store = "durable"')
    assert states(result) == ["TERMINATING", "TERMINATING", "TERMINATED"]
    assert check_passed(result, "terminate_final")
    # Cleanup hangs: the runtime hard-kills at the grace deadline, 30 s after the halt.
    assert result.counters.get("hard_kills") == 1
    row = only_row(result)
    assert row["phases"]["total"] == pytest.approx(row["phases"]["time_to_halt"] + 30, abs=1e-6)
    assert result.final_states == {"TERMINATED": 1}


# -- cascade ---------------------------------------------------------------------

CASCADE = """
[meta]
duration_s = 120

[topology]
kind = "balanced"
fanout = 3
depth = 3

[control_plane]
cascade = "$mode"

[agents]
cleanup_s = { dist = "uniform", low = 1, high = 5 }

[[operator]]
at_s = 20
command = "TERMINATE"
cascade = true
"""


@pytest.mark.parametrize("mode", ["agent", "both", "control_plane"])
def test_cascade_terminates_every_descendant(mode: str) -> None:
    result = run(CASCADE, mode=mode)
    assert result.agents == 40
    assert result.final_states == {"TERMINATED": 40}
    assert check_passed(result, "no_orphans")
    assert len(result.rows) == 40
    assert all("total" in r["phases"] for r in result.rows)
    # Who told the descendants: their parent, the control plane, or whichever came first.
    expected = {"agent": {"cascade"}, "control_plane": {"sse"}, "both": {"sse", "cascade"}}
    assert {r["via"] for r in result.rows if r["depth"] > 0} == expected[mode]


def terminated_at(result: RunResult) -> dict[str, float]:
    return {
        agent: next(t for t, _f, to, _c in transitions if to == "TERMINATED")
        for agent, transitions in result.timeline.items()
    }


@pytest.mark.parametrize("mode", ["agent", "both"])
@pytest.mark.parametrize("seed", range(3))
def test_agent_side_cascade_finishes_parents_after_children(mode: str, seed: int) -> None:
    from sim.runner import build_hierarchy

    built = scenario(CASCADE, mode=mode)
    result = run_once(built, seed)
    done = terminated_at(result)
    hierarchy = build_hierarchy(built.topology, seed)
    edges = list(hierarchy.graph.edges)
    assert len(edges) == 39
    for parent, child in edges:
        assert done[parent] >= done[child], (parent, child)


# -- PAUSE / RESUME ------------------------------------------------------------

PAUSE_RESUME = one_agent("""
[meta]
duration_s = 60

[[operator]]
at_s = 10
command = "PAUSE"
cascade = false

[[operator]]
at_s = 20
command = "RESUME"
cascade = false
""")


def test_pause_then_resume() -> None:
    result = run(PAUSE_RESUME, agents="actions_per_s = 5")
    transitions = result.timeline[ROOT]
    assert [(f, to, cause) for _t, f, to, cause in transitions] == [
        ("RUNNING", "PAUSED", "PAUSE"),
        ("PAUSED", "RUNNING", "RESUME"),
    ]
    paused, resumed = transitions[0][0], transitions[1][0]
    assert 10 < paused < 11 and 20 < resumed < 21
    assert result.final_states == {"RUNNING": 1}
    assert check_passed(result, "no_action_after_halt")
    # Counted from the first click (t=10): nothing while paused, then 5/s for ~40 s.
    assert result.actions_after_click > 100


# The RESUME (sequence 1) is issued while the agent is cut off; the PAUSE
# (sequence 2) reaches it through the kill file. When the partition heals
# the older RESUME arrives after the newer PAUSE: it is stale.
STALE_RESUME = one_agent("""
[meta]
duration_s = 150

[transports]
listen = ["sse", "poll", "file"]
poll = { interval_s = 10 }
file = { check_s = 1 }

[[operator]]
at_s = 20
command = "RESUME"
cascade = false

[[operator]]
at_s = 30
command = "PAUSE"
cascade = false
via = "file"

[[faults]]
kind = "partition"
at_s = 15
duration_s = 45
agents = ["root"]
""")


def test_stale_resume_is_rejected(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    result = run(STALE_RESUME, 1, trace)
    resume, pause = only_row(result, "op0"), only_row(result, "op1")
    assert pause["via"] == "file" and 0 < pause["phases"]["time_to_halt"] <= 1
    assert resume["phases"]["delivery"] > 60 - 20  # after the heal
    assert resume["rejected"] == "STALE"
    rejections = [e for e in trace_events(trace) if e["ev"] == "rejected"]
    assert [(e["op"], e["reason"]) for e in rejections][:1] == [("op0", "STALE")]
    assert result.final_states == {"PAUSED": 1}
    assert states(result) == ["PAUSED"]


# -- watchdog --------------------------------------------------------------------

WATCHDOG = one_agent("""
[meta]
duration_s = 200

[transports]
listen = ["sse", "poll"]
poll = { interval_s = 10 }

[[operator]]
at_s = 180
command = "TERMINATE"

[[faults]]
kind = "partition"
at_s = 30
duration_s = $partition
agents = ["root"]
""")


def test_watchdog_halts_a_partitioned_agent() -> None:
    result = run(WATCHDOG, agents="watchdog_s = 20", partition=100)
    first = result.timeline[ROOT][0]
    t, before, after, cause = first
    assert (before, after, cause) == ("RUNNING", "PAUSED", "WATCHDOG_EXPIRED")
    # The watchdog checks every 5 s (a quarter of its timeout) and counts a healthy
    # stream as heard, so the last sign of life is 0-5 s before the partition at
    # t=30; it halts 20 s after that, at its next check.
    assert 30 - 5 + 20 <= t <= 30 + 20 + 5 + 1e-6
    assert result.counters.get("watchdog_halts") == 1
    # It still obeys the TERMINATE that arrives after the heal.
    assert result.final_states == {"TERMINATED": 1}


def test_watchdog_stays_quiet_when_the_control_plane_is_heard() -> None:
    result = run(WATCHDOG, agents="watchdog_s = 20", partition=10)  # shorter than the watchdog
    assert "watchdog_halts" not in result.counters
    assert states(result)[0] == "TERMINATING"


# -- scheduling ---------------------------------------------------------------------


def test_callbacks_run_in_time_order_and_ties_in_scheduling_order() -> None:
    from sim.world import World, new_environment

    world = World.__new__(World)  # only the scheduling part of a World is used
    world.env = new_environment()
    ran: list[tuple[float, str]] = []

    def note(label: str) -> None:
        ran.append((world.now, label))

    world.after(2.0, note, "b")
    world.after(1.0, note, "a")
    world.after(2.0, note, "c")
    world.at(0.5, world.after, 1.5, note, "d")  # also due at 2.0, scheduled last
    world.env.run()
    assert ran == [(1.0, "a"), (2.0, "b"), (2.0, "c"), (2.0, "d")]
    assert all(isinstance(t, float) for t, _ in ran)
    with pytest.raises(ValueError, match="negative delay"):
        world.after(-0.1, note, "never")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_agents_subtree_is_the_hierarchys_descendants_in_order(seed: int) -> None:
    """The control plane walks the model's own links (AgentSim.subtree) where it
    used to ask the networkx Hierarchy; the order (which the trace and the phase
    table follow) must be the same."""
    from killswitch.hierarchy import Hierarchy
    from sim.agent import AgentSim

    h = Hierarchy.random_tree(300, max_children=5, seed=seed)
    agents = {}
    for agent_id in h.graph.nodes:
        agent = AgentSim.__new__(AgentSim)  # only the tree links are used
        agent.id = agent_id
        agents[agent_id] = agent
    for agent_id, agent in agents.items():
        agent.children = tuple(agents[c] for c in h.graph.successors(agent_id))
    for agent_id in h.graph.nodes:
        assert [a.id for a in agents[agent_id].subtree()] == h.descendants(agent_id)
    assert len(agents[h.roots[0]].subtree()) == 299
