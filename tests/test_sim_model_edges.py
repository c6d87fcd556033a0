"""Model behaviour at the edges: long reconnect storms, fast clocks, refusals
that are later overcome, watchdog halts after a RESUME. Each case was once
wrong (a crash or a wrong figure); the test states what is right.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_support import ROOT, one_agent, only_row, run, states, trace_events

from sim.aggregate import Summary
from sim.expect import evaluate
from sim.runner import run_once
from sim.scenario import ScenarioError, load_scenario, parse_scenario
from sim.swarm import run_swarm_seed

# -- reconnects ----------------------------------------------------------------

REFUSED_FOR_LONG = one_agent("""
[meta]
duration_s = 400

[transports]
listen = ["sse"]
sse = { retry_s = 0.1, backoff_max_s = 0.1, jitter = 0 }

[[faults]]
kind = "transport_outage"
transport = "sse"
at_s = 1
duration_s = 300

[[operator]]
at_s = 350
command = "PAUSE"
""")


def test_a_thousand_refused_reconnects_keep_the_capped_backoff() -> None:
    # Each refused attempt takes 0.2 s (two latencies and the capped retry): the
    # 1,025th computed 2**1024 and crashed the run before the exponent was capped.
    result = run(REFUSED_FOR_LONG)
    assert result.counters["sse_connect_failed"] > 1100
    # Connected again once the outage ends: the PAUSE goes out on the stream
    # (signing, one latency, verification).
    assert only_row(result)["phases"]["total"] < 0.1


# -- clock drift and the grace deadline ----------------------------------------

HUNG_CLEANUP = one_agent("""
[meta]
duration_s = 150

[transports]
listen = ["sse"]

[[faults]]
kind = "slow_cleanup"
hang = true

[[faults]]
kind = "clock_skew"
drift_ppm = $drift_ppm

[[operator]]
at_s = 10
command = "TERMINATE"
grace_s = 30
""")


@pytest.mark.parametrize(
    ("drift_ppm", "virtual_grace_s"),
    [(0, 30.0), (1_000_000, 15.0), (500_000, 20.0), (-500_000, 60.0)],
)
def test_the_hard_kill_comes_when_the_agents_own_clock_reaches_the_deadline(
    drift_ppm: int, virtual_grace_s: float
) -> None:
    # The grace deadline is on the agent's clock: a clock running twice as fast
    # reaches 30 s of grace in 15 virtual seconds, a half-speed one in 60.
    result = run(HUNG_CLEANUP, drift_ppm=drift_ppm)
    (accepted,) = [t for t, _, to, _ in result.timeline[ROOT] if to == "TERMINATING"]
    (killed,) = [t for t, _, to, cause in result.timeline[ROOT] if cause == "GRACE_EXPIRED"]
    assert killed - accepted == pytest.approx(virtual_grace_s, abs=1e-5)
    assert result.counters["hard_kills"] == 1


def test_a_clock_that_stands_still_is_refused() -> None:
    with pytest.raises(ScenarioError, match="drift_ppm must be above -1000000"):
        run(HUNG_CLEANUP, drift_ppm=-1_000_000)


# -- refusals that were not final ------------------------------------------------


def test_a_pair_that_took_effect_carries_no_earlier_refusal() -> None:
    # In clock_skew, slow agents first refuse the command as NOT_YET_VALID and
    # take it on a later delivery: the row is a success, not a refusal.
    scenario, _ = load_scenario("clock_skew")
    result = run_once(scenario, 1, detail=True)
    assert result.counters["rejected_NOT_YET_VALID"] > 0
    took_effect = [r for r in result.rows if "total" in r["phases"]]
    assert took_effect
    assert [r for r in took_effect if r["rejected"] is not None] == []
    never = [r for r in result.rows if "total" not in r["phases"]]
    assert all(r["rejected"] is not None or r["via"] is None for r in never)


# -- watchdog halts and the commands on their way -----------------------------------

WATCHDOG_AFTER_RESUME = one_agent("""
[meta]
duration_s = 120

[transports]
listen = ["sse"]

[[faults]]
kind = "partition"
at_s = 30
duration_s = 100

[[operator]]
at_s = 10
command = "PAUSE"

