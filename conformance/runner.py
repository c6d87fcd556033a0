"""Running the suite: set up a run, run each case, decide verdicts and the level.

Verdicts: PASS; FAIL (a MUST violated, or the implementation misbehaved at the
protocol level); NON-STRICT (a SHOULD violated); INFORMATIONAL (figures);
UNSUPPORTED (a feature not declared, a limitation of the profile, or a wait
too long for wall-clock mode).

Level reached: the highest level L such that no MUST case at L or below
FAILED or is UNSUPPORTED for a missing required feature (the optional
watchdog excepted). Profile limitations block only H (SPEC.md §1.3: no L1-L3
requirement is a profile limitation); clock limitations block nothing but are
listed in the report.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.adapter import (
    CLOCK_MODES,
    BadTarget,
    Capabilities,
    ClockMode,
    Factory,
    GuardedFactory,
    ImplementationError,
    Unresponsive,
    check_stop,
    escaped,
    load_factory,
    stop_requested,
    watch_interrupts,
)
from conformance.catalog import Case, cases_up_to
from conformance.clock import ClockUnsupported
from conformance.context import Context, Setup
from conformance.driver import ProfileDriver
from conformance.hypo import case_seed
from conformance.keyring import Keyring
from conformance.outcome import LEVELS, CaseFailure, Info, Unsupported, Verdict, level_rank
from conformance.profiles import resolve_profile
from killswitch import Algorithm

#: Features whose absence does not block a level (SPEC.md: "if offered").
OPTIONAL_FEATURES = frozenset({"watchdog"})
#: SPEC.md's cap on a grace period (s); wall-clock cases ask for up to 3 margins of grace.
GRACE_CAP = 60.0
#: The largest ``--margin``: 3 margins of grace must stay within :data:`GRACE_CAP`.
MAX_MARGIN = GRACE_CAP / 3
#: After this many consecutive cases the implementation did not answer, the rest are not run.
UNRESPONSIVE_LIMIT = 3


class BadInput(ValueError):
    """A user mistake on the command line or in the implementation's declaration."""


@dataclass
class CaseResult:
    case: Case
    verdict: Verdict
    detail: str = ""
    limitation: str | None = None
    transcript: dict[str, Any] | None = None
    example: str | None = None
    figures: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    #: How wall-clock mode changed this case (None in injected mode or if unchanged).
    clock_change: str | None = None
    counterexample_file: str | None = None
    #: The implementation did not answer (timeout) or could not be started.
    unresponsive: bool = False

    @property
    def blocks_level(self) -> str | None:
        """The level this result keeps the implementation from reaching, if any."""
        case = self.case
        if case.strength != "MUST" or case.informational:
            return None
        if self.verdict is Verdict.FAIL:
            return case.level
        if self.verdict is Verdict.UNSUPPORTED:
            if self.limitation == "profile":
                return "H"
            # A case about an optional feature (the watchdog, even combined with
            # pause) is optional as a whole; a missing pause blocks through its own cases.
            if self.limitation == "capability" and not case.needs & OPTIONAL_FEATURES:
                return case.level
        return None


