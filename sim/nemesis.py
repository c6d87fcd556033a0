"""Faults ("nemesis"): scheduled from the scenario, or drawn at random by swarm mode.

Each fault kind is one small function that schedules its start (and end).
The attacker sits on the wire of chosen agents: it records what passes,
replays it later, rewrites it in flight, or floods forgeries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from killswitch import Command, CommandType, derive_distinct_key, from_posix
from sim.scenario import Fault
from sim.world import EPOCH, Degradation, Partition, World


class Attacker:
    """A man in the middle on the links of some agents."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.captured: dict[str, list[bytes]] = {}
        self.capturing: set[str] = set()
        #: agent -> (start, end, field, value) rewrite windows
        self.rewrites: dict[str, list[tuple[float, float, str, object]]] = {}

    def on_wire(self, agent: str, raw: bytes, origin: str) -> tuple[bytes, str]:
        """A control-plane message passes the attacker on its way to ``agent``."""
        if agent in self.capturing:
            self.captured.setdefault(agent, []).append(raw)
        now = self.world.now
        for start, end, name, value in self.rewrites.get(agent, ()):
            if start <= now < end:
                rewritten = self._rewrite(raw, name, value)
                if rewritten is not None:
                    return rewritten, "attacker_modified"
        return raw, origin

    def _rewrite(self, raw: bytes, name: str, value: object) -> bytes | None:
        """``raw`` with ``name`` set to ``value``; None when that changes nothing
        (the field already has the value): the message passes as it was, and its
        acceptance is no successful attack."""
        profile = self.world.cp.profile if self.world.cp else None
        if profile is None:
            return None
        try:
            obj = profile.to_dict(raw)
        except ValueError:
            return None
        if name in obj and obj[name] == value and type(obj[name]) is type(value):
            self.world.obs.count("attacker_rewrites_unchanged")
            return None
        obj[name] = value
        self.world.obs.count("attacker_rewrites")
        return profile.from_dict(obj)

    def replay(self, agents: list[str]) -> None:
        world = self.world
        for agent in agents:
            for n, raw in enumerate(self.captured.get(agent, [])):
                world.obs.count("attacker_replays")
                world.after(
                    0.01 * n, world.agents[agent].deliver, raw, "sse", None, "attacker_replay"
                )


def schedule_faults(world: World, faults: list[Fault]) -> None:
    for index, fault in enumerate(faults):
        SCHEDULERS[fault.kind](world, fault, index)


def _partition(world: World, fault: Fault, index: int) -> None:
    # Iterate the ordered list, never the frozenset: a set's order depends on the
    # process's string hash seed, and each stall draws from the run's generator.
    agents = world.select(fault.agents)
    world.partitions.append(Partition(fault.at_s, fault.at_s + fault.duration_s, frozenset(agents)))

    def start() -> None:
        world.emit("partition", agents=len(agents), until=round(fault.at_s + fault.duration_s, 6))
        for agent in agents:
            for stream in world.agents[agent].streams.values():
                stream.stall()

    world.at(fault.at_s, start)
    world.at(fault.at_s + fault.duration_s, world.emit, "partition_healed")


def _transport_outage(world: World, fault: Fault, index: int) -> None:
    """One transport's endpoint is down (e.g. the SSE service) while the rest of
    the network, and the other transports, keep working."""
    agents = world.select(fault.agents)  # ordered: see _partition
    end = fault.at_s + fault.duration_s
    kind = fault.transport
    world.partitions.append(Partition(fault.at_s, end, frozenset(agents), frozenset({kind})))

    def start() -> None:
        world.emit("transport_outage", via=kind, agents=len(agents), until=round(end, 6))
        for agent in agents:
            stream = world.agents[agent].streams.get(kind)
            if stream is not None:
                stream.server_closed()

    world.at(fault.at_s, start)
    world.at(end, lambda: world.emit("transport_outage_over", via=kind))


def _degrade(world: World, fault: Fault, index: int) -> None:
    """The agents' links get slow and/or lossy for a while (a congested uplink, a
    failing VPN): messages sent meanwhile draw ``latency`` and ``loss`` instead
    of their link's own. ``duration_s = 0``: for the rest of the run."""
    agents = world.select(fault.agents)
    degradation = Degradation(frozenset(agents), fault.latency, fault.loss)
    end = fault.at_s + fault.duration_s if fault.duration_s > 0 else None

    def start() -> None:
        world.emit("degrade", agents=len(agents), until=None if end is None else round(end, 6))
        world.degradations.append(degradation)
        world.relink(agents)

    def stop() -> None:
        world.degradations.remove(degradation)
        world.relink(agents)
        world.emit("degrade_over", agents=len(agents))

    world.at(fault.at_s, start)
    if end is not None:
        world.at(end, stop)


def _half_open(world: World, fault: Fault, index: int) -> None:
    def start() -> None:
        world.emit("half_open", agents=len(agents))
        for agent in agents:
            for stream in world.agents[agent].streams.values():
                stream.stall()

    agents = world.select(fault.agents)
    world.at(fault.at_s, start)


