"""Scenario files: what to simulate, written in TOML (documented in scenarios/README.md).

A scenario composes, Maelstrom-style, independent parts: a topology, the
control plane, the transports agents listen on, the network, the agents'
runtime, faults over time (the nemesis), the operator's timeline, SLA
thresholds and expectations (the checkers' pass/fail criteria).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PureWindowsPath
from typing import Literal

from sim.budget import check_budget
from sim.overrides import OverrideError, apply_overrides
from sim.rng import Dist
from sim.schema import FieldError, ScenarioError, load

TransportName = Literal["sse", "websocket", "poll", "file"]

#: The largest tree a scenario may ask for: a million agents take ~90 s and ~5 GB
#: here (bench/sim.py), and a typo (depth = 12 for 2) must not start building 10^12.
MAX_AGENTS = 2_000_000


def _require(
    table: object, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = ()
) -> None:
    """Numbers a simulation cannot run with: zero intervals loop at one instant,
    negative durations run time backwards."""
    for name in positive:
        if not getattr(table, name) > 0:
            raise ValueError(f"{name} must be positive, got {getattr(table, name)}")
    for name in non_negative:
        if not getattr(table, name) >= 0:
            raise ValueError(f"{name} must not be negative, got {getattr(table, name)}")


def _check_probabilities(table: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(table, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is a probability in [0, 1], got {value}")


@dataclass(frozen=True)
class Meta:
    name: str = "unnamed"
    description: str = ""
    #: Virtual seconds to simulate.
    duration_s: float = 180.0
    #: Default seed when the command line gives none.
    seed: int = 1
    #: The most recurring events (polls, file checks, watchdog ticks, actions,
    #: refused reconnects) the run may schedule: more is nearly always a typo
    #: (sim.budget). 10^8 take about five minutes.
    max_events: float = 1e8

    def __post_init__(self) -> None:
        _require(self, positive=("duration_s", "max_events"))
        check_meta_name(self.name)


def check_meta_name(name: str) -> None:
    """``meta.name`` is the default output folder ``out/<name>``: it must be one
    folder name, or a run would write outside ``out/`` (``..``, ``/etc``) or
    into ``out/`` itself (``""``, ``.``)."""
    problem = None
    if name in ("", ".", ".."):
        problem = "is not a folder name"
    elif name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        problem = "is an absolute path"  # or "C:x", which replaces out/ on Windows too
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif "\0" in name:
        problem = "contains a NUL character"
    if problem:
        raise FieldError(
            "name",
            f"{name!r} {problem}; it names the default output folder out/<name>, so it must"
            " be a single folder name (no /, \\, . or ..)",
        )


@dataclass(frozen=True)
class Topology:
    kind: Literal["balanced", "random", "explicit"] = "balanced"
    #: balanced: children per agent and levels below the root.
    fanout: int = 3
    depth: int = 2
    #: random: number of agents and the most children any agent may have.
    agents: int = 20
    max_children: int = 4
    #: explicit: [parent, child] pairs.
    edges: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind == "explicit" and not self.edges:
            raise ValueError("an explicit topology needs edges = [[parent, child], ...]")
        if self.fanout < 1 or self.depth < 0 or self.agents < 1:
            raise ValueError("fanout and agents must be >= 1, depth >= 0")
        if self.kind == "random" and self.max_children < 1:
            raise FieldError("max_children", f"must be >= 1, got {self.max_children}")
        if self.size() > MAX_AGENTS:
            raise ValueError(
                f"this {self.kind} topology has more than {MAX_AGENTS:,} agents, the most a"
                " run may have (a million agents take about 90 s and 5 GB)"
            )

    def surely_deep(self) -> int | None:
        """The deepest level every tree of this topology has an agent at (a
        random tree is redrawn each replication), or None when only the built
        tree can tell (explicit edges, checked against that tree)."""
        if self.kind == "balanced":
            return self.depth
        if self.kind == "explicit":
            return None
        # A random tree is shallowest when it fills each level before the next
        # (agent i may pick any earlier agent with room, so it can): level d is
        # then reached only by more agents than levels 0..d-1 can hold.
        shallowest = 0
        held = level = 1
        while held < self.agents:
            shallowest += 1
            level *= self.max_children
            held += level
        return shallowest

    def size(self) -> int:
        """Agents in the tree, counted up to just past MAX_AGENTS (a balanced tree
        of depth 10^9 is not worth counting to the end)."""
        if self.kind == "random":
            return self.agents
        if self.kind == "explicit":
            return len(self.edges) + 1
        if self.fanout == 1:
            return self.depth + 1
        total = level = 1
        for _ in range(self.depth):
            level *= self.fanout
            total += level
            if total > MAX_AGENTS:
                break
        return total


@dataclass(frozen=True)
class ControlPlane:
    #: ack: pending until acknowledged, redelivered on reconnect (our design).
    #: seed: as the seed's code: the SSE stream and the poll endpoint both
    #: return-and-clear the pending list; pushes go to the stream and the list.
    mode: Literal["ack", "seed"] = "ack"
    #: Who cascades: the parent agent (as the seed), the control plane from
    #: its lineage registry, or both.
    cascade: Literal["agent", "control_plane", "both"] = "agent"
    profile: Literal["v1", "seed"] = "v1"
    algorithm: Literal["Ed25519", "ES256", "RS256"] = "Ed25519"
    signing_s: Dist = field(default_factory=lambda: Dist.const(0.005))
    #: Whether pending commands survive a control-plane crash.
    durable_pending: bool = True


@dataclass(frozen=True)
class Sse:
    retry_s: float = 5.0
    backoff_max_s: float = 60.0
    #: Fraction of random jitter added to each reconnect delay.
    jitter: float = 0.2
    #: Resume from Last-Event-ID on reconnect (the seed does not).
    resume: bool = True
    #: Server heartbeat comment interval; 0 = none (the seed).
    heartbeat_s: float = 15.0
    #: Client read timeout that detects a silently stalled stream; 0 = none (the seed).
    read_timeout_s: float = 45.0
    #: Mean connection drops per hour per agent (random disconnects).
    drops_per_hour: float = 0.0
    connect_s: Dist = field(default_factory=lambda: Dist.const(0.1))

    def __post_init__(self) -> None:
        _require(
            self,
            positive=("retry_s", "backoff_max_s"),
            non_negative=("jitter", "heartbeat_s", "read_timeout_s", "drops_per_hour"),
        )
        if 0 < self.read_timeout_s <= self.heartbeat_s:
            # A real client would time out a healthy, merely quiet stream between
            # two heartbeats and reconnect forever; the model only ever times out
            # a stalled stream, so it would report a design that cannot work.
            raise FieldError(
                "heartbeat_s",
                f"{self.heartbeat_s:g} is not below read_timeout_s = {self.read_timeout_s:g}: a"
                " healthy stream would time out between heartbeats (the model does not"
                " simulate that); make heartbeat_s smaller than read_timeout_s",
            )


@dataclass(frozen=True)
class WebSocket:
    ping_s: float = 10.0
    pong_timeout_s: float = 5.0
    retry_s: float = 2.0
    backoff_max_s: float = 30.0
    jitter: float = 0.2
    drops_per_hour: float = 0.0
    connect_s: Dist = field(default_factory=lambda: Dist.const(0.1))

    def __post_init__(self) -> None:
        _require(
            self,
            positive=("ping_s", "pong_timeout_s", "retry_s", "backoff_max_s"),
            non_negative=("jitter", "drops_per_hour"),
        )


@dataclass(frozen=True)
class Poll:
    interval_s: float = 30.0
    #: Uniform jitter added to each interval, in seconds.
    jitter_s: float = 0.0
    #: Request timeout: a response that arrives later than this after its request
    #: was sent is abandoned (in seed mode its commands are lost).
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        _require(self, positive=("interval_s", "timeout_s"), non_negative=("jitter_s",))


@dataclass(frozen=True)
class FileWatch:
    check_s: float = 5.0

    def __post_init__(self) -> None:
        _require(self, positive=("check_s",))


@dataclass(frozen=True)
class Transports:
    listen: list[TransportName] = field(default_factory=lambda: ["sse", "poll"])
    sse: Sse = field(default_factory=Sse)
    websocket: WebSocket = field(default_factory=WebSocket)
    poll: Poll = field(default_factory=Poll)
    file: FileWatch = field(default_factory=FileWatch)

    def __post_init__(self) -> None:
        if len(set(self.listen)) != len(self.listen):
            raise ValueError(f"listen names a transport twice: {self.listen}")


#: The keys of [network] a link may set for its agents.
LINK_KEYS = ("latency", "loss", "duplicate", "reorder", "reorder_delay")


@dataclass(frozen=True)
class Link:
    """``[[network.links]]``: some agents' own link to the control plane (a remote
    region, a flaky VPN). A key left out is the one in ``[network]``."""

    #: Names the group in the results (phases are also reported per link).
    name: str
    #: Agent selectors, as in faults. An agent in several links is in the last one.
    agents: list[str]
    latency: Dist | None = None
    loss: float | None = None
    duplicate: float | None = None
    reorder: float | None = None
    reorder_delay: Dist | None = None

    def __post_init__(self) -> None:
        if not self.agents:
            raise ValueError("agents: a link needs at least one agent selector, got []")
        if all(getattr(self, key) is None for key in LINK_KEYS):
            raise ValueError(f"a link sets at least one of: {', '.join(LINK_KEYS)}")
        _check_probabilities(self, ("loss", "duplicate", "reorder"))


@dataclass(frozen=True)
class Network:
    latency: Dist = field(default_factory=lambda: Dist("lognormal", median=0.05, sigma=0.5))
    #: Probability that one poll request/response or acknowledgement is lost.
    loss: float = 0.0
    #: Probability that a message is delivered twice.
    duplicate: float = 0.0
    #: Probability that a message is held back (reordered) by reorder_delay.
    reorder: float = 0.0
    reorder_delay: Dist = field(default_factory=lambda: Dist.const(1.0))
    #: Latency of the parent-to-child link used by agent-side cascade.
    cascade_latency: Dist = field(default_factory=lambda: Dist.const(0.01))
    #: Agents whose link differs from the above.
    links: list[Link] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_probabilities(self, ("loss", "duplicate", "reorder"))
        names = [link.name for link in self.links]
        for name in names:
            if name == DEFAULT_LINK or names.count(name) > 1:
                raise ValueError(
                    f"links: the name {name!r} is taken (each link needs its own name,"
                    f" and {DEFAULT_LINK!r} means the agents in no link)"
                )


#: The link group of agents that no ``[[network.links]]`` table selects.
DEFAULT_LINK = "default"


@dataclass(frozen=True)
class Agents:
    #: Replay/state store: memory (lost on restart, as the seed) or durable (SQLite semantics).
    store: Literal["memory", "durable"] = "durable"
    verify_s: Dist = field(default_factory=lambda: Dist.const(0.0005))
    cleanup_s: Dist = field(default_factory=lambda: Dist("uniform", low=1.0, high=5.0))
    #: any: no action once PAUSED or TERMINATING; paused_only: the seed's execute(),
    #: which checks only is_paused and keeps acting during the grace period.
    halt_check: Literal["any", "paused_only"] = "any"
    #: Workload: actions per second per agent, and the cost of one action.
    actions_per_s: float = 1.0
    action_cost: float = 0.01
    #: Listener policy.
    clock_skew_leeway_s: float = 30.0
    max_lifetime_s: float = 300.0
    max_grace_s: float = 60.0
    #: Dead-man's switch: halt after this long without hearing the control plane (0 = off).
    watchdog_s: float = 0.0
    #: A restarted agent re-registers with its parent and takes a cascade it missed
    #: while down (killswitch.hierarchy.add_agent). The seed's lineage has no such step.
    rejoin: bool = True

    def __post_init__(self) -> None:
        _require(
            self,
            positive=("max_lifetime_s",),
            non_negative=(
                "actions_per_s",
                "action_cost",
                "clock_skew_leeway_s",
                "max_grace_s",
                "watchdog_s",
            ),
        )


@dataclass(frozen=True)
class OperatorCommand:
    at_s: float
    command: Literal["TERMINATE", "PAUSE", "RESUME"]
    #: An agent id, or "root" for the first root.
    target: str = "root"
    cascade: bool = True
    grace_s: int = 30
    lifetime_s: float = 300.0
    #: network: through the control plane; file: the operator writes the kill file.
    via: Literal["network", "file"] = "network"

    def __post_init__(self) -> None:
        _require(self, non_negative=("at_s", "grace_s"))


FaultKind = Literal[
    "partition",
    "half_open",
    "transport_outage",
    "cp_crash",
    "agent_crash",
    "clock_skew",
    "slow_cleanup",
    "key_rotation",
    "replay_attack",
    "modify_attack",
    "forged_flood",
    "degrade",
]


@dataclass(frozen=True)
class Fault:
    """One nemesis action. Which keys apply depends on ``kind`` (scenarios/README.md)."""

    kind: FaultKind
    at_s: float = 0.0
    duration_s: float = 0.0
    #: Agent selectors: an id, "root", "all", "subtree:<id>", "depth:<n>", "leaves".
    agents: list[str] = field(default_factory=lambda: ["all"])
    #: transport_outage: the transport whose endpoint is down.
    transport: TransportName = "sse"
    #: clock_skew
    skew_s: float = 0.0
    drift_ppm: float = 0.0
    #: slow_cleanup: new cleanup distribution, or hang forever.
    cleanup_s: Dist | None = None
    hang: bool = False
    #: key_rotation: agents learn the new key after this delay; old key revoked at.
    distribute_s: Dist = field(default_factory=lambda: Dist.const(0.0))
    revoke_old_after_s: float = -1.0
    #: replay_attack records from the start and replays at at_s; modify_attack sets
    #: field_name to field_value in flight during [at_s, at_s + duration_s).
    field_name: str = "cascade"
    field_value: str | bool | int = False
    #: forged_flood
    rate_per_s: float = 0.0
    #: degrade: the agents' links take this latency and/or loss for the duration.
    latency: Dist | None = None
    loss: float | None = None

    def __post_init__(self) -> None:
        _require(self, non_negative=("at_s", "duration_s", "rate_per_s"))
        if not self.agents:
            # An empty list hits nobody: the fault would silently not happen.
            raise FieldError(
                "agents", "selects no agent, got [] (leave the key out for all agents)"
            )
        if not self.drift_ppm > -1e6:
            raise ValueError(
                f"drift_ppm must be above -1000000 (a clock that stands still or runs"
                f" backwards), got {self.drift_ppm}"
            )
        _check_probabilities(self, ("loss",))
        if self.kind == "degrade" and self.latency is None and self.loss is None:
            raise ValueError("a degrade fault sets latency, loss or both")


@dataclass(frozen=True)
class Sla:
    """The seed's SLA table, targets and maxima in seconds."""

    issuance_target_s: float = 0.1
    issuance_max_s: float = 0.5
    delivery_target_s: float = 5.0
    delivery_max_s: float = 30.0
    verification_target_s: float = 0.01
    verification_max_s: float = 0.05
    shutdown_target_s: float = 30.0
    shutdown_max_s: float = 60.0
    total_target_s: float = 35.0
    total_max_s: float = 60.0

    def __post_init__(self) -> None:
        # A zero or negative threshold makes every pair a miss: no run could comply.
        for key in (f.name for f in dataclasses.fields(self)):
            value = getattr(self, key)
            if not value > 0:
                raise FieldError(key, f"an SLA threshold must be positive, got {value:g}")


