"""Shared builders for the protocol-core tests: keys, commands, listeners.

Everything is deterministic: keys come from ``derive_signing_key`` with a fixed
seed, command ids and nonces from the caller, and ``now`` is a fixed epoch.
"""

from __future__ import annotations

from datetime import timedelta

from killswitch import (
    Algorithm,
    Command,
    CommandType,
    Listener,
    Policy,
    SigningKey,
    StateStore,
    TrustStore,
    derive_signing_key,
    from_posix,
)

#: A fixed "now" for the tests (2023-11-14T22:13:20Z).
T0 = 1_700_000_000.0
INSTANCE = "agent-1"
ASSET = "asset-1"
KEY_SEED = "killswitch-tests"


def signing_key(algorithm: Algorithm = Algorithm.ED25519, key_id: str | None = None) -> SigningKey:
    """The test key for ``algorithm`` (always the same key for the same arguments)."""
    return derive_signing_key(KEY_SEED, algorithm, key_id or f"{algorithm.value.lower()}-1")


def trust(*keys: SigningKey) -> TrustStore:
    return TrustStore(k.verifying_key() for k in keys)


def make_command(
    kind: CommandType = CommandType.PAUSE,
    *,
    seq: int | None = 1,
    issued: float = T0,
    lifetime: float = 300.0,
    command_id: str | None = None,
    nonce: str | None = None,
    target: str = INSTANCE,
    asset: str | None = ASSET,
    issued_by: str = "ops@example.org",
    reason: str = "test",
    cascade: bool = True,
    grace: int = 30,
    key_id: str | None = None,
) -> Command:
    """A command; id and nonce default to values derived from kind and sequence."""
    tag = f"{kind.value.lower()}-{seq}-{issued:g}"
    issued_at = from_posix(issued)
    return Command(
        command_id=command_id or f"cmd-{tag}",
        command_type=kind,
        target_instance_id=target,
        target_asset_id=asset,
        issued_by=issued_by,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(seconds=lifetime),
        nonce=nonce or f"nonce-{tag}",
        reason=reason,
        cascade=cascade,
        grace_period_seconds=grace,
        key_id=key_id,
        sequence=seq,
    )


def make_listener(
    *keys: SigningKey,
    profile: str = "v1",
    policy: Policy | None = None,
    store: StateStore | None = None,
    started_at: float | None = None,
    asset: str | None = ASSET,
) -> Listener:
    """A listener for INSTANCE/ASSET trusting ``keys`` (the Ed25519 test key if none)."""
    anchors = keys or (signing_key(),)
    return Listener(INSTANCE, asset, trust(*anchors), policy, store, profile, started_at=started_at)
