"""The bundled scenario library, broken scenario files, and model fixes the scenarios found.

Every bundled scenario must parse and, run with its own default seed, meet its
own ``[expect]`` table (which documents the seed design's failures as expected
violations). Broken files must give a ScenarioError naming the file and key path.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import typing
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from sim_support import trace_events

from killswitch.hierarchy import Hierarchy
from killswitch_cli.main import main
from sim import scenario as schema
from sim.aggregate import Summary
from sim.checkers import CHECKERS, newest_command_wins
from sim.expect import evaluate
from sim.observe import Observations
from sim.runner import RunResult, build_hierarchy, check_selectors, run_once
from sim.scenario import Scenario, bundled_names, bundled_text, load_scenario, parse_scenario
from sim.schema import ScenarioError

#: The scenarios issue 3 asks for, beyond which the library may grow.
REQUIRED = {
    "baseline",
    "seed_as_written",
    "sse_outage_polling_fallback",
    "half_open_sse",
    "control_plane_crash",
    "partition_heal",
    "clock_skew",
    "slow_cleanup",
    "deep_cascade",
    "wide_cascade",
    "pause_resume_reorder",
    "replay_after_restart",
    "forged_flood",
    "key_rotation",
    "air_gapped_file",
    "watchdog_partition",
}

SMALL_TREE = """
[meta]
name = "t"
duration_s = {duration}

[topology]
kind = "balanced"
fanout = 2
depth = 1
"""


def run_toml(text: str, seed: int = 1, trace: Path | None = None) -> RunResult:
    return run_once(parse_scenario(text, "test.toml"), seed, trace)


def check(result: RunResult, name: str) -> bool:
    return next(c.passed for c in result.checks if c.name == name)


# -- the bundled library -----------------------------------------------------------


def test_the_library_has_every_required_scenario() -> None:
    assert set(bundled_names()) >= REQUIRED


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_scenario_parses_and_says_what_it_teaches(name: str) -> None:
    text = bundled_text(name)
    scenario = parse_scenario(text, f"scenarios/{name}.toml")
    assert scenario.meta.name == name
    assert scenario.meta.description
    # A comment block first: "# <name>: ..." and at least a few lines of why.
    head = text.split("[meta]")[0].splitlines()
    assert head[0].startswith(f"# {name}:")
    assert sum(line.startswith("#") for line in head) >= 3
    check_selectors(scenario, build_hierarchy(scenario.topology, scenario.meta.seed), name)


def judge(scenario: Scenario, seed: int) -> list[str]:
    """Run once and return the expectations that failed (empty: the run passes)."""
    summary = Summary(scenario.sla)
    summary.add(run_once(scenario, seed))
    return [
        f"{o.name}: expected {o.expected}, got {o.actual}"
        for o in evaluate(scenario.expect, summary)
        if not o.passed
    ]


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_scenario_meets_its_expectations_with_its_default_seed(name: str) -> None:
    scenario, _ = load_scenario(name)
    assert judge(scenario, scenario.meta.seed) == []


def test_the_scale_scenarios_are_as_large_as_they_claim() -> None:
    wide, _ = load_scenario("wide_cascade")
    assert len(build_hierarchy(wide.topology, 1)) >= 10_000
    deep, _ = load_scenario("deep_cascade")
    h = build_hierarchy(deep.topology, 1)
    assert max(h.depth(a) for a in h.graph.nodes) >= 8


def test_documented_weaknesses_really_are_expected_failures() -> None:
    # The seed's design fails its own invariants: the files must say so, not hide it.
    expected = {
        "seed_as_written": ["no_action_after_halt"],
        "control_plane_crash": ["no_orphans"],
        "clock_skew": ["no_orphans"],
        "replay_after_restart": ["attacks_change_nothing"],
        "seed_profile_modify_attack": ["attacks_change_nothing"],
        "replay_after_restart_durable": [],
    }
    for name, violations in expected.items():
        scenario, _ = load_scenario(name)
        assert scenario.expect.violations == violations, name


def test_the_seed_variant_of_a_scenario_loses_what_ours_keeps() -> None:
    # replay_after_restart vs its durable twin: only the store differs.
    memory, _ = load_scenario("replay_after_restart")
    durable, _ = load_scenario("replay_after_restart_durable")
    memory_agents = dataclasses.replace(durable.agents, store="memory")
    as_memory = dataclasses.replace(durable, agents=memory_agents)
    assert dataclasses.replace(memory, meta=durable.meta, expect=durable.expect) == as_memory
    assert not check(run_once(memory, 1), "attacks_change_nothing")
    assert check(run_once(durable, 1), "attacks_change_nothing")


# -- the README documents the schema ---------------------------------------------

README = resources.files("scenarios").joinpath("README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "cls",
    [
        schema.Meta,
        schema.Topology,
        schema.ControlPlane,
        schema.Sse,
        schema.WebSocket,
        schema.Poll,
        schema.FileWatch,
        schema.Transports,
        schema.Network,
        schema.Agents,
        schema.OperatorCommand,
        schema.Fault,
        schema.Link,
        schema.Sla,
        schema.Expect,
    ],
)
def test_readme_documents_every_key(cls: type) -> None:
    for f in dataclasses.fields(cls):
        assert f"`{f.name}`" in README, f"{cls.__name__}.{f.name}"


def test_readme_lists_every_bundled_scenario_fault_kind_and_checker() -> None:
    for name in bundled_names():
        assert f"| `{name}` |" in README, name
    for kind in typing.get_args(schema.FaultKind):
        assert f"| `{kind}` |" in README, kind
    for checker in CHECKERS:
        assert f"| `{checker}` |" in README, checker


# -- broken files ------------------------------------------------------------------


def broken_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A bundled scenario with one edit, written to ``broken.toml``."""
    text = bundled_text(name)
    assert old in text, old
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def load_like_the_cli(path: Path) -> None:
    scenario, _ = load_scenario(str(path))
    check_selectors(scenario, build_hierarchy(scenario.topology, scenario.meta.seed), str(path))


