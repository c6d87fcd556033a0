"""``killswitch sim``: list, show, run, swarm; exit codes 0/1/2; no traceback for user mistakes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from killswitch_cli.main import main
from sim.cli import sim
from sim.scenario import bundled_text, load_scenario
from sim.swarm import run_swarm_seed, swarm_seed


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["sim", *args])


def test_list_shows_the_baseline_with_its_description() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    scenario, _ = load_scenario("baseline")
    lines = [line for line in result.output.splitlines() if line.split()[:1] == ["baseline"]]
    assert len(lines) == 1
    assert scenario.meta.description in lines[0]


def test_show_prints_the_bundled_toml() -> None:
    result = invoke("show", "baseline")
    assert result.exit_code == 0
    assert result.output == bundled_text("baseline")


def test_show_unknown_scenario_is_bad_input() -> None:
    result = invoke("show", "no_such_scenario")
    assert result.exit_code == 2
    assert "no such file or bundled scenario" in result.stderr


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("baseline")
    return invoke("run", "baseline", "--out", str(out), "--no-report"), out


def test_run_baseline_passes(baseline_run: tuple[Result, Path]) -> None:
    result, _ = baseline_run
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output
    # The summary table: one line per SLA phase, with the SLA maxima.
    for phase in ("issuance", "delivery", "verification", "shutdown", "total"):
        assert re.search(rf"^{phase}\s+\d+", result.output, re.MULTILINE), phase
    assert "SLA compliance" in result.output
    assert "reproduce: killswitch sim run baseline --seed 1" in result.output


def test_run_writes_versioned_results(baseline_run: tuple[Result, Path]) -> None:
    _, out = baseline_run
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == "killswitch.sim/1"
    text = bundled_text("baseline")
    assert results["scenario"]["name"] == "baseline"
    assert results["scenario"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert results["seed"] == 1 and results["replications"] == 1
    assert results["passed"] is True
    summary = results["summary"]
    assert summary["runs"] == 1
    total = summary["phases"]["total"]
    assert {"n", "p50", "p90", "p99", "max", "mean", "within_max"} <= set(total)
    assert summary["compliance"]["n"] == summary["agents"] == 21
    assert set(summary["checks"]) == {o["name"][8:] for o in results["expectations"]
                                      if o["name"].startswith("checker:")}  # fmt: skip
    assert all(o["passed"] for o in results["expectations"])
    assert results["runs"][0]["digest"] == results["first_run"]["digest"]


def test_trace_file_matches_the_printed_digest(baseline_run: tuple[Result, Path]) -> None:
    result, out = baseline_run
    trace = (out / "trace.jsonl").read_bytes()
    lines = trace.decode().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(e, dict) and "t" in e and "ev" in e for e in events)
    digest = hashlib.sha256(trace).hexdigest()
    assert f"digest sha256:{digest} ({len(lines)} lines)" in result.output
    results = json.loads((out / "results.json").read_text())
    assert results["first_run"]["digest"] == digest
    assert results["first_run"]["trace_lines"] == len(lines)


RANDOM_TREE = """
[meta]
name = "random_tree"
duration_s = 60

[topology]
kind = "random"
agents = 12
max_children = 3

