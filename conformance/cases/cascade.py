"""Cascade (implementations declaring the ``cascade`` feature): a command with
cascade=true reaches the target and every descendant, and nothing else;
cascade=false reaches the target only."""

from __future__ import annotations

from hypothesis import strategies as st

from conformance.cases import TERMINATED_STATES
from conformance.catalog import case
from conformance.context import INSTANCE_ID, Context
from conformance.hypo import forall


def _tree(parents: list[int]) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """Agent ids and parent->child edges for a parent-pointer list (node i+1's parent)."""
    names = [INSTANCE_ID] + [f"agent-{i}" for i in range(1, len(parents) + 1)]
    edges = tuple((names[p], names[i + 1]) for i, p in enumerate(parents))
    return names, edges


def _descendants(target: str, edges: tuple[tuple[str, str], ...]) -> set[str]:
    children: dict[str, list[str]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    found, stack = set(), [target]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _trees() -> st.SearchStrategy[list[int]]:
    # Node i+1 picks a parent among 0..i: every parent-pointer list is a rooted tree.
    return st.integers(1, 8).flatmap(
        lambda n: st.tuples(*[st.integers(0, i) for i in range(n)]).map(list)
    )


def _cascade_property(ctx: Context, kind: str, after: tuple[str, ...]) -> None:
    strategy = _trees().flatmap(
        lambda parents: st.tuples(st.just(parents), st.integers(0, len(parents)), st.booleans())
    )

    def check(example: tuple[list[int], int, bool]) -> None:
        parents, pick, cascade = example
        names, edges = _tree(parents)
        target = names[pick]
        inst = ctx.open(hierarchy=edges)
        raw = ctx.sign(kind, target=target, cascade=cascade)
        ctx.expect_accepted(inst.deliver(raw, to=target), f"a {kind} for {target}")
        reached = {target} | (_descendants(target, edges) if cascade else set())
        for agent in names:
            expected = after if agent in reached else ("RUNNING",)
            why = "below the target" if agent in reached - {target} else "outside the cascade"
            if agent == target:
                why = "the target"
            ctx.expect_state(
                inst.state(agent),
                expected,
                f"{agent} ({why}) after a {kind} with cascade={str(cascade).lower()} to {target}",
            )

    forall(ctx, strategy, check)


@case(
    "KS-CASCADE-TERMINATE",
    "TERMINATE with cascade reaches every descendant, nothing else; cascade=false the target",
    level="L3",
    needs=("cascade",),
)
def cascade_terminate(ctx: Context) -> None:
    _cascade_property(ctx, "TERMINATE", TERMINATED_STATES)


@case(
    "KS-CASCADE-PAUSE",
    "PAUSE cascades like TERMINATE",
    level="L3",
    needs=("cascade", "pause"),
)
def cascade_pause(ctx: Context) -> None:
    _cascade_property(ctx, "PAUSE", ("PAUSED",))