BROKEN = [
    # (scenario, edit from, edit to, key path, words of the message)
    ("baseline", "fanout = 4", "fan_out = 4", "topology.fan_out", "unknown key"),
    ("half_open_sse", "heartbeat_s = 15", 'heartbeat_s = "15s"', "transports.sse.heartbeat_s",
     "expected a number"),
    ("clock_skew", "skew_s = -45", "skew_s = true", "faults[1].skew_s", "expected a number"),
    ("deep_cascade", 'median = 0.2, sigma = 0.5', "mean = 0.2, sigma = 0.5",
     "network.cascade_latency", "a lognormal distribution takes median, sigma, not mean"),
    ("seed_as_written", '["no_action_after_halt"]', '["no_actions_after_halt"]',
     "expect", "unknown checker 'no_actions_after_halt'"),
    ("partition_heal", '"subtree:agent-1"', '"subtree:agent-99"', "faults[0].agents",
     "matches nothing"),
    ("control_plane_crash", 'kind = "cp_crash"', 'kind = "crash"', "faults[1].kind",
     "'cp_crash'"),
    ("air_gapped_file", 'via = "file"', 'via = "pigeon"', "operator[0].via", "'network' or 'file'"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "old", "new", "where", "words"), BROKEN)
def test_a_broken_file_names_the_file_and_key_path(
    tmp_path: Path, name: str, old: str, new: str, where: str, words: str
) -> None:
    path = broken_copy(tmp_path, name, old, new)
    with pytest.raises(ScenarioError) as caught:
        load_like_the_cli(path)
    assert caught.value.source == str(path)
    assert caught.value.path == where
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{path}: {where}: ")


