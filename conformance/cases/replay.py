"""Replay: one effect per command — on one transport or several, by command id
or by nonce, across a restart, and for as long as the command could be accepted."""

from __future__ import annotations

from conformance.catalog import case
from conformance.context import Context, Instance
from conformance.outcome import Unsupported


def _pause_resume(
    ctx: Context, inst: Instance, second: dict[str, object] | None = None, **first: object
) -> tuple[bytes, bytes]:
    """Deliver an accepted PAUSE (``first`` its fields) then an accepted RESUME
    (``second`` its fields); return both raw commands."""
    pause = ctx.sign("PAUSE", **first)
    resume = ctx.sign("RESUME", **(second or {}))
    obs = inst.deliver(pause)
    ctx.expect_accepted(obs, "a valid PAUSE")
    ctx.expect_state(obs.state, ("PAUSED",), "after a valid PAUSE")
    obs = inst.deliver(resume)
    ctx.expect_accepted(obs, "a valid, newer RESUME")
    ctx.expect_state(obs.state, ("RUNNING",), "after a valid RESUME")
    return pause, resume


@case(
    "KS-REPLAY-DUPLICATE",
    "The same command delivered twice has one effect",
    level="L3",
    needs=("pause",),
)
def duplicate(ctx: Context) -> None:
    inst = ctx.open()
    pause, resume = _pause_resume(ctx, inst)
    ctx.expect_rejected(inst.deliver(pause), "the PAUSE delivered again after the RESUME")
    ctx.expect_state(inst.state(), ("RUNNING",), "after the replayed PAUSE")
    ctx.expect_rejected(inst.deliver(resume), "the RESUME delivered again")
    ctx.expect_state(inst.state(), ("RUNNING",), "after the replayed RESUME")


@case(
    "KS-REPLAY-TRANSPORTS",
    "The same command arriving over several transports has one effect",
    level="L3",
    needs=("pause",),
)
def across_transports(ctx: Context) -> None:
    transports = ctx.setup.capabilities.transports
    if len(transports) < 2:
        raise Unsupported("the implementation declares fewer than two transports")
    inst = ctx.open()
    pause = ctx.sign("PAUSE")
    ctx.expect_accepted(inst.deliver(pause, via=transports[0]), f"a PAUSE via {transports[0]}")
    resume = ctx.sign("RESUME")
    ctx.expect_accepted(inst.deliver(resume, via=transports[1]), f"a RESUME via {transports[1]}")
    for via in transports:
        ctx.expect_rejected(inst.deliver(pause, via=via), f"the PAUSE again via {via}")
    ctx.expect_state(inst.state(), ("RUNNING",), "after the PAUSE came in again on every transport")


def _reused(ctx: Context, field: str, label: str) -> None:
    """New commands of every kind reusing the ``field`` of an accepted PAUSE or
    RESUME are refused: a listener may check the field for one kind only."""
    inst = ctx.open()
    _pause_resume(ctx, inst, {field: "reused-resume"}, **{field: "reused-pause"})
    again = ctx.sign("PAUSE", **{field: "reused-pause"})  # newest order
    ctx.expect_rejected(
        inst.deliver(again), f"a new PAUSE carrying the {label} of an accepted PAUSE"
    )
    ctx.expect_state(inst.state(), ("RUNNING",), "after it")
    obs = inst.deliver(ctx.sign("PAUSE"))
    ctx.expect_accepted(obs, "a fresh PAUSE (so that a RESUME has a halt to undo)")
    for kind in ("RESUME", "TERMINATE"):
        for value, of in (("reused-resume", "RESUME"), ("reused-pause", "PAUSE")):
            raw = ctx.sign(kind, **{field: value})
            what = f"a new {kind} carrying the {label} of an accepted {of}"
            ctx.expect_rejected(inst.deliver(raw), what)
            ctx.expect_state(inst.state(), ("PAUSED",), f"after {what}")


@case(
    "KS-REPLAY-NONCE",
    "A new command reusing an accepted nonce is rejected",
    level="L3",
    needs=("pause",),
)
def nonce_reuse(ctx: Context) -> None:
    _reused(ctx, "nonce", "nonce")


@case(
    "KS-REPLAY-COMMAND-ID",
    "A new command reusing an accepted command id is rejected",
    level="L3",
    needs=("pause",),
)
def command_id_reuse(ctx: Context) -> None:
    _reused(ctx, "command_id", "command id")


@case(
    "KS-REPLAY-RESTART", "A replay after a restart is still rejected", level="L3", needs=("pause",)
)
def after_restart(ctx: Context) -> None:
    inst = ctx.open()
    pause, resume = _pause_resume(ctx, inst)
    inst.restart()
    ctx.expect_state(inst.state(), ("RUNNING",), "after a restart")
    ctx.expect_rejected(inst.deliver(pause), "the PAUSE replayed after a restart")
    ctx.expect_rejected(inst.deliver(resume), "the RESUME replayed after a restart")
    ctx.expect_state(inst.state(), ("RUNNING",), "after the replays")


@case(
    "KS-REPLAY-WINDOW",
    "A command is remembered for as long as it could still be accepted",
    level="L3",
    needs=("pause",),
    wall_clock="acceptance window ends margin + 1 s after delivery; a real wait of 1 s",
)
def remembered_while_valid(ctx: Context) -> None:
    skew = ctx.with_policy().clock_skew_s
    now = ctx.now()
    # The PAUSE's acceptance window (expires_at + leeway) ends `left` seconds from now;
    # replayed `waited` seconds later, it would still be accepted if forgotten.
    if ctx.wall:
        left, waited = ctx.clock.edge() + 1.0, 1.0
    else:
        left, waited = 100.0, 99.0
    pause = ctx.sign("PAUSE", issued_at=now - 60.0, expires_at=now + left - skew)
    inst = ctx.open()
    obs = inst.deliver(pause)
    ctx.expect_accepted(obs, "a valid PAUSE")
    ctx.wait(waited)
    obs = inst.deliver(pause)
    ctx.expect_rejected(
        obs, f"the PAUSE replayed {waited:g} s later, {left - waited:g} s before it expires"
    )
    ctx.expect_state(obs.state, ("PAUSED",), "after the replay")


@case(
    "KS-REPLAY-NOT-RECORDED",
    "A rejected command is not recorded: once valid, it is accepted",
    level="L3",
    wall_clock="not yet valid by the margin; a real wait of twice the margin",
)
def rejected_not_recorded(ctx: Context) -> None:
    skew = ctx.with_policy().clock_skew_s
    m = ctx.clock.edge() if ctx.wall else 1.0
    # Valid only m seconds from now: rejected (NOT_YET_VALID), then accepted 2m seconds later.
    issued = ctx.now() + skew + m
    raw = ctx.sign("TERMINATE", issued_at=issued, expires_at=issued + 60.0)
    inst = ctx.open()
    ctx.expect_rejected(inst.deliver(raw), f"a TERMINATE valid only {m:g} s from now")
    ctx.wait(2 * m)
    obs = inst.deliver(raw)
    ctx.expect_accepted(obs, f"the same TERMINATE {2 * m:g} s later, now valid")