[[operator]]
at_s = 20
command = "RESUME"
""")


def test_a_watchdog_halt_gives_a_resume_no_time_to_halt() -> None:
    result = run(WATCHDOG_AFTER_RESUME, agents="watchdog_s = 20")
    assert result.counters["watchdog_halts"] == 1
    pause, resume = only_row(result, "op0"), only_row(result, "op1")
    assert pause["phases"]["time_to_halt"] == pytest.approx(0.05, abs=0.01)
    assert "time_to_halt" not in resume["phases"]
    assert resume["phases"]["total"] == pytest.approx(0.05, abs=0.01)


# -- the control plane's restart and its streams --------------------------------------

CLICKS_AROUND_A_CRASH = """
[meta]
duration_s = 120

[topology]
kind = "balanced"
fanout = 2
depth = 1

[control_plane]
cascade = "control_plane"
signing_s = { dist = "constant", value = 1.0 }

[transports]
listen = ["sse", "poll"]
poll = { interval_s = 5 }

[network]
latency = { dist = "constant", value = 0.05 }

[agents]
actions_per_s = 0

[[faults]]
kind = "cp_crash"
at_s = 11.5
duration_s = 20

[[operator]]
at_s = 10
command = "PAUSE"

[[operator]]
at_s = 11.8
command = "RESUME"
"""


def test_a_restarted_control_plane_issues_what_it_owes_in_click_order(tmp_path: Path) -> None:
    # Signing takes 1 s per agent: the crash at 11.5 s interrupts the PAUSE after
    # its first agent; the RESUME is clicked while the control plane is down.
    path = tmp_path / "trace.jsonl"
    result = run(CLICKS_AROUND_A_CRASH, trace=path)
    issued = [(e["op"], e["agent"]) for e in trace_events(path) if e["ev"] == "issued"]
    assert issued[0] == ("op0", "agent-0")  # before the crash
    # After the restart: the PAUSE's two remaining agents, then the RESUME to all;
    # the agent that already had the PAUSE does not get it again.
    assert issued[1:] == [
        ("op0", "agent-1"),
        ("op0", "agent-2"),
        ("op1", "agent-0"),
        ("op1", "agent-1"),
        ("op1", "agent-2"),
    ]
    assert result.final_states == {"RUNNING": 3}  # the operator's last word
    assert all(c.passed for c in result.checks)


HALF_OPEN_SSE_BESIDE_A_WEBSOCKET = one_agent("""
[meta]
duration_s = 200

[transports]
listen = ["sse", "websocket"]
sse = { heartbeat_s = 0, read_timeout_s = 0 }

[[faults]]
kind = "half_open"
at_s = 10

[[operator]]
at_s = 30
command = "TERMINATE"
""")


def test_a_command_goes_out_on_every_open_stream() -> None:
    # The SSE stream stalls unnoticed (no read timeout), the WebSocket notices and
    # reconnects: the control plane sees two open streams and cannot tell which is
    # dead, so the command must go out on both.
    result = run(HALF_OPEN_SSE_BESIDE_A_WEBSOCKET)
    row = only_row(result)
    assert row["via"] == "websocket"
    assert row["phases"]["total"] < 5
    assert result.counters["sse_push_lost"] >= 1


# -- commands with nothing to do ----------------------------------------------------

TERMINATE_TWICE = """
[meta]
duration_s = 60

[topology]
kind = "balanced"
fanout = 2
depth = 1

[network]
latency = { dist = "constant", value = 0.05 }

[agents]
cleanup_s = { dist = "constant", value = 10 }

[[operator]]
at_s = 10
command = "TERMINATE"

[[operator]]
at_s = 12
command = "TERMINATE"

[[operator]]
at_s = 14
command = "RESUME"
cascade = false

