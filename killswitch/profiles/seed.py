"""The ``seed`` profile: exactly the wire format and signing of the seed document.

This is what users' implementations speak today, so its weaknesses are kept,
visibly, rather than fixed:

* Only six fields are signed (command_id, command_type, target_instance_id,
  issued_by, issued_at, nonce). ``expires_at``, ``target_asset_id``,
  ``reason``, ``cascade``, ``grace_period_seconds`` and
  ``signature_algorithm`` can be changed without breaking the signature
  (:attr:`SeedProfile.unsigned_fields`).
* The signed string joins ``name=value`` parts with ``|`` and sorts them, so
  a value containing ``|`` or ``=`` can make two different commands sign the
  same string (delimiter injection).
* ``issued_at`` is signed as ``datetime.fromisoformat(wire).isoformat()``, so
  a ``Z`` suffix on the wire verifies only if the signer signed ``+00:00``.
* There is no key id; the algorithm named on the wire picks the padding.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from killswitch.command import Command
from killswitch.decision import Reason
from killswitch.keys import Algorithm, SigningKey, TrustStore
from killswitch.profiles.base import (
    Envelope,
    MalformedCommand,
    Profile,
    command_type,
    load_object,
    opt_str,
    req_str,
)

_SEED_ALGORITHMS = (Algorithm.RS256, Algorithm.ES256)


def _seed_time(obj: dict[str, Any], name: str) -> datetime:
    text = req_str(obj, name)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedCommand(f"field {name!r} is not an ISO 8601 timestamp: {text!r}") from None
    if value.utcoffset() is None:
        # The seed compares it with an aware now() and fails with TypeError.
        raise MalformedCommand(f"field {name!r} has no timezone: {text!r}")
    return value


def seed_canonical_message(command: Command) -> bytes:
    """The seed's ``_canonical_message``: six fields, ``|``-joined, sorted."""
    parts = [
        f"command_id={command.command_id}",
        f"command_type={command.command_type.value}",
        f"target_instance_id={command.target_instance_id}",
        f"issued_by={command.issued_by}",
        f"issued_at={command.issued_at.isoformat()}",
        f"nonce={command.nonce}",
    ]
    return "|".join(sorted(parts)).encode()


class SeedProfile(Profile):
    """Flat JSON, hex signature, the seed's six-field canonical string; RS256 or ES256 (DER)."""

    name = "seed"
    unsigned_fields = frozenset(
        {
            "expires_at",
            "target_asset_id",
            "reason",
            "cascade",
            "grace_period_seconds",
            "signature_algorithm",
        }
    )

    def encode(self, command: Command, key: SigningKey) -> bytes:
        if key.algorithm not in _SEED_ALGORITHMS:
            raise ValueError(
                f"the seed profile signs with RS256 or ES256, not {key.algorithm.value}"
            )
        # Field order and json.dumps style as the seed's create_signed_command.
        obj: dict[str, Any] = {
            "command_id": command.command_id,
            "command_type": command.command_type.value,
            "target_instance_id": command.target_instance_id,
            "target_asset_id": command.target_asset_id,
            "issued_by": command.issued_by,
            "issued_at": command.issued_at.isoformat(),
            "reason": command.reason,
            "cascade": command.cascade,
            "grace_period_seconds": command.grace_period_seconds,
            "expires_at": command.expires_at.isoformat(),
            "nonce": command.nonce,
            "signature_algorithm": key.algorithm.value,
        }
        obj["signature"] = key.sign(seed_canonical_message(command)).hex()
        return json.dumps(obj).encode()

    def decode(self, raw: bytes) -> Envelope:
        obj = load_object(raw)
        cascade = obj.get("cascade", True)
        grace = obj.get("grace_period_seconds", 30)
        if not isinstance(cascade, bool):
            raise MalformedCommand(
                f"field 'cascade' must be a boolean, got {type(cascade).__name__}"
            )
        if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
            raise MalformedCommand(
                f"field 'grace_period_seconds' must be a non-negative integer, got {grace!r}"
            )
        command = Command(
            command_id=req_str(obj, "command_id"),
            command_type=command_type(obj),
            target_instance_id=req_str(obj, "target_instance_id"),
            target_asset_id=opt_str(obj, "target_asset_id"),
            issued_by=req_str(obj, "issued_by"),
            issued_at=_seed_time(obj, "issued_at"),
            reason=req_str(obj, "reason"),
            cascade=cascade,
            grace_period_seconds=grace,
            expires_at=_seed_time(obj, "expires_at"),
            nonce=req_str(obj, "nonce"),
        )
        algorithm = req_str(obj, "signature_algorithm")
        try:
            signature = bytes.fromhex(req_str(obj, "signature"))
        except ValueError:
            raise MalformedCommand("field 'signature' is not hexadecimal") from None
        try:
            signed = seed_canonical_message(command)
        except UnicodeEncodeError:
            raise MalformedCommand("a signed field is not encodable as UTF-8") from None
        return Envelope(command, algorithm, signature, signed)

    def verify(self, envelope: Envelope, trust: TrustStore) -> Reason | None:
        algorithm = Algorithm.from_wire(envelope.algorithm)
        if algorithm not in _SEED_ALGORITHMS:
            return Reason.UNSUPPORTED_ALGORITHM
        if len(trust) == 0:
            return Reason.UNKNOWN_KEY
        # No key id on the wire: try each trusted key of the named algorithm
        # (a seed deployment has exactly one).
        candidates = [k for k in trust if k.algorithm is algorithm]
        if not candidates:
            return Reason.UNSUPPORTED_ALGORITHM
        for key in candidates:
            if key.verify(envelope.signature, envelope.signed_bytes):
                return None
        return Reason.BAD_SIGNATURE
