"""Hierarchy (rooted forest) validation, constructors, cascade plans and add_agent (issue 2).

The plan-order oracle is networkx's own ``dfs_postorder_nodes``, which visits
children in insertion order: an independent, recursive implementation of what
``cascade_plan`` must produce iteratively.
"""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest
from core_support import make_command
from hypothesis import given, settings
from hypothesis import strategies as st

from killswitch import (
    AgentState,
    Command,
    CommandType,
    Hierarchy,
    HierarchyError,
    PlanStep,
    add_agent,
    cascade_plan,
)

TERMINATE, PAUSE, RESUME = CommandType.TERMINATE, CommandType.PAUSE, CommandType.RESUME


def ids(plan: list[PlanStep]) -> list[str]:
    return [step.agent_id for step in plan]


def command(kind: CommandType = TERMINATE, *, cascade: bool = True, target: str = "r") -> Command:
    return make_command(kind, target=target, cascade=cascade)


# r
# +-- a
# |   +-- a1
# |   +-- a2
# +-- b
#     +-- b1
#         +-- b11
SMALL = [("r", "a"), ("r", "b"), ("a", "a1"), ("a", "a2"), ("b", "b1"), ("b1", "b11")]


@st.composite
def forests(draw: st.DrawFn) -> Hierarchy:
    """A random forest: agent i's parent is None or an agent numbered below i.

    Names are shuffled against numbers and edges are added in a random order,
    so nothing can depend on names sorting or on edges arriving parents-first.
    """
    n = draw(st.integers(1, 40))
    parents = [None, *(draw(st.none() | st.integers(0, i - 1)) for i in range(1, n))]
    names = draw(st.permutations([f"n{i}" for i in range(n)]))
    edges = [(names[p], names[i]) for i, p in enumerate(parents) if p is not None]
    edges = draw(st.permutations(edges))
    return Hierarchy.from_edges(
        edges, agents=[names[i] for i, p in enumerate(parents) if p is None]
    )


# -- forest validation -----------------------------------------------------------


def test_cycle_is_refused_and_named() -> None:
    with pytest.raises(HierarchyError, match="cycle") as caught:
        Hierarchy.from_edges([("r", "x"), ("a", "b"), ("b", "c"), ("c", "a")])
    message = str(caught.value)
    assert all(repr(agent) in message for agent in ("a", "b", "c"))
    assert "'r'" not in message and "'x'" not in message


def test_cycle_with_a_branch_below_names_only_the_cycle() -> None:
    with pytest.raises(HierarchyError, match="cycle") as caught:
        Hierarchy.from_edges([("a", "b"), ("b", "a"), ("b", "tail")])
    message = str(caught.value)
    assert "'a'" in message and "'b'" in message and "'tail'" not in message


def test_self_loop_is_refused_and_named() -> None:
    with pytest.raises(HierarchyError, match="own parent") as caught:
        Hierarchy.from_edges([("r", "a"), ("a", "a")])
    assert "'a'" in str(caught.value)


def test_two_parents_are_refused_and_named() -> None:
    with pytest.raises(HierarchyError, match="parents") as caught:
        Hierarchy.from_edges([("p1", "c"), ("p2", "c")])
    message = str(caught.value)
    assert all(repr(agent) in message for agent in ("c", "p1", "p2"))


def test_hierarchy_error_is_a_value_error() -> None:
    assert issubclass(HierarchyError, ValueError)


@pytest.mark.parametrize(
    ("edges", "where"),
    [
        ([("a",)], "edge #0"),
        ([("a", "b"), "ab"], "edge #1"),
        ([("a", 3)], "edge #0 child"),
        ([("", "b")], "edge #0 parent"),
    ],
)
def test_malformed_edges_say_which_edge(edges: list[object], where: str) -> None:
    with pytest.raises(HierarchyError, match=where):
        Hierarchy.from_edges(edges)  # type: ignore[arg-type]


def test_from_edges_refuses_a_single_string_as_agents() -> None:
    with pytest.raises(HierarchyError, match="one string"):
        Hierarchy.from_edges([], agents="abc")


@pytest.mark.parametrize("graph", [nx.Graph([("a", "b")]), nx.MultiDiGraph([("a", "b")]), {}])
def test_from_graph_needs_a_plain_digraph(graph: object) -> None:
    with pytest.raises(HierarchyError, match="DiGraph"):
        Hierarchy.from_graph(graph)


