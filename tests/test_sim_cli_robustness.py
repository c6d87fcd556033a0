"""``killswitch sim`` robustness: the same checks for ``run`` and ``swarm``, no
traceback for a bad base scenario, an output folder that an interrupt leaves
intact, bounded options, honest reproduce and digest lines."""

from __future__ import annotations

import shlex
from pathlib import Path

from click.testing import CliRunner, Result

from killswitch_cli.main import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["sim", *args])


def test_top_level_help_lists_the_interrupted_exit_code() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "130 interrupted" in " ".join(result.output.split())


def test_the_reproduce_line_quotes_a_path_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "my dir"
    folder.mkdir()
    path = folder / "s p.toml"
    path.write_text(_bundled("baseline"), encoding="utf-8")
    result = invoke("run", str(path), "--out", str(tmp_path / "out"), "--no-report")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("reproduce: "))
    # The line is a shell command that gives back exactly the same arguments.
    words = shlex.split(line.removeprefix("reproduce: "))
    assert words == ["killswitch", "sim", "run", str(path), "--seed", "1"]


def _bundled(name: str) -> str:
    from sim.scenario import bundled_text

    return bundled_text(name)


def test_reproduce_command_quotes_every_argument() -> None:
    from sim.results import reproduce_command

    results = {
        "seed": 5,
        "replications": 3,
        "scenario": {"source": "a b/$x.toml", "overrides": ["meta.description=two words"]},
    }
    words = shlex.split(reproduce_command(results))
    assert words == ["killswitch", "sim", "run", "a b/$x.toml", "--seed", "5",
                     "--replications", "3", "--set", "meta.description=two words"]  # fmt: skip
