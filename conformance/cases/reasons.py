"""The test vectors of the profile (:mod:`conformance.vectors`), each delivered
to a fresh instance: the decision is a MUST (SPEC.md KS-120: accept exactly
what passes every step of §6), the rejection reason a SHOULD (KS-122).

The decisions are split by the level of the rules the vectors probe:
``KS-VECTORS`` (L2) the signature, target, time and decoding rules,
``KS-VECTORS-REPLAY`` (L3) replay and ordering, ``KS-VECTORS-ENCODING`` (H)
the single encoding of a signature. Vectors a profile cannot decide
(``acceptable``) pass either way.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from conformance import vectors
from conformance.catalog import case
from conformance.context import Context, Obs
from conformance.outcome import CaseFailure, Unsupported

_WALL = "vectors built around the real time; exact-boundary vectors skipped"
#: Vectors whose rules are L3 (replay, ordering) or H (one spelling per signature).
_L3_FLAGS = frozenset({"REPLAY", "STALE"})
_H_FLAGS = frozenset({"SIGNATURE_MALLEABILITY"})


@functools.lru_cache(maxsize=4)
def _document(
    profile: str, seed: int, anchor: float, algorithms: tuple[str, ...]
) -> dict[str, Any]:
    # Signing ~200 vectors takes a noticeable part of a second and the injected
    # clock gives every case the same anchor: four cases, one document. (With
    # the wall clock the anchor differs and each case builds its own.)
    return vectors.build(profile, seed, anchor=anchor, algorithms=algorithms)


def _run(
    ctx: Context, *, reasons: bool, select: Any = None
) -> tuple[dict[str, Any], list[vectors.Disagreement]]:
    setup = ctx.setup
    document = _document(
        setup.profile_name,
        setup.seed,
        ctx.now() - 5.0,
        tuple(a.value for a in setup.keyring.keys),
    )
    skip = frozenset({"EXACT_BOUNDARY"}) if ctx.wall else frozenset()
    found = vectors.check(
        document,
        lambda key: ctx.open(trusted=(key,)),
        reasons=reasons,
        skip_flags=skip,
        select=select,
    )
    return document, found


def _kind(text: str) -> str | None:
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj.get("command_type") if isinstance(obj, dict) else None


def _needs_pause(test: dict[str, Any]) -> bool:
    """Whether the vector only makes sense with PAUSE/RESUME: it expects one
    accepted, or sets the scene with one."""
    halts = ("PAUSE", "RESUME")
    if test["result"] == "valid" and _kind(test.get("msg", "")) in halts:
        return True
    return any(_kind(item.get("msg", "")) in halts for item in test["history"])


def _again(ctx: Context, document: dict[str, Any], tc_id: int) -> tuple[Obs, dict[str, Any]]:
    """Deliver vector ``tc_id`` once more, alone, so that the case's transcript
    (the counterexample file) holds that vector only, not every vector run."""
    ctx.begin_example()
    for group in document["testGroups"]:
        for test in group["tests"]:
            if test["tcId"] == tc_id:
                inst = ctx.open(trusted=(vectors.group_key(group),))
                for item in test["history"]:
                    inst.deliver(vectors.raw_of(item), now=item["nowPosix"])
                return inst.deliver(vectors.raw_of(test), now=test["nowPosix"]), test
    raise LookupError(f"no vector {tc_id}")


def _fail(ctx: Context, document: dict[str, Any], first: vectors.Disagreement, text: str) -> None:
    obs, test = _again(ctx, document, first.tc_id)
    what = f"test vector tcId {first.tc_id} ({first.comment})"
    # Records what was expected of the last delivery, for --replay.
    try:
        if test["result"] == "valid":
            ctx.expect_accepted(obs, what)
        elif test["result"] == "invalid":
            ctx.expect_rejected(obs, what)
    except CaseFailure:
        pass
    raise ctx.fail(text)


def _decisions(ctx: Context, select: Any) -> None:
    document, found = _run(ctx, reasons=False, select=select)
    if found:
        ids = ", ".join(str(d.tc_id) for d in found[:10]) + (", ..." if len(found) > 10 else "")
        _fail(
            ctx,
            document,
            found[0],
            f"{len(found)} vector(s) decided wrongly; first, {found[0].describe()}"
            f" (all: tcId {ids})",
        )


@case(
    "KS-VECTORS",
    "Every signature, target, time and decoding test vector is accepted or rejected as expected",
    level="L2",
    wall_clock=_WALL,
)
def vector_decisions(ctx: Context) -> None:
    pause = ctx.setup.has("pause")

    def select(test: dict[str, Any]) -> bool:
        flags = set(test["flags"])
        return not flags & (_L3_FLAGS | _H_FLAGS) and (pause or not _needs_pause(test))

    _decisions(ctx, select)


@case(
    "KS-VECTORS-REPLAY",
    "Every replay and ordering test vector is rejected as expected",
    level="L3",
    needs=("pause",),
    wall_clock=_WALL,
)
def vector_decisions_replay(ctx: Context) -> None:
    _decisions(ctx, lambda test: bool(set(test["flags"]) & _L3_FLAGS))


@case(
    "KS-VECTORS-ENCODING",
    "Every test vector re-encoding a valid signature is decided as expected",
    level="H",
    wall_clock=_WALL,
)
def vector_decisions_encoding(ctx: Context) -> None:
    _decisions(ctx, lambda test: bool(set(test["flags"]) & _H_FLAGS))


@case(
    "KS-REASONS",
    "Rejections report the reason of the first failing step (all test vectors)",
    level="L2",
    strength="SHOULD",
    wall_clock=_WALL,
)
def reasons(ctx: Context) -> None:
    if not ctx.setup.capabilities.reasons:
        raise Unsupported("the implementation does not declare that it reports reasons")
    document, found = _run(ctx, reasons=True)
    # A wrong decision is a failed MUST, reported by the KS-VECTORS cases; this
    # SHOULD is about the reason given for a rightly rejected command only.
    wrong_reason = [d for d in found if not d.wrong_decision]
    if wrong_reason:
        _fail(
            ctx,
            document,
            wrong_reason[0],
            f"{len(wrong_reason)} of {document['numberOfTests']} vectors rightly rejected with"
            f" another reason; first, {wrong_reason[0].describe()}",
        )