def test_from_graph_validates_like_from_edges() -> None:
    with pytest.raises(HierarchyError, match="cycle"):
        Hierarchy.from_graph(nx.DiGraph([("a", "b"), ("b", "a")]))
    with pytest.raises(HierarchyError, match="non-empty strings") as caught:
        Hierarchy.from_graph(nx.DiGraph([("a", 7)]))
    assert "7" in str(caught.value)


# -- constructors ------------------------------------------------------------------


def test_balanced_numbers_breadth_first() -> None:
    h = Hierarchy.balanced(3, 2)
    assert len(h) == 1 + 3 + 9
    assert h.roots == ["agent-0"]
    assert h.children("agent-0") == ["agent-1", "agent-2", "agent-3"]
    assert h.children("agent-1") == ["agent-4", "agent-5", "agent-6"]
    for i in range(1, len(h)):
        assert h.parent(f"agent-{i}") == f"agent-{(i - 1) // 3}"
    leaves = [a for a in h.graph if not h.children(a)]
    assert len(leaves) == 9 and {h.depth(a) for a in leaves} == {2}


def test_balanced_prefix_and_single_agent() -> None:
    h = Hierarchy.balanced(4, 0, prefix="w")
    assert list(h.graph) == ["w-0"] and h.roots == ["w-0"]


@pytest.mark.parametrize(
    ("fanout", "depth", "bad"), [(0, 2, "fanout"), (2, -1, "depth"), (True, 2, "fanout")]
)
def test_balanced_refuses_bad_sizes(fanout: int, depth: int, bad: str) -> None:
    with pytest.raises(HierarchyError, match=bad):
        Hierarchy.balanced(fanout, depth)


def test_deep_chain_needs_no_recursion() -> None:
    h = Hierarchy.balanced(1, 5000)  # far beyond Python's default recursion limit
    leaf = "agent-5000"
    assert h.depth(leaf) == 5000
    assert len(h.descendants("agent-0")) == 5000
    plan = cascade_plan(h, "agent-0", command(target="agent-0"))
    assert ids(plan) == [f"agent-{i}" for i in range(5000, -1, -1)]


def test_random_tree_is_a_tree_numbered_parents_first() -> None:
    h = Hierarchy.random_tree(300, seed=11)
    assert len(h) == 300 and h.roots == ["agent-0"]
    for i in range(1, 300):
        parent = h.parent(f"agent-{i}")
        assert parent is not None and int(parent.split("-")[1]) < i


def test_random_tree_is_deterministic_for_a_seed() -> None:
    def edges(seed: int | str, cap: int | None = None) -> list[tuple[str, str]]:
        return list(Hierarchy.random_tree(200, seed, max_children=cap).graph.edges)

    assert edges(5) == edges(5)
    assert edges("five", 2) == edges("five", 2)
    assert edges(5) != edges(6)
    assert edges(5) != edges(5, 2)


@given(st.integers(1, 200), st.integers(1, 4), st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_random_tree_respects_max_children(n: int, cap: int, seed: int) -> None:
    h = Hierarchy.random_tree(n, seed, max_children=cap)
    assert len(h) == n and h.roots == ["agent-0"]
    assert max(len(h.children(a)) for a in h.graph) <= cap


def test_random_tree_with_one_child_each_is_a_chain() -> None:
    h = Hierarchy.random_tree(50, seed=3, max_children=1)
    assert [h.parent(f"agent-{i}") for i in range(1, 50)] == [f"agent-{i}" for i in range(49)]


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"n": 0, "seed": 1}, "n must"),
        ({"n": 5, "seed": 1, "max_children": 0}, "max_children"),
        ({"n": 5, "seed": 1.5}, "seed"),
        ({"n": 5, "seed": 1, "prefix": ""}, "prefix"),
    ],
)
def test_random_tree_refuses_bad_arguments(kwargs: dict[str, object], bad: str) -> None:
    with pytest.raises(HierarchyError, match=bad):
        Hierarchy.random_tree(**kwargs)  # type: ignore[arg-type]


