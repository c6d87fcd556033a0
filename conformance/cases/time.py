"""Time: expiry, not-yet-valid, lifetime limits, the exact boundaries and naive
timestamps (the watchdog is in :mod:`conformance.cases.watchdog`). In
wall-clock mode every time is built from the real clock and boundaries sit
``margin`` seconds inside or outside. Every rule is probed with every command
kind (:func:`~conformance.cases.command_kinds`), each on a fresh agent it would
act on: a listener may check the time of a PAUSE and obey an expired TERMINATE."""

from __future__ import annotations

from conformance.cases import Armed, command_kinds, expected_after
from conformance.catalog import case
from conformance.context import Context
from conformance.outcome import Unsupported

_WALL_BOUNDARY = "boundaries probed at the clock margin inside and outside instead of exactly"


def _reject(ctx: Context, issued: float, expires: float, what: str) -> None:
    """Probes with every kind, with cascade on and off: a listener may check the
    time only on the path that cascades (or only on the one that does not)."""
    for kind in command_kinds(ctx):
        armed = Armed(ctx, kind, issued_at=issued)
        inst = armed.open()
        for cascade in (True, False):
            raw = ctx.sign(kind, issued_at=issued, expires_at=expires, cascade=cascade)
            ctx.expect_rejected(inst.deliver(raw), f"a {kind} {what} (cascade={cascade})")


@case("KS-TIME-EXPIRED", "A command expired beyond the clock-skew leeway is rejected", level="L2")
def expired(ctx: Context) -> None:
    skew = ctx.with_policy().clock_skew_s
    expires = ctx.now() - skew - 60.0 - ctx.clock.edge()
    _reject(ctx, expires - 60.0, expires, f"that expired {skew + 60:g} s ago")


@case(
    "KS-TIME-NOT-YET-VALID",
    "A command issued in the future beyond the leeway is rejected",
    level="L2",
)
def not_yet_valid(ctx: Context) -> None:
    skew = ctx.with_policy().clock_skew_s
    issued = ctx.now() + skew + 60.0 + ctx.clock.edge()
    _reject(ctx, issued, issued + 60.0, f"issued {skew + 60:g} s in the future")


@case("KS-TIME-LIFETIME", "A command whose lifetime exceeds the maximum is rejected", level="L2")
def too_long(ctx: Context) -> None:
    limit = ctx.with_policy().max_lifetime_s
    issued = ctx.now() - 10.0
    _reject(ctx, issued, issued + limit + 60.0, f"valid for {limit + 60:g} s (max {limit:g})")


@case(
    "KS-TIME-BOUNDARY",
    "Behaviour exactly at the expiry, not-before and lifetime boundaries",
    level="L2",
    wall_clock=_WALL_BOUNDARY,
)
def boundaries(ctx: Context) -> None:
    policy = ctx.with_policy()
    skew, limit = policy.clock_skew_s, policy.max_lifetime_s
    now = ctx.now()
    # (issued_at, expires_at, accepted?, description) relative to now.
    if ctx.wall:
        m = ctx.clock.edge()
        probes = [
            (now - 60, now - skew + m, True, f"expires_at + leeway {m:g} s ahead"),
            (now - 60, now - skew - m, False, f"expires_at + leeway {m:g} s ago"),
            (now + skew - m, now + skew + 60, True, f"issued_at - leeway {m:g} s ago"),
            (now + skew + m, now + skew + 60, False, f"issued_at - leeway {m:g} s ahead"),
        ]
    else:
        probes = [
            (now - 60, now - skew + 1, True, "expires_at + leeway 1 s ahead"),
            (now - 60, now - skew, False, "expires_at + leeway == now (expired at that instant)"),
            (
                now + skew,
                now + skew + 60,
                True,
                "issued_at - leeway == now (valid from that instant)",
            ),
            (now + skew + 1, now + skew + 60, False, "issued_at - leeway 1 s ahead"),
        ]
    probes += [
        (now - 10, now - 10 + limit, True, f"lifetime exactly the maximum {limit:g} s"),
        (now - 10, now - 10 + limit + 1, False, f"lifetime {limit + 1:g} s, 1 s over the maximum"),
    ]
    for kind in command_kinds(ctx):
        for issued, expires, accept, what in probes:
            armed = Armed(ctx, kind, issued_at=issued)
            raw = ctx.sign(kind, issued_at=issued, expires_at=expires)
            obs = armed.open().deliver(raw)
            if accept:
                ctx.expect_accepted(obs, f"a {kind} with {what}")
                ctx.expect_state(obs.state, expected_after(kind), f"after a {kind} with {what}")
            else:
                ctx.expect_rejected(obs, f"a {kind} with {what}")


@case("KS-TIME-NAIVE", "Timestamps without a time zone are rejected cleanly", level="L1")
def naive_timestamps(ctx: Context) -> None:
    driver = ctx.setup.driver
    if not driver.can_forge:
        raise Unsupported("the profile's signature spelling could not be detected", "profile")
    for kind in command_kinds(ctx):
        armed = Armed(ctx, kind)
        for fields in (("issued_at",), ("expires_at",), ("issued_at", "expires_at")):
            obj = driver.to_dict(ctx.encode(ctx.command(kind)))
            for name in fields:
                aware = obj[name]
                obj[name] = aware[:19]  # YYYY-MM-DDTHH:MM:SS, zone dropped
            # Signed as the profile would sign this object, so only the missing zone is wrong.
            raw = driver.resign(obj, ctx.setup.keyring.primary)
            inst = armed.open()
            what = f"a {kind} with zone-less {' and '.join(fields)}"
            ctx.expect_rejected(inst.deliver(raw), what)
            inst.state()  # still answering


@case(
    "KS-TIME-EXPIRES-LATER",
    "The same command, accepted now, is rejected once it has expired",
    level="L2",
    wall_clock="the command expires within the margin; a real wait of twice the margin",
)
def expires_later(ctx: Context) -> None:
    skew = ctx.with_policy().clock_skew_s
    m = ctx.clock.edge() if ctx.wall else 1.0
    # Valid for m more seconds (inside the leeway), then expired for m seconds.
    now = ctx.now()
    issued = now - skew - 30.0
    sent = []
    for kind in command_kinds(ctx):
        armed = Armed(ctx, kind, issued_at=issued)
        raw = ctx.sign(kind, issued_at=issued, expires_at=now - skew + m)
        ctx.expect_accepted(armed.open().deliver(raw), f"a {kind} valid for {m:g} s more")
        sent.append((kind, armed, raw))
    ctx.wait(2 * m)  # once for every kind: with the wall clock this is a real wait
    for kind, armed, raw in sent:
        second = armed.open()  # a fresh agent: a replay cannot be why it is rejected
        ctx.expect_rejected(
            second.deliver(raw), f"the same {kind} {2 * m:g} s later, {m:g} s past expiry"
        )
