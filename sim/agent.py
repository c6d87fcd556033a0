"""One simulated agent: the real reference Listener, its transports, its workload.

Every delivery goes through a real ``Listener.receive`` with real signature
verification; only the *duration* of verification comes from the scenario's
distribution (deliveries queue for one verifier, so a flood of forgeries
delays real commands). Cleanup runs for a drawn duration; the runtime
hard-kills at the grace deadline; with agent-side cascade an agent finishes
only after its children have (children before parent, as the seed).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from killswitch import (
    Accepted,
    AgentState,
    Command,
    CommandType,
    Decision,
    Effect,
    Listener,
    MemoryStore,
    Policy,
    Reason,
    TrustStore,
)
from killswitch.states import Input
from sim.controlplane import Message
from sim.observe import Phases
from sim.rng import Dist
from sim.trace import line_writer
from sim.transports import FileWatcher, Poller, StreamClient
from sim.world import EPOCH, World

if TYPE_CHECKING:
    from killswitch.profiles import Profile

#: Rejections that may change on redelivery (SPEC.md KS-227): not acknowledged, so
#: the control plane keeps offering the command. Nothing is known about the
#: authenticity of the first four (e.g. signed with a rotated key the agent has
#: not learnt yet); NOT_YET_VALID becomes valid as the agent's slow clock advances.
_NOT_FINAL = frozenset(
    {
        Reason.MALFORMED,
        Reason.UNSUPPORTED_ALGORITHM,
        Reason.UNKNOWN_KEY,
        Reason.BAD_SIGNATURE,
        Reason.NOT_YET_VALID,
    }
)
_NETWORK = frozenset({"sse", "websocket", "poll"})
_RUNNING, _TERMINATING = AgentState.RUNNING, AgentState.TERMINATING
#: ``member.value`` of states and inputs, for the observations (Enum's ``value``
#: is a Python-level descriptor; every transition records three of them).
_NAME: dict[AgentState | Input, str] = {m: m.value for m in (*AgentState, *Input)}

# The trace lines an agent writes for every command it takes (see sim.trace).
_ACCEPTED = line_writer("accepted", "agent", "via", "state", "origin", "op")
_REJECTED = line_writer("rejected", "agent", "via", "reason", "origin", "op")
_HALTED = line_writer("halted", "agent", "state")
_TERMINATED = line_writer("terminated", "agent", "cause")


class AgentSim:
    # Slots: a million agents each carry these; a per-instance dict would double them.
    __slots__ = (
        "accepted_ids",
        "busy_until",
        "cascaded",
        "children",
        "children_waiting",
        "cleanup_hangs",
        "cleanup_override",
        "config",
        "drift",
        "file",
        "forgotten",
        "id",
        "incarnation",
        "listener",
        "open_phases",
        "own_cleanup_done",
        "parent",
        "policy",
        "poller",
        "profile",
        "skew_s",
        "store",
        "streams",
        "transitions",
        "trust",
        "up",
        "working",
        "world",
    )

    def __init__(
        self, world: World, agent_id: str, trust: TrustStore, policy: Policy, profile: Profile
    ) -> None:
        self.world = world
        self.id = agent_id
        self.trust = trust
        self.policy = policy
        self.profile = profile
        self.config = world.scenario.agents
        self.store = MemoryStore()
        self.up = True
        self.incarnation = 0
        self.skew_s = 0.0
        self.drift = 0.0
        self.cleanup_override: Dist | None = None
        self.cleanup_hangs = False
        self.busy_until = 0.0
        self.working = False
        self.own_cleanup_done = False
        #: The halted state (PAUSED) a restart forgot (an in-memory store), until
        #: the agent accepts a command again: its actions break the operator's halt.
        self.forgotten: str | None = None
        #: This agent's place in the tree (set by link_tree once every agent exists).
        self.parent: AgentSim | None = None
        #: The latest cascading command this agent passed down, and its operator op.
        self.cascaded: tuple[Command, str | None] | None = None
        self.children: tuple[AgentSim, ...] = ()
        #: Children this agent waits for before it may finish terminating (created
        #: by a TERMINATE with agent-side cascade).
        self.children_waiting: set[str] | None = None
        #: Phases of the operator commands meant for this agent, in click order.
        self.open_phases: list[Phases] = []
        #: This agent's list in ``world.obs.transitions``, once it has one.
        self.transitions: list[tuple[float, str, str, str]] | None = None
        #: Command ids this agent accepted (kept only when an attacker is modelled).
        self.accepted_ids: set[str] | None = None
        self.streams: dict[str, StreamClient] = {}
        self.poller: Poller | None = None
        self.file: FileWatcher | None = None
        for kind in world.scenario.transports.listen:
            if kind in ("sse", "websocket"):
                self.streams[kind] = StreamClient(world, self, kind)
            elif kind == "poll":
                self.poller = Poller(world, self)
            else:
                self.file = FileWatcher(world, self)
        self.listener = self._new_listener()

    # -- clock and listener ------------------------------------------------

    def local_now(self) -> float:
        """This agent's clock: skewed and drifting from virtual time."""
        t = self.world.env.now
        return EPOCH + t + self.skew_s + self.drift * t

    def _new_listener(self) -> Listener:
        started = self.local_now() if self.policy.watchdog_timeout_s is not None else None
        return Listener(
            self.id, None, self.trust, self.policy, self.store, self.profile, started_at=started
        )

    @property
    def state(self) -> AgentState:
        return self.listener.state

    def subtree(self) -> list[AgentSim]:
        """Every agent below this one, depth-first, parents before children: the
        order of ``Hierarchy.descendants``, walked over the model's own links
        (a tenth of the cost of walking the networkx graph)."""
        found: list[AgentSim] = []
        stack = list(reversed(self.children))
        while stack:
            agent = stack.pop()
            found.append(agent)
            stack.extend(reversed(agent.children))
        return found

    def stream(self, kind: str) -> StreamClient:
        return self.streams[kind]

    def start(self) -> None:
        for stream in self.streams.values():
            stream.start()
        if self.poller is not None:
            self.poller.start()
        if self.file is not None:
            self.file.start()
        if self.policy.watchdog_timeout_s is not None:
            self.world.after(self.policy.watchdog_timeout_s / 4, self._watchdog, self.incarnation)

    def heard(self) -> None:
        self.listener.heard(self.local_now())

    def write_kill_file(self, message: Message) -> None:
        if self.file is None:
            self.world.obs.count("kill_file_unwatched")
            return
        self.file.write(message)

    # -- deliveries ----------------------------------------------------------

    def deliver(self, raw: bytes, via: str, op: str | None, origin: str = "control_plane") -> None:
        """A message arrived on ``via``; it queues for the verifier."""
        world = self.world
        if not self.up:
            world.obs.count("delivered_to_dead_agent")
            return
        if via in _NETWORK and origin == "control_plane":
            attacker = world.attacker
            if attacker is not None:
                raw, origin = attacker.on_wire(self.id, raw, origin)
        world.obs.count(f"delivered_{via}")
        if op is not None:
            phases = self._phases(op)
            if phases is not None and phases.delivered is None:
                phases.delivered = world.now
                phases.via = via
        arrived = world.now
        start = max(arrived, self.busy_until)
        self.busy_until = start + self.config.verify_s.sample(world.rng)
        world.at(self.busy_until, self._verified, self.incarnation, raw, via, op, origin, arrived)

    def _verified(
        self, incarnation: int, raw: bytes, via: str, op: str | None, origin: str, arrived: float
    ) -> None:
        if incarnation != self.incarnation or not self.up:
            return
        world = self.world
        decision = self.listener.receive(raw, now=self.local_now(), via=via)
        phases = self._phases(op)
        if phases is not None and phases.verify_s is None:
            phases.verify_s = world.now - arrived
        if phases is None and origin == "attacker_replay" and isinstance(decision, Accepted):
            # A replay of a genuine command this agent had not taken yet is that
            # command's late delivery (attacks_change_nothing allows it): it counts
            # for its operator command, and for the ordering checker.
            op, phases = self._replayed(decision.effect.command)
            origin = "control_plane" if phases is not None else origin
        if phases is not None and origin == "control_plane":
            self._note_order(phases, decision)
        if isinstance(decision, Accepted):
            world.obs.count("accepted")
            effect = decision.effect
            if world.attacker is not None:
                self._judge_attack(effect, origin)
            _ACCEPTED(world.trace, world.env.now, self.id, via, effect.state.value, origin, op)
            self._ack(via, effect.command)
            self._apply(effect, op, phases)
        else:
            reason = decision.reason
            world.obs.count(f"rejected_{reason.value}")
            _REJECTED(world.trace, world.env.now, self.id, via, reason.value, origin, op)
            if phases is not None and phases.effective is None:
                phases.rejected = reason.value
            if reason is Reason.NOT_PAUSED and origin == "control_plane":
                self.forgotten = None  # the operator's newest word is RUNNING, as it is
            cascade_root = reason is Reason.ALREADY_TERMINATED and origin == "control_plane"
            ack = reason not in _NOT_FINAL and via in _NETWORK
            if cascade_root or ack:
                fields = self._fields(raw)  # parsed once for both
                if fields is not None and cascade_root:
                    self._note_cascade_root(fields)
                if fields is not None and ack and isinstance(fields.get("command_id"), str):
                    self._send_ack(fields["command_id"])

    def _replayed(self, command: Command | None) -> tuple[str | None, Phases | None]:
        """The operator command and phases of a genuine command an attacker replayed,
        if this agent had not taken it yet (else it is an attack, judged as one)."""
        cp = self.world.cp
        op = cp.op_of.get(command.command_id) if cp is not None and command else None
        phases = self._phases(op)
        if phases is None or phases.effective is not None:
            return None, None
        return op, phases

    def _fields(self, raw: bytes) -> dict[str, Any] | None:
        """The wire fields of a refused delivery (None if it does not parse)."""
        try:
            return self.profile.to_dict(raw)
        except ValueError:
            return None

    def _note_cascade_root(self, fields: dict[str, Any]) -> None:
        """A TERMINATE with cascade refused because this agent already terminates:
        the operator asked for its whole subtree, which no_orphans then judges (a
        parent terminated alone before cannot pass the cascade down)."""
        if fields.get("command_type") == "TERMINATE" and fields.get("cascade") is True:
            self.world.obs.cascade_roots.append(self.id)

    def _phases(self, op: str | None) -> Phases | None:
        """The phases of operator command ``op`` at this agent, if it was meant for it."""
        if op is not None:
            for phases in self.open_phases:
                if phases.command_id == op:
                    return phases
        return None

    def _note_order(self, phases: Phases, decision: Decision) -> None:
        """Record a PAUSE/RESUME decision that moves the ordering watermark, for the
        newest_command_wins checker."""
        if phases.kind == "TERMINATE":
            return
        if isinstance(decision, Accepted):
            outcome = "accepted"
        elif decision.reason is Reason.NOT_PAUSED:
            outcome = "NOT_PAUSED"
        else:
            return
        index = int(phases.command_id[2:])  # "op<index>", in the order of the clicks
        self.world.obs.decided.setdefault(self.id, []).append(
            (self.world.now, index, phases.kind, outcome)
        )

    def _judge_attack(self, effect: Effect, origin: str) -> None:
        """Record an attacker delivery that was accepted. A replay counts only if
        this agent had accepted that command before: a replay that beats the
        original (lost in a crash before verification) is a late delivery."""
        command_id = effect.command.command_id if effect.command else ""
        if self.accepted_ids is None:
            self.accepted_ids = set()
        repeat = command_id in self.accepted_ids
        self.accepted_ids.add(command_id)
        if origin == "control_plane" or (origin == "attacker_replay" and not repeat):
            return
        world = self.world
        world.obs.attack_effects.append((world.now, self.id, origin, effect.state.value))

    def _ack(self, via: str, command: Command | None) -> None:
        if command is not None and via in _NETWORK:
            self._send_ack(command.command_id)

    def _send_ack(self, command_id: str) -> None:
        world = self.world
        cp = world.cp
        if cp is None or cp.config.mode != "ack":
            return
        if world.partitioned(self.id) or world.lost(self.id):
            world.obs.count("ack_lost")
            return
        world.after(world.latency(self.id), self._ack_arrives, command_id)

    def _ack_arrives(self, command_id: str) -> None:
        cp = self.world.cp
        if cp is not None and cp.up:
            cp.ack(self.id, command_id)

    # -- effects -------------------------------------------------------------

    def _apply(self, effect: Effect, op: str | None, phases: Phases | None) -> None:
        """Act on an accepted command; ``phases`` are those of ``op`` at this agent."""
        world = self.world
        self._record_transition(effect)
        self.forgotten = None  # the operator's newest word is known again
        state = effect.state
        if phases is not None and phases.effective is None:
            now = world.env.now
            phases.effective = now
            phases.rejected = None  # an earlier refusal (e.g. an unknown key) was not final
            if state is not _RUNNING and phases.halted is None:
                phases.halted = now
        if state is not effect.previous_state:
            if state is _RUNNING:
                self._start_workload()
            elif state is _TERMINATING:
                self._start_cleanup(effect)
        command = effect.command
        if command is None or not command.cascade:
            return
        if command.command_type is CommandType.TERMINATE:
            world.obs.cascade_roots.append(self.id)
        if world.scenario.control_plane.cascade != "control_plane":
            self._cascade(command, op)

    def _record_transition(self, effect: Effect) -> None:
        world = self.world
        now = world.env.now
        state, previous = effect.state, effect.previous_state
        mine = self.transitions
        if mine is None:
            mine = self.transitions = world.obs.transitions.setdefault(self.id, [])
        mine.append((now, _NAME[previous], _NAME[state], _NAME[effect.cause]))
        if previous is _RUNNING and state is not _RUNNING:  # just halted
            _HALTED(world.trace, now, self.id, _NAME[state])

    def _cascade(self, command: Command, op: str | None) -> None:
        world = self.world
        children = self.children
        if command.command_type is CommandType.TERMINATE and children:
            self.children_waiting = {c.id for c in children if c.state is not AgentState.TERMINATED}
        self.cascaded = (command, op)
        latency = world.scenario.network.cascade_latency
        for child in children:
            world.after(latency.sample(world.rng), child.from_parent, command, op)

    def from_parent(self, command: Command, op: str | None) -> None:
        """The parent passes its verified command down (the seed's child.terminate())."""
        if not self.up:
            return
        phases = self._phases(op)
        if phases is not None and phases.delivered is None:
            phases.delivered = self.world.env.now
            phases.via = "cascade"  # verified by the parent, not here
        decision = self.listener.apply_cascade(command, now=self.local_now())
        if phases is not None:
            self._note_order(phases, decision)
        if isinstance(decision, Accepted):
            self._apply(decision.effect, op, phases)
        else:
            reason = decision.reason
            self.world.obs.count(f"cascade_rejected_{reason.value}")
            if reason is Reason.NOT_PAUSED:
                self.forgotten = None
            if phases is not None and phases.effective is None:
                phases.rejected = reason.value
            if self.state is AgentState.TERMINATED:
                self._notify_parent()

    # -- termination -------------------------------------------------------

    def _start_cleanup(self, effect: Effect) -> None:
        world = self.world
        self.own_cleanup_done = False
        # The workload is not stopped here: each action asks _may_act(), so with
        # halt_check = "paused_only" (the seed's execute()) it keeps acting through
        # the grace period, which is the weakness that setting models.
        if self.cleanup_hangs:
            duration = math.inf
        else:
            duration = (self.cleanup_override or self.config.cleanup_s).sample(world.rng)
        if duration != math.inf:
            world.after(duration, self._own_cleanup_finished, self.incarnation)
        self._schedule_hard_kill()

    def _schedule_hard_kill(self) -> None:
        deadline = self.listener.hard_kill_at
        if deadline is not None:
            # The deadline is on the agent's clock, which runs 1 + drift times as
            # fast as virtual time (the scenario keeps drift above -1).
            wait = (deadline - self.local_now()) / (1.0 + self.drift)
            self.world.after(max(0.0, wait), self._grace_check, self.incarnation)

    def _grace_check(self, incarnation: int) -> None:
        # Only a TERMINATING agent has a grace deadline (it usually finished
        # cleanup long before: the check is then void).
        if (
            incarnation != self.incarnation
            or not self.up
            or self.listener.state is not _TERMINATING
        ):
            return
        effects = self.listener.tick(self.local_now())
        for effect in effects:
            self.world.obs.count("hard_kills" if effect.cause is Input.GRACE_EXPIRED else "ticks")
            self._finish_or_apply(effect)
        if self.state is AgentState.TERMINATING:
            self._schedule_hard_kill()  # clock drift: not quite there yet

    def _own_cleanup_finished(self, incarnation: int) -> None:
        if incarnation != self.incarnation or self.listener.state is not _TERMINATING:
            return
        self.own_cleanup_done = True
        self._maybe_terminated()

    def child_terminated(self, child: str) -> None:
        waiting = self.children_waiting
        if waiting is not None and child in waiting:
            waiting.discard(child)
            self._maybe_terminated()

    def _maybe_terminated(self) -> None:
        listener = self.listener
        if (
            self.up
            and self.own_cleanup_done
            and not self.children_waiting
            and listener.state is _TERMINATING
        ):
            self._finish_or_apply(listener.cleanup_done(self.local_now()))

    def _finish_or_apply(self, effect: Effect) -> None:
        world = self.world
        self._record_transition(effect)
        if effect.state is AgentState.TERMINATED:
            now = world.env.now
            for phases in self.open_phases:
                if (
                    phases.kind == "TERMINATE"
                    and phases.done is None
                    and phases.effective is not None
                ):
                    phases.done = now
            _TERMINATED(world.trace, now, self.id, _NAME[effect.cause])
            self._stop_transports()
            self._notify_parent()
        elif effect.state.halted and not effect.previous_state.halted:
            self.working = False
            # A watchdog halt stops the agent's actions as surely as a command does:
            # it ends time_to_halt (and the spend count) of the halting commands still
            # on their way. A RESUME halts nothing, and one that took effect is done.
            for phases in self.open_phases:
                if phases.halted is None and phases.effective is None and phases.kind != "RESUME":
                    phases.halted = world.now

    def _notify_parent(self) -> None:
        if self.parent is not None:
            self.parent.child_terminated(self.id)

    def _stop_transports(self) -> None:
        for stream in self.streams.values():
            stream.stop()
        if self.poller is not None:
            self.poller.stop()
        if self.file is not None:
            self.file.stop()

    def tear_down(self) -> None:
        """Break the cycles through this agent once its run is over: its transports
        and its tree neighbours point back at it (see runner._tear_down)."""
        self.streams = {}
        self.poller = None
        self.file = None
        self.parent = None
        self.children = ()

    # -- workload ------------------------------------------------------------

    def _may_act(self) -> bool:
        state = self.state
        if self.config.halt_check == "paused_only":
            return state is not AgentState.PAUSED and state is not AgentState.TERMINATED
        return state is AgentState.RUNNING

    def start_workload(self) -> None:
        """Called at the operator's first click: from then on actions are counted."""
        self._start_workload()

    def _start_workload(self) -> None:
        rate = self.config.actions_per_s
        if self.working or rate <= 0 or not self.up or not self._may_act():
            return
        self.working = True
        self.world.after(self.world.rng.expovariate(rate), self._action, self.incarnation)

    def _action(self, incarnation: int) -> None:
        if incarnation != self.incarnation or not self.working:
            return
        if not self.up or not self._may_act():
            self.working = False
            return
        world = self.world
        cost = self.config.action_cost
        state = self.state
        if state.halted:
            world.obs.actions_while_halted.append((world.now, self.id, state.value))
        elif self.forgotten is not None:
            what = f"{self.forgotten} (forgotten by a restart)"
            world.obs.actions_while_halted.append((world.now, self.id, what))
        world.obs.actions_after_click += 1
        world.obs.spend_after_click += cost
        for phases in self.open_phases:
            if phases.halted is None:
                phases.actions += 1
                phases.spend += cost
        world.after(world.rng.expovariate(self.config.actions_per_s), self._action, incarnation)

    # -- crashes -------------------------------------------------------------

    def crash(self) -> None:
        world = self.world
        if not self.up:
            return
        self.up = False
        self.working = False
        self.incarnation += 1
        self._stop_transports()
        world.emit("agent_crash", agent=self.id, state=self.state.value)

    def restart(self) -> None:
        world = self.world
        if self.up:
            return
        self.up = True
        self.incarnation += 1
        self.busy_until = world.now
        if self.config.store == "memory":
            self.store = MemoryStore()  # the seed's in-memory set: forgotten
        before = self.listener.state
        self.listener = self._new_listener()
        after = self.listener.state
        world.emit("agent_restart", agent=self.id, state=after.value, was=before.value)
        if self.transitions is None:
            self.transitions = world.obs.transitions.setdefault(self.id, [])
        self.transitions.append((world.now, before.value, after.value, "RESTART"))
        if before.halted and not after.halted:
            self.forgotten = before.value
        if after is AgentState.TERMINATED:
            self.up = False  # the runtime sees it was terminated and exits again
            return
        self.start()
        if after is AgentState.TERMINATING:
            self.own_cleanup_done = False
            self._start_cleanup_after_restart()
        elif world.clicked:
            self._start_workload()
        self._rejoin()

    def _rejoin(self) -> None:
        """A restarted agent registers with its parent again, as a new child would
        (killswitch.hierarchy.add_agent): a cascade it missed while it was down
        (the parent terminating or paused with cascade) reaches it now, so it
        does not come back as an orphan. A command it already took is a REPLAY."""
        parent = self.parent
        if parent is None or parent.cascaded is None or not self.config.rejoin:
            return
        command, op = parent.cascaded
        wanted = {
            CommandType.TERMINATE: (AgentState.TERMINATING, AgentState.TERMINATED),
            CommandType.PAUSE: (AgentState.PAUSED,),
        }.get(command.command_type, ())
        if parent.state in wanted:
            self.world.obs.count("rejoin_cascades")
            latency = self.world.scenario.network.cascade_latency.sample(self.world.rng)
            self.world.after(latency, self.from_parent, command, op)

    def _start_cleanup_after_restart(self) -> None:
        world = self.world
        duration = (self.cleanup_override or self.config.cleanup_s).sample(world.rng)
        if not self.cleanup_hangs:
            world.after(duration, self._own_cleanup_finished, self.incarnation)
        self._schedule_hard_kill()

    def _watchdog(self, incarnation: int) -> None:
        if incarnation != self.incarnation or not self.up:
            return
        world = self.world
        timeout = self.policy.watchdog_timeout_s
        assert timeout is not None
        if any(s.healthy and s.heartbeat_s > 0 for s in self.streams.values()):
            self.heard()  # heartbeats are arriving
        for effect in self.listener.tick(self.local_now()):
            world.obs.count("watchdog_halts" if effect.cause is Input.WATCHDOG_EXPIRED else "ticks")
            self._finish_or_apply(effect)
        world.after(timeout / 4, self._watchdog, incarnation)
