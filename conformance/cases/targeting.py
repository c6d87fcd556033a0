"""Targeting: commands for another instance or asset change nothing; the
wildcard target only works when the policy allows it. The refusals are probed
with every command kind (:func:`~conformance.cases.command_kinds`), each on a
fresh agent it would act on."""

from __future__ import annotations

from conformance.cases import Armed, command_kinds, effect_kind, expected_after
from conformance.catalog import case
from conformance.context import ASSET_ID, INSTANCE_ID, OTHER_ASSET, OTHER_INSTANCE, Context

WILDCARD = "*"


#: Instance ids that are not this agent's: another agent's, this one's in
#: upper case (ids are compared exactly, SPEC.md KS-012) and a prefix of it.
OTHER_TARGETS = (OTHER_INSTANCE, INSTANCE_ID.upper(), INSTANCE_ID[:-1])


@case("KS-TARGET-INSTANCE", "A command for another instance changes nothing", level="L1")
def other_instance(ctx: Context) -> None:
    for kind in command_kinds(ctx):
        inst = Armed(ctx, kind).open()
        for target in OTHER_TARGETS:
            for asset in (ASSET_ID, None):
                raw = ctx.sign(kind, target=target, asset=asset)
                what = f"a {kind} for {target!r} (asset {asset!r})"
                ctx.expect_rejected(inst.deliver(raw), what)


@case("KS-TARGET-ASSET", "A command naming another asset changes nothing", level="L1")
def other_asset(ctx: Context) -> None:
    for kind in command_kinds(ctx):
        inst = Armed(ctx, kind).open()
        for target in (INSTANCE_ID, OTHER_INSTANCE):
            raw = ctx.sign(kind, target=target, asset=OTHER_ASSET)
            what = f"a {kind} for {target!r} of asset {OTHER_ASSET!r}"
            ctx.expect_rejected(inst.deliver(raw), what)
        # Asset ids are compared exactly too: this asset's id in upper case is another's.
        raw = ctx.sign(kind, asset=ASSET_ID.upper())
        what = f"a {kind} for {INSTANCE_ID!r} of asset {ASSET_ID.upper()!r}"
        ctx.expect_rejected(inst.deliver(raw), what)


@case(
    "KS-TARGET-WILDCARD", "The wildcard target is refused unless the policy allows it", level="L2"
)
def wildcard_refused(ctx: Context) -> None:
    for kind in command_kinds(ctx):
        inst = Armed(ctx, kind).open()
        for asset in (ASSET_ID, None):
            raw = ctx.sign(kind, target=WILDCARD, asset=asset)
            ctx.expect_rejected(
                inst.deliver(raw), f"a {kind} for '*' (asset {asset!r}) with wildcards off"
            )


@case(
    "KS-TARGET-WILDCARD-ALLOWED",
    "With wildcards allowed by policy, '*' for this asset is accepted",
    level="L2",
    strength="SHOULD",
)
def wildcard_allowed(ctx: Context) -> None:
    kind = effect_kind(ctx)
    inst = ctx.open(policy=ctx.with_policy(allow_wildcard=True))
    obs = inst.deliver(ctx.sign(kind, target=WILDCARD, asset=ASSET_ID))
    ctx.expect_accepted(obs, f"a {kind} for '*' of this asset with wildcards allowed")
    ctx.expect_state(obs.state, expected_after(kind), "after it")
