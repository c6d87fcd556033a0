"""What every part of the model shares: the SimPy environment, the run's one
random generator, the trace, the hierarchy, observations and the network.

Parts schedule work with :meth:`World.at` / :meth:`World.after`, plain
callbacks run by SimPy's event loop: an agent tree of a million nodes cannot
afford a generator process per agent per transport, and callbacks keep the
cost per simulated event close to a bare timeout (bench/sim.py measures it).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import simpy
from simpy.events import NORMAL

from killswitch.hierarchy import Hierarchy
from sim.observe import Observations
from sim.rng import Dist
from sim.scenario import DEFAULT_LINK, Link, Network, Scenario
from sim.trace import Trace

if TYPE_CHECKING:
    from sim.agent import AgentSim
    from sim.controlplane import ControlPlane
    from sim.nemesis import Attacker

#: Virtual time 0 is this POSIX instant (2026-01-01T00:00:00Z) on a correct clock.
EPOCH = 1_767_225_600.0


class _Call:
    """One scheduled callback: the least an event needs for SimPy's loop.

    ``Environment.step`` pops an event, swaps its ``callbacks`` for None, calls
    each with the event, and raises if ``_ok`` is false; nothing else is read.
    A ``Timeout`` with a closure appended to its callback list costs a third
    more time per event and three times the memory while it waits in the queue.
    """

    __slots__ = ("args", "callbacks", "function")
    _ok = True

    def __init__(self, function: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.callbacks = _RUN
        self.function = function
        self.args = args


def _run(call: _Call) -> None:
    call.function(*call.args)


#: Every _Call shares this (immutable) callback list.
_RUN = (_run,)


def new_environment() -> simpy.Environment:
    """The run's SimPy environment. Time starts at 0.0, a float, so that virtual
    times stay floats (an int time would be written ``30`` in the trace, not ``30.0``)."""
    return simpy.Environment(initial_time=0.0)


@dataclass
class Partition:
    start: float
    end: float
    agents: frozenset[str]
    #: None: the agents' whole network link is cut. Otherwise only these transports'
    #: endpoints are down (a transport outage); the rest of the link works.
    transports: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class NetworkLink:
    """What one agent's messages to and from the control plane go through:
    ``[network]``, or the ``[[network.links]]`` table that selects the agent,
    changed for a while by degrade faults."""

    #: The link's name in the results (``default``: the agent is in no link table).
    group: str
    latency: Dist
    loss: float
    duplicate: float
    reorder: float
    reorder_delay: Dist

    @classmethod
    def of(cls, network: Network) -> NetworkLink:
        return cls(
            DEFAULT_LINK,
            network.latency,
            network.loss,
            network.duplicate,
            network.reorder,
            network.reorder_delay,
        )

    def overridden(self, link: Link) -> NetworkLink:
        """This link with the keys ``link`` sets, in ``link``'s group."""
        return replace(
            self,
            group=link.name,
            latency=self.latency if link.latency is None else link.latency,
            loss=self.loss if link.loss is None else link.loss,
            duplicate=self.duplicate if link.duplicate is None else link.duplicate,
            reorder=self.reorder if link.reorder is None else link.reorder,
            reorder_delay=self.reorder_delay if link.reorder_delay is None else link.reorder_delay,
        )

    def degraded(self, latency: Dist | None, loss: float | None) -> NetworkLink:
        return replace(
            self,
            latency=self.latency if latency is None else latency,
            loss=self.loss if loss is None else loss,
        )


@dataclass(frozen=True, eq=False)  # each fault is itself: two alike may overlap
class Degradation:
    """A degrade fault in force: these agents' links take ``latency`` and/or ``loss``."""

    agents: frozenset[str]
    latency: Dist | None
    loss: float | None


