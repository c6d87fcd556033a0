"""``killswitch conform`` and ``killswitch vectors``.

Exit codes: 0 every MUST at the requested level passed (or the vectors were
written; with --case: every selected case did), 1 a MUST failed (or a
replayed counterexample still fails, or its replay is inconclusive), 2 bad
input or usage (with a message saying what and where, never a traceback),
130 the run was interrupted (Ctrl-C), 143 it was terminated (SIGTERM, what CI
cancellation sends): either way the reports still hold every verdict reached
before it, and the implementation's processes are killed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from conformance.outcome import LEVELS


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    def show(result) -> None:  # type: ignore[no-untyped-def]
        if not quiet:
            click.echo(f"  {result.verdict.value:<13} {result.case.id}", err=True)

    return show


#: What the shared renderer (reports/) adds to --out; junit.xml stays the suite's own.
SHARED_FORMATS = ("html", "md", "json")


def _render_shared_report(results: Path, out: Path) -> list[Path]:
    """``report.html``, ``summary.md`` and ``report.json`` from ``conformance.json``,
    by the renderer ``killswitch report`` and ``killswitch sim run`` use. The run's
    results are already written: a rendering failure is a warning, never a lost
    run or a changed exit code."""
    try:
        from reports.render import render_reports

        written = render_reports([results], out, formats=SHARED_FORMATS)
    except Exception as exc:  # any failure of the renderer must not lose the verdicts
        click.echo(
            f"warning: the shared report (report.html, summary.md) could not be rendered:"
            f" {type(exc).__name__}: {exc}; {results} holds the results",
            err=True,
        )
        return []
    return [p for p in written if p.parent == out]


class _Termination:
    """SIGTERM during ``conform``: the Ctrl-C path (reports, cleanup, exit 143)."""

    def __init__(self) -> None:
        #: A SIGTERM arrived.
        self.seen = False
        #: Raise on SIGTERM (while cases run); else only remember it (reports being written).
        self.raising = True

    def handle(self, signum: int, frame: Any) -> None:
        from conformance.adapter import note_stop

        self.seen = True
        if self.raising:
            note_stop("SIGTERM")
            raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[_Termination]:
    termination = _Termination()
    if threading.current_thread() is not threading.main_thread():
        yield termination  # signals go to the main thread only: nothing to handle
        return
    previous = signal.signal(signal.SIGTERM, termination.handle)
    try:
        yield termination
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.option(
    "--impl",
    metavar="MODULE:FACTORY",
    help="In-process implementation: a factory (module:callable or file.py:callable).",
)
@click.option(
    "--cmd",
    "command",
    metavar="COMMAND",
    help="Subprocess implementation speaking conformance/PROTOCOL.md.",
)
@click.option(
    "--profile",
    metavar="seed|v1|MODULE:CLASS",
    help="Wire profile (default: the implementation's first declared, else v1).",
)
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="H",
    show_default=True,
    help="Conformance level to check.",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Hypothesis examples per property.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Run seed: keys, commands and examples derive from it.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("conformance-report"),
    show_default=True,
    help="Directory for conformance.json, junit.xml, conformance.html and counterexamples.",
)
@click.option(
    "--clock",
    type=click.Choice(["injected", "wall"]),
    help="Override the implementation's declared clock mode.",
)
@click.option(
    "--margin",
    type=click.FloatRange(min=0, max=20),
    default=2.0,
    show_default=True,
    help="Wall clock: seconds boundary cases sit inside/outside a limit (at most 20:"
    " cases ask for grace periods of up to 3 margins, and grace is capped at 60 s).",
)
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Wall clock: longest real wait per step; longer cases are UNSUPPORTED.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.01),
    default=5.0,
    show_default=True,
    help="Subprocess: seconds to wait for each reply.",
)
@click.option(
    "--case",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="Run only cases whose id matches (glob, repeatable). A run of some cases"
    " claims no level; its exit code reflects the selected cases.",
)
@click.option(
    "--replay",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replay one counterexample file against the implementation instead (at the"
    " recorded times with an injected clock; exit 1 while it still fails or when a"
    " wall-clock replay is inconclusive).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to make the scratch directory for instances' state (default: /dev/shm"
    " or the system temp); the scratch directory is removed afterwards.",
)
@click.option("-q", "--quiet", is_flag=True, help="No per-case progress on stderr.")
def conform(**options: Any) -> None:
    """Test a kill-switch listener against SPEC.md.

    The implementation is plugged in through the adapter contract: in-process
    with --impl MODULE:FACTORY (e.g. conformance.reference:factory), or as any
    program with --cmd "COMMAND" speaking newline-delimited JSON
    (conformance/PROTOCOL.md). Prints a table of cases (id, title, requirement,
    verdict), writes reports to --out, and exits 0 when every MUST up to
    --level passes, 1 otherwise, 2 on bad input. With --case only the
    selected cases run: no level is claimed and the exit code reflects them.
    Ctrl-C stops the run and still writes the reports for the cases done
    (exit 130, no level claimed); so does SIGTERM (exit 143).
    """
    with _sigterm_as_interrupt() as termination:
        _conform(termination, **options)


def _conform(
    termination: _Termination,
    *,
    impl: str | None,
    command: str | None,
    profile: str | None,
    level: str,
    examples: int,
    seed: int,
    out: Path,
    clock: str | None,
    margin: float,
    max_wait: float,
    timeout: float,
    patterns: tuple[str, ...],
    replay: Path | None,
    work_dir: Path | None,
    quiet: bool,
) -> None:
    from conformance import report
    from conformance.runner import BadInput, build_setup, cleanup, run_suite

    if replay is None:
        # Before the run: a bad --out found afterwards would cost every verdict.
        problem = report.unwritable(out)
        if problem is not None:
            raise click.UsageError(f"--out {out}: cannot write reports there: {problem}")
    try:
        setup = build_setup(
            impl=impl,
            cmd=command,
            profile=profile,
            clock=clock,
            seed=seed,
            examples=examples,
            margin=margin,
            max_wait=max_wait,
            timeout=timeout,
            work_dir=work_dir,
        )
    except BadInput as exc:
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:
        how, code = ("SIGTERM", 143) if termination.seen else ("Ctrl-C", 130)
        click.echo(f"Interrupted ({how}) before the run started: no reports written", err=True)
        sys.exit(code)
    target = impl or f"--cmd {command}"
    try:
        if replay is not None:
            from conformance.replay import ReplayError, replay_file

            try:
                replayed = replay_file(replay, setup)
            except ReplayError as exc:
                raise click.UsageError(str(exc)) from None
            click.echo("\n".join(replayed.lines))
            sys.exit(replayed.exit_code)
        only = None
        if patterns:
            only = lambda case: any(fnmatch.fnmatch(case.id, p) for p in patterns)  # noqa: E731
        click.echo(
            f"seed {seed} · profile {setup.profile_name} · clock {setup.clock_mode}", err=True
        )
        result = run_suite(
            setup,
            level,
            target=target,
            only=only,
            selected_by=f"--case {' '.join(patterns)}",
            progress=_progress(quiet),
        )
        # The verdicts are in: a SIGTERM now is remembered, and the reports still written.
        termination.raising = False
        if patterns and not result.results and result.interrupted is None:
            raise click.UsageError(f"--case {' '.join(patterns)} matches no case")
        if result.interrupted is not None:
            exit_code = result.interrupted.exit_code
        else:
            exit_code = 0 if result.ok else 1
        try:
            paths = report.write_all(result, out, exit_code)
            log = setup.work_dir / "implementation.stderr.log"
            if log.exists():
                shutil.copy(log, out / log.name)
        except OSError as exc:
            # --out was writable before the run; the verdicts still reach the user.
            click.echo(report.table(result))
            raise click.UsageError(
                f"--out {out}: cannot write reports: {exc}; the verdicts are in the table above"
            ) from None
        click.echo(report.table(result))
        rendered = _render_shared_report(paths["json"], out)
        click.echo(f"Reports: {', '.join(str(p) for p in (*paths.values(), *rendered))}")
    except KeyboardInterrupt:
        # Outside the suite run (a replay, say): no verdicts to keep, but clean up.
        how, code = ("SIGTERM", 143) if termination.seen else ("Ctrl-C", 130)
        click.echo(f"Interrupted ({how})", err=True)
        exit_code = code
    finally:
        termination.raising = False
        cleanup(setup)
    if termination.seen and exit_code not in (130, 143):
        click.echo("Terminated (SIGTERM) after the run; the reports are complete", err=True)
        exit_code = 143
    sys.exit(exit_code)


@click.command()
@click.option(
    "--profile",
    type=click.Choice(["seed", "v1"]),
    default="v1",
    show_default=True,
    help="Wire profile of the vectors.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write (JSON).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the test keys.")
def vectors(profile: str, output: Path, seed: int) -> None:
    """Write Wycheproof-style test vectors for a profile.

    Groups per algorithm with the public key (PEM and JWK), tests with tcId,
    comment, flags (bug types such as AUTH_BYPASS, REPLAY, STALE, EXPIRY,
    CANONICALIZATION), the message, now, and the expected result and reason.
    The same profile and seed always give the same file.
    """
    from conformance import vectors as vectors_module

    document = vectors_module.build(profile, seed)
    try:
        output.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise click.UsageError(f"-o {output}: cannot write: {exc}") from None
    click.echo(
        f"{document['numberOfTests']} test vectors for profile {profile} written to {output}"
    )
