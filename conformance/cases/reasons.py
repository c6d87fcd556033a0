"""Rejection reasons: every test vector of the profile, with its reason (SHOULD)."""

from __future__ import annotations

from conformance import vectors
from conformance.catalog import case
from conformance.context import Context
from conformance.outcome import Unsupported


@case(
    "KS-REASONS",
    "Rejections report the reason of the first failing step (all test vectors)",
    level="L2",
    strength="SHOULD",
    wall_clock="vectors built around the real time; exact-boundary vectors skipped",
)
def reasons(ctx: Context) -> None:
    if not ctx.setup.capabilities.reasons:
        raise Unsupported("the implementation does not declare that it reports reasons")
    setup = ctx.setup
    anchor = ctx.now() - 5.0
    document = vectors.build(
        setup.profile_name,
        setup.seed,
        anchor=anchor,
        algorithms=tuple(a.value for a in setup.keyring.keys),
    )
    skip = frozenset({"EXACT_BOUNDARY"}) if ctx.wall else frozenset()
    found = vectors.check(document, lambda key: ctx.open(trusted=(key,)), skip_flags=skip)
    if found:
        first = found[0]
        raise ctx.fail(
            f"{len(found)} of {document['numberOfTests']} vectors disagree; first, tcId"
            f" {first.tc_id} ({first.comment}): expected {first.expected}, got {first.observed}"
        )