@dataclass(frozen=True)
class Expect:
    """What must hold for the run to pass (exit 0). Unset keys are not checked."""

    #: Every agent a TERMINATE was meant for is halted within this many seconds of the click.
    all_halted_within_s: float | None = None
    #: Every agent a TERMINATE was meant for reaches TERMINATED within this many seconds.
    all_terminated_within_s: float | None = None
    max_orphans: int | None = None
    p99_delivery_s: float | None = None
    p99_total_s: float | None = None
    #: Minimum fraction of (command, agent) pairs meeting the total SLA maximum.
    min_sla_compliance: float | None = None
    #: Checkers expected to FAIL in this scenario (a documented weakness); all others must pass.
    violations: list[str] = field(default_factory=list)
    max_spend_after_click: float | None = None

    def __post_init__(self) -> None:
        from sim.checkers import CHECKERS

        unknown = [name for name in self.violations if name not in CHECKERS]
        if unknown:
            raise ValueError(
                f"violations: unknown checker {unknown[0]!r}; known: {', '.join(CHECKERS)}"
            )
        # A negative limit fails every run whatever happens, and a compliance
        # outside [0, 1] is no fraction: either way the expectation tests nothing.
        for key in (f.name for f in dataclasses.fields(self)):
            value = getattr(self, key)
            if key == "violations" or value is None:
                continue
            if key == "min_sla_compliance" and not 0.0 <= value <= 1.0:
                raise FieldError(key, f"a fraction of pairs in [0, 1], got {value:g}")
            if not value >= 0:
                raise FieldError(key, f"must not be negative, got {value:g}")


