"""Agent hierarchies and cascade planning.

A :class:`Hierarchy` is a rooted forest over a networkx ``DiGraph`` whose edges
point parent -> child and whose nodes are agent instance ids. :func:`cascade_plan`
says which agents get which command in which order: depth-first, every child
before its parent (the seed: "terminate grandchildren before children"), so no
agent is left running without the parent that governs it. :func:`add_agent`
keeps that true for agents spawned later: a child born under a terminating
parent is terminated at once, under a paused parent it is paused.

Everything here is linear in the number of agents and iterative (a chain of a
million agents must not hit the recursion limit): graphs are built with one
``add_edges_from`` call and checked in a few linear passes over in-degrees and
successors, never with networkx's generic (and far slower) algorithms.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import networkx as nx

from killswitch.collector import gc_paused
from killswitch.command import Command, CommandType
from killswitch.states import AgentState

#: How many offenders an error message names before it just counts the rest.
_NAMED = 5


class HierarchyError(ValueError):
    """The agents do not form a rooted forest, or an agent id is unknown or invalid."""


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One agent receiving one command as part of a cascade."""

    agent_id: str
    command_type: CommandType
    #: 0 for the agent the plan starts from, 1 for its children, and so on.
    depth_below_target: int
    #: The agent's parent in the hierarchy (None for a root).
    parent: str | None


def _names(ids: Iterable[str]) -> str:
    listed = [repr(i) for i in ids]
    more = len(listed) - _NAMED
    return ", ".join(listed[:_NAMED]) + (f" and {more} more" if more > 0 else "")


def _check_agent_id(agent: object, where: str) -> str:
    if not isinstance(agent, str) or not agent:
        raise HierarchyError(f"{where}: an agent id must be a non-empty string, got {agent!r}")
    return agent


def _check_count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise HierarchyError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class _HashStream:
    """Uniform integers from SHAKE-256 over (seed, block counter): seeded, portable."""

    _WORDS = 512  # 64-bit words per hash call

    def __init__(self, seed: int | str | bytes) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | str | bytes):
            raise HierarchyError(f"seed must be an int, str or bytes, got {seed!r}")
        raw = seed if isinstance(seed, bytes) else str(seed).encode()
        kind = type(seed).__name__.encode()
        self._key = b"killswitch.hierarchy.random_tree\x00" + kind + b"\x00" + raw + b"\x00"
        self._block = 0
        self._words: tuple[int, ...] = ()
        self._next = 0

    def _word(self) -> int:
        if self._next == len(self._words):
            digest = hashlib.shake_256(self._key + self._block.to_bytes(8, "big"))
            self._words = struct.unpack(f"<{self._WORDS}Q", digest.digest(8 * self._WORDS))
            self._block += 1
            self._next = 0
        word = self._words[self._next]
        self._next += 1
        return word

    def below(self, bound: int) -> int:
        """An integer in ``range(bound)``, without modulo bias (rejection sampling)."""
        limit = (1 << 64) - (1 << 64) % bound
        while True:
            word = self._word()
            if word < limit:
                return word % bound


def _numbered(prefix: str, parents: Sequence[int]) -> nx.DiGraph:
    """A tree whose agent ``i`` (named ``prefix-i``) has parent ``parents[i - 1]``."""
    names = [f"{prefix}-{i}" for i in range(len(parents) + 1)]
    graph = nx.DiGraph()
    graph.add_node(names[0])
    graph.add_edges_from(zip(map(names.__getitem__, parents), names[1:], strict=True))
    return graph