@dataclass(frozen=True)
class Interruption:
    """Where Ctrl-C (or SIGTERM) stopped a suite run."""

    case: str
    not_run: int
    #: The cases not run, the one Ctrl-C stopped in first (when known).
    pending: tuple[Case, ...] = ()
    #: What stopped it: "Ctrl-C" (SIGINT) or "SIGTERM" (CI cancellation).
    how: str = "Ctrl-C"

    def describe(self, ran: int) -> str:
        return (
            f"Interrupted ({self.how}) in {self.case}: {ran} of {ran + self.not_run} cases ran;"
            " no level is claimed"
        )

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process the signal killed."""
        return 143 if self.how == "SIGTERM" else 130


@dataclass(frozen=True)
class Selection:
    """A run of some of the cases only (``--case``, pytest's ``-k``): a level is a
    claim about every case up to it, so none is claimed."""

    #: How the cases were chosen, for messages (``--case KS-L1-*``).
    how: str
    #: Cases selected, and cases up to the requested level.
    selected: int
    of: int

    def describe(self) -> str:
        return (
            f"Only {self.selected} of {self.of} cases were selected ({self.how}):"
            " no level is claimed; the exit code reflects the selected cases only"
        )


@dataclass
class RunResult:
    setup: Setup
    target: str
    level_requested: str
    results: list[CaseResult]
    seconds: float
    clock_declared: ClockMode
    examples_run: int = 0
    #: Set when Ctrl-C stopped the run: the case it stopped in and how many
    #: cases were left unrun (that one included). No level is claimed then.
    interrupted: Interruption | None = None
    #: Set when only some of the cases ran (``--case``). No level is claimed then.
    selection: Selection | None = None

    @property
    def level_claimed(self) -> str | None:
        """The level the reports claim: none when only some cases ran (a level is a
        claim about every case up to it), else :attr:`level_reached`."""
        return None if self.selection is not None else self.level_reached

    @property
    def level_reached(self) -> str | None:
        """The highest level the cases that ran support (None if interrupted: the
        unrun cases could block any level). See :attr:`level_claimed` for a subset."""
        if self.interrupted is not None:
            return None
        blocked = {r.blocks_level for r in self.results} - {None}
        reached = None
        for level in LEVELS[: level_rank(self.level_requested) + 1]:
            if level in blocked:
                break
            reached = level
        return reached

    @property
    def ok(self) -> bool:
        """No case that ran keeps the requested level from being reached, and the
        run was not interrupted. For a full run: the requested level is reached."""
        if self.interrupted is not None:
            return False
        rank = level_rank(self.level_requested)
        return not any(
            r.blocks_level is not None and level_rank(r.blocks_level) <= rank for r in self.results
        )

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.results if r.verdict is verdict)


def build_setup(
    *,
    impl: str | None,
    cmd: str | None,
    profile: str | None,
    clock: str | None,
    seed: int,
    examples: int,
    margin: float = 2.0,
    max_wait: float = 5.0,
    timeout: float = 5.0,
    work_dir: Path | None = None,
) -> Setup:
    """Load the implementation and fix everything for a run. BadInput on user mistakes."""
    if (impl is None) == (cmd is None):
        raise BadInput("give exactly one of --impl MODULE:FACTORY or --cmd COMMAND")
    if examples < 1:
        raise BadInput(f"--examples must be at least 1, got {examples}")
    if clock is not None and clock not in CLOCK_MODES:
        raise BadInput(f"--clock must be one of {', '.join(CLOCK_MODES)}, got {clock!r}")
    for option, value, low, high in (
        ("--margin", margin, 0.0, MAX_MARGIN),
        ("--max-wait", max_wait, 0.0, None),
        ("--timeout", timeout, None, None),
    ):
        if not math.isfinite(value):
            raise BadInput(f"{option} must be a finite number of seconds, got {value!r}")
        if low is not None and value < low:
            raise BadInput(f"{option} must be >= {low:g}, got {value:g}")
        if high is not None and value > high:
            raise BadInput(
                f"{option} must be at most {high:g} s, got {value:g}: wall-clock cases ask"
                f" for grace periods of up to 3 margins, and a grace period is capped at"
                f" {GRACE_CAP:g} s"
            )
    if timeout <= 0:
        raise BadInput(f"--timeout must be > 0, got {timeout:g}")
    work = scratch_dir(work_dir)
    factory: Factory | None = None
    try:
        factory, capabilities = _load_implementation(impl, cmd, timeout, work)
        profile_name = _choose_profile(profile, capabilities)
        try:
            driver = ProfileDriver(resolve_profile(profile_name), profile_name)
        except BadTarget as exc:
            raise BadInput(str(exc)) from None
        except Exception as exc:  # a user's profile class that fails on a sample command
            raise BadInput(
                f"--profile {profile_name}: the profile failed on a sample command:"
                f" {type(exc).__name__}: {exc}"
            ) from None
        algorithms = [a for a in driver.algorithms if a.value in capabilities.algorithms]
        if not algorithms:
            raise BadInput(
                f"no signature algorithm in common: profile {profile_name} signs with"
                f" {[a.value for a in driver.algorithms]}, the implementation declares"
                f" {list(capabilities.algorithms)}"
            )
        algorithms.sort(key=_algorithm_preference(profile_name))
        mode: ClockMode = clock if clock is not None else capabilities.clock
        return Setup(
            factory=factory,
            capabilities=capabilities,
            driver=driver,
            keyring=Keyring(seed, algorithms),
            clock_mode=mode,
            seed=seed,
            examples=examples,
            work_dir=work,
            margin=margin,
            max_wait=max_wait,
        )
    except BaseException:
        # Bad input (or Ctrl-C) before the run: leave no process and no scratch directory.
        close = getattr(factory, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()
        shutil.rmtree(work, ignore_errors=True)
        raise


def _load_implementation(
    impl: str | None, cmd: str | None, timeout: float, work: Path
) -> tuple[Factory, Capabilities]:
    """The factory and declared capabilities of ``--impl`` or ``--cmd``."""
    if impl is not None:
        try:
            factory = GuardedFactory(load_factory(impl))
        except BadTarget as exc:
            raise BadInput(str(exc)) from None
        with watch_interrupts():
            try:
                probe = factory()
            except Exception as exc:
                raise BadInput(
                    f"--impl {impl}: calling the factory failed: {_raised(exc)}"
                ) from None
            capabilities = getattr(probe, "capabilities", None)
            if not isinstance(capabilities, Capabilities):
                raise BadInput(
                    f"--impl {impl}: the object has no 'capabilities' attribute of type"
                    " conformance.adapter.Capabilities"
                )
            close = getattr(probe, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:
                    raise BadInput(f"--impl {impl}: close() failed: {_raised(exc)}") from None
        return factory, capabilities
    from conformance.subprocess_adapter import SubprocessFactory

    try:
        process = SubprocessFactory(cmd or "", timeout=timeout, work_dir=work)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    except ImplementationError as exc:
        raise BadInput(f"--cmd {cmd!r}: describe failed: {exc}") from None
    return process, process.capabilities


def _raised(exc: Exception) -> str:
    """What an exception says, its type named unless it is the harness's own report."""
    return str(exc) if isinstance(exc, ImplementationError) else f"{type(exc).__name__}: {exc}"


def scratch_dir(parent: Path | None = None) -> Path:
    """A fresh directory (inside ``parent`` if given) for the run's state
    directories, RAM-backed when possible: instances' state is thrown away
    after each example, and on a disk the fsyncs of thousands of short-lived
    stores would dominate the run time. Removed by :func:`cleanup`."""
    try:
        if parent is None:
            shm = Path("/dev/shm")
            parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        else:
            parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="killswitch-conform-", dir=parent))
    except OSError as exc:
        where = f"--work-dir {parent}" if parent is not None else "the system temp directory"
        raise BadInput(
            f"{where}: cannot make a scratch directory there: {exc.strerror or exc}"
        ) from None