@dataclass
class World:
    env: simpy.Environment
    rng: random.Random
    scenario: Scenario
    hierarchy: Hierarchy
    trace: Trace
    obs: Observations
    agents: dict[str, AgentSim] = field(default_factory=dict)
    cp: ControlPlane | None = None
    partitions: list[Partition] = field(default_factory=list)
    attacker: Attacker | None = None
    #: Whether the operator has clicked yet (the workload is counted from then on).
    clicked: bool = False
    #: Degrade faults in force, oldest first (a later one wins where they overlap).
    degradations: list[Degradation] = field(default_factory=list)
    #: ``[network]``: the link of every agent not in ``links``.
    _default_link: NetworkLink = field(init=False)
    #: The links the scenario's [[network.links]] give their agents.
    _configured: dict[str, NetworkLink] = field(init=False)
    #: The link of every agent whose link is not ``[network]`` now (see link()).
    _links: dict[str, NetworkLink] = field(init=False)

    def __post_init__(self) -> None:
        network = self.scenario.network
        self._default_link = NetworkLink.of(network)
        self._configured = {}
        for link in network.links:
            own = self._default_link.overridden(link)
            for selector in link.agents:
                for agent in resolve_selector(self.hierarchy, selector):
                    self._configured[agent] = own
        self._links = dict(self._configured)

    @property
    def now(self) -> float:
        return self.env.now  # a float: see new_environment

    def at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` at virtual time ``when`` (not before now)."""
        self.after(max(0.0, when - self.env.now), callback, *args)

    def after(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` ``delay`` (>= 0) virtual seconds from now."""
        if delay < 0:  # as Timeout does: time must never run backwards
            raise ValueError(f"negative delay {delay} for {callback}")
        self.env.schedule(_Call(callback, args), NORMAL, delay)  # type: ignore[arg-type]

    def emit(self, event: str, **fields: Any) -> None:
        self.trace.emit(self.env.now, event, fields)

    # -- the network -------------------------------------------------------

    def partitioned(self, agent_id: str, via: str | None = None) -> bool:
        """Whether the agent cannot reach the control plane right now: its network
        link is cut (which never affects the local kill file), or ``via``'s endpoint
        is in a transport outage."""
        if not self.partitions:
            return False
        now = self.env.now
        for p in self.partitions:
            if not p.start <= now < p.end or agent_id not in p.agents:
                continue
            if p.transports is None:
                if via != "file":
                    return True
            elif via in p.transports:
                return True
        return False

    def outage(self, agent_id: str, via: str) -> bool:
        """Whether ``via``'s endpoint alone is down for this agent (not a network cut)."""
        if not self.partitions:
            return False
        now = self.env.now
        return any(
            p.transports is not None
            and via in p.transports
            and agent_id in p.agents
            and p.start <= now < p.end
            for p in self.partitions
        )

    def link(self, agent_id: str) -> NetworkLink:
        """The agent's link to the control plane, now."""
        return self._links.get(agent_id, self._default_link)

    def link_group(self, agent_id: str) -> str:
        """The ``[[network.links]]`` name of the agent's link (degrade faults aside)."""
        configured = self._configured.get(agent_id)
        return DEFAULT_LINK if configured is None else configured.group

    def relink(self, agents: list[str]) -> None:
        """Recompute these agents' links after a degrade fault starts or ends."""
        for agent in agents:
            link = self._configured.get(agent, self._default_link)
            for degradation in self.degradations:
                if agent in degradation.agents:
                    link = link.degraded(degradation.latency, degradation.loss)
            if link is self._default_link:
                self._links.pop(agent, None)
            else:
                self._links[agent] = link

    def latency(self, agent_id: str) -> float:
        """One-way latency of one message on the agent's link to the control plane."""
        link = self.link(agent_id)
        delay = link.latency.sample(self.rng)
        if link.reorder and self.rng.random() < link.reorder:
            delay += link.reorder_delay.sample(self.rng)
        return delay

    def lost(self, agent_id: str) -> bool:
        loss = self.link(agent_id).loss
        return bool(loss) and self.rng.random() < loss

    def duplicated(self, agent_id: str) -> bool:
        dup = self.link(agent_id).duplicate
        return bool(dup) and self.rng.random() < dup

    # -- agent selectors ---------------------------------------------------

    def select(self, selectors: list[str]) -> list[str]:
        """Agent ids for selectors: an id, ``root``, ``all``, ``leaves``,
        ``subtree:<id>``, ``depth:<n>``. Order follows the hierarchy's order."""
        h = self.hierarchy
        chosen: set[str] = set()
        for selector in selectors:
            chosen.update(resolve_selector(h, selector))
        return [a for a in self.agents if a in chosen]


def resolve_selector(h: Hierarchy, selector: str) -> list[str]:
    if selector == "all":
        return list(h.graph.nodes)
    if selector == "root":
        return [h.roots[0]]
    if selector == "leaves":
        return [n for n in h.graph.nodes if not h.children(n)]
    kind, _, arg = selector.partition(":")
    if kind == "subtree" and arg in h:
        return [arg, *h.descendants(arg)]
    # ASCII digits only: "depth:²" passes str.isdigit() but not int().
    if kind == "depth" and arg.isascii() and arg.isdigit():
        chosen = [n for n in h.graph.nodes if h.depth(n) == int(arg)]
        if not chosen:
            # Past the last level: a fault there would silently hit nobody.
            deepest = max(h.depth(n) for n in h.graph.nodes)
            raise ValueError(
                f"agent selector {selector!r} matches nothing: the tree's last level is"
                f" depth:{deepest}"
            )
        return chosen
    if selector in h:
        return [selector]
    raise ValueError(
        f"agent selector {selector!r} matches nothing: use an agent id, root, all, leaves,"
        " subtree:<id> or depth:<n>"
    )
