"""The pytest plugin (entry point pytest11): one test item per case, the seed
printed and reproducible, nothing added when its options are not used."""

from __future__ import annotations

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