def _choose_profile(requested: str | None, capabilities: Capabilities) -> str:
    declared = capabilities.profiles
    if requested is None:
        return declared[0] if declared else "v1"
    if declared and requested not in declared:
        raise BadInput(
            f"--profile {requested}: the implementation speaks only {', '.join(declared)}"
        )
    return requested


def _algorithm_preference(profile: str) -> Callable[[Algorithm], int]:
    # The primary key: Ed25519 for v1, RS256 for seed (the seed's control plane).
    order = [Algorithm.RS256, Algorithm.ES256] if profile == "seed" else [Algorithm.ED25519]
    return lambda a: order.index(a) if a in order else len(order)


def run_case(setup: Setup, case: Case) -> CaseResult:
    missing = case.needs - setup.capabilities.features
    if missing:
        return CaseResult(
            case,
            Verdict.UNSUPPORTED,
            f"needs the feature(s) {', '.join(sorted(missing))}, not declared",
            limitation="capability",
        )
    with watch_interrupts():
        return _run_case(setup, case)


def _run_case(setup: Setup, case: Case) -> CaseResult:
    ctx = Context(setup, case.id, case_seed(setup.seed, case.id))
    ctx.requirements = case.requirements
    started = time.perf_counter()
    result: CaseResult
    try:
        outcome = case.run(ctx)
        if case.informational:
            info = outcome if isinstance(outcome, Info) else Info("done")
            result = CaseResult(case, Verdict.INFORMATIONAL, info.text, figures=info.figures)
        else:
            result = CaseResult(case, Verdict.PASS)
    except CaseFailure as failure:
        verdict = Verdict.FAIL if case.strength == "MUST" else Verdict.NON_STRICT
        result = CaseResult(
            case,
            verdict,
            failure.message,
            transcript=failure.transcript or ctx.transcript(),
            example=failure.example,
        )
    except Unsupported as unsupported:
        result = CaseResult(
            case, Verdict.UNSUPPORTED, unsupported.reason, limitation=unsupported.limitation
        )
    except ClockUnsupported as exc:
        result = CaseResult(case, Verdict.UNSUPPORTED, f"wall clock: {exc}", limitation="clock")
    except ImplementationError as exc:
        transcript = getattr(exc, "transcript", None) or ctx.transcript()
        result = CaseResult(case, Verdict.FAIL, str(exc), transcript=transcript)
        result.unresponsive = isinstance(exc, Unresponsive)
    except Exception as exc:  # a bug in the suite or in a user profile class: say so
        result = CaseResult(
            case,
            Verdict.FAIL,
            f"internal error in the suite: {type(exc).__name__}: {exc}\n"
            + traceback.format_exc(limit=4),
        )
    except BaseException as exc:
        # sys.exit() or a KeyboardInterrupt of its own from code the guard does not
        # wrap (a factory set on the Setup directly, a profile class): fail the case
        # and go on. Only the user's Ctrl-C stops the run.
        error = escaped("the implementation", exc)
        if error is None:
            raise
        result = CaseResult(case, Verdict.FAIL, str(error), transcript=ctx.transcript())
    finally:
        with contextlib.suppress(Exception):
            ctx.close()
    result.seconds = time.perf_counter() - started
    if setup.clock_mode == "wall" and case.wall_clock and result.verdict is not Verdict.UNSUPPORTED:
        result.clock_change = case.wall_clock
    elif setup.clock_mode == "wall" and result.limitation == "clock":
        result.clock_change = "not decidable with the wall clock"
    return result