[[operator]]
at_s = 10
command = "TERMINATE"
"""


def test_results_show_the_tree_of_the_first_replication(tmp_path: Path) -> None:
    # A random tree depends on the seed, and with replications the first run's
    # seed is derived from the master seed: edges, rows and timeline must all be
    # that run's tree.
    path = tmp_path / "random_tree.toml"
    path.write_text(RANDOM_TREE)
    out = tmp_path / "out"
    result = invoke("run", str(path), "--replications", "3", "--out", str(out), "--no-report")
    assert result.exit_code == 0, result.output
    first = json.loads((out / "results.json").read_text())["first_run"]
    parent = {child: parent for parent, child in first["edges"]}

    def depth(agent: str) -> int:
        return 0 if agent not in parent else 1 + depth(parent[agent])

    assert len(first["rows"]) == 12
    assert all(row["depth"] == depth(row["agent"]) for row in first["rows"])


def test_same_seed_on_the_command_line_gives_the_same_digest(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b", "c"):
        seed = "2" if name != "c" else "3"
        result = invoke("run", "baseline", "--seed", seed, "--out", str(tmp_path / name),
                        "--no-report")  # fmt: skip
        assert result.exit_code == 0, result.output
        digests.append(hashlib.sha256((tmp_path / name / "trace.jsonl").read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]


def test_failed_expectation_exits_1(tmp_path: Path) -> None:
    # The baseline halts in tens of milliseconds: one microsecond cannot be met.
    text = bundled_text("baseline").replace("all_halted_within_s = 5", "all_halted_within_s = 1e-6")
    assert text != bundled_text("baseline")
    path = tmp_path / "impossible.toml"
    path.write_text(text, encoding="utf-8")
    result = invoke("run", str(path), "--out", str(tmp_path / "out"), "--no-report")
    assert result.exit_code == 1, result.output
    assert re.search(r"FAIL all_halted_within_s", result.output)
    assert "FAILED" in result.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["passed"] is False


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file or bundled scenario"),
        ("[meta\nname = 1", "not valid TOML"),
        ("[[operator]]\nat_s = 1\ncommand = 'TERMINATE'\n[topology]\nfanuot = 2\n",
         "topology.fanuot"),
        ("[[operator]]\nat_s = 1\ncommand = 'TERMINATE'\ntarget = 'ghost'\n", "operator[0].target"),
        ("[[operator]]\nat_s = 1\ncommand = 'TERMINATE'\n[[faults]]\nkind = 'partition'\n"
         "agents = ['subtree:ghost']\n", "faults[0].agents"),
        ("[[operator]]\nat_s = 1\ncommand = 'TERMINATE'\n[topology]\nkind = 'explicit'\n"
         "edges = [['a', 'b'], ['b', 'a']]\n", "topology"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "scenario.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = invoke("run", str(path), "--out", str(tmp_path / "out"), "--no-report")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}")
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()


def test_bad_option_is_a_usage_error() -> None:
    result = invoke("run", "baseline", "--replications", "0")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def subcommands() -> list[list[str]]:
    assert isinstance(sim, click.Group)
    return [["sim"], *(["sim", name] for name in sorted(sim.commands))]


@pytest.mark.parametrize("args", subcommands(), ids=" ".join)
def test_help_on_every_subcommand(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
    assert " ".join(args) in result.output.splitlines()[0]


def test_every_documented_subcommand_exists() -> None:
    assert {"list", "show", "run", "swarm"} <= set(sim.commands)


def test_swarm_keeps_every_invariant_and_replays() -> None:
    result = invoke("swarm", "--seeds", "10")
    assert result.exit_code == 0, result.output
    assert "10/10 seeds kept every invariant" in result.output
    seed = swarm_seed(1, 4)
    base, _ = load_scenario("baseline")
    _, expected, faults = run_swarm_seed((seed, base))
    replays = [invoke("swarm", "--replay", str(seed)) for _ in range(2)]
    for replay in replays:
        assert replay.exit_code == 0, replay.output
        assert f"digest {expected.digest}" in replay.output
        assert replay.output.count("  fault ") == len(faults) >= 1
    assert replays[0].output == replays[1].output


def test_swarm_prints_as_it_goes_and_ctrl_c_keeps_the_tally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sim.swarm

    real = sim.swarm.run_swarm_seed
    calls = [0]

    def run_swarm_seed(args: tuple[int, Any]) -> Any:
        calls[0] += 1
        if calls[0] == 4:  # Ctrl-C during the fourth seed
            raise KeyboardInterrupt
        seed, result, faults = real(args)
        if calls[0] == 2:  # pretend the second seed broke an invariant
            result.checks[0] = dataclasses.replace(result.checks[0], passed=False, detail="x")
        return seed, result, faults

    monkeypatch.setattr(sim.swarm, "run_swarm_seed", run_swarm_seed)
    result = invoke("swarm", "--seeds", "10")
    assert result.exit_code == 130, result.output
    second = swarm_seed(1, 1)
    # The failure found before the interrupt was printed with its reproducer.
    assert f"FAIL seed {second} " in result.output
    assert f"reproduce: killswitch sim swarm --base baseline --replay {second}" in result.output
    assert "2/3 seeds kept every invariant" in result.output
    assert "interrupted after 3 of 10 seeds" in result.stderr


def test_an_out_folder_that_cannot_be_written_is_bad_input(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    result = invoke("run", "baseline", "--no-report", "--out", str(a_file / "sub"))
    assert result.exit_code == 2
    assert f"--out {a_file / 'sub'}: cannot write there" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_table_counts_lost_pairs_against_the_share_in_sla(tmp_path: Path) -> None:
    # control_plane_crash loses the 5 cut-off agents' commands: 16 of 21 pairs are
    # delivered and finish; the table must say 16/21, not 16/16.
    result = invoke("run", "control_plane_crash", "--out", str(tmp_path), "--no-report")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    assert rows["delivery"][1] == "16" and rows["delivery"][-1] == "16/21"
    assert rows["total"][-1] == "16/21"
    assert rows["verification"][-1] == "16/16"  # not a phase whose loss is counted
    assert "(command, agent) pairs: 5 never delivered, 5 never finished" in result.output


def test_a_report_left_by_an_earlier_run_is_flagged_with_no_report(tmp_path: Path) -> None:
    first = invoke("run", "baseline", "--out", str(tmp_path))
    assert first.exit_code == 0 and (tmp_path / "report.html").exists()
    again = invoke("run", "baseline", "--seed", "2", "--out", str(tmp_path), "--no-report")
    assert again.exit_code == 0
    assert "is an earlier run's report (--no-report)" in again.output
    fresh = invoke("run", "baseline", "--out", str(tmp_path / "new"), "--no-report")
    assert "earlier run's report" not in fresh.output


def test_swarm_does_not_count_the_bases_documented_weaknesses() -> None:
    # control_plane_crash expects no_orphans to fail (its pending list is not
    # durable): every seed would "fail" it; swarm reports the other checkers.
    result = invoke("swarm", "--base", "control_plane_crash", "--seeds", "4")
    assert "not counted (the base expects them to fail): no_orphans" in result.output
    assert "no_orphans" not in result.output.split("no_orphans", 1)[1]
    assert result.output.rstrip().endswith("4/4 seeds kept every invariant")
    assert result.exit_code == 0


def test_ctrl_c_while_the_report_renders_keeps_results_and_flags_an_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "report.html").write_text("an earlier run's report")
    import reports.render

    def interrupted(*_args: object) -> list[Path]:
        raise KeyboardInterrupt

    monkeypatch.setattr(reports.render, "render_reports", interrupted)
    result = invoke("run", "baseline", "--out", str(tmp_path))
    assert result.exit_code == 130
    assert (tmp_path / "results.json").exists() and (tmp_path / "trace.jsonl").exists()
    assert "interrupted: report not rendered" in result.output
    assert "may be an earlier run's" in result.output
