"""The reference listener (:class:`killswitch.Listener`) behind the adapter contract.

It is plugged in exactly like a user's implementation
(``--impl conformance.reference:factory``): the suite has no special path for
it. Each agent gets a durable :class:`~killswitch.SqliteStore` in the state
directory, so replay protection and PAUSE/TERMINATE survive :meth:`restart`.

The reference takes ``now`` from the harness (clock ``injected``) but honours
``Config.clock == "wall"`` by reading the system clock itself, so the suite's
wall-clock mode can be checked against it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from conformance.adapter import Capabilities, Config, Observation
from conformance.profiles import resolve_profile
from killswitch import (
    Accepted,
    Algorithm,
    Listener,
    Policy,
    SqliteStore,
    TrustStore,
    VerifyingKey,
)
from killswitch.hierarchy import Hierarchy, cascade_plan


class ReferenceAdapter:
    """``killswitch.Listener`` (one per agent of the tree) over SQLite stores."""

    capabilities = Capabilities(
        clock="injected",
        profiles=(),  # any: built-in or a user's Profile class (module:Class)
        algorithms=("Ed25519", "ES256", "RS256"),
        features=frozenset({"pause", "cascade", "watchdog"}),
        reasons=True,
        name="killswitch reference listener",
    )

    def __init__(self) -> None:
        self._config: Config | None = None
        self._listeners: dict[str, Listener] = {}
        self._stores: list[SqliteStore] = []
        self._hierarchy: Hierarchy | None = None
        self._now = 0.0

    def start(self, config: Config) -> None:
        self._config = config
        self._now = config.start_time
        if config.hierarchy:
            self._hierarchy = Hierarchy.from_edges(config.hierarchy, [config.instance_id])
        self._open()

    def _open(self) -> None:
        config = self._require()
        trust = TrustStore(
            VerifyingKey.from_pem(k.key_id, k.public_pem, Algorithm(k.algorithm))
            for k in config.trusted_keys
        )
        for key_id in config.revoked_key_ids:
            trust.revoke(key_id)  # revocation wins over a listed key (SPEC.md KS-070)
        hints = config.policy
        policy = Policy(
            clock_skew_s=hints.clock_skew_s,
            max_lifetime_s=hints.max_lifetime_s,
            allow_wildcard=hints.allow_wildcard,
            max_grace_s=hints.max_grace_s,
            watchdog_timeout_s=hints.watchdog_timeout_s,
            max_message_bytes=hints.max_message_bytes,
        )
        profile = resolve_profile(config.profile)
        agents = [config.instance_id]
        if self._hierarchy is not None:
            agents = list(self._hierarchy.graph.nodes)
        started = self._clock(self._now) if hints.watchdog_timeout_s is not None else None
        for agent in agents:
            name = hashlib.sha256(agent.encode()).hexdigest()[:16]
            store = SqliteStore(Path(config.state_dir) / f"agent-{name}.sqlite")
            self._stores.append(store)
            self._listeners[agent] = Listener(
                agent, config.asset_id, trust, policy, store, profile, started_at=started
            )

    def _require(self) -> Config:
        if self._config is None:
            raise RuntimeError("start() was not called")
        return self._config

    def _clock(self, now: float) -> float:
        """The harness's ``now``, or the system clock in wall mode."""
        return time.time() if self._require().clock == "wall" else now

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        config = self._require()
        now = self._clock(now)
        self._now = max(self._now, now)
        agent = to or config.instance_id
        # Time passed up to `now` before the bytes arrived: a watchdog or grace
        # deadline due by then fires first (with the wall clock, nothing else ticks).
        self.advance(now)
        listener = self._listeners[agent]
        decision = listener.receive(raw, now=now, via=via)
        if isinstance(decision, Accepted):
            command = decision.effect.command
            if command is not None and command.cascade and self._hierarchy is not None:
                for step in cascade_plan(self._hierarchy, agent, command):
                    if step.agent_id != agent:
                        self._listeners[step.agent_id].apply_cascade(command, now=now)
            return Observation(True, None, listener.state.value, listener.hard_kill_at)
        return Observation(
            False, decision.reason.value, listener.state.value, listener.hard_kill_at
        )

    def state(self, agent: str | None = None) -> str:
        listener = self._listeners[agent or self._require().instance_id]
        if self._require().clock == "wall":
            listener.tick(time.time())
        return listener.state.value

    def advance(self, now: float) -> None:
        self._now = max(self._now, now)
        for listener in self._listeners.values():
            listener.tick(now)

    def restart(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self._stores.clear()
        self._listeners.clear()


def factory() -> ReferenceAdapter:
    """Entry point for ``--impl conformance.reference:factory``."""
    return ReferenceAdapter()
