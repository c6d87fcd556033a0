"""The watchdog (dead-man's switch, SPEC.md §9), for implementations that
declare the ``watchdog`` feature: off unless configured; silence for T halts
a RUNNING agent (at T, not before); only fresh authentic deliveries feed it
(a replayed, expired, forged or malformed one does not: a recording must not
keep a cut-off agent alive); only an accepted RESUME lifts the halt.

Timing. With the injected clock, T is 10 s (or the implementation's declared
fixed T) and every check sits exactly on a limit: ``EPSILON`` before it the
agent must still run, at it the agent must be halted. With the wall clock,
checks sit the clock margin ``s`` before or after a limit, so a case needs T
large enough for its schedule (T >= 2s, or 3s when a delivery must be told
apart from the original deadline) and T within the wall-clock wait limit;
otherwise it is UNSUPPORTED with the reason, never FAILED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.catalog import case
from conformance.clock import ClockUnsupported
from conformance.context import OTHER_INSTANCE, Context, Instance

#: Injected clock: the default T, and how far before a limit "not yet" is checked.
INJECTED_TIMEOUT = 10.0
EPSILON = 0.01
_WALL = "T a few margins long (at most the wait limit); checks sit the margin before/after limits"


@dataclass(frozen=True)
class Schedule:
    """The watchdog timeout of a case and where checks sit around a limit."""

    timeout: float
    slack: float  # wall: the clock margin; injected: 0 (exactly on the limit)
    epsilon: float  # injected: how far before a limit the agent must still run

    def before(self, t: float) -> float:
        """A time at which a limit ``t`` has surely not been reached."""
        return t - (self.slack or self.epsilon)

    def after(self, t: float) -> float:
        """A time at which a limit ``t`` has surely been reached (exactly ``t`` if injected)."""
        return t + self.slack


def schedule(ctx: Context, margins: float) -> Schedule:
    """T for a case whose checks need T >= ``margins`` x the clock margin (wall)."""
    fixed = ctx.setup.capabilities.watchdog_timeout_s
    if not ctx.wall:
        timeout = fixed if fixed is not None else INJECTED_TIMEOUT
        return Schedule(timeout, 0.0, min(EPSILON, timeout / 4))
    slack = ctx.clock.edge()
    limit = ctx.setup.max_wait
    needed = margins * slack
    timeout = fixed if fixed is not None else max(needed, 1.0)
    if fixed is not None and fixed < needed:
        raise ClockUnsupported(
            f"the declared watchdog timeout T={fixed:g} s is shorter than {margins:g} x the"
            f" {slack:g} s clock margin, too short to tell the limits apart by wall clock"
        )
    if timeout > limit:
        raise ClockUnsupported(
            f"needs a watchdog timeout T={timeout:g} s ({margins:g} x the {slack:g} s clock"
            f" margin or the declared fixed T); wall-clock waits are limited to {limit:g} s"
        )
    return Schedule(timeout, slack, 0.0)


class Timeline:
    """Time since an instance started, for waiting until a point of a schedule."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.start = ctx.now()

    def at(self, t: float) -> None:
        """Let time pass until ``t`` seconds after the start (no-op if already there)."""
        self.ctx.wait(self.start + t - self.ctx.now())

    def expect(self, inst: Instance, allowed: tuple[str, ...], what: str) -> None:
        elapsed = self.ctx.now() - self.start
        self.ctx.expect_state(inst.state(), allowed, f"{elapsed:g} s after start, {what}")


def _open(ctx: Context, timeout: float | None) -> tuple[Instance, Timeline]:
    inst = ctx.open(policy=ctx.with_policy(watchdog_timeout_s=timeout))
    return inst, Timeline(ctx)