@pytest.mark.parametrize(("name", "old", "new", "where", "words"), BROKEN)
def test_sim_run_of_a_broken_file_exits_2_with_the_message(
    tmp_path: Path, name: str, old: str, new: str, where: str, words: str
) -> None:
    path = broken_copy(tmp_path, name, old, new)
    result = CliRunner().invoke(main, ["sim", "run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert f"{path}: {where}: " in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "out" / "results.json").exists()


# -- model fixes ---------------------------------------------------------------


def _grace_workload(halt_check: str) -> str:
    return (
        SMALL_TREE.format(duration=80)
        + f"""
[agents]
halt_check = "{halt_check}"
actions_per_s = 5
cleanup_s = {{dist = "constant", value = 20}}

[[operator]]
at_s = 10
command = "TERMINATE"
"""
    )


def test_paused_only_agents_keep_acting_through_the_grace_period() -> None:
    # The seed's execute() checks only is_paused: a TERMINATING agent still acts.
    # (The model used to stop every workload when cleanup started, hiding this.)
    seed_like = run_toml(_grace_workload("paused_only"))
    assert not check(seed_like, "no_action_after_halt")
    assert seed_like.final_states == {"TERMINATED": 3}
    guarded = run_toml(_grace_workload("any"))
    assert check(guarded, "no_action_after_halt")
    # 3 agents x 20 s of cleanup x 5 actions/s: the seed-like run spends far more.
    assert seed_like.actions_after_click > guarded.actions_after_click + 200


def test_a_terminated_agent_does_not_reconnect_its_stream(tmp_path: Path) -> None:
    # The SSE endpoint is down, so every agent is waiting to retry when it
    # terminates; a retry scheduled before the agent stopped must stay void.
    text = (
        SMALL_TREE.format(duration=300)
        + """
[transports]
listen = ["sse", "poll"]

[transports.poll]
interval_s = 5

[[faults]]
kind = "transport_outage"
transport = "sse"
at_s = 5
duration_s = 20

[[operator]]
at_s = 10
command = "TERMINATE"
"""
    )
    trace = tmp_path / "trace.jsonl"
    result = run_toml(text, trace=trace)
    assert result.final_states == {"TERMINATED": 3}
    events = trace_events(trace)
    terminated = {e["agent"]: e["t"] for e in events if e["ev"] == "terminated"}
    late = [
        e
        for e in events
        if e["ev"] in ("connected", "rejected") and float(e["t"]) > float(terminated[e["agent"]])
    ]
    assert late == []


def test_transport_outage_cuts_one_transport_and_polling_carries_the_command(
    tmp_path: Path,
) -> None:
    text = (
        SMALL_TREE.format(duration=120)
        + """
[transports]
listen = ["sse", "poll"]

[transports.poll]
interval_s = 10

[[faults]]
kind = "transport_outage"
transport = "sse"
at_s = 5
duration_s = 100

[[operator]]
at_s = 20
command = "TERMINATE"
"""
    )
    trace = tmp_path / "trace.jsonl"
    result = run_toml(text, trace=trace)
    root = next(r for r in result.rows if r["depth"] == 0)
    assert root["via"] == "poll"
    assert 0 < root["phases"]["delivery"] <= 10.5
    assert result.counters["sse_connect_failed"] > 0
    # The outage resets live streams at once (no read timeout needed).
    resets = [e for e in trace_events(trace) if e["ev"] == "disconnected"]
    assert {e["why"] for e in resets} == {"reset by server"}
    assert all(float(e["t"]) < 5.5 for e in resets)


def test_a_poll_outage_leaves_the_live_stream_working() -> None:
    text = (
        SMALL_TREE.format(duration=60)
        + """
[[faults]]
kind = "transport_outage"
transport = "poll"
at_s = 0
duration_s = 60

[[operator]]
at_s = 20
command = "TERMINATE"
"""
    )
    result = run_toml(text)
    root = next(r for r in result.rows if r["depth"] == 0)
    assert root["via"] == "sse"
    assert root["phases"]["delivery"] < 1.0
    assert result.counters["poll_failed"] == result.counters["poll_requests"]


def test_a_network_partition_does_not_stop_the_kill_file() -> None:
    text = (
        SMALL_TREE.format(duration=60)
        + """
[transports]
listen = ["sse", "file"]

[[faults]]
kind = "partition"
at_s = 0
duration_s = 60

[[operator]]
at_s = 20
command = "TERMINATE"
via = "file"
"""
    )
    result = run_toml(text)
    assert result.final_states == {"TERMINATED": 3}
    assert {r["via"] for r in result.rows} == {"file", "cascade"}


def test_a_not_yet_valid_command_is_redelivered_until_the_slow_clock_catches_up() -> None:
    # KS-227: NOT_YET_VALID can change on redelivery, so it is not acknowledged;
    # the next poll offers the command again. (It used to be acknowledged and lost.)
    text = (
        SMALL_TREE.format(duration=120)
        + """
[control_plane]
cascade = "control_plane"

[transports]
listen = ["sse", "poll"]

[transports.poll]
interval_s = 10

[agents]
clock_skew_leeway_s = 30

[[faults]]
kind = "clock_skew"
agents = ["agent-1"]
skew_s = -45

[[operator]]
at_s = 20
command = "TERMINATE"
"""
    )
    result = run_toml(text)
    assert result.final_states == {"TERMINATED": 3}
    assert result.counters["rejected_NOT_YET_VALID"] >= 1
    slow = next(r for r in result.rows if r["agent"] == "agent-1")
    # Valid once the agent's clock reaches issued_at - 30 s: 15 s after the click.
    assert 15.0 <= slow["phases"]["time_to_halt"] <= 15.0 + 10.5


def test_network_duplicates_are_delivered_twice_and_have_one_effect() -> None:
    # network.duplicate used to be parsed and then ignored by every transport.
    text = (
        SMALL_TREE.format(duration=60)
        + """
[control_plane]
cascade = "control_plane"

[network]
duplicate = 1.0

[[operator]]
at_s = 20
command = "PAUSE"
"""
    )
    result = run_toml(text)
    assert result.counters["duplicated"] >= 3
    assert result.counters["rejected_REPLAY"] >= 3
    assert result.final_states == {"PAUSED": 3}
    assert all(c.passed for c in result.checks)


def _decided(
    decisions: list[tuple[float, int, str, str]], final: str, transitions: tuple[str, ...] = ()
) -> Observations:
    obs = Observations()
    obs.decided["a"] = decisions
    obs.final_states["a"] = final
    obs.transitions["a"] = [(100.0, "RUNNING", "RUNNING", cause) for cause in transitions]
    return obs


def test_newest_command_wins_flags_a_stale_effect_and_a_wrong_final_state() -> None:
    h = Hierarchy.from_edges([("root", "a")])
    pause, resume = "PAUSE", "RESUME"
    good = _decided([(1.0, 0, pause, "accepted"), (2.0, 2, pause, "accepted")], "PAUSED")
    assert newest_command_wins(h, good).passed
    # op1 (RESUME) took effect after op2 (PAUSE) was decided: a stale RESUME un-paused.
    stale = _decided(
        [(1.0, 0, pause, "accepted"), (2.0, 2, pause, "accepted"), (3.0, 1, resume, "accepted")],
        "RUNNING",
    )
    verdict = newest_command_wins(h, stale)
    assert not verdict.passed and "took op1" in verdict.detail
    # A RESUME refused as NOT_PAUSED is still the operator's newest word: RUNNING.
    refused = _decided([(1.0, 1, resume, "NOT_PAUSED")], "PAUSED")
    assert not newest_command_wins(h, refused).passed
    # A watchdog halt after the newest command explains a PAUSED agent.
    watchdog = _decided([(1.0, 1, resume, "accepted")], "PAUSED", ("WATCHDOG_EXPIRED",))
    assert newest_command_wins(h, watchdog).passed


def test_a_watchdog_halt_ends_time_to_halt_and_a_later_command_keeps_it() -> None:
    # The partitioned agent's watchdog halts it ~15-25 s after the click; the
    # TERMINATE arrives only after the heal (t=150). time_to_halt used to be
    # overwritten by the command's later effect.
    text = (
        SMALL_TREE.format(duration=200)
        + """
[control_plane]
cascade = "control_plane"

[transports.sse]
heartbeat_s = 10
read_timeout_s = 30

[agents]
watchdog_s = 30

[[faults]]
kind = "partition"
at_s = 20
duration_s = 130
agents = ["agent-1"]

[[operator]]
at_s = 30
command = "TERMINATE"
"""
    )
    result = run_toml(text)
    assert result.counters["watchdog_halts"] == 1
    assert result.final_states == {"TERMINATED": 3}
    cut = next(r for r in result.rows if r["agent"] == "agent-1")
    assert cut["phases"]["time_to_halt"] < 30.0
    assert cut["phases"]["total"] > 120.0


def test_a_partition_gives_the_same_trace_under_any_string_hash_seed() -> None:
    # The nemesis iterated a frozenset of agent ids, whose order follows
    # PYTHONHASHSEED, while each stalled stream drew from the run's generator:
    # the same scenario and seed gave different traces in different processes.
    code = (
        "from sim.scenario import load_scenario; from sim.runner import run_once;"
        "print(run_once(load_scenario('partition_heal')[0], 1).digest,"
        " run_once(load_scenario('sse_outage_polling_fallback')[0], 1).digest)"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert len(digests) == 1
