"""The top-level CLI: lazy subcommands, --help everywhere, the demo's decisions."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from killswitch_cli.main import SUBCOMMANDS, main


def test_top_level_help_lists_every_available_subcommand() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("demo", "sim"):
        assert name in result.output


def test_every_subcommand_has_help() -> None:
    runner = CliRunner()
    available = main.list_commands(click.Context(main))
    assert set(available) <= set(SUBCOMMANDS)
    for name in available:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2


def test_demo_rejects_forgery_and_replay_and_accepts_the_real_command() -> None:
    for profile in ("v1", "seed"):
        result = CliRunner().invoke(main, ["demo", "--profile", profile, "--seed", "3"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith(f"seed=3 profile={profile}")
        decisions = {
            line.split("->")[0].strip(): line.split("->")[1].strip()
            for line in lines
            if "->" in line
        }
        assert decisions == {
            "forged signature": "REJECTED BAD_SIGNATURE",
            "for another agent": "REJECTED NOT_FOR_THIS_AGENT",
            "valid TERMINATE": "ACCEPTED",
            "the same bytes again (replay)": "REJECTED REPLAY",
        }
        assert lines[-1] == "state after: TERMINATING; hard kill at now+10 s"


def test_demo_is_deterministic() -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--seed", "5"]).output
    assert first == runner.invoke(main, ["demo", "--seed", "5"]).output


def test_ctrl_c_before_a_subcommand_takes_over_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Ctrl-C while a subcommand's modules load (before it handles interrupts
    # itself) is still an interrupt, not click's "Aborted!" with exit 1.
    import importlib

    real = importlib.import_module

    def interrupted(name: str, package: str | None = None) -> object:
        if name == "sim.cli":
            raise KeyboardInterrupt
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", interrupted)
    result = CliRunner().invoke(main, ["sim", "list"])
    assert result.exit_code == 130
    assert "Aborted" not in result.output


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5"])
def test_report_compare_refuses_a_tolerance_that_is_no_finite_number(value: str) -> None:
    result = CliRunner().invoke(
        main, ["report", "compare", "a.json", "b.json", "--tolerance", value]
    )
    assert result.exit_code == 2
    assert "is not a finite number >= 0" in result.output
