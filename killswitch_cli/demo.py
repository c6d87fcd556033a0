"""``killswitch demo``: sign, deliver, decide — the core in a few lines of output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from killswitch import (
    Accepted,
    Algorithm,
    Command,
    CommandType,
    Listener,
    TrustStore,
    derive_distinct_key,
    derive_signing_key,
    get_profile,
)

_START = datetime(2026, 1, 1, tzinfo=UTC)


@click.command()
@click.option("--seed", default=1, show_default=True, help="Seed for the demo's keys and ids.")
@click.option(
    "--profile",
    type=click.Choice(["v1", "seed"]),
    default="v1",
    show_default=True,
    help="Wire profile.",
)
def demo(seed: int, profile: str) -> None:
    """Sign a TERMINATE, deliver it, and show what the reference listener decides.

    Also shows a replay, a forged signature and a command for another agent
    being rejected. Deterministic: the same seed prints the same output.
    """
    algorithm = Algorithm.ED25519 if profile == "v1" else Algorithm.RS256
    key = derive_signing_key(seed, algorithm, "control-plane-1")
    forger = derive_distinct_key(f"attacker-{seed}", algorithm, key.key_id, [key.verifying_key()])
    wire = get_profile(profile)
    listener = Listener("agent-7", "asset-billing", TrustStore([key.verifying_key()]), profile=wire)
    click.echo(f"seed={seed} profile={profile} algorithm={algorithm.value} key_id={key.key_id}")

    def command(n: int, target: str = "agent-7") -> Command:
        issued = _START + timedelta(seconds=n)
        return Command(
            command_id=f"cmd-{seed}-{n}",
            command_type=CommandType.TERMINATE,
            target_instance_id=target,
            issued_by="ops@example.com",
            issued_at=issued,
            expires_at=issued + timedelta(minutes=5),
            nonce=f"nonce-{seed}-{n}",
            reason="runaway tool loop",
            grace_period_seconds=10,
            key_id=key.key_id,
            sequence=n,
        )

    now = (_START + timedelta(seconds=2)).timestamp()
    good = wire.encode(command(1), key)
    steps = [
        ("forged signature", wire.encode(command(2), forger)),
        ("for another agent", wire.encode(command(3, target="agent-8"), key)),
        ("valid TERMINATE", good),
        ("the same bytes again (replay)", good),
    ]
    click.echo(f"state before: {listener.state.value}")
    for label, raw in steps:
        decision = listener.receive(raw, now=now, via="demo")
        if isinstance(decision, Accepted):
            verdict = "ACCEPTED"
        else:
            verdict = f"REJECTED {decision.reason.value}"
        click.echo(f"  {label:32s} -> {verdict}")
    grace = (listener.hard_kill_at or now) - now
    click.echo(f"state after: {listener.state.value}; hard kill at now+{grace:g} s")
