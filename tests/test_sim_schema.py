"""The strict scenario loader: every mistake names the file, the key path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.rng import Dist
from sim.scenario import Scenario, load_scenario, parse_scenario
from sim.schema import ScenarioError

#: The smallest valid scenario: everything else has a default.
MINIMAL = """
[[operator]]
at_s = 10
command = "TERMINATE"
"""


def error_for(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "broken.toml")
    return caught.value


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
