"""The agent state machine: TERMINATE is final, PAUSE/RESUME work and are
ordered, PAUSE survives a restart, and — checked by a Hypothesis
RuleBasedStateMachine — any interleaving of fresh commands, replays, stale
RESUMEs, restarts and passing time keeps those invariants. Reordering or
duplicating a set of deliveries ends in the same state."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conformance.cases import TERMINATED_STATES, finite_time
from conformance.catalog import case
from conformance.context import Context
from conformance.hypo import forall, run_machine


def _later_kinds(ctx: Context) -> list[str]:
    return ["RESUME", "PAUSE", "TERMINATE"] if ctx.setup.has("pause") else ["TERMINATE"]


@case("KS-STATE-TERMINATE-FINAL", "TERMINATE is final: later commands are refused", level="L1")
def terminate_final(ctx: Context) -> None:
    inst = ctx.open()
    ctx.expect_accepted(inst.deliver(ctx.sign("TERMINATE")), "a valid TERMINATE")
    for kind in _later_kinds(ctx):
        obs = inst.deliver(ctx.sign(kind))
        ctx.expect_rejected(obs, f"a newer {kind} after TERMINATE")
        ctx.expect_state(obs.state, TERMINATED_STATES, f"after a newer {kind} following TERMINATE")


@case(
    "KS-STATE-TERMINATE-DEADLINE",
    "A second TERMINATE does not move the hard-kill deadline set by the first",
    level="L1",
    wall_clock="grace of 3 margins (whole seconds), second TERMINATE 2 margins later; when"
    " the implementation reports hard_kill_at, 0.1 s later and no wait for the deadline",
)
def terminate_deadline(ctx: Context) -> None:
    slack = ctx.clock.edge() if ctx.wall else 1.0
    # The second TERMINATE comes `later` seconds after the first, while the agent is
    # still TERMINATING, asking for the same grace: a moved deadline would be `later`
    # seconds after the first one, and the agent still TERMINATING just after it.
    grace, later = (max(1, math.ceil(3 * slack)), 2 * slack) if ctx.wall else (30, 10.0)
    inst = ctx.open()
    start = ctx.now()
    first = inst.deliver(ctx.sign("TERMINATE", grace_period_seconds=grace))
    ctx.expect_accepted(first, f"a TERMINATE with a {grace} s grace period")
    ctx.expect_state(first.state, TERMINATED_STATES, "after a TERMINATE")
    if first.state == "TERMINATED":
        return  # terminated at once: no deadline is left to move
    deadline = first.hard_kill_at
    if deadline is not None:
        deadline = finite_time(ctx, deadline, f"the hard_kill_at a {grace} s TERMINATE set")
        tolerance = slack if ctx.wall else 1e-3
        if not abs(deadline - (start + grace)) <= tolerance:  # written so NaN fails too
            raise ctx.fail(
                f"a TERMINATE with a {grace} s grace period accepted at {start:.3f} set"
                f" hard_kill_at {deadline:.3f}, expected {start + grace:.3f} (SPEC.md §5.3)"
            )
        if ctx.wall:
            later = 0.1  # the deadlines it reports tell a move apart: no long wait
    ctx.wait(later)
    second = inst.deliver(ctx.sign("TERMINATE", grace_period_seconds=grace))
    ctx.expect_rejected(second, f"a second TERMINATE {later:g} s after the first")
    if second.hard_kill_at is not None:
        finite_time(ctx, second.hard_kill_at, "the hard_kill_at after a second TERMINATE")
    if deadline is not None and second.hard_kill_at not in (None, deadline):
        raise ctx.fail(
            f"a second TERMINATE {later:g} s after the first moved hard_kill_at from"
            f" {deadline:.3f} to {second.hard_kill_at:.3f} (KS-023)"
        )
    if ctx.wall and deadline is not None:
        return
    ctx.wait(start + grace + slack - ctx.now())
    ctx.expect_state(
        inst.state(),
        ("TERMINATED",),
        f"{grace + slack:g} s after a TERMINATE with a {grace} s grace period, with a second"
        f" TERMINATE {later:g} s after the first (whose deadline must not count)",
    )


@case("KS-STATE-TERMINATE-RESTART", "TERMINATE survives a restart", level="L3")
def terminate_survives_restart(ctx: Context) -> None:
    inst = ctx.open()
    ctx.expect_accepted(inst.deliver(ctx.sign("TERMINATE")), "a valid TERMINATE")
    inst.restart()
    ctx.expect_state(inst.state(), TERMINATED_STATES, "after a restart following TERMINATE")
    for kind in _later_kinds(ctx):
        obs = inst.deliver(ctx.sign(kind))
        ctx.expect_state(
            obs.state, TERMINATED_STATES, f"after a newer {kind} following the restart"
        )


@case(
    "KS-STATE-PAUSE-RESUME",
    "PAUSE halts a running agent; a newer RESUME restarts it",
    level="L3",
    needs=("pause",),
)
def pause_resume(ctx: Context) -> None:
    inst = ctx.open()
    obs = inst.deliver(ctx.sign("PAUSE"))
    ctx.expect_accepted(obs, "a valid PAUSE")
    ctx.expect_state(obs.state, ("PAUSED",), "after PAUSE")
    obs = inst.deliver(ctx.sign("RESUME"))
    ctx.expect_accepted(obs, "a valid, newer RESUME")
    ctx.expect_state(obs.state, ("RUNNING",), "after RESUME")


@case(
    "KS-STATE-STALE-RESUME",
    "A stale RESUME after a newer PAUSE changes nothing",
    level="L3",
    needs=("pause",),
)
def stale_resume(ctx: Context) -> None:
    inst = ctx.open()
    resume = ctx.sign("RESUME", order=1)
    pause = ctx.sign("PAUSE", order=2)
    ctx.expect_accepted(inst.deliver(pause), "a valid PAUSE")
    obs = inst.deliver(resume)
    ctx.expect_rejected(obs, "a RESUME issued before the accepted PAUSE, arriving after it")
    ctx.expect_state(obs.state, ("PAUSED",), "after the stale RESUME")


@case("KS-STATE-PAUSE-RESTART", "PAUSE survives a restart", level="L3", needs=("pause",))
def pause_survives_restart(ctx: Context) -> None:
    inst = ctx.open()
    ctx.expect_accepted(inst.deliver(ctx.sign("PAUSE")), "a valid PAUSE")
    inst.restart()
    ctx.expect_state(inst.state(), ("PAUSED",), "after a restart following PAUSE")


@case(
    "KS-STATE-MACHINE",
    "Stateful model: any mix of commands, replays, stale RESUMEs, restarts keeps the invariants",
    level="L3",
    needs=("pause",),
    wall_clock="no time-advancing steps",
)
def state_machine(ctx: Context) -> None:
    run_machine(ctx, lambda: KillSwitchMachine(ctx))


class KillSwitchMachine(RuleBasedStateMachine):
    """A model of one agent; the implementation must agree with it."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.inst = ctx.open()
        self.sent: list[bytes] = []
        self.state = "RUNNING"
        self.terminated = False
        self.last_issued = ctx.now() - 20.0
        self.pause_issued: float | None = None

    def _guarded(self, thunk: Any) -> None:
        self.ctx.machine_guard.guard(self.ctx, thunk, "")  # type: ignore[attr-defined]

    def _observe(self, state: str, what: str) -> None:
        if self.terminated and state not in TERMINATED_STATES:
            raise self.ctx.fail(f"TERMINATE is not final: {what} left the agent {state}")
        if self.state == "TERMINATED" and state != "TERMINATED":
            raise self.ctx.fail(f"{what} moved a TERMINATED agent to {state}")
        self.state = state

    @rule(kind=st.sampled_from(["PAUSE", "RESUME", "TERMINATE"]), transport=st.integers(0, 2))
    def fresh_command(self, kind: str, transport: int) -> None:
        def step() -> None:
            ctx = self.ctx
            self.last_issued = max(ctx.now() - 5.0, self.last_issued + 0.01)
            raw = ctx.sign(kind, issued_at=self.last_issued)
            transports = ctx.setup.capabilities.transports
            obs = self.inst.deliver(raw, via=transports[transport % len(transports)])
            self.sent.append(raw)
            what = f"a fresh {kind}"
            if self.terminated:
                self._observe(obs.state, what)
                return
            expected = {
                "TERMINATE": TERMINATED_STATES,
                "PAUSE": ("PAUSED",),
                "RESUME": ("RUNNING",),
            }[kind]
            ctx.expect_state(obs.state, expected, f"after {what} in state {self.state}")
            # Without a verdict (accepted=None, allowed by PROTOCOL.md) only a state
            # change shows acceptance: a PAUSE in PAUSED cannot, so none is demanded.
            visible = obs.accepted is not None or self.state not in expected
            if (kind != "RESUME" or self.state == "PAUSED") and visible:
                ctx.expect_accepted(obs, f"{what} in state {self.state}")
            if kind == "TERMINATE":
                self.terminated = True
            if kind == "PAUSE":
                self.pause_issued = self.last_issued
            self._observe(obs.state, what)

        self._guarded(step)

    @precondition(lambda self: bool(self.sent))
    @rule(pick=st.integers(min_value=0))
    def replay(self, pick: int) -> None:
        def step() -> None:
            raw = self.sent[pick % len(self.sent)]
            before = self.state
            obs = self.inst.deliver(raw)
            what = "a replay of an earlier delivery"
            if obs.accepted:
                raise self.ctx.fail(f"{what} was accepted: {obs.describe()}")
            if obs.state != before and not (before == "TERMINATING" and obs.state == "TERMINATED"):
                raise self.ctx.fail(f"{what} changed the state: {obs.describe()}")
            self._observe(obs.state, what)

        self._guarded(step)

    @precondition(lambda self: self.state == "PAUSED" and self.pause_issued is not None)
    @rule()
    def stale_resume(self) -> None:
        def step() -> None:
            assert self.pause_issued is not None
            # Issued just before the PAUSE the agent is paused by (ordered before it).
            raw = self.ctx.sign("RESUME", order=0, issued_at=self.pause_issued - 0.005)
            obs = self.inst.deliver(raw)
            self.sent.append(raw)
            self.ctx.expect_rejected(obs, "a RESUME issued before the PAUSE in force")
            self._observe(obs.state, "a stale RESUME")

        self._guarded(step)

    @rule()
    def restart(self) -> None:
        def step() -> None:
            before = self.state
            self.inst.restart()
            state = self.inst.state()
            if state != before and not (before == "TERMINATING" and state == "TERMINATED"):
                raise self.ctx.fail(f"a restart changed the state from {before} to {state}")
            self._observe(state, "a restart")

        self._guarded(step)

    @precondition(lambda self: not self.ctx.wall)
    @rule(seconds=st.integers(1, 20))
    def time_passes(self, seconds: int) -> None:
        def step() -> None:
            before = self.state
            self.ctx.wait(seconds)
            state = self.inst.state()
            if state != before and not (before == "TERMINATING" and state == "TERMINATED"):
                raise self.ctx.fail(f"{seconds} s passing moved the agent from {before} to {state}")
            self._observe(state, f"{seconds} s passing")

        self._guarded(step)

    @invariant()
    def terminate_is_final(self) -> None:
        if self.terminated and self.state not in TERMINATED_STATES:
            raise self.ctx.fail(f"TERMINATE is not final: the agent is {self.state}")


