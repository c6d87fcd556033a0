"""The strict scenario loader: every mistake names the file, the key path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from sim_support import MINIMAL, error_for

from sim.rng import Dist
from sim.scenario import Scenario, load_scenario, parse_scenario
from sim.schema import ScenarioError


def test_minimal_scenario_takes_the_documented_defaults() -> None:
    scenario = parse_scenario(MINIMAL)
    assert isinstance(scenario, Scenario)
    assert scenario.transports.listen == ["sse", "poll"]
    assert scenario.transports.sse.retry_s == 5.0
    assert scenario.operator[0].at_s == 10.0
    assert isinstance(scenario.operator[0].at_s, float)  # an integer in TOML, a float here
    assert scenario.network.latency == Dist("lognormal", median=0.05, sigma=0.5)


def test_unknown_top_level_key_is_an_error_naming_it() -> None:
    err = error_for("[topolgy]\nfanout = 3\n" + MINIMAL)
    assert err.source == "broken.toml"
    assert err.path == "topolgy"
    assert "unknown key" in err.message
    assert "topology" in err.message  # the list of what was expected


def test_unknown_nested_key_names_the_full_path() -> None:
    err = error_for("[transports.sse]\nretry = 5\n" + MINIMAL)
    assert err.path == "transports.sse.retry"
    assert "retry_s" in err.message
    assert str(err).startswith("broken.toml: transports.sse.retry: unknown key")


def test_wrong_type_says_what_was_expected() -> None:
    err = error_for('[topology]\nfanout = "3"\n' + MINIMAL)
    assert err.path == "topology.fanout"
    assert err.message == "expected an integer, got '3'"


@pytest.mark.parametrize(
    ("snippet", "path", "expected"),
    [
        ("[meta]\nduration_s = true\n", "meta.duration_s", "expected a number"),
        ("[topology]\ndepth = 2.5\n", "topology.depth", "expected an integer"),
        ("[sla]\ntotal_max_s = '60'\n", "sla.total_max_s", "expected a number"),
        ('[transports]\nlisten = "sse"\n', "transports.listen", "expected a list of"),
        ("[agents]\nstore = 1\n", "agents.store", "expected 'memory' or 'durable'"),
    ],
)
def test_more_wrong_types(snippet: str, path: str, expected: str) -> None:
    err = error_for(snippet + MINIMAL)
    assert err.path == path
    assert expected in err.message


def test_missing_required_key_in_an_array_of_tables() -> None:
    err = error_for('[[operator]]\ncommand = "TERMINATE"\n')
    assert err.path == "operator[0].at_s"
    assert err.message.startswith("missing")


def test_bad_literal_lists_the_allowed_values() -> None:
    err = error_for('[control_plane]\nmode = "push"\n' + MINIMAL)
    assert err.path == "control_plane.mode"
    assert "'ack'" in err.message and "'seed'" in err.message and "'push'" in err.message


def test_bad_literal_inside_a_list_has_its_index() -> None:
    err = error_for('[transports]\nlisten = ["sse", "carrier_pigeon"]\n' + MINIMAL)
    assert err.path == "transports.listen[1]"


def test_fault_kind_error_names_the_fault_index() -> None:
    text = MINIMAL + (
        '[[faults]]\nkind = "partition"\nat_s = 5\n\n[[faults]]\nkind = "meteor"\nat_s = 9\n'
    )
    err = error_for(text)
    assert err.path == "faults[1].kind"
    assert "'meteor'" in err.message and "'partition'" in err.message


@pytest.mark.parametrize(
    ("dist", "path", "expected"),
    [
        ('{dist = "gaussian", value = 1}', "network.latency.dist", "'lognormal'"),
        ('{dist = "uniform", value = 1}', "network.latency", "takes low, high, not value"),
        ('{dist = "uniform", low = 5, high = 1}', "network.latency", "low <= high"),
        ('{dist = "exponential", mean = 0}', "network.latency", "positive mean"),
        ('{dist = "constant", value = -1}', "network.latency", "non-negative"),
        ("0.05", "network.latency", "expected a table (Dist)"),
        ('{dist = "constant", valu = 1}', "network.latency.valu", "unknown key"),
    ],
)
def test_bad_distributions(dist: str, path: str, expected: str) -> None:
    err = error_for(f"[network]\nlatency = {dist}\n" + MINIMAL)
    assert err.path == path
    assert expected in err.message


def test_cross_field_check_names_the_table() -> None:
    err = error_for("[network]\nloss = 1.5\n" + MINIMAL)
    assert err.path == "network"
    assert "loss is a probability" in err.message


def test_poll_timeout_must_be_positive() -> None:
    err = error_for("[transports.poll]\ntimeout_s = 0\n" + MINIMAL)
    assert err.path == "transports.poll"
    assert "timeout_s must be positive" in err.message


def test_scenario_without_operator_commands_is_refused() -> None:
    err = error_for("[meta]\nname = 'x'\n")
    assert "operator" in err.message


def test_invalid_toml_is_a_scenario_error() -> None:
    err = error_for("[meta\nname = 'x'\n")
    assert err.path == ""
    assert "not valid TOML" in err.message


def test_unknown_checker_in_expected_violations() -> None:
    err = error_for(MINIMAL + '[expect]\nviolations = ["no_orphanz"]\n')
    assert err.path == "expect"
    assert "no_orphanz" in err.message


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[topology]\nkind = 'star'\n" + MINIMAL, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert str(caught.value).startswith(f"{path}: topology.kind: expected")


def test_missing_file_lists_the_bundled_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(tmp_path / "nope.toml"))
    assert "no such file or bundled scenario" in str(caught.value)
    assert "baseline" in str(caught.value)


def test_bundled_scenario_loads_by_name() -> None:
    scenario, text = load_scenario("baseline")
    assert scenario.meta.name == "baseline"
    assert parse_scenario(text) == scenario


# Values a simulation cannot run with: each once made a traceback (SimPy's
# "until must be greater", a Policy or Command ValueError, a negative delay) or
# a run that never ends (a zero poll interval loops at one instant; a typo in
# depth builds 10^12 agents). Each is now refused up front, naming its key.
@pytest.mark.parametrize(
    ("snippet", "path", "message"),
    [
        ("[meta]\nduration_s = 0\n", "meta", "duration_s must be positive"),
        ("[meta]\nduration_s = inf\n", "meta.duration_s", "expected a finite number"),
        ("[network]\nloss = nan\n", "network.loss", "expected a finite number"),
        (
            '[network]\nlatency = {dist = "lognormal", median = 0.05, sigma = 1e6}\n',
            "network.latency",
            "sigma above 20",
        ),
        ("[meta]\nduration_s = -5\n", "meta", "duration_s must be positive"),
        ("[topology]\nfanout = 10\ndepth = 12\n", "topology", "more than 2,000,000 agents"),
        ("[topology]\nfanout = 1\ndepth = 1000000000\n", "topology", "more than 2,000,000"),
        ('[topology]\nkind = "random"\nagents = 100000000\n', "topology", "more than 2,000,000"),
        ("[transports.poll]\ninterval_s = 0\n", "transports.poll", "interval_s must be positive"),
        ("[transports.poll]\njitter_s = -1\n", "transports.poll", "jitter_s must not be negative"),
        ("[transports.file]\ncheck_s = 0\n", "transports.file", "check_s must be positive"),
        ("[transports.sse]\nretry_s = 0\n", "transports.sse", "retry_s must be positive"),
        ("[transports.sse]\nread_timeout_s = -1\n", "transports.sse", "read_timeout_s must not"),
        ("[transports.websocket]\nping_s = 0\n", "transports.websocket", "ping_s must be positive"),
        ("[agents]\nmax_lifetime_s = 0\n", "agents", "max_lifetime_s must be positive"),
        ("[agents]\nclock_skew_leeway_s = -1\n", "agents", "clock_skew_leeway_s must not"),
        ("[agents]\nmax_grace_s = -1\n", "agents", "max_grace_s must not be negative"),
        ("[agents]\nwatchdog_s = -1\n", "agents", "watchdog_s must not be negative"),
        ("[agents]\nactions_per_s = 1e9\n", "", "agents.actions_per_s = 1e+09: the run would"),
        ("[transports.poll]\ninterval_s = 1e-6\n", "", "transports.poll.interval_s = 1e-06"),
        ('[transports]\nlisten = ["sse", "file"]\nfile = {check_s = 1e-6}\n', "", "file.check_s"),
        ("[agents]\nwatchdog_s = 1e-7\n", "", "agents.watchdog_s = 1e-07: the run would"),
        ("[transports.sse]\ndrops_per_hour = 1e12\n", "", "sse.drops_per_hour = 1e+12"),
        ("[meta]\nmax_events = 0\n", "meta", "max_events must be positive"),
        ('[[faults]]\nkind = "partition"\nat_s = -1\n', "faults[0]", "at_s must not be negative"),
        (
            '[[faults]]\nkind = "forged_flood"\nrate_per_s = 1e9\nduration_s = 10\n',
            "",
            "faults[0].rate_per_s: 1e+09/s for 10 s",
        ),
    ],
)
def test_values_a_run_cannot_use_are_refused_naming_the_key(
    snippet: str, path: str, message: str
) -> None:
    err = error_for(snippet + MINIMAL)
    assert err.path == path
    assert message in err.message


@pytest.mark.parametrize(
    ("operator", "path", "message"),
    [
        ("at_s = 200", "", "operator[0].at_s: 200 is not before the end of the run"),
        ("at_s = -1", "operator[0]", "at_s must not be negative"),
        ("at_s = 10\ngrace_s = -1", "operator[0]", "grace_s must not be negative"),
    ],
)
def test_operator_clicks_outside_the_run_are_refused(
    operator: str, path: str, message: str
) -> None:
    err = error_for(f'[meta]\nduration_s = 120\n[[operator]]\ncommand = "TERMINATE"\n{operator}\n')
    assert err.path == path
    assert message in err.message


def test_a_flood_that_mostly_falls_after_the_end_is_counted_to_the_end() -> None:
    # 100,000/s for 1,000 s would be 10^8 forgeries, but the run ends 5 s after it starts.
    scenario = parse_scenario(
        "[meta]\nduration_s = 20\n"
        '[[faults]]\nkind = "forged_flood"\nat_s = 15\nduration_s = 1000\nrate_per_s = 100000\n'
        + MINIMAL
    )
    assert scenario.faults[0].rate_per_s == 100_000


def test_the_event_budget_counts_reconnects_only_where_an_endpoint_refuses() -> None:
    tight = "[transports.sse]\nretry_s = 1e-9\nbackoff_max_s = 1e-9\n"
    assert parse_scenario(tight + MINIMAL).transports.sse.retry_s == 1e-9  # nothing refuses
    outage = '[[faults]]\nkind = "transport_outage"\nduration_s = 100\n'
    err = error_for(tight + outage + MINIMAL)
    assert err.path == ""
    assert "transports.sse.retry_s = 1e-09: the run would schedule" in err.message


def test_a_scenario_may_raise_its_own_event_budget() -> None:
    many = "[transports.poll]\ninterval_s = 1e-6\n"
    assert "meta.max_events = 1e+08" in error_for(many + MINIMAL).message
    raised = parse_scenario("[meta]\nmax_events = 1e10\n" + many + MINIMAL)
    assert raised.meta.max_events == 1e10


def test_the_largest_bench_run_is_within_the_budget() -> None:
    from bench.sim import CASCADE_TOML

    scenario = parse_scenario(CASCADE_TOML.format(depth=6), "bench")
    assert scenario.topology.size() == 1_111_111