[expect]
all_halted_within_s = 1
all_terminated_within_s = 11
min_sla_compliance = 1
"""


def test_a_command_refused_because_it_is_already_in_effect_is_no_sla_miss() -> None:
    # The second TERMINATE finds every agent terminating: the root refuses it
    # (ALREADY_TERMINATED) and so never passes it down; the RESUME finds the root
    # terminating. Nothing to do, so no SLA pair failed.
    scenario = parse_scenario(TERMINATE_TWICE, "twice.toml")
    result = run_once(scenario, 1, detail=True)
    rows = {(r["op"], r["agent"]): r for r in result.rows}
    assert rows[("op1", "agent-0")]["rejected"] == "ALREADY_TERMINATED"
    assert rows[("op1", "agent-1")]["via"] is None  # never delivered, terminating at the click
    assert rows[("op2", "agent-0")]["rejected"] == "ALREADY_TERMINATED"
    assert [key for key, r in rows.items() if r["moot"]] == [
        ("op1", "agent-0"),
        ("op1", "agent-1"),
        ("op1", "agent-2"),
        ("op2", "agent-0"),
    ]
    assert result.samples is not None
    assert (result.samples.pairs, result.samples.moot) == (3, 4)
    summary = Summary(scenario.sla)
    summary.add(result)
    assert summary.never_effective == 0
    assert [o for o in evaluate(scenario.expect, summary) if not o.passed] == []


# -- restarts that forget -------------------------------------------------------------

PAUSED_THEN_RESTARTED = one_agent("""
[meta]
duration_s = 60

[transports]
listen = ["sse"]

[[faults]]
kind = "agent_crash"
at_s = 20
duration_s = 5

[[operator]]
at_s = 10
command = "PAUSE"
""")


@pytest.mark.parametrize("store", ["memory", "durable"])
def test_actions_after_a_restart_forgot_the_pause_break_the_halt(store: str) -> None:
    # The seed's in-memory state: the restarted agent comes back RUNNING with no
    # RESUME from anyone, and acts. A durable store keeps it PAUSED.
    result = run(PAUSED_THEN_RESTARTED, agents=f'store = "{store}"\nactions_per_s = 1')
    (check,) = [c for c in result.checks if c.name == "no_action_after_halt"]
    if store == "memory":
        assert states(result)[-1] == "RUNNING"
        assert not check.passed
        assert check.violations > 10  # about one a second for 35 s
        assert "PAUSED (forgotten by a restart)" in check.detail
    else:
        assert states(result)[-1] == "PAUSED"
        assert check.passed


# -- a live stream delivers in order --------------------------------------------------

FOUR_CLICKS_ON_ONE_STREAM = """
[meta]
duration_s = 60

[topology]
kind = "balanced"
depth = 0

[transports]
listen = ["sse"]

[network]
latency = { dist = "lognormal", median = 0.05, sigma = 1.0 }
reorder = $reorder

[[operator]]
at_s = 10
command = "PAUSE"

[[operator]]
at_s = 10.001
command = "RESUME"

[[operator]]
at_s = 10.002
command = "PAUSE"

[[operator]]
at_s = 10.003
command = "RESUME"
"""


@pytest.mark.parametrize("reorder", [0.0, 0.5])
@pytest.mark.parametrize("seed", range(1, 9))
def test_commands_on_one_stream_arrive_in_the_order_they_were_sent(
    tmp_path: Path, seed: int, reorder: float
) -> None:
    # Independent lognormal latencies (sigma 1) would swap neighbours sent 1 ms
    # apart in most seeds; one TCP connection never does, held-back or not.
    path = tmp_path / "trace.jsonl"
    result = run(FOUR_CLICKS_ON_ONE_STREAM, seed=seed, trace=path, reorder=reorder)
    taken = [e["op"] for e in trace_events(path) if e["ev"] in ("accepted", "rejected")]
    assert taken == ["op0", "op1", "op2", "op3"]
    assert "rejected_STALE" not in result.counters
    assert states(result)[-1] == "RUNNING"


# -- half-open detection --------------------------------------------------------------

STALL_RIGHT_AFTER_CONNECTING = one_agent("""
[meta]
duration_s = 120

[transports]
listen = ["sse"]
sse = { retry_s = 5, jitter = 0, heartbeat_s = 15, read_timeout_s = 45 }

[[faults]]
kind = "transport_outage"
transport = "sse"
at_s = 15
duration_s = 10

[[faults]]
kind = "half_open"
at_s = 30.27