@case(
    "KS-ORDER-PERMUTE",
    "Any reordering or duplication of a set of valid deliveries ends in the same state",
    level="L3",
    needs=("pause",),
)
def order_independent(ctx: Context) -> None:
    # SPEC.md KS-165: the state the newest PAUSE/RESUME asks for, unless a TERMINATE is among them.
    kinds = st.lists(st.sampled_from(["PAUSE", "RESUME", "TERMINATE"]), min_size=1, max_size=5)
    strategy = kinds.flatmap(
        lambda ks: st.tuples(
            st.just(ks),
            st.permutations(range(len(ks))),
            st.lists(st.integers(0, len(ks) - 1), max_size=3),
        )
    )

    def check(example: tuple[list[str], list[int], list[int]]) -> None:
        issued, order, extra = example
        raws = [ctx.sign(kind) for kind in issued]  # issue order = list order
        delivered = [*order, *extra]
        inst = ctx.open()
        for i in delivered:
            inst.deliver(raws[i])
        final = inst.state()
        if "TERMINATE" in issued:
            expected: tuple[str, ...] = TERMINATED_STATES
        else:
            expected = ("PAUSED",) if issued[-1] == "PAUSE" else ("RUNNING",)
        if final not in expected:
            names = ", ".join(f"{issued[i]}#{i + 1}" for i in delivered)
            raise ctx.fail(
                f"issued {', '.join(f'{k}#{n + 1}' for n, k in enumerate(issued))}; delivered as"
                f" {names} the agent ends {final}, expected {' or '.join(expected)}"
            )

    forall(ctx, strategy, check)