@dataclass(frozen=True)
class Scenario:
    meta: Meta = field(default_factory=Meta)
    topology: Topology = field(default_factory=Topology)
    control_plane: ControlPlane = field(default_factory=ControlPlane)
    transports: Transports = field(default_factory=Transports)
    network: Network = field(default_factory=Network)
    agents: Agents = field(default_factory=Agents)
    operator: list[OperatorCommand] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    sla: Sla = field(default_factory=Sla)
    expect: Expect = field(default_factory=Expect)

    def __post_init__(self) -> None:
        if not self.operator:
            raise ValueError("operator: at least one [[operator]] command is needed")
        if self.control_plane.profile == "seed" and self.control_plane.algorithm == "Ed25519":
            raise ValueError("control_plane.algorithm: the seed profile signs with RS256 or ES256")
        listen = self.transports.listen
        for i, command in enumerate(self.operator):
            if command.via == "network" and not set(listen) - {"file"}:
                raise FieldError(
                    f"operator[{i}].via",
                    f"a network command needs a network transport in transports.listen,"
                    f" got {listen}",
                )
            if command.via == "file" and "file" not in listen:
                # Nobody reads the kill file: the command would reach no agent.
                raise FieldError(
                    f"operator[{i}].via",
                    f'a file command needs "file" in transports.listen (no agent reads'
                    f" the kill file), got {listen}",
                )
        self._check_depth_selectors()
        end = self.meta.duration_s
        for i, command in enumerate(self.operator):
            if command.at_s >= end:
                raise ValueError(
                    f"operator[{i}].at_s: {command.at_s:g} is not before the end of the run"
                    f" (meta.duration_s = {end:g})"
                )
        check_budget(self)

    def _check_depth_selectors(self) -> None:
        """``depth:<n>`` past the tree's last level selects nobody: the fault would
        hit no agent (or the link hold none). Checked here for balanced and
        random trees, for every replication's tree; explicit trees are checked
        against the built tree (sim.runner.check_selectors)."""
        deepest = self.topology.surely_deep()
        if deepest is None:
            return
        chosen = [(f"faults[{i}].agents", fault.agents) for i, fault in enumerate(self.faults)]
        links = self.network.links
        chosen += [(f"network.links[{i}].agents", link.agents) for i, link in enumerate(links)]
        for key, selectors in chosen:
            for selector in selectors:
                kind, _, arg = selector.partition(":")
                if kind != "depth" or not (arg.isascii() and arg.isdigit()):
                    continue
                if int(arg) > deepest:
                    tree = (
                        f"the tree's last level is depth:{deepest}"
                        if self.topology.kind == "balanced"
                        else f"a random tree of {self.topology.agents} agents may end at"
                        f" depth:{deepest}"
                    )
                    raise FieldError(key, f"agent selector {selector!r} matches nothing: {tree}")


