"""Transports: every transport the implementation declares, the local kill
file included, hands its bytes to the same verifying listener (SPEC.md
KS-222, KS-226). The other cases send everything over the first declared
transport; here forged commands of every kind arrive over each one, so a
listener that trusts its kill file (or any one transport) is caught."""

from __future__ import annotations

from conformance.cases import Armed, Forgeries, command_kinds, expected_after
from conformance.cases.signature import mutate
from conformance.catalog import case
from conformance.context import INSTANCE_ID, OTHER_ASSET, OTHER_INSTANCE, Context


def _forgeries(ctx: Context, kind: str) -> list[tuple[str, bytes]]:
    """Forged commands of ``kind`` for this agent, each refused by any profile's verifier."""
    driver = ctx.setup.driver
    forger = ctx.setup.keyring.attacker(ctx.setup.keyring.primary.algorithm)
    probes = [
        (
            "signed by an untrusted key under a trusted key's id",
            driver.encode(ctx.command(kind, key=forger), forger),
        )
    ]
    if driver.can_forge:
        obj = driver.to_dict(ctx.sign(kind))
        signature = driver.sig_from_wire(obj["signature"])
        flipped = mutate(signature, ("flip", 4 * len(signature)))  # a bit in the middle
        probes.append(
            ("with one bit of its signature flipped", driver.with_signature(obj, flipped))
        )
    # target_instance_id is signed in every profile: the genuine signature of
    # another agent's command must not carry it to this one.
    obj = driver.to_dict(ctx.sign(kind, target=OTHER_INSTANCE))
    obj["target_instance_id"] = INSTANCE_ID
    probes.append(
        (f"signed for {OTHER_INSTANCE!r}, redirected to this agent", driver.from_dict(obj))
    )
    return probes


@case(
    "KS-TRANSPORT-VERIFIED",
    "A forged command of any kind is refused on every transport, the kill file included",
    level="L2",
)
def forged_on_every_transport(ctx: Context) -> None:
    forgeries = Forgeries(ctx)
    for via in ctx.setup.capabilities.transports:
        for kind in command_kinds(ctx):
            armed = Armed(ctx, kind)
            probes = _forgeries(ctx, kind)
            genuine = ctx.sign(kind)  # signed last: newer than every forgery
            inst = armed.open()
            for what, raw in probes:
                obs = inst.deliver(raw, via=via)
                forgeries.check(obs, raw, f"a {kind} {what} (via {via})")
                if obs.effective:  # a forgery the profile cannot detect: start over
                    inst = armed.open()
            # The transport is live: the forgeries were refused by verification,
            # not dropped on the way (KS-226: every transport feeds the listener).
            obs = inst.deliver(genuine, via=via)
            ctx.expect_accepted(obs, f"the genuine {kind} via {via}, after the forged ones")
            ctx.expect_state(obs.state, expected_after(kind), f"after the genuine {kind} via {via}")
    forgeries.finish()


def _invalid(ctx: Context, kind: str) -> list[tuple[str, bytes, bool]]:
    """Authentic-looking commands of ``kind`` that no history makes valid, each
    refused by SPEC.md §6 whatever came before: the time window, the lifetime,
    the target, the key id and the algorithm. The flag marks a forgery, which
    the profile itself may be unable to detect (:class:`Forgeries`)."""
    policy = ctx.with_policy()
    skew, limit = policy.clock_skew_s, policy.max_lifetime_s
    now, edge = ctx.now(), ctx.clock.edge()
    expired = now - skew - 60.0 - edge
    future = now + skew + 60.0 + edge
    probes = [
        ("that expired", ctx.sign(kind, issued_at=expired - 60.0, expires_at=expired), False),
        ("not yet valid", ctx.sign(kind, issued_at=future, expires_at=future + 60.0), False),
        (
            f"valid for longer than {limit:g} s",
            ctx.sign(kind, issued_at=now - 10.0, expires_at=now - 10.0 + limit + 60.0),
            False,
        ),
        (f"for {OTHER_INSTANCE!r}", ctx.sign(kind, target=OTHER_INSTANCE), False),
        (f"for asset {OTHER_ASSET!r}", ctx.sign(kind, asset=OTHER_ASSET), False),
    ]
    driver = ctx.setup.driver
    if driver.has_key_id:
        stranger = ctx.setup.keyring.stranger(ctx.setup.keyring.primary.algorithm)
        probes.append(
            (
                f"with the unknown key id {stranger.key_id!r}",
                driver.encode(ctx.command(kind, key=stranger), stranger),
                False,
            )
        )
    obj = driver.to_dict(ctx.sign(kind))
    obj["signature_algorithm"] = "none"
    probes.append(("with signature_algorithm 'none'", driver.from_dict(obj), True))
    return probes


@case(
    "KS-TRANSPORT-RULES",
    "On every transport, commands invalid by time, target, key or algorithm are refused",
    level="L2",
)
def rules_on_every_transport(ctx: Context) -> None:
    """What the other cases check over the first transport, each transport gets:
    a listener that applies the time, target or key rules to one transport only
    (expired kills obeyed from the kill file) reached H."""
    forgeries = Forgeries(ctx)
    for via in ctx.setup.capabilities.transports:
        for kind in command_kinds(ctx):
            armed = Armed(ctx, kind, issued_at=ctx.now() - 10.0)
            probes = _invalid(ctx, kind)
            genuine = ctx.sign(kind)  # signed last: newer than every probe
            inst = armed.open()
            for what, raw, forged in probes:
                obs = inst.deliver(raw, via=via)
                if not forged:
                    ctx.expect_rejected(obs, f"a {kind} {what} (via {via})")
                    continue
                forgeries.check(obs, raw, f"a {kind} {what} (via {via})")
                if obs.effective:  # undetectable by the profile: start over
                    inst = armed.open()
            obs = inst.deliver(genuine, via=via)
            ctx.expect_accepted(obs, f"the genuine {kind} via {via}, after the invalid ones")
            ctx.expect_state(obs.state, expected_after(kind), f"after the genuine {kind} via {via}")
        # No trust anchor: nothing is accepted, whichever way it comes (KS-006).
        inst = ctx.open(trusted=())
        for kind in command_kinds(ctx, resume=False):
            obs = inst.deliver(ctx.sign(kind), via=via)
            ctx.expect_rejected(obs, f"a {kind} via {via} while no key is trusted")
    forgeries.finish()