def run_suite(
    setup: Setup,
    level: str,
    *,
    target: str,
    only: Callable[[Case], bool] | None = None,
    selected_by: str = "--case",
    progress: Callable[[CaseResult], None] | None = None,
) -> RunResult:
    """Run the cases up to ``level`` (those ``only`` accepts, if given: a
    :class:`Selection` named ``selected_by`` when that leaves some out)."""
    if level not in LEVELS:
        raise BadInput(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
    started = time.perf_counter()
    results: list[CaseResult] = []
    silent_in_a_row = 0
    stopped_reason = ""
    interrupted = None
    every = cases_up_to(setup, level)
    chosen = [case for case in every if only is None or only(case)]
    selection = None
    if len(chosen) < len(every):
        selection = Selection(selected_by, len(chosen), len(every))
    # One watch for the whole run: a Ctrl-C between cases (or in ``progress``) is
    # the user's too, and one recorded but swallowed where it landed (Python only
    # prints "Exception ignored in: ... gc_callback ... KeyboardInterrupt") is
    # acted on after the case it arrived in: the run stops, never goes on to exit 0.
    try:
        with watch_interrupts():
            for case in chosen:
                check_stop()
                if silent_in_a_row >= UNRESPONSIVE_LIMIT:
                    result = CaseResult(case, Verdict.FAIL, f"not run: {stopped_reason}")
                else:
                    result = run_case(setup, case)
                    # A stop recorded during the case: its verdict may come from a
                    # half-run case, so it counts as the one the run stopped in.
                    check_stop()
                    silent_in_a_row = silent_in_a_row + 1 if result.unresponsive else 0
                    if silent_in_a_row >= UNRESPONSIVE_LIMIT:
                        stopped_reason = (
                            f"the implementation was unresponsive in {UNRESPONSIVE_LIMIT} cases"
                            f" in a row (last, {case.id}: {result.detail})"
                        )
                results.append(result)
                if progress is not None:
                    progress(result)
            # A stop recorded after the last case still stops the run (exit 130/143).
            check_stop()
    except KeyboardInterrupt:
        # Keep the verdicts so far: the caller still writes its reports.
        index = min(len(results), len(chosen) - 1) if chosen else 0
        stopped_in = chosen[index].id if chosen else "(no case)"
        interrupted = Interruption(
            stopped_in,
            len(chosen) - len(results),
            tuple(chosen[len(results) :]),
            how=stop_requested() or "Ctrl-C",
        )
    return RunResult(
        setup=setup,
        target=target,
        level_requested=level,
        results=results,
        seconds=time.perf_counter() - started,
        clock_declared=setup.capabilities.clock,
        interrupted=interrupted,
        selection=selection,
    )


def cleanup(setup: Setup) -> None:
    close = getattr(setup.factory, "close", None)
    if callable(close):
        close()
    shutil.rmtree(setup.work_dir, ignore_errors=True)