def _pause_resume(ctx: Context, inst: Instance) -> tuple[bytes, bytes]:
    """A fresh PAUSE then a fresh RESUME, both accepted: the agent runs, fed now."""
    pause, resume = ctx.sign("PAUSE"), ctx.sign("RESUME")
    ctx.expect_accepted(inst.deliver(pause), "a fresh PAUSE")
    obs = inst.deliver(resume)
    ctx.expect_accepted(obs, "a fresh, newer RESUME")
    ctx.expect_state(obs.state, ("RUNNING",), "after the fresh PAUSE and RESUME")
    return pause, resume


@case(
    "KS-WATCHDOG",
    "Watchdog: silence for T halts the agent, not before; only a RESUME lifts the halt",
    level="L3",
    needs=("watchdog",),
    wall_clock=_WALL,
)
def watchdog(ctx: Context) -> None:
    plan = schedule(ctx, 2)
    t = plan.timeout
    inst, time = _open(ctx, t)
    time.expect(inst, ("RUNNING",), "right after start")
    time.at(plan.before(t))
    time.expect(inst, ("RUNNING",), f"before the {t:g} s watchdog timeout")
    time.at(plan.after(t))
    time.expect(inst, ("PAUSED",), f"with no contact since start, watchdog timeout {t:g} s")
    if not ctx.setup.has("pause"):
        return
    # KS-184: hearing from the control plane again does not resume; a RESUME does.
    obs = inst.deliver(ctx.sign("PAUSE"))
    ctx.expect_state(obs.state, ("PAUSED",), "after a fresh PAUSE following the watchdog halt")
    obs = inst.deliver(ctx.sign("RESUME"))
    ctx.expect_accepted(obs, "a fresh RESUME after the watchdog halt")
    ctx.expect_state(obs.state, ("RUNNING",), "after a fresh RESUME following the watchdog halt")


@case(
    "KS-WATCHDOG-OFF",
    "Watchdog off unless configured: silence halts nothing",
    level="L3",
    needs=("watchdog",),
    wall_clock="waits as long as KS-WATCHDOG's configured watchdog takes to halt",
)
def watchdog_off(ctx: Context) -> None:
    plan = schedule(ctx, 2)
    silence = plan.after(plan.timeout) if ctx.wall else 86_400.0
    inst, time = _open(ctx, None)
    time.at(silence)
    time.expect(inst, ("RUNNING",), "with no watchdog configured")


@case(
    "KS-WATCHDOG-FED",
    "Fresh authentic deliveries feed the watchdog, accepted or refused by the state table",
    level="L3",
    needs=("watchdog", "pause"),
    wall_clock=_WALL,
)
def fed(ctx: Context) -> None:
    plan = schedule(ctx, 3)
    t = plan.timeout
    inst, time = _open(ctx, t)
    # 1. An accepted PAUSE and RESUME at f restart the count: still running past T.
    first = plan.before(t) if not ctx.wall else 2 * plan.slack
    time.at(first)
    _pause_resume(ctx, inst)
    second = plan.before(first + t)
    time.at(second)
    time.expect(inst, ("RUNNING",), f"fed by a fresh PAUSE and RESUME at {first:g} s (T {t:g} s)")
    # 2. A fresh RESUME for a running agent is refused (NOT_PAUSED) but passed steps
    #    1-9 of SPEC.md §6, so it feeds the watchdog too (KS-183).
    obs = inst.deliver(ctx.sign("RESUME"))
    ctx.expect_state(obs.state, ("RUNNING",), "after a fresh RESUME for a running agent")
    time.at(plan.before(second + t))
    time.expect(
        inst,
        ("RUNNING",),
        f"fed by a fresh RESUME refused as NOT_PAUSED at {second:g} s (KS-183: steps 1-9"
        " passed, whatever the state table decides)",
    )
    time.at(plan.after(second + t))
    time.expect(inst, ("PAUSED",), f"{t:g} s of silence after the last fresh delivery")


#: A delivery that fails a step up to 9, made from the context and the recording
#: (an accepted PAUSE and RESUME) at the moment it is sent.
Probe = tuple[str, Callable[[Context, tuple[bytes, bytes]], bytes]]