def bundled_names() -> list[str]:
    """Names of the scenarios shipped in the ``scenarios`` package."""
    folder = resources.files("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def bundled_text(name: str) -> str:
    return (resources.files("scenarios") / f"{name}.toml").read_text(encoding="utf-8")


def load_scenario(ref: str, overrides: Sequence[str] = ()) -> tuple[Scenario, str]:
    """Load a scenario by bundled name or path, with ``--set`` ``overrides``
    (sim.overrides); returns it with its TOML text (as in the file).

    Raises :class:`ScenarioError` naming the file, key path and expectation.
    """
    path = Path(ref)
    # A folder is never the scenario: one named like a bundled scenario (an
    # earlier --out ./baseline) must not hide it.
    if ref in bundled_names() and not path.is_file():
        source, text = f"scenarios/{ref}.toml", bundled_text(ref)
    elif path.is_file():
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(source, "", f"cannot read: {exc}") from None
    elif path.is_dir():
        raise ScenarioError(ref, "", "is a directory, not a scenario file")
    else:
        known = ", ".join(bundled_names())
        raise ScenarioError(ref, "", f"no such file or bundled scenario (bundled: {known})")
    return parse_scenario(text, source, overrides), text


def parse_scenario(text: str, source: str = "<string>", overrides: Sequence[str] = ()) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"not valid TOML: {exc}") from None
    if overrides:
        try:
            data = apply_overrides(data, overrides)
        except OverrideError as exc:
            raise ScenarioError(source, "", str(exc)) from None
        source = f"{source} with --set"
    return load(Scenario, data, source)
