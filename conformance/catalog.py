"""The registry of conformance cases.

A case is a function ``run(ctx) -> None | Info`` plus metadata: an id, a
title, SPEC.md requirement ids, a level and MUST/SHOULD. It passes by
returning, fails by raising :class:`~conformance.outcome.CaseFailure`, and is
undecidable by raising :class:`~conformance.outcome.Unsupported`. Most cases
are properties checked with Hypothesis (:func:`conformance.hypo.forall`).

Modules under ``conformance/cases/`` register cases with :func:`case`; some
generate one case per wire field with :func:`register`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.context import Context, Setup
from conformance.outcome import Info, Strength, level_rank
from conformance.requirements import requirements_for

CaseBody = Callable[[Context], "Info | None"]

#: Modules holding cases, in report order.
CASE_MODULES = (
    "conformance.cases.basic",
    "conformance.cases.signature",
    "conformance.cases.transports",
    "conformance.cases.canonical",
    "conformance.cases.targeting",
    "conformance.cases.time",
    "conformance.cases.replay",
    "conformance.cases.statemachine",
    "conformance.cases.watchdog",
    "conformance.cases.cascade",
    "conformance.cases.robustness",
    "conformance.cases.timing",
    "conformance.cases.reasons",
)


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    level: str
    strength: Strength
    run: CaseBody
    #: Features the implementation must declare (else UNSUPPORTED).
    needs: frozenset[str] = frozenset()
    #: How wall-clock mode changes this case (None: it does not).
    wall_clock: str | None = None
    #: Whether the case is a timing figure (INFORMATIONAL, never fails).
    informational: bool = False
    #: Only for profiles this predicate accepts (e.g. fields present on the wire).
    applies: Callable[[Setup], bool] | None = field(default=None, compare=False)

    @property
    def requirements(self) -> tuple[str, ...]:
        return requirements_for(self.id)


_REGISTRY: list[Case] = []
_GENERATORS: list[Callable[[Setup], list[Case]]] = []


def case(
    id: str,
    title: str,
    *,
    level: str,
    strength: Strength = "MUST",
    needs: tuple[str, ...] = (),
    wall_clock: str | None = None,
    informational: bool = False,
    applies: Callable[[Setup], bool] | None = None,
) -> Callable[[CaseBody], CaseBody]:
    """Register the decorated function as a case (``applies``: only for runs it accepts)."""

    def decorate(fn: CaseBody) -> CaseBody:
        _REGISTRY.append(
            Case(
                id, title, level, strength, fn, frozenset(needs), wall_clock, informational, applies
            )
        )
        return fn

    return decorate


def generator(fn: Callable[[Setup], list[Case]]) -> Callable[[Setup], list[Case]]:
    """Register a function producing cases that depend on the run (e.g. per wire field)."""
    _GENERATORS.append(fn)
    return fn


def _load() -> None:
    for name in CASE_MODULES:
        importlib.import_module(name)


def all_cases(setup: Setup) -> list[Case]:
    """Every case for this run, in report order (level, then registration)."""
    _load()
    cases = list(_REGISTRY)
    for make in _GENERATORS:
        cases.extend(make(setup))
    seen: set[str] = set()
    for c in cases:
        if c.id in seen:
            raise RuntimeError(f"duplicate case id {c.id}")
        seen.add(c.id)
    order = {c.id: i for i, c in enumerate(cases)}
    cases = [c for c in cases if c.applies is None or c.applies(setup)]
    return sorted(cases, key=lambda c: (level_rank(c.level), order[c.id]))


def cases_up_to(setup: Setup, level: str) -> list[Case]:
    return [c for c in all_cases(setup) if level_rank(c.level) <= level_rank(level)]