def _cp_crash(world: World, fault: Fault, index: int) -> None:
    cp = world.cp
    assert cp is not None
    world.at(fault.at_s, cp.crash)
    if fault.duration_s > 0:
        world.at(fault.at_s + fault.duration_s, cp.restart)


def _agent_crash(world: World, fault: Fault, index: int) -> None:
    for agent in world.select(fault.agents):
        sim = world.agents[agent]
        world.at(fault.at_s, sim.crash)
        if fault.duration_s > 0:
            world.at(fault.at_s + fault.duration_s, sim.restart)


def _clock_skew(world: World, fault: Fault, index: int) -> None:
    def start() -> None:
        for agent in world.select(fault.agents):
            sim = world.agents[agent]
            sim.skew_s = fault.skew_s
            sim.drift = fault.drift_ppm * 1e-6
        world.emit("clock_skew", skew_s=fault.skew_s, drift_ppm=fault.drift_ppm)

    world.at(fault.at_s, start)


def _slow_cleanup(world: World, fault: Fault, index: int) -> None:
    def start() -> None:
        for agent in world.select(fault.agents):
            sim = world.agents[agent]
            sim.cleanup_override = fault.cleanup_s
            sim.cleanup_hangs = fault.hang

    world.at(fault.at_s, start)


def _key_rotation(world: World, fault: Fault, index: int) -> None:
    cp = world.cp
    assert cp is not None
    old = cp.key
    new_id = f"{old.key_id}-r{index + 1}"
    new = derive_distinct_key(f"rotation-{index}", old.algorithm, new_id, [old.verifying_key()])

    def rotate() -> None:
        cp.rotate(new)
        for agent in world.select(fault.agents):
            world.after(fault.distribute_s.sample(world.rng), _trust_new, agent)
        if fault.revoke_old_after_s >= 0:
            world.after(fault.revoke_old_after_s, revoke)

    def _trust_new(agent: str) -> None:
        world.agents[agent].trust.add(new.verifying_key())

    def revoke() -> None:
        world.emit("key_revoked", key_id=old.key_id)
        for agent in world.select(fault.agents):
            world.agents[agent].trust.revoke(old.key_id)

    world.at(fault.at_s, rotate)


def _replay_attack(world: World, fault: Fault, index: int) -> None:
    attacker = _attacker(world)
    agents = world.select(fault.agents)
    attacker.capturing.update(agents)
    world.at(fault.at_s, attacker.replay, agents)


def _modify_attack(world: World, fault: Fault, index: int) -> None:
    attacker = _attacker(world)
    window = (fault.at_s, fault.at_s + fault.duration_s, fault.field_name, fault.field_value)
    for agent in world.select(fault.agents):
        attacker.rewrites.setdefault(agent, []).append(window)


def _forged_flood(world: World, fault: Fault, index: int) -> None:
    cp = world.cp
    assert cp is not None
    agents = world.select(fault.agents)
    if fault.rate_per_s <= 0 or not agents:
        return
    real = cp.key
    forger = derive_distinct_key(
        f"forger-{index}", real.algorithm, real.key_id, [real.verifying_key()]
    )
    end = fault.at_s + fault.duration_s
    counter = [0]

    def forge_one() -> None:
        if world.now >= end:
            return
        counter[0] += 1
        agent = agents[counter[0] % len(agents)]
        issued = from_posix(EPOCH + world.now)
        command = Command(
            command_id=f"forged-{index}-{counter[0]}",
            command_type=CommandType.TERMINATE,
            target_instance_id=agent,
            issued_by="attacker",
            issued_at=issued,
            expires_at=issued + timedelta(seconds=60),
            nonce=f"forged-nonce-{index}-{counter[0]}",
            key_id=cp.key.key_id,
            sequence=10**9 + counter[0],
        )
        world.obs.count("forged_sent")
        raw = cp.profile.encode(command, forger)
        world.after(
            world.latency(agent), world.agents[agent].deliver, raw, "sse", None, "attacker_forged"
        )
        world.after(world.rng.expovariate(fault.rate_per_s), forge_one)

    world.at(fault.at_s, forge_one)


def _attacker(world: World) -> Attacker:
    if world.attacker is None:
        world.attacker = Attacker(world)
    return world.attacker


SCHEDULERS: dict[str, Callable[[World, Fault, int], None]] = {
    "partition": _partition,
    "half_open": _half_open,
    "transport_outage": _transport_outage,
    "cp_crash": _cp_crash,
    "agent_crash": _agent_crash,
    "clock_skew": _clock_skew,
    "slow_cleanup": _slow_cleanup,
    "key_rotation": _key_rotation,
    "replay_attack": _replay_attack,
    "modify_attack": _modify_attack,
    "forged_flood": _forged_flood,
    "degrade": _degrade,
}