def _probes(ctx: Context) -> list[Probe]:
    """Deliveries failing one of steps 1-9 of SPEC.md §6."""
    policy = ctx.with_policy()
    skew, limit, edge = policy.clock_skew_s, policy.max_lifetime_s, ctx.clock.edge()
    keyring, driver = ctx.setup.keyring, ctx.setup.driver
    forger = keyring.attacker(keyring.primary.algorithm)
    stranger = keyring.stranger(keyring.primary.algorithm)

    def expired(c: Context, _: tuple[bytes, bytes]) -> bytes:
        now = c.now()
        return c.sign("RESUME", issued_at=now - skew - 120, expires_at=now - skew - 60 - edge)

    def not_yet_valid(c: Context, _: tuple[bytes, bytes]) -> bytes:
        issued = c.now() + skew + 60 + edge
        return c.sign("RESUME", issued_at=issued, expires_at=issued + 60)

    def too_long(c: Context, _: tuple[bytes, bytes]) -> bytes:
        issued = c.now() - 10
        return c.sign("RESUME", issued_at=issued, expires_at=issued + limit + 60)

    def tampered(c: Context, _: tuple[bytes, bytes]) -> bytes:
        obj = driver.to_dict(c.sign("RESUME"))
        obj["command_id"] = str(obj["command_id"]) + "-x"
        return driver.from_dict(obj)

    probes: list[Probe] = [
        ("the accepted PAUSE replayed", lambda c, rec: rec[0]),
        ("the accepted RESUME replayed", lambda c, rec: rec[1]),
        ("an authentic RESUME that expired beyond the leeway", expired),
        ("an authentic RESUME not yet valid beyond the leeway", not_yet_valid),
        ("an authentic RESUME with a lifetime over the maximum", too_long),
        (
            "an authentic RESUME for another agent",
            lambda c, _: c.sign("RESUME", target=OTHER_INSTANCE),
        ),
        (
            "a RESUME signed by a wrong key under a trusted key id",
            lambda c, _: driver.encode(c.command("RESUME", key=forger), forger),
        ),
        ("a RESUME whose command_id was changed after signing", tampered),
        ("bytes that are not a command", lambda c, _: b'{"command_type": "RESUME"'),
    ]
    if driver.has_key_id:
        probes.append(
            (
                f"a RESUME naming the unknown key id {stranger.key_id!r}",
                lambda c, _: driver.encode(c.command("RESUME", key=stranger), stranger),
            )
        )
    return probes


@case(
    "KS-WATCHDOG-NOT-FED",
    "Replayed, expired, forged or malformed deliveries do not feed the watchdog",
    level="L3",
    needs=("watchdog", "pause"),
    wall_clock=_WALL + "; every probe goes to one agent, in one wait",
)
def not_fed(ctx: Context) -> None:
    plan = schedule(ctx, 3)
    probes = _probes(ctx)
    # Injected time is free: one agent per probe, so a failure names the probe.
    groups = [probes] if ctx.wall else [[probe] for probe in probes]
    for group in groups:
        _starve(ctx, plan, group)


def _starve(ctx: Context, plan: Schedule, probes: list[Probe]) -> None:
    """Fed at start by an accepted PAUSE and RESUME (the recording an attacker
    replays), then only ``probes``: the agent must halt T after the start."""
    t = plan.timeout
    probe_at = 2 * plan.slack if ctx.wall else 0.6 * t
    inst, time = _open(ctx, t)
    recording = _pause_resume(ctx, inst)
    time.at(probe_at)
    for what, make in probes:
        ctx.expect_rejected(inst.deliver(make(ctx, recording)), what)
    sent = "; ".join(what for what, _ in probes)
    time.at(plan.after(t))
    time.expect(
        inst,
        ("PAUSED",),
        f"watchdog timeout {t:g} s, last fed at start; at {probe_at:g} s came {sent},"
        " which must not feed it (KS-183)",
    )