def test_from_edges_keeps_isolated_agents_and_root_order() -> None:
    h = Hierarchy.from_edges([("r2", "c"), ("r1", "d")], agents=["lonely", "r1"])
    assert h.roots == ["lonely", "r1", "r2"]
    assert "lonely" in h and h.children("lonely") == [] and h.parent("lonely") is None
    assert len(h) == 5


def test_from_graph_copies_and_exposes_a_read_only_graph() -> None:
    original = nx.DiGraph(SMALL)
    h = Hierarchy.from_graph(original)
    original.add_edge("b11", "late")
    assert "late" not in h and len(h) == 7
    with pytest.raises(nx.NetworkXError):
        h.graph.add_edge("r", "intruder")
    assert "intruder" not in h


# -- accessors -------------------------------------------------------------------


def test_accessors_on_a_small_tree() -> None:
    h = Hierarchy.from_edges(SMALL)
    assert h.roots == ["r"] and len(h) == 7
    assert h.parent("r") is None and h.parent("b11") == "b1"
    assert h.children("r") == ["a", "b"] and h.children("a2") == []
    assert h.descendants("r") == ["a", "a1", "a2", "b", "b1", "b11"]
    assert h.descendants("b11") == []
    assert [h.depth(a) for a in ("r", "a", "b1", "b11")] == [0, 1, 2, 3]
    assert "a1" in h and "zz" not in h and 3 not in h


@pytest.mark.parametrize("method", ["parent", "children", "descendants", "depth"])
def test_unknown_agent_is_named(method: str) -> None:
    h = Hierarchy.from_edges(SMALL)
    with pytest.raises(HierarchyError, match="'ghost'"):
        getattr(h, method)("ghost")


# -- cascade plans ---------------------------------------------------------------


def test_plan_of_the_small_tree_is_post_order() -> None:
    h = Hierarchy.from_edges(SMALL)
    plan = cascade_plan(h, "r", command())
    assert ids(plan) == ["a1", "a2", "a", "b11", "b1", "b", "r"]
    assert plan[-1] == PlanStep("r", TERMINATE, 0, None)
    assert plan[3] == PlanStep("b11", TERMINATE, 3, "b1")


def test_plan_of_an_inner_agent_reports_its_real_parent() -> None:
    h = Hierarchy.from_edges(SMALL)
    plan = cascade_plan(h, "b", command(PAUSE, target="b"))
    assert plan == [
        PlanStep("b11", PAUSE, 2, "b1"),
        PlanStep("b1", PAUSE, 1, "b"),
        PlanStep("b", PAUSE, 0, "r"),
    ]


def test_no_cascade_touches_only_the_target() -> None:
    h = Hierarchy.from_edges(SMALL)
    assert cascade_plan(h, "a", command(RESUME, cascade=False)) == [PlanStep("a", RESUME, 0, "r")]


def test_cascade_plan_refuses_unknown_agents_and_non_commands() -> None:
    h = Hierarchy.from_edges(SMALL)
    with pytest.raises(HierarchyError, match="'ghost'"):
        cascade_plan(h, "ghost", command())
    with pytest.raises(HierarchyError, match="Command"):
        cascade_plan(h, "r", "TERMINATE")  # type: ignore[arg-type]


@given(forests(), st.data())
@settings(max_examples=150, deadline=None)
def test_plan_properties_on_random_forests(h: Hierarchy, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(list(h.graph)))
    kind = data.draw(st.sampled_from(list(CommandType)))
    plan = cascade_plan(h, target, command(kind, target=target))
    order = ids(plan)
    position = {agent: i for i, agent in enumerate(order)}

    # Exactly the subtree, once each; the target last; every child before its parent.
    assert Counter(order) == Counter([target, *h.descendants(target)])
    assert order[-1] == target
    for agent in order:
        if agent != target:
            assert position[agent] < position[h.parent(agent)]  # type: ignore[index]
    # Independent oracle: recursive post-order with children in insertion order.
    assert order == list(nx.dfs_postorder_nodes(h.graph, target))
    for step in plan:
        assert step.command_type is kind
        assert step.parent == h.parent(step.agent_id)
        assert step.depth_below_target == h.depth(step.agent_id) - h.depth(target)
    # PAUSE and RESUME cascade exactly like TERMINATE; the plan is deterministic.
    for other in CommandType:
        assert ids(cascade_plan(h, target, command(other, target=target))) == order
    # Without cascade only the target is touched.
    single = cascade_plan(h, target, command(kind, cascade=False, target=target))
    assert single == [PlanStep(target, kind, 0, h.parent(target))]


