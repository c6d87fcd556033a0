"""Scenario values that used to be accepted and then ran another experiment than
the one written (a fault that hits nobody, a command nobody reads, a latency
of zero, a threshold no run can meet): each is now refused before anything
runs, naming the file, the key path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sim_support import MINIMAL, error_for

from killswitch_cli.main import main
from sim.budget import MAX_FORGERIES
from sim.rng import Dist
from sim.runner import build_hierarchy, check_selectors, run_once
from sim.scenario import Scenario, Sla, load_scenario, parse_scenario
from sim.schema import ScenarioError
from sim.world import resolve_selector


def loads(text: str) -> Scenario:
    return parse_scenario(text, "fine.toml")


# -- 1. selectors that match nothing -------------------------------------------------


def test_a_depth_past_the_tree_named_with_set_is_refused() -> None:
    # The auditor's case: the partition would have cut off nobody.
    with pytest.raises(ScenarioError) as caught:
        load_scenario("partition_heal", ['faults[0].agents=["depth:9"]'])
    err = caught.value
    assert err.source == "scenarios/partition_heal.toml with --set"
    assert err.path == "faults[0].agents"
    assert "'depth:9' matches nothing" in err.message
    assert "depth:2" in err.message  # where the tree ends


def test_the_command_line_exits_2_naming_the_key(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["sim", "run", "partition_heal", "--set", 'faults[0].agents=["depth:9"]']
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--no-report"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "faults[0].agents: agent selector 'depth:9' matches nothing" in result.stderr
    assert not out.exists()


def test_the_last_level_of_a_balanced_tree_is_still_accepted() -> None:
    fault = '[[faults]]\nkind = "partition"\nduration_s = 5\nagents = ["depth:2"]\n'
    assert loads(fault + MINIMAL).faults[0].agents == ["depth:2"]


@pytest.mark.parametrize("kind", ["partition", "cp_crash"])
def test_an_empty_selector_list_is_refused(kind: str) -> None:
    # It used to mean a fault that happens to nobody.
    err = error_for(f'[[faults]]\nkind = "{kind}"\nagents = []\n' + MINIMAL)
    assert err.path == "faults[0].agents"
    assert "selects no agent, got []" in err.message


def test_an_empty_link_is_refused_too() -> None:
    # Refused before these fixes; the path is the link's table (tests/test_sim_links.py).
    err = error_for('[[network.links]]\nname = "eu"\nagents = []\nloss = 0.1\n' + MINIMAL)
    assert err.path == "network.links[0]"
    assert err.message.startswith("agents: a link needs at least one agent selector")


def test_a_link_past_the_tree_is_refused() -> None:
    link = '[[network.links]]\nname = "eu"\nagents = ["leaves", "depth:3"]\nloss = 0.1\n'
    err = error_for(link + MINIMAL)
    assert err.path == "network.links[0].agents"
    assert "'depth:3' matches nothing" in err.message


def test_a_random_tree_refuses_a_depth_some_replication_may_not_reach() -> None:
    # 6 agents, at most 2 children each: levels 0..1 hold 3, so every such tree
    # reaches depth 2 (6 > 3), but a full tree of 1 + 2 + 4 needs no depth 3.
    random = '[topology]\nkind = "random"\nagents = 6\nmax_children = 2\n'
    fault = '[[faults]]\nkind = "partition"\nduration_s = 5\nagents = ["depth:{}"]\n'
    err = error_for(random + fault.format(3) + MINIMAL)
    assert err.path == "faults[0].agents"
    assert "a random tree of 6 agents may end at depth:2" in err.message
    scenario = loads(random + fault.format(2) + MINIMAL)
    # What was accepted selects agents in every replication's tree.
    for seed in range(50):
        assert resolve_selector(build_hierarchy(scenario.topology, seed), "depth:2")


def test_a_random_tree_needs_room_for_children() -> None:
    err = error_for('[topology]\nkind = "random"\nmax_children = 0\n' + MINIMAL)
    assert err.path == "topology.max_children"


def test_an_explicit_tree_is_checked_against_the_tree_itself() -> None:
    explicit = '[topology]\nkind = "explicit"\nedges = [["a", "b"], ["b", "c"]]\n'
    click = '[[operator]]\nat_s = 10\ncommand = "TERMINATE"\ntarget = "a"\n'
    fault = '[[faults]]\nkind = "partition"\nduration_s = 5\nagents = ["depth:{}"]\n'
    ok = loads(explicit + fault.format(2) + click)
    hierarchy = build_hierarchy(ok.topology, 1)
    check_selectors(ok, hierarchy, "fine.toml")
    beyond = loads(explicit + fault.format(3) + click)
    with pytest.raises(ScenarioError) as caught:
        check_selectors(beyond, hierarchy, "fine.toml")
    assert caught.value.path == "faults[0].agents"
    assert "'depth:3' matches nothing: the tree's last level is depth:2" in caught.value.message


def test_resolve_selector_refuses_what_matches_nothing() -> None:
    hierarchy = build_hierarchy(loads(MINIMAL).topology, 1)
    assert resolve_selector(hierarchy, "depth:0") == ["agent-0"]
    for selector in ("depth:3", "depth:²", "nobody"):  # "²".isdigit() is True
        with pytest.raises(ValueError, match="matches nothing"):
            resolve_selector(hierarchy, selector)


# -- 2. a kill file nobody reads ------------------------------------------------------


def test_a_file_command_needs_agents_that_read_the_file() -> None:
    text = MINIMAL + '[[operator]]\nat_s = 20\ncommand = "PAUSE"\nvia = "file"\n'
    err = error_for(text)
    assert err.path == "operator[1].via"
    assert 'needs "file" in transports.listen' in err.message
    assert "['sse', 'poll']" in err.message  # what listen is
    listening = loads('[transports]\nlisten = ["sse", "file"]\n' + text)
    assert listening.operator[1].via == "file"


def test_a_network_command_without_a_network_transport_names_its_via() -> None:
    err = error_for('[transports]\nlisten = ["file"]\n' + MINIMAL)
    assert err.path == "operator[0].via"
    assert "needs a network transport" in err.message


# -- 3. SLA and expectation thresholds -----------------------------------------------

SLA_KEYS = [name for name in Sla.__dataclass_fields__]


@pytest.mark.parametrize("key", SLA_KEYS)
@pytest.mark.parametrize("value", [0, -1])
def test_every_sla_threshold_must_be_positive(key: str, value: int) -> None:
    err = error_for(f"[sla]\n{key} = {value}\n" + MINIMAL)
    assert err.path == f"sla.{key}"
    assert f"must be positive, got {value}" in err.message


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_min_sla_compliance_is_a_fraction(value: float) -> None:
    err = error_for(f"[expect]\nmin_sla_compliance = {value}\n" + MINIMAL)
    assert err.path == "expect.min_sla_compliance"
    assert "[0, 1]" in err.message


@pytest.mark.parametrize(
    "key",
    [
        "all_halted_within_s",
        "all_terminated_within_s",
        "max_orphans",
        "p99_delivery_s",
        "p99_total_s",
        "max_spend_after_click",
    ],
)
def test_expectation_limits_must_not_be_negative(key: str) -> None:
    err = error_for(f"[expect]\n{key} = -1\n" + MINIMAL)
    assert err.path == f"expect.{key}"
    assert "must not be negative, got -1" in err.message
    assert getattr(loads(f"[expect]\n{key} = 0\n" + MINIMAL).expect, key) == 0


def test_the_bounds_themselves_are_accepted() -> None:
    for value in (0, 1):
        scenario = loads(f"[expect]\nmin_sla_compliance = {value}\n" + MINIMAL)
        assert scenario.expect.min_sla_compliance == value


# -- 4. distributions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dist", "path", "message"),
    [
        ("{}", "network.latency.dist", "missing; expected 'constant'"),
        ("{value = 2}", "network.latency.dist", "missing"),
        ('{dist = "constant"}', "network.latency.value", "a constant distribution needs value"),
        ('{dist = "uniform", low = 1}', "network.latency.high", "needs low and high"),
        ('{dist = "uniform", high = 1}', "network.latency.low", "needs low and high"),
        ('{dist = "exponential"}', "network.latency.mean", "needs mean"),
        ('{dist = "lognormal", median = 1}', "network.latency.sigma", "needs median and sigma"),
        ('{dist = "lognormal", sigma = 1}', "network.latency.median", "needs median and sigma"),
        # A parameter of another distribution, even a zero one, is refused.
        ('{dist = "uniform", low = 1, high = 2, mean = 0}', "network.latency", "not mean"),
        ('{dist = "constant", value = 1, sigma = 0}', "network.latency", "not sigma"),
    ],
)
def test_a_distribution_names_itself_and_all_its_parameters(
    dist: str, path: str, message: str
) -> None:
    err = error_for(f"[network]\nlatency = {dist}\n" + MINIMAL)
    assert err.path == path
    assert message in err.message


def test_an_empty_latency_with_set_is_refused() -> None:
    # The auditor's case: it meant zero latency.
    with pytest.raises(ScenarioError) as caught:
        load_scenario("baseline", ["network.latency={}"])
    assert caught.value.path == "network.latency.dist"


def test_a_nested_distribution_names_its_full_path() -> None:
    fault = '[[faults]]\nkind = "slow_cleanup"\ncleanup_s = {dist = "uniform", low = 3}\n'
    assert error_for(fault + MINIMAL).path == "faults[0].cleanup_s.high"


def test_every_distribution_written_in_full_loads() -> None:
    text = (
        "[network]\n"
        'latency = {dist = "lognormal", median = 0.05, sigma = 0.5}\n'
        'reorder_delay = {dist = "exponential", mean = 2}\n'
        'cascade_latency = {dist = "constant", value = 0}\n'
        '[agents]\ncleanup_s = {dist = "uniform", low = 1, high = 5}\n'
    )
    scenario = loads(text + MINIMAL)
    assert scenario.network.latency == Dist("lognormal", median=0.05, sigma=0.5)
    assert scenario.network.reorder_delay == Dist("exponential", mean=2.0)
    assert scenario.network.cascade_latency == Dist.const(0.0)
    assert scenario.agents.cleanup_s == Dist("uniform", low=1.0, high=5.0)


# -- 5. the forged-flood cap over all floods ------------------------------------------

FLOOD = '[[faults]]\nkind = "forged_flood"\nat_s = 0\nduration_s = 100\nrate_per_s = {}\n'


def test_the_forgery_cap_is_over_all_floods_together() -> None:
    # 9,000/s for 100 s is 900,000: one is fine, two are 1.8 million.
    meta = "[meta]\nduration_s = 180\n"
    assert loads(meta + FLOOD.format(9000) + MINIMAL).faults[0].rate_per_s == 9000
    err = error_for(meta + FLOOD.format(9000) + FLOOD.format(9000) + MINIMAL)
    assert err.path == ""
    assert err.message.startswith("faults[0].rate_per_s, faults[1].rate_per_s:")
    assert "together: 1.8e+06" in err.message
    assert f"more than {MAX_FORGERIES:,} forged commands" in err.message


def test_floods_under_the_cap_together_and_other_faults_do_not_count() -> None:
    partition = '[[faults]]\nkind = "partition"\nduration_s = 100\n'
    text = FLOOD.format(4000) + partition + FLOOD.format(5000) + MINIMAL
    assert len(loads(text).faults) == 3


# -- 6. meta.name is a folder name ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [  # as written in TOML
        ('""', "is not a folder name"),
        ('"."', "is not a folder name"),
        ('".."', "is not a folder name"),
        ('"/tmp/x"', "is an absolute path"),
        (r"'\\server\share'", "is an absolute path"),
        ('"C:x"', "is an absolute path"),
        ('"a/b"', "contains a path separator"),
        ('"../up"', "contains a path separator"),
        (r"'a\b'", "contains a path separator"),
        (r'"a\u0000b"', "contains a NUL character"),
    ],
)
def test_a_name_that_is_no_single_folder_is_refused(name: str, why: str) -> None:
    err = error_for(f"[meta]\nname = {name}\n" + MINIMAL)
    assert err.path == "meta.name"
    assert why in err.message
    assert "out/<name>" in err.message


def test_ordinary_names_are_accepted() -> None:
    for name in ("my-run", "seed_as_written", "v1.2", "baseline+swarm7", "with space"):
        assert loads(f'[meta]\nname = "{name}"\n' + MINIMAL).meta.name == name


# -- 7. SSE heartbeats inside the read timeout ---------------------------------------


@pytest.mark.parametrize(("heartbeat", "timeout"), [(45, 45), (60, 45), (5, 0.5)])
def test_a_heartbeat_not_below_the_read_timeout_is_refused(
    heartbeat: float, timeout: float
) -> None:
    sse = f"[transports.sse]\nheartbeat_s = {heartbeat}\nread_timeout_s = {timeout}\n"
    err = error_for(sse + MINIMAL)
    assert err.path == "transports.sse.heartbeat_s"
    assert f"is not below read_timeout_s = {timeout:g}" in err.message
    assert "healthy stream would time out" in err.message


@pytest.mark.parametrize(("heartbeat", "timeout"), [(15, 45), (0, 45), (15, 0), (0, 0)])
def test_heartbeats_inside_the_timeout_or_either_off_are_accepted(
    heartbeat: float, timeout: float
) -> None:
    sse = f"[transports.sse]\nheartbeat_s = {heartbeat}\nread_timeout_s = {timeout}\n"
    scenario = loads("[meta]\nduration_s = 30\n" + sse + MINIMAL)
    assert run_once(scenario, 1).virtual_s == 30


def test_the_library_never_takes_a_folder_for_the_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder named like a bundled scenario (an earlier --out ./baseline) does
    # not hide it; any other folder is refused as one.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline").mkdir()
    scenario, _ = load_scenario("baseline")
    assert scenario.meta.name == "baseline"
    with pytest.raises(ScenarioError, match="is a directory, not a scenario file"):
        load_scenario(str(tmp_path))
