"""The ``v1`` profile: our hardened wire format (SPEC.md §4.2).

* Every field except ``signature`` is signed.
* Signed bytes: ``b"killswitch/v1\\n"`` followed by the RFC 8785 (JCS)
  canonical JSON of the object without ``signature``. Our field values are
  strings, booleans, null and integers only, for which JCS equals Python's
  ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
  a test checks this against the ``rfc8785`` package.
* Exactly the fields below, no more; duplicate keys, floats, wrong types and
  zone-less timestamps are MALFORMED.
* ``key_id`` names one trusted key, pinned to one algorithm; the wire's
  ``signature_algorithm`` must equal it.
* Signatures are lowercase hex, two digits a byte, nothing else (one
  spelling per signature; simpler to get right in every language than
  base64url's padding and trailing-bit rules). ES256 signatures are
  raw ``r || s`` (64 bytes, as JWS) with ``s <= n/2`` (low-S), so a signature
  has exactly one valid encoding.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, NoReturn

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from killswitch._fast import build
from killswitch.command import Command, CommandType
from killswitch.decision import Reason
from killswitch.keys import Algorithm, SigningKey, TrustStore
from killswitch.profiles.base import (
    Envelope,
    MalformedCommand,
    Profile,
    command_type,
    load_object,
)
from killswitch.profiles.v1_fast import decode_canonical

DOMAIN = b"killswitch/v1\n"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_ORDER = P256_ORDER // 2

FIELDS = frozenset(
    {
        "v", "command_id", "command_type", "target_instance_id", "target_asset_id",
        "issued_by", "issued_at", "expires_at", "reason", "cascade",
        "grace_period_seconds", "nonce", "sequence", "key_id",
        "signature_algorithm", "signature",
    }
)  # fmt: skip
_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)\Z"
).match
_MAX_STR = 1024
_COMMAND_TYPES = {t.value: t for t in CommandType}
_STRING_FIELDS = (
    "command_id", "target_instance_id", "issued_by", "nonce", "key_id",
    "signature_algorithm", "signature", "command_type", "issued_at", "expires_at",
)  # fmt: skip


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"[:80]


def _has_lone_surrogate(obj: dict[str, Any]) -> bool:
    try:
        for value in obj.values():
            if type(value) is str:
                value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def canonical_json(obj: dict[str, Any]) -> bytes:
    """RFC 8785 canonical JSON for objects of strings, booleans, null and integers."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; fractions only when non-zero."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z"