# -- agents added later ----------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (AgentState.TERMINATING, TERMINATE),
        (AgentState.TERMINATED, TERMINATE),
        (AgentState.PAUSED, PAUSE),
        (AgentState.RUNNING, None),
    ],
)
def test_add_agent_inherits_the_parents_halt(
    state: AgentState, expected: CommandType | None
) -> None:
    h = Hierarchy.from_edges(SMALL)
    plan = add_agent(h, "a", "newborn", state)
    assert h.parent("newborn") == "a" and h.children("a")[-1] == "newborn"
    assert plan == ([] if expected is None else [PlanStep("newborn", expected, 0, "a")])


def test_adopting_a_root_under_a_terminating_parent_terminates_its_whole_subtree() -> None:
    h = Hierarchy.from_edges([*SMALL, ("orphan", "o1"), ("o1", "o2"), ("orphan", "o3")])
    plan = add_agent(h, "b11", "orphan", AgentState.TERMINATING)
    assert h.roots == ["r"]
    assert ids(plan) == ["o2", "o1", "o3", "orphan"]
    assert plan[-1] == PlanStep("orphan", TERMINATE, 0, "b11")
    assert plan[0].depth_below_target == 2
    # A later cascade from the top now reaches the adopted agents too.
    assert {"orphan", "o1", "o2", "o3"} <= set(ids(cascade_plan(h, "r", command())))


def test_add_agent_refuses_a_cycle_and_leaves_the_hierarchy_unchanged() -> None:
    h = Hierarchy.from_edges(SMALL)
    before = list(h.graph.edges)
    with pytest.raises(HierarchyError, match="cycle") as caught:
        add_agent(h, "b11", "r", AgentState.RUNNING)  # r is a root: no second parent
    assert "'r' -> 'b' -> 'b1' -> 'b11' -> 'r'" in str(caught.value)
    with pytest.raises(HierarchyError, match="own parent"):
        add_agent(h, "a", "a", AgentState.RUNNING)
    assert list(h.graph.edges) == before


def test_add_agent_refuses_a_second_parent() -> None:
    h = Hierarchy.from_edges(SMALL)
    with pytest.raises(HierarchyError, match="already has parent") as caught:
        add_agent(h, "b", "a1", AgentState.TERMINATING)
    assert "'a1'" in str(caught.value) and "'a'" in str(caught.value)
    assert h.parent("a1") == "a" and "a1" not in h.children("b")


def test_add_agent_refuses_unknown_parents_and_bad_states() -> None:
    h = Hierarchy.from_edges(SMALL)
    with pytest.raises(HierarchyError, match="'ghost'"):
        add_agent(h, "ghost", "child", AgentState.RUNNING)
    with pytest.raises(HierarchyError, match="AgentState"):
        add_agent(h, "a", "child", "RUNNING")  # type: ignore[arg-type]
    assert "child" not in h


def test_adding_an_existing_edge_again_changes_nothing() -> None:
    h = Hierarchy.from_edges(SMALL)
    assert add_agent(h, "a", "a1", AgentState.PAUSED) == [PlanStep("a1", PAUSE, 0, "a")]
    assert h.children("a") == ["a1", "a2"] and len(h) == 7


def test_add_root() -> None:
    h = Hierarchy()
    h.add_root("x")
    add_agent(h, "x", "y", AgentState.RUNNING)
    h.add_root("z")
    assert h.roots == ["x", "z"] and h.children("x") == ["y"]
    with pytest.raises(HierarchyError, match="already"):
        h.add_root("y")


@given(forests(), st.data())
@settings(max_examples=100, deadline=None)
def test_no_orphans_after_adding_under_a_terminating_parent(
    h: Hierarchy, data: st.DataObject
) -> None:
    parent = data.draw(st.sampled_from(list(h.graph)))
    plan = add_agent(h, parent, "late-child", AgentState.TERMINATING)
    assert plan == [PlanStep("late-child", TERMINATE, 0, parent)]
    # The parent's own cascade now includes the newcomer, before the parent.
    order = ids(cascade_plan(h, parent, command(target=parent)))
    assert order.index("late-child") < order.index(parent)
