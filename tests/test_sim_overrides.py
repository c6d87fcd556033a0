"""``--set KEY=VALUE``: one scenario key changed for one run, recorded in the
results and repeated by the reproduce line."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from killswitch_cli.main import main
from sim.overrides import OverrideError, apply_overrides, parse_value
from sim.rng import Dist
from sim.runner import run_once
from sim.scenario import load_scenario
from sim.schema import ScenarioError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", 0.1),
        ("3", 3),
        ("true", True),
        ('"both"', "both"),
        ("both", "both"),
        ('["sse", "poll"]', ["sse", "poll"]),
        ('{dist = "constant", value = 2}', {"dist": "constant", "value": 2}),
    ],
)
def test_a_value_is_toml_and_a_bare_word_a_string(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_overrides_set_nested_keys_create_tables_and_index_arrays() -> None:
    data: dict[str, Any] = {"meta": {"name": "x"}, "faults": [{"kind": "partition", "at_s": 5}]}
    apply_overrides(
        data, ["meta.duration_s=60", "transports.poll.interval_s=5", "faults[0].at_s = 20"]
    )
    assert data == {
        "meta": {"name": "x", "duration_s": 60},
        "transports": {"poll": {"interval_s": 5}},
        "faults": [{"kind": "partition", "at_s": 20}],
    }


def test_later_overrides_win_and_a_whole_table_can_be_replaced() -> None:
    data: dict[str, Any] = {"operator": [{"at_s": 1, "command": "PAUSE"}]}
    apply_overrides(data, ["network.loss=0.1", "network.loss=0.2"])
    apply_overrides(data, ['operator[0]={at_s = 9, command = "TERMINATE"}'])
    assert data == {"network": {"loss": 0.2}, "operator": [{"at_s": 9, "command": "TERMINATE"}]}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("network.loss", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("network..loss=1", "'' is no key"),
        ("network.loss-x=1", "'loss-x' is no key"),
        ("faults[2].at_s=1", "no faults[2]: the scenario has 1 [[faults]] table"),
        ("operator[0].at_s=1", "no operator[0]: the scenario has 0 [[operator]] tables"),
        ("meta.name.first=1", "meta.name is no table"),
    ],
)
def test_an_override_that_cannot_apply_names_itself(item: str, message: str) -> None:
    data: dict[str, Any] = {"meta": {"name": "x"}, "faults": [{"kind": "partition"}]}
    with pytest.raises(OverrideError) as caught:
        apply_overrides(data, [item])
    assert str(caught.value).startswith(f"--set {item}: ")
    assert message in str(caught.value)


def test_an_overridden_scenario_is_checked_like_a_file() -> None:
    scenario, text = load_scenario(
        "partition_heal",
        ["control_plane.cascade=both", 'network.latency={dist = "constant", value = 0.2}'],
    )
    assert scenario.control_plane.cascade == "both"
    assert scenario.network.latency == Dist.const(0.2)
    assert 'cascade = "control_plane"' in text  # the file's own text, for its sha256
    with pytest.raises(ScenarioError) as caught:
        load_scenario("partition_heal", ["control_plane.cascade=bth"])
    assert caught.value.source == "scenarios/partition_heal.toml with --set"
    assert caught.value.path == "control_plane.cascade"
    with pytest.raises(ScenarioError) as caught:
        load_scenario("partition_heal", ["control_plane.cascde=both"])
    assert caught.value.path == "control_plane.cascde"
    assert "unknown key" in caught.value.message


def test_the_same_run_as_the_edited_file(tmp_path: Path) -> None:
    # partition_heal's comment: "Same file with cascade = agent: ... total max 5.2 s".
    _, text = load_scenario("partition_heal")
    edited = tmp_path / "edited.toml"
    edited.write_text(text.replace('cascade = "control_plane"', 'cascade = "agent"', 1))
    by_set = load_scenario("partition_heal", ["control_plane.cascade=agent"])[0]
    by_file = load_scenario(str(edited))[0]
    assert run_once(by_set, 3).digest == run_once(by_file, 3).digest


def test_the_cli_records_overrides_and_the_reproduce_line_repeats_the_run(
    tmp_path: Path,
) -> None:
    items = ["control_plane.cascade=both", 'network.latency={dist = "constant", value = 0.2}']
    args = ["sim", "run", "partition_heal", "--no-report", "--replications", "3"]
    sets = [a for item in items for a in ("--set", item)]
    first = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), *sets])
    assert first.exit_code in (0, 1), first.output
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert results["scenario"]["overrides"] == items
    line = next(x for x in first.output.splitlines() if x.startswith("reproduce: "))
    again_args = shlex.split(line.removeprefix("reproduce: killswitch "))
    again = CliRunner().invoke(main, [*again_args, "--no-report", "--out", str(tmp_path / "b")])
    assert again.exit_code == first.exit_code, again.output
    repeated = json.loads((tmp_path / "b" / "results.json").read_text())
    assert repeated["runs"] == results["runs"]
    assert repeated["scenario"]["overrides"] == items


def test_a_bad_override_is_bad_input_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["sim", "run", "baseline", "--set", "network.los=0.1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "with --set: network.los: unknown key" in result.output
    assert not (tmp_path / "results.json").exists()


def test_swarm_takes_overrides_for_its_base_and_its_reproducer_repeats_them() -> None:
    # The seed's design with its paused_only halt check breaks no_action_after_halt
    # in most fault mixes; with halt_check = "any" (the override) it would not.
    # The file lists that weakness as expected, which swarm leaves out: an
    # override empties the list so that it counts.
    args = ["sim", "swarm", "--base", "seed_as_written", "--seeds", "3"]
    counted = ["--set", "expect.violations=[]"]
    broken = CliRunner().invoke(main, [*args, *counted])
    assert broken.exit_code == 1, broken.output
    line = next(x for x in broken.output.splitlines() if "reproduce:" in x)
    assert "--base seed_as_written --set 'expect.violations=[]' --replay " in line
    replay = CliRunner().invoke(main, shlex.split(line.split("reproduce: killswitch ")[1]))
    assert replay.exit_code == 1
    assert "FAIL seed" in replay.output
    fixed = CliRunner().invoke(main, [*args, *counted, "--set", "agents.halt_check=any"])
    assert "no_action_after_halt" not in fixed.output
