"""``killswitch report``: render reports, and compare two runs.

``killswitch report RESULTS.json... [--out DIR] [--format html,md,json,junit]``
is short for ``killswitch report render ...``. Exit codes: 0 ok, 1 an input
failed its expectations (render) or a metric regressed (compare), 2 bad input.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from reports.load import ReportInputError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _fail_input(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


class _DefaultRender(click.Group):
    """A group whose arguments go to ``render`` unless they name a subcommand,
    so ``killswitch report a.json`` and ``killswitch report compare a b`` both work."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["render", *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["RESULTS.json... [--out DIR] [--format LIST]", "| COMMAND [ARGS]..."]


@click.group(cls=_DefaultRender, context_settings=CONTEXT)
def report() -> None:
    """Render SLA and conformance reports, or compare two runs.

    \b
    killswitch report RESULTS.json... [--out DIR] [--format html,md,json,junit]
    killswitch report compare BASE.json NEW.json [--tolerance 0.1]

    Inputs are the simulator's results.json and the conformance suite's
    conformance.json, in any mix. See `killswitch report render --help`.
    """


@report.command()
@click.argument(
    "inputs", nargs=-1, required=True, metavar="RESULTS.json...", type=click.Path(path_type=Path)
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("report"),
    show_default=True,
    help="Folder for the report files.",
)
@click.option(
    "--format",
    "formats",
    default="html,md,json,junit",
    show_default=True,
    help="Comma-separated: html (report.html + plots as PNG/SVG), md (summary.md),"
    " json (report.json), junit (junit.xml).",
)
def render(inputs: tuple[Path, ...], out: Path, formats: str) -> None:
    """Render one or more runs (results.json or conformance.json) into OUT.

    Exit 0 when every input passed, 1 when one failed its expectations (the
    report is still written), 2 on bad input.
    """
    from reports.load import load_inputs
    from reports.render import parse_formats, render_reports

    try:
        wanted = parse_formats(formats)
        loaded = load_inputs(list(inputs))
        written = render_reports(list(inputs), out, wanted)
    except ReportInputError as exc:
        _fail_input(str(exc))
    except OSError as exc:
        _fail_input(f"{exc.filename or out}: cannot write the report: {exc.strerror}")
    main = [p for p in written if p.parent == out]
    click.echo(f"report: {written[0]}")
    for path in main[1:]:
        click.echo(f"        {path}")
    if len(written) > len(main):
        click.echo(f"plots:  {len(written) - len(main)} files in {out / 'plots'}")
    failed = [i.label for i in loaded if not i.passed]
    if failed:
        click.echo(f"FAILED: {', '.join(failed)}")
        sys.exit(1)
    click.echo("PASSED")


def _finite_non_negative(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """FloatRange(min=0) lets nan through (nan < 0 is false), and a nan
    tolerance hid every regression."""
    if not math.isfinite(value) or value < 0:
        raise click.BadParameter(f"{value!r} is not a finite number >= 0")
    return value


@report.command("compare")
@click.argument("base", type=click.Path(path_type=Path), metavar="BASE.json")
@click.argument("new", type=click.Path(path_type=Path), metavar="NEW.json")
@click.option(
    "--tolerance",
    type=float,
    callback=_finite_non_negative,
    default=0.1,
    show_default=True,
    help="Relative worsening allowed before a metric counts as a regression.",
)
@click.option(
    "--abs-tolerance",
    type=float,
    callback=_finite_non_negative,
    default=0.0,
    show_default=True,
    help="Seconds a latency may grow on top of the relative tolerance.",
)
def compare_command(base: Path, new: Path, tolerance: float, abs_tolerance: float) -> None:
    """Show the change per metric from BASE to NEW; exit 1 on a regression.

    Latencies (p50, p99, max per phase) regress when NEW > BASE x (1 + tolerance)
    + abs-tolerance; SLA compliance regresses when its miss rate grows by more
    than the tolerance; expectations regress when they passed in BASE and fail
    in NEW. Works on two results.json or two conformance.json files; for
    conformance runs a lower level reached, an interrupted NEW run, a case newly
    FAIL, or a case that passed in BASE and is missing or not run in NEW is a
    regression.
    """
    from reports.compare import compare, format_changes
    from reports.load import load_inputs

    try:
        base_input, new_input = load_inputs([base, new])
        changes = compare(base_input, new_input, tolerance, abs_tolerance)
    except ReportInputError as exc:
        _fail_input(str(exc))
    click.echo(f"base: {_describe(base_input.data, base)}")
    click.echo(f"new:  {_describe(new_input.data, new)}")
    if _identity(base_input.data) != _identity(new_input.data):
        click.echo("note: BASE and NEW are different scenarios or implementations")
    if not changes:
        click.echo("no differences")
    for line in format_changes(changes):
        click.echo(line)
    regressions = [c for c in changes if c.regression]
    if regressions:
        click.echo(
            f"{len(regressions)} regression(s) beyond tolerance {tolerance:g}"
            f" (+{abs_tolerance:g} s): " + ", ".join(c.metric for c in regressions)
        )
        sys.exit(1)
    click.echo(f"no regression beyond tolerance {tolerance:g}")


def _identity(data: dict[str, Any]) -> str:
    from reports.load import implementation_name

    scenario = data.get("scenario")
    return str(scenario.get("name")) if isinstance(scenario, dict) else implementation_name(data)


def _describe(data: dict[str, Any], path: Path) -> str:
    scenario = data.get("scenario")
    if isinstance(scenario, dict):
        return (
            f"{path} (scenario {scenario.get('name')}, seed {data.get('seed')},"
            f" {data.get('replications')} replications)"
        )
    return f"{path} (conformance, {len(data.get('cases', []))} cases)"
