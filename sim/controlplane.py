"""The control plane: signs operator commands and queues them for delivery.

Two behaviours (``control_plane.mode``):

* ``ack`` (our design): a command stays pending for an agent until that agent
  acknowledges it, and is re-sent on every reconnect and every poll.
* ``seed`` (as the seed's FastAPI code): a command is appended to the pending
  list *and* pushed to the live stream; opening the stream or polling returns
  the pending list and clears it. A push into a dead stream, or a poll
  response lost on the way, loses the command for that path.

It can crash and restart; what is not durable is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from killswitch import Command, CommandType, SigningKey, from_posix, get_profile
from sim.observe import SETTLED, Phases
from sim.scenario import OperatorCommand
from sim.world import EPOCH, World


@dataclass(slots=True)
class Message:
    """One command on its way to one agent. ``op`` ties it to the operator's click."""

    event_id: int
    command_id: str
    op: str
    raw: bytes


class ControlPlane:
    def __init__(self, world: World, key: SigningKey) -> None:
        self.world = world
        self.config = world.scenario.control_plane
        self.profile = get_profile(self.config.profile)
        self.key = key
        self.up = True
        self.sequence = 0
        self.next_event = 0
        self.pending: dict[str, list[Message]] = {}
        self.log: dict[str, list[Message]] = {}
        #: agent -> the kinds of its open live streams, in the order they opened.
        self.streams: dict[str, tuple[str, ...]] = {}
        #: What to sign once the control plane is back from a crash: click index ->
        #: (operator command, the recipients not signed for yet). Re-issued in click
        #: order, so a command clicked during the outage stays newer than one
        #: interrupted by it, and never twice to an agent that already has it.
        self.waiting: dict[int, tuple[OperatorCommand, list[str]]] = {}
        #: Command id -> operator op id, for every command this control plane signed.
        self.op_of: dict[str, str] = {}
        self.busy_until = 0.0

    # -- operator side -----------------------------------------------------

    def click(self, index: int, op: OperatorCommand) -> None:
        """The operator presses the button (or retries once the control plane is back)."""
        world = self.world
        click = world.now
        targets = self._targets(op)
        op_id = f"op{index}"
        for agent in targets:
            phases = Phases(op_id, agent, op.command, click)
            phases.settled_at_click = world.agents[agent].state.value in SETTLED[op.command]
            world.obs.phases[(op_id, agent)] = phases
            world.agents[agent].open_phases.append(phases)
        world.emit("click", op=op_id, command=op.command, target=targets[0], agents=len(targets))
        target_phases = world.obs.phases[(op_id, targets[0])]
        if op.command == "TERMINATE" and op.cascade and target_phases.settled_at_click:
            # The target already terminates (alone, by an earlier command): the
            # operator asks for its subtree, which no_orphans then judges.
            world.obs.cascade_roots.append(targets[0])
        if op.via == "file":
            self._issue_file(op_id, op, targets, click)
        elif not self.up:
            world.emit("click_deferred", op=op_id, reason="control plane down")
            self.waiting[index] = (op, self._recipients(op, targets))
        else:
            self._issue(op_id, op, self._recipients(op, targets))

    def _targets(self, op: OperatorCommand) -> list[str]:
        world = self.world
        target = world.hierarchy.roots[0] if op.target == "root" else op.target
        if op.cascade:
            return [target, *(agent.id for agent in world.agents[target].subtree())]
        return [target]

    def _recipients(self, op: OperatorCommand, targets: list[str]) -> list[str]:
        """Who gets a signed command from the control plane itself."""
        if op.cascade and self.config.cascade in ("control_plane", "both"):
            return targets
        return targets[:1]

    def _issue(self, op_id: str, op: OperatorCommand, recipients: list[str]) -> None:
        # Signing is serial in the control plane: a control-plane cascade to
        # 10,000 agents pays 10,000 signing costs before the last one leaves.
        world = self.world
        for agent in recipients:
            start = max(world.now, self.busy_until)
            self.busy_until = start + self.config.signing_s.sample(world.rng)
            world.at(self.busy_until, self._signed, op_id, op, agent)

    def _signed(self, op_id: str, op: OperatorCommand, agent: str) -> None:
        if not self.up:
            # Lost with the crash; the operator retries once the control plane is back.
            self.waiting.setdefault(int(op_id[2:]), (op, []))[1].append(agent)
            return
        world = self.world
        raw, command_id = self.sign(op, agent)
        self.op_of[command_id] = op_id
        phases = world.obs.phases.get((op_id, agent))
        if phases is not None and phases.issued is None:
            phases.issued = world.now
        if self.config.cascade in ("agent", "both"):
            # Descendants reached by agent-side cascade count as issued now too.
            for other in world.agents[agent].subtree() if op.cascade else []:
                p = world.obs.phases.get((op_id, other.id))
                if p is not None and p.issued is None:
                    p.issued = world.now
        world.emit("issued", op=op_id, agent=agent, command_id=command_id)
        self.enqueue(agent, Message(self._event_id(), command_id, op_id, raw))

    def sign(self, op: OperatorCommand, agent: str) -> tuple[bytes, str]:
        """Sign a real command for ``agent`` with the control plane's current key."""
        world = self.world
        self.sequence += 1
        issued = from_posix(EPOCH + world.now)
        command = Command(
            command_id=f"cmd-{self.sequence}",
            command_type=CommandType(op.command),
            target_instance_id=agent,
            issued_by="operator@sim",
            issued_at=issued,
            expires_at=issued + timedelta(seconds=op.lifetime_s),
            nonce=f"{world.rng.getrandbits(64):016x}",
            reason="simulated operator command",
            cascade=op.cascade,
            grace_period_seconds=op.grace_s,
            key_id=self.key.key_id,
            sequence=self.sequence,
        )
        return self.profile.encode(command, self.key), command.command_id

    def _issue_file(
        self, op_id: str, op: OperatorCommand, targets: list[str], click: float
    ) -> None:
        """Air-gapped: the operator signs offline and writes the kill file next to the agent."""
        world = self.world
        for agent in self._recipients(op, targets):
            raw, command_id = self.sign(op, agent)
            self.op_of[command_id] = op_id
            phases = world.obs.phases[(op_id, agent)]
            phases.issued = click
            world.agents[agent].write_kill_file(Message(self._event_id(), command_id, op_id, raw))
        for agent in targets:
            world.obs.phases[(op_id, agent)].issued = click

    def _event_id(self) -> int:
        self.next_event += 1
        return self.next_event

    # -- delivery side -----------------------------------------------------

    def enqueue(self, agent: str, message: Message) -> None:
        self.pending.setdefault(agent, []).append(message)
        self.log.setdefault(agent, []).append(message)
        # Every open stream: the control plane cannot tell one that silently
        # stalled (half-open) from a healthy one. The copies after the first are
        # refused as REPLAY.
        for kind in self.streams.get(agent, ()):
            self.world.agents[agent].stream(kind).push(message)

    def on_connect(self, agent: str, kind: str, last_event_id: int, resume: bool) -> list[Message]:
        """A stream opened: register it and return the backlog to send first."""
        kinds = self.streams.get(agent, ())
        if kind not in kinds:
            self.streams[agent] = (*kinds, kind)
        backlog = self.poll(agent)
        log = self.log.get(agent) if resume else None
        if log:
            seen = {m.event_id for m in backlog}
            backlog += [m for m in log if m.event_id > last_event_id and m.event_id not in seen]
            backlog.sort(key=lambda m: m.event_id)
        return backlog

    def on_disconnect(self, agent: str, kind: str) -> None:
        kinds = self.streams.get(agent)
        if kinds is None or kind not in kinds:
            return
        if len(kinds) == 1:  # the common case: every terminated agent closes its stream
            del self.streams[agent]
        else:
            self.streams[agent] = tuple(k for k in kinds if k != kind)

    def poll(self, agent: str) -> list[Message]:
        """The agent's pending commands (in ``seed`` mode, returned and cleared)."""
        if self.config.mode == "seed":
            return self.pending.pop(agent, [])
        return list(self.pending.get(agent, ()))

    def ack(self, agent: str, command_id: str) -> None:
        queue = self.pending.get(agent)
        if queue:
            self.pending[agent] = [m for m in queue if m.command_id != command_id]

    # -- faults ------------------------------------------------------------

    def crash(self) -> None:
        world = self.world
        self.up = False
        world.emit("cp_crash", durable=self.config.durable_pending)
        for agent, kinds in list(self.streams.items()):
            for kind in kinds:
                world.agents[agent].stream(kind).server_closed()
        self.streams.clear()
        if not self.config.durable_pending:
            self.pending.clear()
            self.log.clear()

    def restart(self) -> None:
        world = self.world
        self.up = True
        self.busy_until = world.now
        world.emit("cp_restart")
        waiting, self.waiting = self.waiting, {}
        for index in sorted(waiting):
            op, recipients = waiting[index]
            self._issue(f"op{index}", op, recipients)

    def rotate(self, key: SigningKey) -> None:
        self.key = key
        self.world.emit("key_rotated", key_id=key.key_id)
