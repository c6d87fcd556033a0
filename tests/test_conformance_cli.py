"""`killswitch conform` and `killswitch vectors` from the command line: reports,
exit codes 0/1/2, and clear messages (never a traceback) for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from killswitch_cli.main import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAIVE = f"{EXAMPLES / 'naive_adapter.py'}:factory"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_conform_reference_writes_every_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--level", "L2",
        "--examples", "3", "--seed", "4", "--out", str(out), "-q",
    )  # fmt: skip
    assert code == 0, output
    assert "Highest level reached: L2 (requested L2)" in output
    assert "KS-SIG-MUTATE" in output and "KS-120" in output
    report = json.loads((out / "conformance.json").read_text())
    assert report["schema"] == "killswitch.conformance/1"
    assert report["level"] == {"requested": "L2", "reached": "L2"}
    assert report["exit_code"] == 0 and report["seed"] == 4
    assert report["clock"]["mode"] == "injected"
    assert {c["verdict"] for c in report["cases"]} <= {"PASS", "INFORMATIONAL", "UNSUPPORTED"}
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.tag == "testsuite" and int(suite.get("tests", "0")) == len(report["cases"])
    page = (out / "conformance.html").read_text()
    assert page.startswith("<!doctype html>") and "KS-SIG-MUTATE" in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]
    assert "PRIVATE KEY" not in (out / "conformance.json").read_text()
    # The shared renderer (as `killswitch report` would) wrote its report beside.
    for name in ("report.html", "summary.md", "report.json"):
        assert str(out / name) in output
    shared = (out / "report.html").read_text()
    assert "KS-SIG-MUTATE" in shared and "<script" not in shared
    assert "PASSED" in (out / "summary.md").read_text()
    assert json.loads((out / "report.json").read_text())["passed"] is True


def test_a_rendering_failure_is_a_warning_and_keeps_results_and_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reports.render

    def broken(*args: object, **kwargs: object) -> list[Path]:
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(reports.render, "render_reports", broken)
    out = tmp_path / "out"
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--level", "L1",
        "--examples", "2", "--out", str(out), "-q",
    )  # fmt: skip
    assert code == 0, output
    assert "warning: the shared report" in output and "renderer exploded" in output
    assert "Traceback" not in output
    assert json.loads((out / "conformance.json").read_text())["exit_code"] == 0
    assert (out / "junit.xml").exists() and not (out / "report.html").exists()


def test_conform_naive_exits_1_with_counterexamples_that_replay(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        "conform", "--impl", NAIVE, "--level", "L1", "--examples", "5", "--out", str(out), "-q",
    )  # fmt: skip
    assert code == 1
    assert "Highest level reached: none (requested L1)" in output
    assert "clock wall" in output and "Wall-clock mode changed" in output
    assert "FAILED" in (out / "summary.md").read_text()  # the shared report shows the failure
    counterexample = out / "counterexamples" / "KS-TARGET-ASSET.json"
    document = json.loads(counterexample.read_text())
    assert document["schema"] == "killswitch.counterexample/1"
    assert "PRIVATE KEY" not in counterexample.read_text()
    code, output = invoke("conform", "--impl", NAIVE, "--replay", str(counterexample))
    assert code == 1 and "still fails" in output
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--profile", "seed",
        "--clock", "wall", "--replay", str(counterexample),
    )  # fmt: skip
    assert code == 0 and "no longer fails" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --impl MODULE:FACTORY or --cmd COMMAND"),
        (["--impl", "x:f", "--cmd", "y"], "give exactly one of"),
        (["--impl", "no_such_module_here:factory"], "module 'no_such_module_here' not found"),
        (["--impl", "conformance.reference:nope"], "has no attribute 'nope'"),
        (["--impl", "conformance.reference"], "must look like module:callable"),
        (["--impl", "missing/file.py:factory"], "no such file"),
        (["--impl", "conformance.reference:factory", "--profile", "bogus"], "unknown profile"),
        (["--impl", NAIVE, "--profile", "v1"], "speaks only seed"),
        (["--impl", "conformance.reference:factory", "--level", "L9"], "L9"),
        (["--impl", "conformance.reference:factory", "--examples", "0"], "--examples"),
        (["--cmd", "/nonexistent/listener-binary"], "could not start"),
        (["--cmd", "'unbalanced"], "No closing quotation"),
        (["--impl", "conformance.reference:factory", "--replay", "/no/such.json"], "cannot read"),
        (["--impl", "conformance.reference:factory", "--case", "NOPE-*"], "matches no case"),
        (["--impl", "conformance.reference:factory", "--timeout", "nan"], "--timeout"),
        (["--impl", "conformance.reference:factory", "--timeout", "inf"], "--timeout"),
        (["--impl", "conformance.reference:factory", "--margin", "nan"], "--margin"),
        (["--impl", "conformance.reference:factory", "--margin", "inf"], "--margin"),
        (["--impl", "conformance.reference:factory", "--max-wait", "nan"], "--max-wait"),
        (["--impl", "conformance.reference:factory", "--max-wait", "inf"], "--max-wait"),
        # 3 margins of grace must stay within the 60 s cap (KS-STATE-TERMINATE-DEADLINE).
        (
            ["--impl", "conformance.reference:factory", "--clock", "wall", "--margin", "21"],
            "--margin",
        ),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args: list[str], message: str) -> None:
    code, output = invoke("conform", *args)
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("timeout", float("nan"), "--timeout must be a finite number of seconds, got nan"),
        ("margin", float("inf"), "--margin must be a finite number of seconds, got inf"),
        ("max_wait", float("nan"), "--max-wait must be a finite number of seconds, got nan"),
        ("margin", 20.5, "--margin must be at most 20 s, got 20.5"),
        ("margin", -1.0, "--margin must be >= 0"),
        ("timeout", 0.0, "--timeout must be > 0"),
    ],
)
def test_build_setup_refuses_unusable_times_naming_the_option(
    option: str, value: float, message: str, tmp_path: Path
) -> None:
    from conformance.runner import BadInput, build_setup

    with pytest.raises(BadInput) as caught:
        build_setup(
            impl="conformance.reference:factory", cmd=None, profile=None, clock="wall",
            seed=0, examples=1, work_dir=tmp_path, **{option: value},
        )  # fmt: skip
    assert message in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # checked before anything was made


def test_the_largest_margin_keeps_the_terminate_deadline_case_passing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--clock", "wall",
        "--margin", "20", "--max-wait", "0.5", "--examples", "1", "-q",
        "--case", "KS-STATE-TERMINATE-DEADLINE", "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    case = json.loads((out / "conformance.json").read_text())["cases"][0]
    assert case["verdict"] == "PASS", case


def test_vectors_bad_output_path_exits_2() -> None:
    code, output = invoke("vectors", "--profile", "v1", "-o", "/nonexistent/dir/v.json")
    assert code == 2 and "cannot write" in output and "Traceback" not in output


def test_help_for_both_commands() -> None:
    for command in ("conform", "vectors"):
        code, output = invoke(command, "--help")
        assert code == 0 and "Usage:" in output


def test_ctrl_c_keeps_the_verdicts_so_far_and_claims_no_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.runner

    real = conformance.runner.run_case
    started: list[str] = []

    def run_case(setup: object, case: conformance.runner.Case) -> object:
        started.append(case.id)
        if len(started) == 4:  # Ctrl-C during the fourth case
            raise KeyboardInterrupt
        return real(setup, case)  # type: ignore[arg-type]

    monkeypatch.setattr(conformance.runner, "run_case", run_case)
    out = tmp_path / "out"
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--level", "L1",
        "--examples", "2", "--out", str(out), "-q",
    )  # fmt: skip
    assert code == 130, output
    report = json.loads((out / "conformance.json").read_text())
    assert [c["id"] for c in report["cases"]] == started[:3]
    assert report["interrupted"]["case"] == started[3]
    assert report["interrupted"]["not_run"] >= 1
    assert report["level"]["reached"] is None and report["exit_code"] == 130
    assert f"Interrupted (Ctrl-C) in {started[3]}: 3 of" in output
    assert f"interrupted in {started[3]}" in (out / "summary.md").read_text()
    assert "Stopped:" in (out / "conformance.html").read_text()
