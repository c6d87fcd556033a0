"""Build the model for one scenario and seed, run it, and judge it.

Order of construction is fixed (hierarchy, keys, agents in hierarchy order,
control plane, faults, operator timeline, transports), so every random draw
happens in the same order for the same scenario and seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simpy

from killswitch import Algorithm, Policy, TrustStore, derive_signing_key, get_profile
from killswitch.collector import gc_paused
from killswitch.hierarchy import Hierarchy
from sim.agent import AgentSim
from sim.checkers import Check, run_checkers
from sim.controlplane import ControlPlane
from sim.nemesis import schedule_faults
from sim.observe import Observations
from sim.rng import derive_seed
from sim.samples import Samples
from sim.scenario import Scenario, Topology
from sim.trace import Trace
from sim.world import World, new_environment, resolve_selector

#: Trees up to this size keep one row per (command, agent) in their result (the
#: report's tree and timeline plots show them); larger ones only their samples.
ROWS_LIMIT = 400
#: Trees up to this size keep each agent's state timeline in their result.
TIMELINE_LIMIT = 60
#: A run that reports its progress does so this many times (see run_once).
PROGRESS_STEPS = 100


@dataclass
class RunResult:
    """What one replication produced (small enough to send between processes)."""

    seed: int
    digest: str
    trace_lines: int
    agents: int
    checks: list[Check]
    #: One row per (operator command, agent): kind, via, depth, phase durations,
    #: spend. Only for trees up to ROWS_LIMIT agents and runs with ``detail``.
    rows: list[dict[str, Any]]
    counters: dict[str, int]
    final_states: dict[str, int]
    actions_after_click: int
    spend_after_click: float
    virtual_s: float
    #: Agent state timelines and faults for small trees (report plots), else empty.
    timeline: dict[str, list[tuple[float, str, str, str]]] = field(default_factory=dict)
    #: Every pair's phase durations, grouped for the summary (None in results
    #: built by hand: the summary then groups ``rows``).
    samples: Samples | None = None


def build_hierarchy(topology: Topology, seed: int) -> Hierarchy:
    if topology.kind == "balanced":
        return Hierarchy.balanced(topology.fanout, topology.depth)
    if topology.kind == "random":
        return Hierarchy.random_tree(
            topology.agents, derive_seed(seed, "topology"), topology.max_children
        )
    return Hierarchy.from_edges(topology.edges)


def policy_for(scenario: Scenario) -> Policy:
    a = scenario.agents
    return Policy(
        clock_skew_s=a.clock_skew_leeway_s,
        max_lifetime_s=a.max_lifetime_s,
        max_grace_s=a.max_grace_s,
        watchdog_timeout_s=a.watchdog_s or None,
    )


def check_selectors(scenario: Scenario, hierarchy: Hierarchy, source: str) -> None:
    """Fail early, naming the scenario key, when a selector or target matches no agent."""
    from sim.schema import ScenarioError

    chosen = [(f"faults[{i}].agents", fault.agents) for i, fault in enumerate(scenario.faults)]
    links = scenario.network.links
    chosen += [(f"network.links[{i}].agents", link.agents) for i, link in enumerate(links)]
    for key, selectors in chosen:
        for selector in selectors:
            try:
                resolve_selector(hierarchy, selector)
            except ValueError as exc:
                raise ScenarioError(source, key, str(exc)) from None
    for i, op in enumerate(scenario.operator):
        if op.target != "root" and op.target not in hierarchy:
            raise ScenarioError(
                source, f"operator[{i}].target", f"no agent {op.target!r} in the topology"
            )


def run_once(
    scenario: Scenario,
    seed: int,
    trace_path: Path | None = None,
    *,
    detail: bool = True,
    clock: Callable[[float], None] | None = None,
) -> RunResult:
    """Run one replication. Without ``detail`` the result carries no rows and no
    timeline (Monte Carlo replications after the first: nothing reads them).
    ``clock`` is told the virtual time reached, PROGRESS_STEPS times as the run
    goes (a progress bar for a long run); the run itself is the same."""
    # The collector would rescan the whole agent tree again and again (40% of
    # the wall time at 10^5 agents) to find nothing: a run makes only
    # short-lived, acyclic objects per event, and _tear_down cuts its cycles.
    with gc_paused():
        return _run(scenario, seed, trace_path, detail, clock)


def _simulate(env: simpy.Environment, until: float, clock: Callable[[float], None] | None) -> None:
    """Run the event loop to ``until``, stopping PROGRESS_STEPS times to tell ``clock``.

    Stopping changes nothing in the run: ``Environment.run(until=t)`` stops
    before the events due at ``t`` (its stop event is urgent), which the next
    step then runs in their usual order (tested: same trace, same digest).
    """
    if clock is None:
        env.run(until=until)
        return
    for step in range(1, PROGRESS_STEPS + 1):
        env.run(until=until if step == PROGRESS_STEPS else until * step / PROGRESS_STEPS)
        clock(env.now)


def _run(
    scenario: Scenario,
    seed: int,
    trace_path: Path | None,
    detail: bool,
    clock: Callable[[float], None] | None,
) -> RunResult:
    rng = random.Random(seed)
    hierarchy = build_hierarchy(scenario.topology, seed)
    trace = Trace(trace_path)
    world = World(new_environment(), rng, scenario, hierarchy, trace, Observations())
    try:
        _build(world, seed)
        _simulate(world.env, scenario.meta.duration_s, clock)
        return _finish(world, seed, detail)
    finally:
        # Also on Ctrl-C: left to the cycle collector, a large interrupted run
        # held the exit for seconds (the interpreter collects it on the way out).
        _tear_down(world)


def _build(world: World, seed: int) -> None:
    """The control plane, the agents, the faults and the operator's clicks, in
    the fixed order the module docstring gives."""
    scenario, hierarchy, trace = world.scenario, world.hierarchy, world.trace
    cp_config = scenario.control_plane
    algorithm = Algorithm(cp_config.algorithm)
    key = derive_signing_key(derive_seed(seed, "control-plane-key"), algorithm, "cp-key-1")
    profile = get_profile(cp_config.profile)
    policy = policy_for(scenario)
    rotating = any(f.kind == "key_rotation" for f in scenario.faults)
    shared = TrustStore([key.verifying_key()])
    start = {"scenario": scenario.meta.name, "seed": seed, "agents": len(hierarchy)}
    trace.emit(0.0, "start", start)
    for agent_id in hierarchy.graph.nodes:
        # Each agent needs its own trust store only when keys rotate per agent.
        trust = TrustStore([key.verifying_key()]) if rotating else shared
        world.agents[agent_id] = AgentSim(world, agent_id, trust, policy, profile)
    _link_tree(world)
    world.cp = ControlPlane(world, key)
    schedule_faults(world, scenario.faults)
    for index, op in enumerate(sorted(scenario.operator, key=lambda o: o.at_s)):
        world.at(op.at_s, world.cp.click, index, op)
    first_click = min(op.at_s for op in scenario.operator)
    world.at(first_click, _start_counting, world)
    for agent in world.agents.values():
        agent.start()


def _link_tree(world: World) -> None:
    """Give every agent its parent and children: the cascade walks them per event."""
    agents = world.agents
    # One pass over the adjacency (parent -> its children, in insertion order).
    for agent_id, successors in world.hierarchy.graph.adjacency():
        if successors:
            agent = agents[agent_id]
            agent.children = tuple(agents[child] for child in successors)
            for child in agent.children:
                child.parent = agent


def _tear_down(world: World) -> None:
    """Break the run's reference cycles so reference counting frees it at once.

    The world, its agents and their transports point at each other, and the
    events still queued point at all of them; left to the cycle collector, a
    run of 10^5 agents costs a 2.5 s pass over millions of objects when the
    collector is switched back on, against 0.1 s for clearing them here.
    Cutting the agents' links to their transports and tree neighbours, and
    clearing the control plane, the attacker and the world, is enough: every
    other object of the run hangs off them without a cycle (a few dozen
    objects per run are left to the collector).
    """
    queue = getattr(world.env, "_queue", None)
    if isinstance(queue, list):
        queue.clear()
    for agent in world.agents.values():
        agent.tear_down()
    for owner in (world.cp, world.attacker, world):
        attributes = getattr(owner, "__dict__", None)
        if attributes is not None:
            attributes.clear()


def _start_counting(world: World) -> None:
    world.clicked = True
    for agent in world.agents.values():
        agent.start_workload()


def _finish(world: World, seed: int, detail: bool) -> RunResult:
    obs = world.obs
    h = world.hierarchy
    for agent_id, sim_agent in world.agents.items():
        obs.final_states[agent_id] = sim_agent.state.value
        if not sim_agent.up:
            obs.down_at_end.add(agent_id)
    world.emit("end", **{k: v for k, v in sorted(_state_counts(obs).items())})
    world.trace.close()
    checks = run_checkers(h, obs)
    depths = _depths(h)
    samples = Samples()
    rows = []
    keep_rows = detail and len(world.agents) <= ROWS_LIMIT
    by_link = bool(world.scenario.network.links)
    for (op, agent), p in obs.phases.items():
        durations = {k: round(v, 6) for k, v in p.durations().items()}
        link = world.link_group(agent) if by_link else None
        moot = p.moot
        samples.add(p.kind, p.via, depths[agent], durations, link, moot)
        if keep_rows:
            row = {
                "op": op,
                "agent": agent,
                "kind": p.kind,
                "via": p.via,
                "depth": depths[agent],
                "rejected": p.rejected,
                "moot": moot,
                "actions": p.actions,
                "spend": round(p.spend, 6),
                "phases": durations,
            }
            if link is not None:
                row["link"] = link
            rows.append(row)
    keep_timeline = detail and len(world.agents) <= TIMELINE_LIMIT
    timeline = dict(obs.transitions) if keep_timeline else {}
    return RunResult(
        seed=seed,
        digest=world.trace.digest,
        trace_lines=world.trace.lines,
        agents=len(world.agents),
        checks=checks,
        rows=rows,
        counters=dict(sorted(obs.counters.items())),
        final_states=_state_counts(obs),
        actions_after_click=obs.actions_after_click,
        spend_after_click=round(obs.spend_after_click, 6),
        virtual_s=world.now,
        timeline=timeline,
        samples=samples,
    )


def _depths(h: Hierarchy) -> dict[str, int]:
    """Every agent's depth in one pass from the roots (``Hierarchy.depth`` walks up per agent)."""
    children = dict(h.graph.adjacency())  # agent -> {child: ...}
    depths = dict.fromkeys(h.roots, 0)
    frontier = list(h.roots)
    while frontier:
        agent = frontier.pop()
        below = depths[agent] + 1
        for child in children[agent]:
            depths[child] = below
            frontier.append(child)
    return depths


def _state_counts(obs: Observations) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in obs.final_states.values():
        counts[state] = counts.get(state, 0) + 1
    return counts
