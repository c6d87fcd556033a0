"""The ``seed`` profile interoperates, both ways, with the seed document's own code.

The functions below are transcribed from the seed
(/work/shared/seed/kill-switch-operations.md): ``create_signed_command`` and
``sign_command`` from "Step 3: Control Plane API" (control_plane.py), and
``_parse_command``, ``_verify_signature`` and ``_canonical_message`` from "Step 1:
SSE Listener Implementation" (kill_switch.py, class KillSwitchListener). The logic
is copied as written; the only changes are the ones that make it testable and
deterministic:

* the module-level ``PRIVATE_KEY`` (read from /secrets) and the listener's
  ``self.public_key`` become parameters, fed from fixture keys;
* ``datetime.now(timezone.utc)`` and ``uuid.uuid4()`` become injected values;
* the seed's control plane only ever signs RS256 (``"signature_algorithm":
  "RS256"`` and PKCS#1 v1.5 are hard-coded); its listener also accepts ES256, so
  ``sign_command`` gets an ES256 branch that mirrors the listener's verify call
  (deterministic ECDSA, RFC 6979, so the test run is reproducible).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import pytest
from core_support import INSTANCE, make_listener, signing_key
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from killswitch import Accepted, AgentState, Algorithm, Command, SigningKey
from killswitch import CommandType as OurCommandType
from killswitch.profiles import SeedProfile

# ---- transcribed from the seed: control_plane.py --------------------------------------


def create_signed_command(
    command_type: str,
    target_instance_id: str,
    issued_by: str,
    reason: str,
    cascade: bool = True,
    grace_period_seconds: int = 30,
    *,
    private_key: Any,
    now: datetime,
    new_uuid: Callable[[], uuid.UUID],
    signature_algorithm: str = "RS256",
) -> dict[str, Any]:
    """Create a signed kill switch command."""
    # seed: now = datetime.now(timezone.utc)

    command = {
        "command_id": str(new_uuid()),
        "command_type": command_type,
        "target_instance_id": target_instance_id,
        "target_asset_id": None,
        "issued_by": issued_by,
        "issued_at": now.isoformat(),
        "reason": reason,
        "cascade": cascade,
        "grace_period_seconds": grace_period_seconds,
        "expires_at": (now + timedelta(minutes=5)).isoformat(),
        "nonce": str(new_uuid()),
        "signature_algorithm": signature_algorithm,  # seed: "RS256"
    }

    # Sign the command
    command["signature"] = sign_command(command, private_key)

    return command


def sign_command(command: dict[str, Any], private_key: Any) -> str:
    """Sign command with control plane private key."""
    # Create canonical message
    parts = [
        f"command_id={command['command_id']}",
        f"command_type={command['command_type']}",
        f"target_instance_id={command['target_instance_id']}",
        f"issued_by={command['issued_by']}",
        f"issued_at={command['issued_at']}",
        f"nonce={command['nonce']}",
    ]
    message = "|".join(sorted(parts))

    # Sign with private key
    if command["signature_algorithm"] == "ES256":  # not in the seed (see module docstring)
        signature = private_key.sign(
            message.encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        )
    else:
        signature = private_key.sign(
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )

    return str(signature.hex())


# ---- transcribed from the seed: kill_switch.py ----------------------------------------


class CommandType(Enum):
    TERMINATE = "TERMINATE"
    PAUSE = "PAUSE"
    RESUME = "RESUME"


@dataclass
class KillSwitchCommand:
    command_id: str
    command_type: CommandType
    target_instance_id: str
    target_asset_id: str | None
    issued_by: str
    issued_at: datetime
    signature: str
    signature_algorithm: str
    reason: str
    cascade: bool
    grace_period_seconds: int
    expires_at: datetime
    nonce: str


def _parse_command(data: dict[str, Any]) -> KillSwitchCommand:
    """Parse command from dictionary."""
    return KillSwitchCommand(
        command_id=data["command_id"],
        command_type=CommandType(data["command_type"]),
        target_instance_id=data["target_instance_id"],
        target_asset_id=data.get("target_asset_id"),
        issued_by=data["issued_by"],
        issued_at=datetime.fromisoformat(data["issued_at"]),
        signature=data["signature"],
        signature_algorithm=data["signature_algorithm"],
        reason=data["reason"],
        cascade=data.get("cascade", True),
        grace_period_seconds=data.get("grace_period_seconds", 30),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        nonce=data["nonce"],
    )


def _verify_signature(command: KillSwitchCommand, public_key: Any) -> bool:
    """
    Verify command signature.

    Supports RS256 (RSA) and ES256 (ECDSA).
    """
    # Create canonical message for verification
    message = _canonical_message(command)
    signature_bytes = bytes.fromhex(command.signature)

    try:
        if command.signature_algorithm == "RS256":
            public_key.verify(
                signature_bytes,
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        elif command.signature_algorithm == "ES256":
            public_key.verify(
                signature_bytes,
                message.encode(),
                ec.ECDSA(hashes.SHA256()),
            )
        else:
            return False  # seed: print(f"   Unknown algorithm: ...")

        return True

    except InvalidSignature:
        return False


def _canonical_message(command: KillSwitchCommand) -> str:
    """Create canonical message for signature verification."""
    parts = [
        f"command_id={command.command_id}",
        f"command_type={command.command_type.value}",
        f"target_instance_id={command.target_instance_id}",
        f"issued_by={command.issued_by}",
        f"issued_at={command.issued_at.isoformat()}",
        f"nonce={command.nonce}",
    ]
    return "|".join(sorted(parts))


# ---- the tests ------------------------------------------------------------------------

ALGORITHMS = [Algorithm.RS256, Algorithm.ES256]
#: The seed's ``datetime.now(timezone.utc)``, fixed (with microseconds, as now() has).
SEED_NOW = datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
SEED = SeedProfile()


def uuids(start: int = 1) -> Callable[[], uuid.UUID]:
    """A deterministic stand-in for uuid.uuid4."""
    counter: Iterator[int] = iter(range(start, 1 << 62))
    return lambda: uuid.UUID(int=next(counter), version=4)


def seed_wire(command: dict[str, Any]) -> bytes:
    """What the seed's control plane puts on the wire: ``json.dumps(cmd)`` (SSE data)."""
    return json.dumps(command).encode()


