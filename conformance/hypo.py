"""Running Hypothesis programmatically for the suite.

Each property runs with ``database=None`` and ``@seed(case seed)``, so a run
is a pure function of ``--seed``. On failure Hypothesis shrinks and replays
the minimal example last; the context's transcript at that moment is the
counterexample. An :class:`~conformance.adapter.ImplementationError` (crash,
hang) is *sticky*: every later example re-raises it without touching the
implementation, so Hypothesis's shrinking costs nothing and cannot hang.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from conformance.adapter import ImplementationError, check_stop
from conformance.context import Context
from conformance.outcome import CaseFailure

T = TypeVar("T")

#: Hypothesis settings profiles for the suite (also registered for pytest users).
PROFILE_EXAMPLES = {"ci": 50, "thorough": 1000}


def register_profiles() -> None:
    """Register ``ci`` and ``thorough`` with Hypothesis unless the user already has."""
    for name, examples in PROFILE_EXAMPLES.items():
        try:
            settings.get_profile(name)
        except Exception:  # InvalidArgument: not registered yet
            settings.register_profile(
                name,
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )


def case_seed(run_seed: int, case_id: str) -> int:
    """A per-case seed: stable across runs, independent of case order."""
    digest = hashlib.sha256(f"{run_seed}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _settings(examples: int, **extra: Any) -> settings:
    return settings(
        max_examples=max(1, examples),
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        print_blob=False,
        **extra,
    )


class _Sticky:
    """Remembers the first implementation error and the failing transcript."""

    def __init__(self) -> None:
        self.error: ImplementationError | None = None
        self.transcript: dict[str, Any] | None = None
        self.example: str | None = None

    def guard(self, ctx: Context, thunk: Callable[[], None], example: str) -> None:
        if self.error is not None:
            raise self.error
        try:
            thunk()
        except ImplementationError as exc:
            self.error = exc
            self.transcript = ctx.transcript()
            self.example = example
            raise
        except CaseFailure:
            self.transcript = ctx.transcript()
            self.example = example
            raise

    def finish(self, exc: BaseException) -> BaseException:
        if isinstance(exc, Flaky) and self.error is not None:
            # After its first error the implementation is failed at once on every
            # later example, which Hypothesis reports as inconsistent data
            # generation: the error itself is what happened.
            exc = self.error
        if isinstance(exc, CaseFailure | ImplementationError):
            if isinstance(exc, CaseFailure):
                exc.transcript = self.transcript
                exc.example = self.example
            else:
                exc.transcript = self.transcript  # type: ignore[attr-defined]
            return exc
        if isinstance(exc, Flaky):
            failure = CaseFailure(f"the implementation is not deterministic: {exc}")
            failure.transcript = self.transcript
            return failure
        return exc


def forall(
    ctx: Context,
    strategy: st.SearchStrategy[T],
    body: Callable[[T], None],
    *,
    examples: int | None = None,
) -> None:
    """Check ``body(example)`` for examples drawn from ``strategy``; each example
    starts fresh (:meth:`Context.begin_example`). Raises the shrunk failure."""
    sticky = _Sticky()

    def test(example: T) -> None:
        check_stop()  # a Ctrl-C whose KeyboardInterrupt was swallowed (gc callback)
        ctx.begin_example()
        sticky.guard(ctx, lambda: body(example), repr(example))

    runner = hypothesis_seed(ctx.seed)(
        _settings(examples or ctx.setup.examples)(given(strategy)(test))
    )
    try:
        runner()
    except BaseException as exc:
        raise sticky.finish(exc) from None
    finally:
        ctx.close()


def run_machine(
    ctx: Context,
    make: Callable[[], RuleBasedStateMachine],
    *,
    examples: int | None = None,
    steps: int = 25,
) -> None:
    """Run a RuleBasedStateMachine; its rules/invariants raise CaseFailure."""
    sticky = _Sticky()

    class Guarded:
        def __call__(self) -> RuleBasedStateMachine:
            check_stop()  # a Ctrl-C whose KeyboardInterrupt was swallowed (gc callback)
            ctx.begin_example()
            return make()

    factory = hypothesis_seed(ctx.seed)(Guarded())
    machine_settings = _settings(examples or ctx.setup.examples, stateful_step_count=steps)
    ctx.machine_guard = sticky  # type: ignore[attr-defined]
    try:
        # Hypothesis types the factory as the class; any callable returning a machine works.
        run_state_machine_as_test(factory, settings=machine_settings)  # type: ignore[arg-type, no-untyped-call, unused-ignore]
    except BaseException as exc:
        raise sticky.finish(exc) from None
    finally:
        ctx.close()