[[operator]]
at_s = 110
command = "PAUSE"
""")


@pytest.mark.parametrize("seed", range(1, 6))
def test_a_read_timeout_runs_from_the_last_byte_not_before_the_connection(
    tmp_path: Path, seed: int
) -> None:
    # The stream comes back at 30.25 s and stalls 20 ms later: no heartbeat was
    # due yet, so the last byte is the connection's own and the read timeout
    # fires 45 s after it, never sooner.
    path = tmp_path / "trace.jsonl"
    run(STALL_RIGHT_AFTER_CONNECTING, seed=seed, trace=path)
    events = trace_events(path)
    connected = max(e["t"] for e in events if e["ev"] == "connected" and e["t"] < 30.27)
    (detected,) = [e["t"] for e in events if e.get("why") == "read timeout"]
    assert 30.0 < connected < 30.27
    assert detected == pytest.approx(connected + 45, abs=1e-6)


# -- an attacker's rewrite that changes nothing ------------------------------------------

REWRITE_CASCADE = """
[meta]
duration_s = 60

[topology]
kind = "balanced"
fanout = 1
depth = 1

[transports]
listen = ["sse"]

[[faults]]
kind = "modify_attack"
duration_s = 60
field_name = "cascade"
field_value = $value

[[operator]]
at_s = 10
command = "PAUSE"
cascade = true
"""


@pytest.mark.parametrize("value", ["true", "false"])
def test_a_rewrite_to_the_value_a_field_already_has_is_no_attack(value: str) -> None:
    result = run(REWRITE_CASCADE, value=value)
    (check,) = [c for c in result.checks if c.name == "attacks_change_nothing"]
    assert check.passed
    if value == "true":  # the command already cascades: it passes unchanged
        assert result.counters["attacker_rewrites_unchanged"] >= 1
        assert "attacker_rewrites" not in result.counters
        assert result.final_states == {"PAUSED": 2}
    else:  # a real rewrite: the signature no longer matches
        assert result.counters["attacker_rewrites"] >= 1
        assert result.counters["rejected_BAD_SIGNATURE"] >= 1


# -- an agent that is gone --------------------------------------------------------------

CHILD_CRASHED_FOR_GOOD = """
[meta]
duration_s = 100

[topology]
kind = "balanced"
fanout = 2
depth = 1

[transports]
listen = ["sse"]

[[faults]]
kind = "agent_crash"
agents = ["agent-1"]
at_s = 5
duration_s = $down_s

[[faults]]
kind = "partition"
agents = ["agent-2"]
at_s = 5
duration_s = 1000

[control_plane]
cascade = "control_plane"

[[operator]]
at_s = 10
command = "TERMINATE"
"""


@pytest.mark.parametrize(("down_s", "orphans"), [(0, 1), (200, 1), (20, 1)])
def test_an_agent_crashed_until_the_end_is_no_orphan(down_s: int, orphans: int) -> None:
    # agent-2 is cut off for good and keeps running: an orphan. agent-1 crashed
    # at 5 s: down to the end (0 = never restarts, or back after the run) it has
    # no process left to act; back at 25 s it gets the pending TERMINATE.
    result = run(CHILD_CRASHED_FOR_GOOD, down_s=down_s)
    (check,) = [c for c in result.checks if c.name == "no_orphans"]
    assert check.violations == orphans
    assert "agent-2 ended RUNNING" in check.detail


# -- second audit: decisions the checkers and the SLA must see ---------------------------

PAUSED_CRASHED_RESUMED = """
[meta]
duration_s = 120

[topology]
kind = "balanced"
fanout = 2
depth = 1

[control_plane]
cascade = "control_plane"

[agents]
store = "memory"

[[faults]]
kind = "agent_crash"
at_s = 40
duration_s = 10

[[operator]]
at_s = 30
command = "PAUSE"

[[operator]]
at_s = 45
command = "RESUME"
"""


def test_a_resume_refused_as_not_paused_ends_a_forgotten_pause() -> None:
    # The restart forgot the PAUSE, then the RESUME (clicked while they were down)
    # finds them running: the operator's newest word is RUNNING, so acting on is right.
    result = run(PAUSED_CRASHED_RESUMED)
    assert result.final_states == {"RUNNING": 3}
    assert result.counters["rejected_NOT_PAUSED"] == 3
    assert result.actions_after_click > 100
    assert all(c.passed for c in result.checks)


@pytest.mark.parametrize(
    ("name", "seed"),
    [
        ("pause_resume_reorder", 1881005728491768568),
        ("replay_after_restart_durable", 7223473574595545518),
    ],
)
def test_a_replayed_genuine_command_is_its_late_delivery_for_the_ordering_checker(
    name: str, seed: int
) -> None:
    # Swarm seeds where an attacker's replay of a genuine command the agent had
    # not taken yet (lost, UNKNOWN_KEY) was accepted: allowed, and the newest
    # command's; newest_command_wins used to miss the decision and fail.
    base, _ = load_scenario(name)
    _, result, _ = run_swarm_seed((seed, base))
    assert result.counters["attacker_replays"] > 0
    assert [c.name for c in result.checks if not c.passed] == []


RESUME_A_RUNNING_TREE = """
[meta]
duration_s = 90