def _forest_roots(graph: nx.DiGraph) -> list[str]:
    """The roots of ``graph`` in node order; HierarchyError unless it is a rooted forest."""
    bad_ids = [n for n in graph if not isinstance(n, str) or not n]
    if bad_ids:
        raise HierarchyError(
            f"agent ids must be non-empty strings; these are not: {_names(bad_ids)}"
        )
    loops = [agent for agent, _ in nx.selfloop_edges(graph)]
    if loops:
        raise HierarchyError(f"an agent cannot be its own parent (self-loop): {_names(loops)}")
    roots: list[str] = []
    two_parents: list[str] = []
    for agent, parent_count in graph.in_degree:
        if parent_count == 0:
            roots.append(agent)
        elif parent_count > 1:
            two_parents.append(agent)
    if two_parents:
        first, more = two_parents[0], len(two_parents) - 1
        parents = list(graph.predecessors(first))
        raise HierarchyError(
            f"agent {first!r} has {len(parents)} parents ({_names(parents)}); "
            "each agent may have at most one parent"
            + (f" ({more} more agents have several parents)" if more else "")
        )
    if len(_reachable(graph, roots)) != len(graph):
        raise HierarchyError(f"the parent links form a cycle: {_cycle_in(graph, roots)}")
    return roots


def _reachable(graph: nx.DiGraph, roots: list[str]) -> list[str]:
    # With at most one parent each, no agent is reached twice: no visited set needed.
    found: list[str] = []
    stack = list(roots)
    successors = graph.successors
    while stack:
        agent = stack.pop()
        found.append(agent)
        stack.extend(successors(agent))
    return found


def _cycle_in(graph: nx.DiGraph, roots: list[str]) -> str:
    # Every agent has one parent at most, so an agent no root reaches lies on or
    # below a cycle; walking up its parents must come back to an agent already seen.
    reachable = set(_reachable(graph, roots))
    agent = next(n for n in graph if n not in reachable)
    seen: dict[str, None] = {}
    while agent not in seen:
        seen[agent] = None
        agent = next(graph.predecessors(agent))
    walk = list(seen)
    cycle = walk[walk.index(agent) :]
    cycle.reverse()  # print parent -> child
    return " -> ".join(repr(n) for n in [*cycle, cycle[0]])