def _time(text: str, name: str) -> datetime:
    if not _RFC3339(text):
        raise MalformedCommand(
            f"field {name!r} must be RFC 3339 with a zone (Z or +hh:mm), got {text!r}"
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedCommand(f"field {name!r} is not a valid date/time: {text!r}") from None


def unhex(text: str) -> bytes:
    """Strict signature decoding: lowercase hex digits only, even length."""
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise MalformedCommand("field 'signature' is not hexadecimal") from None
    if data.hex() != text:
        raise MalformedCommand("field 'signature' must be lowercase hex with no separators")
    return data


_INT_LIMIT = 2**63


def _bad_int(name: str, value: object) -> NoReturn:
    raise MalformedCommand(f"field {name!r} must be an integer in [0, 2^63), got {value!r}")


class V1Profile(Profile):
    """Hardened profile: all fields signed over JCS, key ids, pinned algorithms."""

    name = "v1"
    has_sequence = True

    def encode(self, command: Command, key: SigningKey) -> bytes:
        if command.sequence is None:
            raise ValueError("the v1 profile needs Command.sequence")
        obj = self.unsigned_object(command, key)
        for name in ("sequence", "grace_period_seconds"):
            # KS-073: JCS writes numbers as IEEE doubles, exact only below 2^53.
            if not 0 <= obj[name] < 2**53:
                raise ValueError(f"Command.{name} must be in [0, 2^53) for v1, got {obj[name]}")
        signature = key.sign(DOMAIN + canonical_json(obj))
        if key.algorithm is Algorithm.ES256:
            signature = der_to_raw_low_s(signature)
        obj["signature"] = signature.hex()
        return canonical_json(obj)

    def unsigned_object(self, command: Command, key: SigningKey) -> dict[str, Any]:
        """The wire object without its signature (what gets canonicalised and signed)."""
        return {
            "v": 1,
            "command_id": command.command_id,
            "command_type": command.command_type.value,
            "target_instance_id": command.target_instance_id,
            "target_asset_id": command.target_asset_id,
            "issued_by": command.issued_by,
            "issued_at": format_time(command.issued_at),
            "expires_at": format_time(command.expires_at),
            "reason": command.reason,
            "cascade": command.cascade,
            "grace_period_seconds": command.grace_period_seconds,
            "nonce": command.nonce,
            "sequence": command.sequence,
            "key_id": key.key_id,
            "signature_algorithm": key.algorithm.value,
        }

    def from_dict(self, obj: dict[str, Any]) -> bytes:
        return canonical_json(obj)

    def decode(self, raw: bytes) -> Envelope:
        # The hot path of every delivery: kept to one JSON parse, a few type
        # checks and one byte splice. The signed bytes are cut out of the
        # wire bytes instead of being re-serialised (SPEC.md §4.2): for the
        # canonical wire form an honest signer emits they are identical to
        # DOMAIN + JCS(object without signature), and for any other form they
        # are bytes no honest signer signed, so the signature fails. Duplicate
        # names and lone surrogates are refused before that (KS-062, KS-066):
        # a careless or hostile signer can sign them, and then the signed bytes
        # would not encode exactly the values acted on.
        if type(raw) is bytes:
            fast = decode_canonical(raw)
            if fast is not None:  # the plain canonical form (v1_fast.py)
                command, algorithm, signature, signed = fast
                return build(
                    Envelope,
                    command=command,
                    algorithm=algorithm,
                    signature=signature,
                    signed_bytes=DOMAIN + signed,
                )
        return self.decode_strict(raw)

    def decode_strict(self, raw: bytes) -> Envelope:
        """The general decoder: any JSON, checked field by field (the fast path's referee)."""
        obj = load_object(raw)
        if obj.keys() != FIELDS:
            missing = sorted(FIELDS - obj.keys())
            extra = sorted(obj.keys() - FIELDS)
            raise MalformedCommand(f"v1 fields wrong: missing {missing}, unexpected {extra}")
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise MalformedCommand(f"field 'v' must be 1, got {obj['v']!r}")
        for name in _STRING_FIELDS:
            value = obj[name]
            if type(value) is not str or not value or len(value) > _MAX_STR:
                raise MalformedCommand(
                    f"field {name!r} must be a non-empty string of at most {_MAX_STR} characters,"
                    f" got {_describe(value)}"
                )
        reason, asset, cascade = obj["reason"], obj["target_asset_id"], obj["cascade"]
        if type(reason) is not str or len(reason) > _MAX_STR:
            raise MalformedCommand(
                f"field 'reason' must be a string of at most {_MAX_STR} characters"
            )
        if asset is not None and (type(asset) is not str or not asset or len(asset) > _MAX_STR):
            raise MalformedCommand("field 'target_asset_id' must be null or a non-empty string")
        if type(cascade) is not bool:
            raise MalformedCommand(f"field 'cascade' must be a boolean, got {_describe(cascade)}")
        # Only a \u escape can carry a lone surrogate (UTF-8 cannot encode one).
        if b"\\u" in raw and _has_lone_surrogate(obj):
            raise MalformedCommand("a string field holds a lone surrogate (not UTF-8)")
        grace, sequence = obj["grace_period_seconds"], obj["sequence"]
        if type(grace) is not int or not 0 <= grace < _INT_LIMIT:
            _bad_int("grace_period_seconds", grace)
        if type(sequence) is not int or not 0 <= sequence < _INT_LIMIT:
            _bad_int("sequence", sequence)
        kind = _COMMAND_TYPES.get(obj["command_type"]) or command_type(obj)
        text = obj["signature"]
        signature = unhex(text)
        head, found, tail = raw.partition(b',"signature":"' + text.encode("ascii") + b'"')
        if not found or found in tail:
            raise MalformedCommand("the signature member is not where the canonical form puts it")
        command = object.__new__(Command)
        # One assignment instead of thirteen frozen __setattr__ calls (see killswitch._fast).
        object.__setattr__(
            command,
            "__dict__",
            {
                "command_id": obj["command_id"],
                "command_type": kind,
                "target_instance_id": obj["target_instance_id"],
                "issued_by": obj["issued_by"],
                "issued_at": _time(obj["issued_at"], "issued_at"),
                "expires_at": _time(obj["expires_at"], "expires_at"),
                "nonce": obj["nonce"],
                "reason": reason,
                "target_asset_id": asset,
                "cascade": cascade,
                "grace_period_seconds": grace,
                "key_id": obj["key_id"],
                "sequence": sequence,
            },
        )
        return build(
            Envelope,
            command=command,
            algorithm=obj["signature_algorithm"],
            signature=signature,
            signed_bytes=DOMAIN + head + tail,
        )

    def verify(self, envelope: Envelope, trust: TrustStore) -> Reason | None:
        algorithm = Algorithm.from_wire(envelope.algorithm)
        if algorithm is None:
            return Reason.UNSUPPORTED_ALGORITHM
        key_id = envelope.command.key_id
        key = trust.get(key_id) if key_id is not None else None
        if key is None:
            return Reason.UNKNOWN_KEY
        if key.algorithm is not algorithm:
            return Reason.UNSUPPORTED_ALGORITHM  # algorithm switching (RFC 8725 §3.1)
        signature = envelope.signature
        if algorithm is Algorithm.ES256:
            der = raw_low_s_to_der(signature)
            if der is None:
                return Reason.BAD_SIGNATURE
            signature = der
        if not key.verify(signature, envelope.signed_bytes):
            return Reason.BAD_SIGNATURE
        return None


def der_to_raw_low_s(der: bytes) -> bytes:
    """A DER ECDSA P-256 signature as raw ``r || s`` with ``s`` normalised to low-S."""
    r, s = decode_dss_signature(der)
    if s > _HALF_ORDER:
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_low_s_to_der(raw: bytes) -> bytes | None:
    """DER for a raw low-S ``r || s`` signature, or None if it is not canonical."""
    if len(raw) != 64:
        return None
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:], "big")
    if not (0 < r < P256_ORDER and 0 < s <= _HALF_ORDER):
        return None
    return encode_dss_signature(r, s)