[topology]
kind = "balanced"
fanout = 2
depth = 1

[[operator]]
at_s = 30
command = "RESUME"

[expect]
all_halted_within_s = 5
all_terminated_within_s = 60
p99_delivery_s = 5
p99_total_s = 5
min_sla_compliance = 0.99
"""


def test_a_run_whose_every_pair_is_moot_owes_nothing() -> None:
    # A RESUME to a running tree: the root refuses it (NOT_PAUSED) and, with
    # agent-side cascade, never passes it on; the children were running at the
    # click, so theirs had nothing to do either.
    scenario = parse_scenario(RESUME_A_RUNNING_TREE, "resume.toml")
    summary = Summary(scenario.sla)
    summary.add(run_once(scenario, 1))
    assert (summary.sla_pairs, summary.moot, summary.missing) == (0, 3, {})
    outcomes = evaluate(scenario.expect, summary)
    assert [o.name for o in outcomes if not o.passed] == []
    assert {o.name: o.actual for o in outcomes}["min_sla_compliance"] == (
        "no SLA pairs: every (command, agent) pair was moot"
    )


ROOT_ALONE_THEN_THE_TREE = """
[meta]
duration_s = 120

[topology]
kind = "balanced"
fanout = 2
depth = 1

[[operator]]
at_s = 30
command = "TERMINATE"
cascade = false

[[operator]]
at_s = 40
command = "TERMINATE"
cascade = true
"""


def test_a_cascade_to_an_already_terminated_parent_leaves_orphans() -> None:
    # Agent-side cascade: the root terminated alone first, so the cascading
    # TERMINATE cannot go through it; its children keep running, and that is
    # what no_orphans is for.
    result = run(ROOT_ALONE_THEN_THE_TREE)
    assert result.final_states == {"RUNNING": 2, "TERMINATED": 1}
    (check,) = [c for c in result.checks if c.name == "no_orphans"]
    assert (check.passed, check.violations) == (False, 2)


MOOT_BESIDE_A_LOST_DELIVERY = """
[meta]
duration_s = 90

[topology]
kind = "balanced"
fanout = 8
depth = 2

[control_plane]
cascade = "control_plane"

[[faults]]
kind = "partition"
agents = ["agent-72"]
at_s = 29.5
duration_s = 100

[[operator]]
at_s = 29
command = "RESUME"

[[operator]]
at_s = 30
command = "TERMINATE"

[expect]
p99_delivery_s = 5
"""


def test_moot_pairs_do_not_dilute_a_p99_over_all_pairs() -> None:
    # 73 TERMINATE pairs, one never delivered: the p99 over them is beyond any
    # limit. The 73 moot RESUME deliveries must not push it back under 5 s.
    scenario = parse_scenario(MOOT_BESIDE_A_LOST_DELIVERY, "moot.toml")
    summary = Summary(scenario.sla)
    summary.add(run_once(scenario, 1))
    assert (summary.sla_pairs, summary.moot, summary.missing["delivery"]) == (73, 73, 1)
    (p99,) = evaluate(scenario.expect, summary)[:1]
    assert not p99.passed
    assert p99.actual == "beyond any limit: 1 of the pairs have no delivery"


def test_an_agent_still_cleaning_up_when_the_run_ends_is_no_orphan() -> None:
    # The run ends 2 s after the click: every agent took the TERMINATE and is
    # TERMINATING (cleanup takes longer); none of them is an orphan.
    scenario, _ = load_scenario("baseline", ["meta.duration_s=32"])
    result = run_once(scenario, 1)
    assert result.final_states.get("TERMINATING", 0) > 10
    (check,) = [c for c in result.checks if c.name == "no_orphans"]
    assert check.passed, check.detail