def ours_equivalent(seed_command: dict[str, Any]) -> Command:
    """The Command our SeedProfile should read from a seed-made command."""
    return Command(
        command_id=seed_command["command_id"],
        command_type=OurCommandType(seed_command["command_type"]),
        target_instance_id=seed_command["target_instance_id"],
        target_asset_id=seed_command["target_asset_id"],
        issued_by=seed_command["issued_by"],
        issued_at=datetime.fromisoformat(seed_command["issued_at"]),
        expires_at=datetime.fromisoformat(seed_command["expires_at"]),
        nonce=seed_command["nonce"],
        reason=seed_command["reason"],
        cascade=seed_command["cascade"],
        grace_period_seconds=seed_command["grace_period_seconds"],
    )


def make_seed_command(key: SigningKey, command_type: str = "PAUSE", **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "command_type": command_type,
        "target_instance_id": INSTANCE,
        "issued_by": "oncall@example.org",
        "reason": "runaway tool loop",
    }
    args.update(kw)
    return create_signed_command(
        **args,
        private_key=key.private_key,
        now=SEED_NOW,
        new_uuid=uuids(),
        signature_algorithm=key.algorithm.value,
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize(
    ("command_type", "end_state"),
    [("PAUSE", AgentState.PAUSED), ("TERMINATE", AgentState.TERMINATING)],
)
def test_seed_made_command_is_accepted_by_our_listener(
    algorithm: Algorithm, command_type: str, end_state: AgentState
) -> None:
    key = signing_key(algorithm)
    made = make_seed_command(key, command_type, grace_period_seconds=15)
    listener = make_listener(key, profile="seed", asset=None)
    decision = listener.receive(seed_wire(made), now=SEED_NOW.timestamp() + 1.5)
    assert isinstance(decision, Accepted), decision
    assert decision.effect.command == ours_equivalent(made)
    assert listener.state is end_state


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_seed_made_resume_after_pause_is_accepted(algorithm: Algorithm) -> None:
    key = signing_key(algorithm)
    pause = make_seed_command(key, "PAUSE")
    later = SEED_NOW + timedelta(seconds=10)
    resume = create_signed_command(
        "RESUME",
        INSTANCE,
        "oncall@example.org",
        "Operator resumed",
        private_key=key.private_key,
        now=later,
        new_uuid=uuids(100),
        signature_algorithm=algorithm.value,
    )
    listener = make_listener(key, profile="seed", asset=None)
    now = later.timestamp()
    assert isinstance(listener.receive(seed_wire(pause), now=now), Accepted)
    assert isinstance(listener.receive(seed_wire(resume), now=now), Accepted)
    assert listener.state is AgentState.RUNNING


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_our_encoding_verifies_with_the_seed_listener(algorithm: Algorithm) -> None:
    key = signing_key(algorithm)
    ours = ours_equivalent(make_seed_command(key, "TERMINATE"))
    parsed = _parse_command(json.loads(SEED.encode(ours, key)))
    public = key.private_key.public_key()
    assert _verify_signature(parsed, public)
    # The seed's check can fail (so the line above means something).
    parsed.issued_by = "mallory"
    assert not _verify_signature(parsed, public)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
def test_our_wire_bytes_equal_the_seeds(algorithm: Algorithm) -> None:
    """Same command, same key: byte-identical JSON (field order, spacing, hex signature)."""
    key = signing_key(algorithm)
    made = make_seed_command(key, "PAUSE", cascade=False)
    assert SEED.encode(ours_equivalent(made), key) == seed_wire(made)


def test_seed_listener_rejects_a_foreign_key() -> None:
    ours = signing_key(Algorithm.RS256)
    other = signing_key(Algorithm.ES256)
    parsed = _parse_command(json.loads(SEED.encode(ours_equivalent(make_seed_command(ours)), ours)))
    parsed.signature_algorithm = "ES256"
    assert not _verify_signature(parsed, other.private_key.public_key())


_printable = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.value)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command_type=st.sampled_from(["TERMINATE", "PAUSE", "RESUME"]),
    target=_printable,
    issued_by=_printable,
    reason=st.text(st.characters(codec="utf-8"), max_size=30),
    cascade=st.booleans(),
    grace=st.integers(0, 3600),
    offset_us=st.integers(0, 10**12),
)
def test_interop_both_ways_for_any_content(
    algorithm: Algorithm,
    command_type: str,
    target: str,
    issued_by: str,
    reason: str,
    cascade: bool,
    grace: int,
    offset_us: int,
) -> None:
    key = signing_key(algorithm)
    now = SEED_NOW + timedelta(microseconds=offset_us)
    made = create_signed_command(
        command_type,
        target,
        issued_by,
        reason,
        cascade,
        grace,
        private_key=key.private_key,
        now=now,
        new_uuid=uuids(offset_us),
        signature_algorithm=algorithm.value,
    )
    # seed -> ours
    envelope = SEED.decode(seed_wire(made))
    assert envelope.command == ours_equivalent(made)
    assert SEED.verify(envelope, make_listener(key, profile="seed").trust) is None
    # ours -> seed
    parsed = _parse_command(json.loads(SEED.encode(envelope.command, key)))
    assert _verify_signature(parsed, key.private_key.public_key())