class Hierarchy:
    """A rooted forest of agents: every agent has at most one parent and no cycles.

    Build one with :meth:`balanced`, :meth:`random_tree`, :meth:`from_edges` or
    :meth:`from_graph`; ``Hierarchy()`` is empty. Grow it with :meth:`add_root`
    and :meth:`add_child` (or :func:`add_agent`, which also plans the newcomer's
    commands). Children keep their insertion order, which fixes plan order.
    """

    __slots__ = ("_graph", "_roots")

    def __init__(self) -> None:
        self._graph = nx.DiGraph()
        self._roots: dict[str, None] = {}

    @classmethod
    def _adopt(cls, graph: nx.DiGraph, roots: Iterable[str]) -> Hierarchy:
        hierarchy = cls()
        hierarchy._graph = graph
        hierarchy._roots = dict.fromkeys(roots)
        return hierarchy

    @classmethod
    def balanced(cls, fanout: int, depth: int, prefix: str = "agent") -> Hierarchy:
        """A full tree: ``fanout`` children per agent, ``depth`` levels below the root.

        Agents are numbered breadth-first: the root is ``{prefix}-0``, its
        children ``{prefix}-1`` ... ``{prefix}-{fanout}``, and so on.
        """
        _check_count(fanout, "fanout", 1)
        _check_count(depth, "depth", 0)
        _check_agent_id(prefix, "prefix")
        size = sum(fanout**level for level in range(depth + 1))
        with gc_paused():
            graph = _numbered(prefix, [(i - 1) // fanout for i in range(1, size)])
        return cls._adopt(graph, [f"{prefix}-0"])

    @classmethod
    def random_tree(
        cls,
        n: int,
        seed: int | str | bytes,
        max_children: int | None = None,
        prefix: str = "agent",
    ) -> Hierarchy:
        """A random tree of ``n`` agents, the same for the same arguments on any machine.

        Agent ``{prefix}-i`` (i >= 1) picks its parent uniformly among the agents
        numbered below it that have fewer than ``max_children`` children (no limit
        if None). Choices come from SHAKE-256 over the seed, not from ``random``.
        """
        _check_count(n, "n", 1)
        if max_children is not None:
            _check_count(max_children, "max_children", 1)
        _check_agent_id(prefix, "prefix")
        stream = _HashStream(seed)
        with gc_paused():
            if max_children is None:
                parents = [stream.below(i) for i in range(1, n)]
            else:
                parents = _capped_parents(stream, n, max_children)
            graph = _numbered(prefix, parents)
        return cls._adopt(graph, [f"{prefix}-0"])

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]], agents: Iterable[str] = ()) -> Hierarchy:
        """A hierarchy from ``(parent, child)`` pairs, plus ``agents`` with no edges.

        ``agents`` come first in node order, so they can fix the order of roots.
        """
        if isinstance(agents, str):
            raise HierarchyError(f"agents must be a collection of ids, not one string {agents!r}")
        extra = [_check_agent_id(a, f"agents[{i}]") for i, a in enumerate(agents)]
        pairs = list(edges)
        for index, edge in enumerate(pairs):
            if not isinstance(edge, tuple | list) or len(edge) != 2:
                raise HierarchyError(f"edge #{index} is not a (parent, child) pair: {edge!r}")
            _check_agent_id(edge[0], f"edge #{index} parent")
            _check_agent_id(edge[1], f"edge #{index} child")
        with gc_paused():
            graph = nx.DiGraph()
            graph.add_nodes_from(extra)
            graph.add_edges_from(pairs)
            roots = _forest_roots(graph)
        return cls._adopt(graph, roots)

    @classmethod
    def from_graph(cls, graph: nx.DiGraph) -> Hierarchy:
        """A hierarchy over a copy of ``graph`` (edges parent -> child)."""
        if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
            raise HierarchyError(
                "expected a networkx DiGraph with edges parent -> child, "
                f"got {type(graph).__name__}"
            )
        with gc_paused():
            roots = _forest_roots(graph)
            copy = graph.copy()
        return cls._adopt(copy, roots)

    # -- accessors -------------------------------------------------------------

    @property
    def graph(self) -> nx.DiGraph:
        """A read-only view of the underlying graph (edges parent -> child)."""
        return self._graph.copy(as_view=True)

    @property
    def roots(self) -> list[str]:
        """Agents without a parent, in the order they were added."""
        return list(self._roots)

    def __len__(self) -> int:
        return len(self._graph)

    def __contains__(self, agent: object) -> bool:
        return isinstance(agent, str) and agent in self._graph

    def __repr__(self) -> str:
        return f"<Hierarchy agents={len(self)} roots={len(self._roots)}>"

    def _known(self, agent: object) -> str:
        if not isinstance(agent, str) or agent not in self._graph:
            raise HierarchyError(f"unknown agent {agent!r}: not in this hierarchy")
        return agent

    def parent(self, agent: str) -> str | None:
        """The agent's parent, or None for a root."""
        return next(self._graph.predecessors(self._known(agent)), None)

    def children(self, agent: str) -> list[str]:
        """The agent's children in insertion order."""
        return list(self._graph.successors(self._known(agent)))

    def descendants(self, agent: str) -> list[str]:
        """Everything below ``agent`` (not itself), depth-first, parents before children."""
        successors = self._graph.successors
        found: list[str] = []
        stack = list(reversed(self.children(agent)))
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(reversed(list(successors(node))))
        return found

    def depth(self, agent: str) -> int:
        """How many ancestors ``agent`` has (0 for a root)."""
        return sum(1 for _ in self._ancestors(self._known(agent)))

    def _ancestors(self, agent: str) -> Iterator[str]:
        predecessors = self._graph.predecessors
        parent = next(predecessors(agent), None)
        while parent is not None:
            yield parent
            parent = next(predecessors(parent), None)

    # -- growing ---------------------------------------------------------------

    def add_root(self, agent: str) -> None:
        """Add a new agent without a parent."""
        _check_agent_id(agent, "add_root")
        if agent in self._graph:
            raise HierarchyError(f"agent {agent!r} is already in the hierarchy")
        self._graph.add_node(agent)
        self._roots[agent] = None

    def add_child(self, parent: str, child: str) -> None:
        """Put ``child`` (new, or an existing root) under ``parent``.

        Refused if ``child`` already has another parent or is an ancestor of
        ``parent`` (a cycle). Adding an existing edge again changes nothing.
        """
        self._known(parent)
        _check_agent_id(child, "add_child")
        if child == parent:
            raise HierarchyError(f"agent {child!r} cannot be its own parent (self-loop)")
        if child in self._graph:
            current = self.parent(child)
            if current == parent:
                return
            if current is not None:
                raise HierarchyError(
                    f"agent {child!r} already has parent {current!r}; "
                    f"it cannot also be a child of {parent!r}"
                )
            path = [parent, *self._ancestors(parent)]
            if child in path:
                loop = [*path[: path.index(child) + 1][::-1], child]
                raise HierarchyError(
                    f"adding {child!r} under {parent!r} would create a cycle: "
                    + " -> ".join(repr(a) for a in loop)
                )
            del self._roots[child]
        self._graph.add_edge(parent, child)

    def plan(
        self, agent: str, command_type: CommandType, *, cascade: bool = True
    ) -> list[PlanStep]:
        """``command_type`` for ``agent`` and (if ``cascade``) everything below it, post-order."""
        root_parent = self.parent(agent)
        if not cascade:
            return [PlanStep(agent, command_type, 0, root_parent)]
        successors = self._graph.successors
        steps: list[PlanStep] = []
        stack: list[tuple[str, int, str | None]] = [(agent, 0, root_parent)]
        with gc_paused():
            # Pre-order with children pushed so the *last* child is visited first;
            # reversed at the end, that is post-order with children in insertion order.
            while stack:
                node, depth, parent = stack.pop()
                steps.append(PlanStep(node, command_type, depth, parent))
                below = depth + 1
                stack.extend([(child, below, node) for child in successors(node)])
            steps.reverse()
        return steps


