"""Swarm testing (as TigerBeetle's VOPR): a random fault mix per seed.

Each swarm seed draws which faults happen, when, to whom and how hard, on top
of a base scenario (``baseline`` by default), runs it, and judges only the
invariants (checkers), not the SLA: chaos may legitimately be slow, but it
must never make the design unsafe. A failing seed is reproduced by one
command, because the fault mix is a pure function of the seed.
"""

from __future__ import annotations

import random
import typing
from dataclasses import replace

from sim.rng import Dist, derive_seed
from sim.runner import RunResult, run_once
from sim.scenario import Fault, FaultKind, Scenario, TransportName

#: Every fault kind the scenario schema knows, in its order.
KINDS: tuple[FaultKind, ...] = typing.get_args(FaultKind)


def swarm_seed(master: int, index: int) -> int:
    return derive_seed(master, "swarm", index)


#: The agents a drawn fault hits: selectors that name somebody in any tree but
#: one, ``depth:1`` (see _selector).
SELECTORS = ("all", "root", "leaves", "depth:1")


def _selector(rng: random.Random, scenario: Scenario) -> str:
    """One of SELECTORS. A one-agent tree has no ``depth:1`` (a selector that
    matches nobody is refused), so there it becomes ``root``, the same agent as
    ``all``; it is still drawn, so every other tree's mixes stay what they were."""
    selector = rng.choice(SELECTORS)
    if selector == "depth:1" and scenario.topology.size() < 2:
        return "root"
    return selector


def draw_faults(seed: int, scenario: Scenario) -> list[Fault]:
    """The fault mix for ``seed``: 1 to 4 faults of random kinds, times and targets."""
    rng = random.Random(seed)
    horizon = scenario.meta.duration_s * 0.6
    faults = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(KINDS)
        at = round(rng.uniform(0.0, horizon), 3)
        duration = round(rng.uniform(1.0, 40.0), 3)
        agents = [_selector(rng, scenario)]
        if kind == "clock_skew":
            # Within the listener's leeway: skew beyond it is a misconfiguration, not chaos.
            fault = Fault(kind, at_s=0.0, agents=agents, skew_s=round(rng.uniform(-20, 20), 3))
        elif kind == "slow_cleanup":
            fault = Fault(kind, at_s=0.0, agents=agents, hang=rng.random() < 0.5,
                          cleanup_s=Dist("uniform", low=10.0, high=90.0))  # fmt: skip
        elif kind == "key_rotation":
            fault = Fault(
                kind, at_s=at, agents=["all"], distribute_s=Dist("uniform", low=0.0, high=20.0)
            )
        elif kind == "modify_attack":
            rewrites: list[tuple[str, str | bool | int]] = [
                ("cascade", False),
                ("grace_period_seconds", 3600),
                ("reason", "x"),
            ]
            name, value = rewrites[rng.randrange(len(rewrites))]
            fault = Fault(
                kind,
                at_s=at,
                duration_s=duration,
                agents=agents,
                field_name=name,
                field_value=value,
            )
        elif kind == "transport_outage":
            transports: list[TransportName] = ["sse", "websocket", "poll"]
            transport = transports[rng.randrange(len(transports))]
            fault = Fault(kind, at_s=at, duration_s=duration, agents=agents, transport=transport)
        elif kind == "degrade":
            fault = Fault(
                kind,
                at_s=at,
                duration_s=duration,
                agents=agents,
                latency=Dist("uniform", low=0.5, high=10.0),
                loss=round(rng.uniform(0.0, 0.5), 3),
            )
        elif kind == "forged_flood":
            fault = Fault(
                kind, at_s=at, duration_s=duration, agents=agents, rate_per_s=rng.uniform(1, 50)
            )
        else:
            fault = Fault(kind, at_s=at, duration_s=duration, agents=agents)
        faults.append(fault)
    return faults


def swarm_scenario(seed: int, base: Scenario) -> Scenario:
    meta = replace(base.meta, name=f"{base.meta.name}+swarm{seed}")
    return replace(base, meta=meta, faults=[*base.faults, *draw_faults(seed, base)])


def run_swarm_seed(args: tuple[int, Scenario]) -> tuple[int, RunResult, list[Fault]]:
    seed, base = args
    scenario = swarm_scenario(seed, base)
    return seed, run_once(scenario, seed), scenario.faults
