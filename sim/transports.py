"""Agent-side transports: live streams (SSE, WebSocket), polling, the kill file.

Each is a small state machine driven by scheduled callbacks. Failure
behaviour is the point of the model:

* A live stream can drop (the agent notices and reconnects after ``retry``
  with exponential backoff and jitter) or silently stall (half-open: a
  partition or a dead middlebox; pushes vanish). A stall is noticed only by a
  read timeout on heartbeats (SSE) or a missed pong (WebSocket); the seed has
  neither, so its stream can stay dead for good.
* A poll can fail (control plane down, partition, loss) and then waits for the
  next interval; in ``seed`` mode a lost poll response loses its commands. A
  response that arrives after the request's timeout is abandoned, like a lost
  one: the agent has given up on that request.
* The kill file is read every ``check_s`` seconds and needs no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.controlplane import Message
from sim.trace import line_writer
from sim.world import World

if TYPE_CHECKING:
    from sim.agent import AgentSim

_CONNECTED = line_writer("connected", "agent", "via")

#: How long a connection attempt into a partition waits before giving up.
CONNECT_TIMEOUT_S = 10.0


class StreamClient:
    """SSE or WebSocket client of one agent."""

    __slots__ = (
        "agent",
        "attempts",
        "backoff_max_s",
        "connect_s",
        "connected_at",
        "detect_after",
        "drops_per_hour",
        "generation",
        "heartbeat_s",
        "jitter",
        "kind",
        "last_arrival",
        "last_event_id",
        "resume",
        "retry_s",
        "stalled",
        "state",
        "world",
    )

    def __init__(self, world: World, agent: AgentSim, kind: str) -> None:
        self.world = world
        self.agent = agent
        self.kind = kind
        t = world.scenario.transports
        if kind == "sse":
            p = t.sse
            self.detect_after: float | None = (
                p.read_timeout_s if p.heartbeat_s > 0 and p.read_timeout_s > 0 else None
            )
            self.heartbeat_s = p.heartbeat_s
            self.resume = p.resume
        else:
            w = t.websocket
            self.detect_after = w.ping_s + w.pong_timeout_s
            self.heartbeat_s = w.ping_s
            self.resume = True  # acknowledgements on the socket make the backlog exact
        params = t.sse if kind == "sse" else t.websocket
        self.retry_s = params.retry_s
        self.backoff_max_s = params.backoff_max_s
        self.jitter = params.jitter
        self.drops_per_hour = params.drops_per_hour
        self.connect_s = params.connect_s
        self.state = "down"
        self.stalled = False
        self.attempts = 0
        self.generation = 0
        self.last_event_id = 0
        #: When the latest message pushed on this connection arrives: a stream is
        #: one TCP connection and delivers in order, so none arrives before it.
        self.last_arrival = 0.0
        #: When the current connection came up (its first byte).
        self.connected_at = 0.0

    @property
    def healthy(self) -> bool:
        return self.state == "up" and not self.stalled

    def start(self) -> None:
        self.connect()

    def connect(self) -> None:
        if not self.agent.up or self.state != "down":
            return
        self.state = "connecting"
        self.generation += 1
        generation = self.generation
        world = self.world
        if world.partitioned(self.agent.id) or world.cp is None or not world.cp.up:
            world.after(CONNECT_TIMEOUT_S, self._failed, generation, "unreachable")
            return
        if world.outage(self.agent.id, self.kind):
            # The endpoint answers at once with a refusal (or a 503 from the proxy).
            world.after(2 * world.latency(self.agent.id), self._failed, generation, "refused")
            return
        world.after(self.connect_s.sample(world.rng), self._established, generation)

    def _failed(self, generation: int, why: str) -> None:
        if generation != self.generation:
            return
        self.state = "down"
        self.world.obs.count(f"{self.kind}_connect_failed")
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        if not self.agent.up:
            return
        # The exponent stops growing long after the cap is reached: 2.0**1024
        # overflows, and an endpoint can refuse a thousand reconnects in a long run.
        delay = min(self.retry_s * 2.0 ** min(self.attempts, 1000), self.backoff_max_s)
        delay *= 1.0 + self.jitter * self.world.rng.random()
        self.attempts += 1
        self.world.after(delay, self._retry, self.generation)

    def _retry(self, generation: int) -> None:
        # A retry scheduled before stop() (the agent terminated or crashed) is void.
        if generation == self.generation:
            self.connect()

    def _established(self, generation: int) -> None:
        world = self.world
        cp = world.cp
        if generation != self.generation or not self.agent.up:
            return
        if cp is None or not cp.up or world.partitioned(self.agent.id, self.kind):
            self._failed(generation, "unreachable")
            return
        self.state = "up"
        self.stalled = False
        self.attempts = 0
        self.last_arrival = 0.0  # a new connection: nothing queued on it yet
        self.connected_at = world.env.now
        agent = self.agent
        agent.heard()
        world.obs.count(f"{self.kind}_connected")
        _CONNECTED(world.trace, world.env.now, agent.id, self.kind)
        for message in cp.on_connect(agent.id, self.kind, self.last_event_id, self.resume):
            self.push(message)
        if self.drops_per_hour > 0:
            gap = world.rng.expovariate(self.drops_per_hour / 3600.0)
            world.after(gap, self._random_drop, generation)

    def _random_drop(self, generation: int) -> None:
        if generation == self.generation and self.state == "up":
            self.disconnect("dropped")

    def push(self, message: Message) -> None:
        """The control plane writes ``message`` to this stream."""
        world = self.world
        if not self.healthy or world.partitioned(self.agent.id, self.kind):
            world.obs.count(f"{self.kind}_push_lost")
            return
        generation = self.generation
        self._send(generation, message)
        if world.duplicated(self.agent.id):
            world.obs.count("duplicated")
            self._send(generation, message)

    def _send(self, generation: int, message: Message) -> None:
        # In order: a message held back (latency, reorder delay) holds back the
        # ones behind it on the same connection; only separate connections and
        # requests (polls, another transport) overtake each other.
        world = self.world
        arrival = max(world.env.now + world.latency(self.agent.id), self.last_arrival)
        self.last_arrival = arrival
        world.at(arrival, self._arrive, generation, message)

    def _arrive(self, generation: int, message: Message) -> None:
        if generation != self.generation or not self.healthy:
            self.world.obs.count(f"{self.kind}_push_lost")
            return
        self.last_event_id = max(self.last_event_id, message.event_id)
        self.agent.deliver(message.raw, self.kind, message.op)

    def stall(self) -> None:
        """The path goes silent without a reset (half-open). Detected only by timeouts."""
        if self.state != "up" or self.stalled:
            return
        self.stalled = True
        world = self.world
        world.emit("stalled", agent=self.agent.id, via=self.kind)
        if self.detect_after is not None:
            # The last heartbeat arrived some time in the last interval before the
            # stall, and not before the connection came up (the read timeout runs
            # from the last byte received).
            since_last = world.rng.uniform(0.0, self.heartbeat_s) if self.heartbeat_s else 0.0
            since_last = min(since_last, world.env.now - self.connected_at)
            world.after(max(0.0, self.detect_after - since_last), self._detected, self.generation)

    def _detected(self, generation: int) -> None:
        if generation == self.generation and self.stalled:
            self.disconnect("read timeout")

    def server_closed(self) -> None:
        """The control plane closed the connection (crash): the agent sees a reset."""
        if self.state == "up" and not self.stalled:
            self.world.after(self.world.latency(self.agent.id), self._reset, self.generation)

    def _reset(self, generation: int) -> None:
        if generation == self.generation and self.state == "up":
            self.disconnect("reset by server")

    def disconnect(self, why: str) -> None:
        world = self.world
        world.emit("disconnected", agent=self.agent.id, via=self.kind, why=why)
        if world.cp is not None:
            world.cp.on_disconnect(self.agent.id, self.kind)
        self.state = "down"
        self.stalled = False
        self.generation += 1
        self._schedule_retry()

    def stop(self) -> None:
        """The agent process died: the connection is gone, nothing is scheduled."""
        if self.world.cp is not None:
            self.world.cp.on_disconnect(self.agent.id, self.kind)
        self.state = "down"
        self.stalled = False
        self.generation += 1


class Poller:
    """HTTP polling of the pending endpoint every ``interval_s`` (+ jitter)."""

    __slots__ = ("agent", "generation", "params", "world")

    def __init__(self, world: World, agent: AgentSim) -> None:
        self.world = world
        self.agent = agent
        self.params = world.scenario.transports.poll
        self.generation = 0

    def start(self) -> None:
        self.generation += 1
        # Agents start at different moments: the first poll falls anywhere in one interval.
        first = self.world.rng.uniform(0.0, self.params.interval_s)
        self.world.after(first, self._poll, self.generation)

    def stop(self) -> None:
        self.generation += 1

    def _poll(self, generation: int) -> None:
        if generation != self.generation or not self.agent.up:
            return
        world = self.world
        p = self.params
        world.after(p.interval_s + world.rng.uniform(0.0, p.jitter_s), self._poll, generation)
        world.obs.count("poll_requests")
        if world.partitioned(self.agent.id, "poll") or world.lost(self.agent.id):
            world.obs.count("poll_failed")
            return
        world.after(world.latency(self.agent.id), self._at_server, generation, world.env.now)

    def _at_server(self, generation: int, sent: float) -> None:
        world = self.world
        cp = world.cp
        if cp is None or not cp.up:
            world.obs.count("poll_failed")
            return
        messages = cp.poll(self.agent.id)
        if world.partitioned(self.agent.id, "poll") or world.lost(self.agent.id):
            world.obs.count("poll_response_lost")
            if messages and cp.config.mode == "seed":
                world.obs.count("poll_commands_lost", len(messages))
            return
        world.after(world.latency(self.agent.id), self._response, generation, sent, messages)
        if messages and world.duplicated(self.agent.id):
            world.obs.count("duplicated")
            world.after(world.latency(self.agent.id), self._response, generation, sent, messages)

    def _response(self, generation: int, sent: float, messages: list[Message]) -> None:
        if generation != self.generation or not self.agent.up:
            return
        world = self.world
        if world.env.now - sent > self.params.timeout_s:
            # The client gave up on this request; what the late answer carries is
            # never read (in seed mode the control plane already cleared it).
            world.obs.count("poll_timed_out")
            if messages and world.cp is not None and world.cp.config.mode == "seed":
                world.obs.count("poll_commands_lost", len(messages))
            return
        self.agent.heard()
        for message in messages:
            self.agent.deliver(message.raw, "poll", message.op)


class FileWatcher:
    """Checks the local kill file every ``check_s`` seconds; no network involved."""

    __slots__ = ("agent", "check_s", "files", "generation", "read", "world")

    def __init__(self, world: World, agent: AgentSim) -> None:
        self.world = world
        self.agent = agent
        self.check_s = world.scenario.transports.file.check_s
        self.files: list[Message] = []
        self.read = 0
        self.generation = 0

    def start(self) -> None:
        # A (re)started agent reads whatever kill files are already there.
        self.generation += 1
        self.read = 0
        self.world.after(self.world.rng.uniform(0.0, self.check_s), self._check, self.generation)

    def stop(self) -> None:
        self.generation += 1

    def write(self, message: Message) -> None:
        self.files.append(message)

    def _check(self, generation: int) -> None:
        if generation != self.generation or not self.agent.up:
            return
        self.world.after(self.check_s, self._check, generation)
        if self.world.partitioned(self.agent.id, "file"):
            self.world.obs.count("file_check_failed")  # the kill-file volume is unavailable
            return
        while self.read < len(self.files):
            message = self.files[self.read]
            self.read += 1
            self.agent.deliver(message.raw, "file", message.op)