def _capped_parents(stream: _HashStream, n: int, max_children: int) -> list[int]:
    # ``open_`` holds the agents that can still take a child; a full agent is
    # swapped out in O(1), so the whole draw stays linear.
    open_: list[int] = [0]
    position: dict[int, int] = {0: 0}
    child_count = [0] * n
    parents: list[int] = []
    for agent in range(1, n):
        parent = open_[stream.below(len(open_))]
        parents.append(parent)
        child_count[parent] += 1
        if child_count[parent] == max_children:
            slot, last = position.pop(parent), open_.pop()
            if last != parent:
                open_[slot] = last
                position[last] = slot
        position[agent] = len(open_)
        open_.append(agent)
    return parents


def cascade_plan(hierarchy: Hierarchy, agent: str, command: Command) -> list[PlanStep]:
    """Who gets ``command`` and in what order when it reaches ``agent``.

    With ``command.cascade`` every agent below ``agent`` gets the same command
    type, depth-first with every child before its parent and siblings in
    insertion order; ``agent`` itself comes last. Without it, only ``agent``.
    PAUSE and RESUME cascade exactly like TERMINATE.
    """
    if not isinstance(command, Command):
        raise HierarchyError(f"cascade_plan needs a Command, got {type(command).__name__}")
    return hierarchy.plan(agent, command.command_type, cascade=command.cascade)


#: What an agent added under a parent in a given state must be told at once.
_INHERITED: dict[AgentState, CommandType | None] = {
    AgentState.RUNNING: None,
    AgentState.PAUSED: CommandType.PAUSE,
    AgentState.TERMINATING: CommandType.TERMINATE,
    AgentState.TERMINATED: CommandType.TERMINATE,
}


def add_agent(
    hierarchy: Hierarchy, parent: str, child: str, parent_state: AgentState
) -> list[PlanStep]:
    """Add ``child`` under ``parent`` and return the commands it needs right away.

    Under a TERMINATING or TERMINATED parent the child (and anything already
    below it) is terminated, so no agent outlives the parent that governs it;
    under a PAUSED parent it is paused; under a RUNNING parent nothing happens.
    Depths in the plan count from ``child``.
    """
    if not isinstance(parent_state, AgentState):
        raise HierarchyError(f"parent_state must be an AgentState, got {parent_state!r}")
    hierarchy.add_child(parent, child)
    command_type = _INHERITED[parent_state]
    if command_type is None:
        return []
    return hierarchy.plan(child, command_type)
