"""Level 1 and the basics: a valid command works, nothing works without a trust anchor."""

from __future__ import annotations

from hypothesis import strategies as st

from conformance.cases import TERMINATED_STATES, effect_kind, expected_after
from conformance.catalog import case
from conformance.context import ASSET_ID, Context
from conformance.hypo import forall
from killswitch import Algorithm


def _file_transport(ctx: Context) -> str:
    transports = ctx.setup.capabilities.transports
    return "file" if "file" in transports else transports[0]


@case("KS-L1-KILL", "A valid TERMINATE delivered as a local file halts the agent", level="L1")
def l1_kill(ctx: Context) -> None:
    inst = ctx.open()
    obs = inst.deliver(ctx.sign("TERMINATE"), via=_file_transport(ctx))
    ctx.expect_accepted(obs, "a valid TERMINATE")
    ctx.expect_state(obs.state, TERMINATED_STATES, "after a valid TERMINATE")


@case(
    "KS-L1-KILL-60S",
    "TERMINATED within 60 s: the grace period runs out, capped by policy",
    level="L1",
    wall_clock="grace periods of 1 s (cap: policy max_grace_s=1) and real waits of 1 s + margin",
)
def l1_kill_within_60s(ctx: Context) -> None:
    # Two commands: an ordinary grace period, and one asking for an hour, which
    # the policy cap must cut to max_grace_s (60 s by default).
    if ctx.wall:
        plans = [(1, ctx.with_policy()), (3600, ctx.with_policy(max_grace_s=1.0))]
        slack = ctx.clock.edge()
    else:
        plans = [(30, ctx.with_policy()), (3600, ctx.with_policy())]
        slack = 1.0
    for grace, policy in plans:
        inst = ctx.open(policy=policy)
        raw = ctx.sign("TERMINATE", grace_period_seconds=grace)
        obs = inst.deliver(raw, via=_file_transport(ctx))
        ctx.expect_accepted(obs, f"a valid TERMINATE (grace {grace} s)")
        ctx.wait(min(grace, policy.max_grace_s) + slack)
        ctx.expect_state(
            inst.state(),
            ("TERMINATED",),
            f"{min(grace, policy.max_grace_s) + slack:g} s after a TERMINATE asking for"
            f" {grace} s of grace (cap {policy.max_grace_s:g} s)",
        )


@case("KS-VALID-ACCEPT", "Valid commands are accepted, whatever their field contents", level="L2")
def valid_accept(ctx: Context) -> None:
    keys = ctx.setup.keyring.keys
    kinds = ["PAUSE", "TERMINATE"] if ctx.setup.has("pause") else ["TERMINATE"]
    ident = st.text(min_size=1, max_size=40)
    strategy = st.fixed_dictionaries(
        {
            "algorithm": st.sampled_from(list(keys)),
            "kind": st.sampled_from(kinds),
            "issued_by": ident,
            "command_id": ident,
            "nonce": ident,
            "reason": st.text(max_size=120),
            "cascade": st.booleans(),
            "grace_period_seconds": st.integers(0, 600),
            "asset": st.sampled_from([ASSET_ID, None]),
        }
    )

    def check(ex: dict[str, object]) -> None:
        key = keys[ex["algorithm"]]  # type: ignore[index]
        inst = ctx.open()
        command = ctx.command(
            str(ex["kind"]),
            key=key,
            asset=ex["asset"],
            issued_by=ex["issued_by"],
            command_id=ex["command_id"],
            nonce=ex["nonce"],
            reason=ex["reason"],
            cascade=ex["cascade"],
            grace_period_seconds=ex["grace_period_seconds"],
        )
        obs = inst.deliver(ctx.setup.driver.encode(command, key))
        ctx.expect_accepted(obs, f"a valid {ex['kind']} signed with {key.algorithm.value}")
        ctx.expect_state(obs.state, expected_after(str(ex["kind"])), "after a valid command")

    forall(ctx, strategy, check)


@case("KS-TRUST-NONE", "No trust anchor configured: nothing is accepted (fail closed)", level="L2")
def no_trust_anchor(ctx: Context) -> None:
    kind = effect_kind(ctx)
    for algorithm, key in ctx.setup.keyring.keys.items():
        inst = ctx.open(trusted=())
        obs = inst.deliver(ctx.sign(kind, key=key))
        ctx.expect_rejected(obs, f"a {kind} signed with {algorithm.value} while no key is trusted")


def algorithm_names(ctx: Context) -> list[Algorithm]:
    return list(ctx.setup.keyring.keys)
