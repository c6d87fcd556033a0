"""``killswitch report compare`` and bad report inputs: exit 0 on identical runs,
1 on a regression beyond the tolerance, 2 with one clear line on bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from reports_support import baseline_results, conformance_doc, faulty_results, load, write_json

from killswitch_cli.main import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["report", *args])


def compare(base: Path, new: Path, *extra: str) -> Result:
    return invoke("compare", str(base), str(new), *extra)


def scaled(data: dict[str, Any], phase: str, stat: str, factor: float) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["summary"]["phases"][phase][stat] *= factor
    return out


def test_identical_runs_compare_clean() -> None:
    result = compare(baseline_results(), baseline_results())
    assert result.exit_code == 0, result.output
    assert "REGRESSION" not in result.output
    assert "time_to_halt p99" in result.output and "total max" in result.output
    assert "compliance (total <= 60 s)" in result.output
    assert "no regression beyond tolerance 0.1" in result.output


def test_a_p99_worse_than_the_tolerance_is_a_regression(tmp_path: Path) -> None:
    data = load(baseline_results())
    worse = write_json(tmp_path / "worse.json", scaled(data, "time_to_halt", "p99", 1.5))
    result = compare(baseline_results(), worse)
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("time_to_halt p99"))
    assert "+50.0%" in line and line.endswith("REGRESSION")
    assert "1 regression(s)" in result.output
    # The same change is accepted by a looser tolerance, and an improvement never fails.
    assert compare(baseline_results(), worse, "--tolerance", "0.6").exit_code == 0
    assert compare(worse, baseline_results()).exit_code == 0


def test_pairs_lost_in_the_new_run_are_a_regression_whatever_the_latencies(
    tmp_path: Path,
) -> None:
    # Latencies are over the pairs that have the phase: a run that lost
    # deliveries can look faster. The lost pairs themselves are compared.
    data = load(baseline_results())
    lost = copy.deepcopy(data)
    lost["summary"]["missing"] = {"delivery": 3, "total": 3}
    result = compare(baseline_results(), write_json(tmp_path / "lost.json", lost))
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("pairs never delivered"))
    assert "+3" in line and line.endswith("REGRESSION")
    older = copy.deepcopy(data)
    older["summary"].pop("missing", None)  # results from before the counts: not compared
    quiet = compare(write_json(tmp_path / "older.json", older), baseline_results())
    assert "pairs never delivered" not in quiet.output


def test_a_change_within_tolerance_passes_and_is_reported(tmp_path: Path) -> None:
    data = load(baseline_results())
    slightly = write_json(tmp_path / "slightly.json", scaled(data, "total", "p50", 1.05))
    result = compare(baseline_results(), slightly)
    assert result.exit_code == 0, result.output
    assert "worse, within tolerance" in result.output


def test_lower_compliance_and_a_newly_failing_expectation_regress(tmp_path: Path) -> None:
    data = load(baseline_results())
    worse = copy.deepcopy(data)
    c = worse["summary"]["compliance"]
    c["met"], c["rate"] = c["n"] - 1, (c["n"] - 1) / c["n"]
    worse["expectations"][0]["passed"] = False
    result = compare(baseline_results(), write_json(tmp_path / "w.json", worse))
    assert result.exit_code == 1
    regressions = [x for x in result.output.splitlines() if x.endswith("REGRESSION")]
    assert any(x.startswith("compliance") for x in regressions)
    assert any(x.startswith(f"expectation {data['expectations'][0]['name']}") for x in regressions)


def test_different_scenarios_are_flagged(tmp_path: Path) -> None:
    result = compare(baseline_results(), faulty_results())
    assert result.exit_code == 1
    assert "different scenarios" in result.output


def test_conformance_runs_compare_by_verdict(tmp_path: Path) -> None:
    base = conformance_doc("impl", {"KS-TIME-EXPIRED": "PASS", "KS-TIMING": "PASS"}, tmp_path / "a")
    new = conformance_doc("impl", {"KS-TIME-EXPIRED": "FAIL", "KS-TIMING": "PASS"}, tmp_path / "b")
    assert compare(base, base).exit_code == 0
    result = compare(base, new)
    assert result.exit_code == 1
    assert "case KS-TIME-EXPIRED" in result.output and "REGRESSION" in result.output
    assert compare(new, base).exit_code == 0  # a fix is not a regression


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = load(baseline_results())
    text = baseline_results().read_text(encoding="utf-8")
    newer = dict(good, schema="killswitch.sim/2")
    no_runs = copy.deepcopy(good)
    no_runs["runs"], no_runs["replications"], no_runs["summary"]["runs"] = [], 0, 0
    missing_field = copy.deepcopy(good)
    del missing_field["summary"]["compliance"]
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")
    return {
        "newer": (write_json(tmp_path / "newer.json", newer), "newer killswitch"),
        "truncated": (truncated, "not valid JSON (truncated?)"),
        "no runs": (write_json(tmp_path / "no_runs.json", no_runs), "holds no runs"),
        "unknown": (
            write_json(tmp_path / "unknown.json", dict(good, schema="acme.latency/1")),
            "unknown schema 'acme.latency/1'",
        ),
        "no schema": (write_json(tmp_path / "plain.json", {"a": 1}), 'no "schema" field'),
        "missing field": (
            write_json(tmp_path / "field.json", missing_field),
            "missing field 'summary.compliance'",
        ),
        "absent": (tmp_path / "absent.json", "no such file"),
    }


@pytest.mark.parametrize(
    "kind", ["newer", "truncated", "no runs", "unknown", "no schema", "missing field", "absent"]
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path: Path, kind: str) -> None:
    path, message = _bad_inputs(tmp_path)[kind]
    for result in (
        invoke(str(path), "--out", str(tmp_path / "out")),
        compare(baseline_results(), path),
    ):
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0] == f"error: {path}: {lines[0].split(': ', 2)[2]}"
        assert message in lines[0]
        assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "report.html").exists()


def test_unknown_format_and_mixed_compare_are_bad_input(tmp_path: Path) -> None:
    result = invoke(str(baseline_results()), "--format", "html,pdf", "--out", str(tmp_path))
    assert result.exit_code == 2 and "unknown format pdf" in result.stderr
    conformance = conformance_doc("impl", {"KS-TIMING": "PASS"}, tmp_path / "c")
    mixed = compare(baseline_results(), conformance)
    assert mixed.exit_code == 2
    assert "cannot compare a simulation results.json with a conformance.json" in mixed.stderr
