"""The pytest plugin (entry point pytest11): one test item per case, the seed
printed and reproducible, nothing added when its options are not used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_plugin_runs_the_suite_as_test_items(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        "--killswitch-impl=conformance.reference:factory",
        "--killswitch-level=L1",
        "--killswitch-examples=3",
        "--killswitch-seed=1234",
        "-v",
    )  # fmt: skip
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        [
            "*killswitch conformance: conformance.reference:factory, seed 1234*",
            "*killswitch::KS-L1-KILL PASSED*",
            "*level reached L1 (requested L1), seed 1234 (reproduce with --killswitch-seed=1234)*",
        ]
    )


def test_plugin_reports_failures_and_unsupported(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        f"--killswitch-impl={EXAMPLES / 'naive_adapter.py'}:factory",
        "--killswitch-level=L3",
        "--killswitch-examples=3",
        "--killswitch-seed=9",
        f"--killswitch-out={tmp_path / 'out'}",
        "-k", "TARGET or CASCADE",
        "-rs",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    # Passed: KS-TARGET-WILDCARD-ALLOWED and KS-SIG-TAMPER-target_instance_id.
    assert (outcomes["passed"], outcomes["failed"], outcomes["skipped"]) == (2, 3, 2)
    assert outcomes["deselected"] > 20
    result.stdout.fnmatch_lines(
        [
            "*KS-TARGET-ASSET (KS-012) FAILED*asset 'asset-other'*",
            "*UNSUPPORTED (capability): needs the feature(s) cascade, not declared*",
        ]
    )
    assert (tmp_path / "out" / "conformance.json").exists()


def test_plugin_is_inert_without_its_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "killswitch conformance" not in result.stdout.str()
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    assert "--killswitch-impl" in help_text and "--killswitch-hypothesis-profile" in help_text


def test_plugin_bad_input_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--killswitch-impl=nope.nope:factory"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*killswitch: factory 'nope.nope:factory': module 'nope' not found*"]
    )


EXITS = """
import sys

from conformance.reference import ReferenceAdapter


class ExitsOnTerminate(ReferenceAdapter):
    def deliver(self, raw, now, via, to=None):
        obs = super().deliver(raw, now, via, to)
        if obs.accepted and obs.state in ("TERMINATING", "TERMINATED"):
            sys.exit(0)  # the seed's _execute_terminate
        return obs
"""


def test_plugin_records_an_implementation_that_exits_as_a_failure(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    (pytester.path / "exits_adapter.py").write_text(EXITS)
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        f"--killswitch-impl={pytester.path / 'exits_adapter.py'}:ExitsOnTerminate",
        "--killswitch-level=L1",
        "--killswitch-examples=3",
        f"--killswitch-out={out}",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    report = json.loads((out / "conformance.json").read_text())
    assert len(report["cases"]) == outcomes["passed"] + outcomes["failed"]
    assert report["exit_code"] == 1 and report["level"]["reached"] is None
    kill = next(c for c in report["cases"] if c["id"] == "KS-L1-KILL")
    assert kill["verdict"] == "FAIL" and "sys.exit()" in kill["detail"]
    assert report["summary"]["FAIL"] == outcomes["failed"]
    result.stdout.fnmatch_lines(["*KS-L1-KILL (*) FAILED: deliver tried to exit*"])


def test_plugin_deselection_claims_no_level(pytester: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        "--killswitch-impl=conformance.reference:factory",
        "--killswitch-level=L1",
        "--killswitch-examples=2",
        f"--killswitch-out={out}",
        "-k", "KS-L1-KILL",
    )  # fmt: skip
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*level reached none (requested L1)*", "*no level is claimed*"])
    report = json.loads((out / "conformance.json").read_text())
    assert report["level"]["reached"] is None and report["exit_code"] == 0
    assert report["selection"]["selected"] == len(report["cases"]) < report["selection"]["of"]


def test_plugin_unwritable_out_is_a_usage_error_before_the_run(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        "--killswitch-impl=conformance.reference:factory",
        f"--killswitch-out={regular / 'out'}",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--killswitch-out=*cannot write reports: Not a directory*"])


CTRL_C = """
import os, signal

from conformance.reference import ReferenceAdapter


class CtrlC(ReferenceAdapter):
    def deliver(self, raw, now, via, to=None):
        if b"TERMINATE" in raw:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C
        return super().deliver(raw, now, via, to)
"""


def test_plugin_ctrl_c_writes_an_interrupted_report(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    (pytester.path / "ctrl_c_adapter.py").write_text(CTRL_C)
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        f"--killswitch-impl={pytester.path / 'ctrl_c_adapter.py'}:CtrlC",
        "--killswitch-level=L1",
        "--killswitch-examples=2",
        f"--killswitch-out={out}",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = json.loads((out / "conformance.json").read_text())
    stop = report["interrupted"]
    assert stop["case"] == "KS-L1-KILL" and stop["not_run_cases"][0] == "KS-L1-KILL"
    assert report["exit_code"] == 130 and report["level"]["reached"] is None
    assert report["cases"] == [] and stop["not_run"] == len(stop["not_run_cases"]) > 1
    result.stdout.fnmatch_lines(["*Interrupted (Ctrl-C) in KS-L1-KILL*"])
