"""Encoding and forging commands in the implementation's wire profile.

The harness only knows a profile through :class:`killswitch.Profile`
(``encode``, ``decode``, ``to_dict``, ``from_dict``), so a team's own profile
class works like the built-in ones. What the interface does not say — how a
signature is spelled on the wire, whether an ES256 signature is DER or raw —
is detected once from a sample encoding.

Forging needs "the bytes a verifier of this profile checks for this wire
object". For well-formed objects that is ``decode(...).signed_bytes``; for the
built-in profiles it is also known for ill-typed objects (robustness cases),
so a wrong type can be *correctly signed* and still must be rejected.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from killswitch import (
    Algorithm,
    Command,
    CommandType,
    MalformedCommand,
    Profile,
    SigningKey,
    TrustStore,
    derive_signing_key,
)

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_V1_DOMAIN = b"killswitch/v1\n"
_SEED_SIGNED = (
    "command_id",
    "command_type",
    "target_instance_id",
    "issued_by",
    "issued_at",
    "nonce",
)
_SAMPLE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


#: Wire spellings of signature bytes the driver recognises: name -> (encode, decode).
CODECS: dict[str, tuple[Callable[[bytes], str], Callable[[str], bytes]]] = {
    "hex": (bytes.hex, bytes.fromhex),
    "base64url": (_b64url, lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))),
    "base64": (
        lambda b: base64.b64encode(b).decode("ascii"),
        lambda t: base64.b64decode(t),
    ),
}


def raw_to_der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def der_to_raw(der: bytes, *, low_s: bool = True) -> bytes:
    r, s = decode_dss_signature(der)
    if low_s and s > P256_ORDER // 2:
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class ProfileDriver:
    """Encodes, re-signs and tampers with commands for one profile."""

    def __init__(self, profile: Profile, name: str) -> None:
        self.profile = profile
        self.name = name
        self.algorithms = self._supported_algorithms()
        self.has_sequence = bool(getattr(profile, "has_sequence", False))
        self.unsigned_fields: frozenset[str] = frozenset(getattr(profile, "unsigned_fields", ()))
        sample = self._sample_wire(self.algorithms[0]) if self.algorithms else {}
        self.fields: tuple[str, ...] = tuple(k for k in sample if k != "signature")
        self.has_key_id = "key_id" in sample
        self.codec, self.es256_raw = self._detect_signature_format()

    # -- discovery ---------------------------------------------------------------------

    def sample_command(self, key: SigningKey) -> Command:
        return Command(
            command_id="sample",
            command_type=CommandType.PAUSE,
            target_instance_id="sample-agent",
            issued_by="ops",
            issued_at=_SAMPLE_TIME,
            expires_at=_SAMPLE_TIME + timedelta(minutes=1),
            nonce="sample-nonce",
            key_id=key.key_id,
            sequence=1,
        )

    def _sample_key(self, algorithm: Algorithm) -> SigningKey:
        return _sample_key(algorithm)

    def _supported_algorithms(self) -> tuple[Algorithm, ...]:
        supported = []
        for algorithm in (Algorithm.ED25519, Algorithm.RS256, Algorithm.ES256):
            key = self._sample_key(algorithm)
            try:
                self.profile.encode(self.sample_command(key), key)
            except (ValueError, TypeError):
                continue
            supported.append(algorithm)
        return tuple(supported)

    def _sample_wire(self, algorithm: Algorithm) -> dict[str, Any]:
        key = self._sample_key(algorithm)
        return self.profile.to_dict(self.profile.encode(self.sample_command(key), key))

    def _detect_signature_format(self) -> tuple[str | None, bool]:
        """Which codec spells signatures on the wire, and whether ES256 is raw r||s."""
        codec: str | None = None
        if self.algorithms:
            algorithm = self.algorithms[0]
            key = self._sample_key(algorithm)
            raw = self.profile.encode(self.sample_command(key), key)
            wire = self.profile.to_dict(raw).get("signature")
            native = self.profile.decode(raw).signature
            for name, (encode, _) in CODECS.items():
                if wire == encode(native):
                    codec = name
                    break
        es256_raw = False
        if Algorithm.ES256 in self.algorithms:
            key = self._sample_key(Algorithm.ES256)
            raw = self.profile.encode(self.sample_command(key), key)
            es256_raw = len(self.profile.decode(raw).signature) == 64
        return codec, es256_raw

    @property
    def can_forge(self) -> bool:
        """Whether signatures can be re-made for edited wire objects."""
        return self.codec is not None

    # -- encoding ------------------------------------------------------------------------

    def encode(self, command: Command, key: SigningKey) -> bytes:
        return self.profile.encode(command, key)

    def to_dict(self, raw: bytes) -> dict[str, Any]:
        return self.profile.to_dict(raw)

    def from_dict(self, obj: dict[str, Any]) -> bytes:
        return self.profile.from_dict(obj)

    def sig_to_wire(self, signature: bytes) -> str:
        assert self.codec is not None
        return CODECS[self.codec][0](signature)

    def sig_from_wire(self, text: str) -> bytes:
        assert self.codec is not None
        return CODECS[self.codec][1](text)

    def profile_signature(self, key: SigningKey, message: bytes) -> bytes:
        """``key``'s signature over ``message`` in this profile's byte encoding."""
        native = key.sign(message)
        if key.algorithm is Algorithm.ES256 and self.es256_raw:
            return der_to_raw(native)
        return native

    def signed_bytes(self, obj: dict[str, Any]) -> bytes | None:
        """The bytes this profile's verifier checks for wire object ``obj`` (its
        ``signature`` member ignored), or None if not computable."""
        body = {k: v for k, v in obj.items() if k != "signature"}
        if self.name == "v1":
            return _V1_DOMAIN + json.dumps(
                body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8", "surrogatepass")
        if self.name == "seed":
            return _seed_signed_bytes(body)
        if self.codec is None:
            return None
        placeholder = dict(obj, signature=self.sig_to_wire(b"\x00" * 8))
        try:
            return self.profile.decode(self.from_dict(placeholder)).signed_bytes
        except (MalformedCommand, ValueError, TypeError):
            return None

    def resign(self, obj: dict[str, Any], key: SigningKey) -> bytes:
        """Wire bytes of ``obj`` with a signature by ``key`` that this profile accepts."""
        if self.codec is None:
            raise Unforgeable(f"profile {self.name!r}: its signature spelling is unknown")
        message = self.signed_bytes(obj)
        if message is None:
            # The profile rejects this object whatever its signature (a user profile's
            # decode refused it), so a signature over its serialised form serves.
            unsigned = {k: v for k, v in obj.items() if k != "signature"}
            message = self.from_dict(unsigned)
        signature = self.profile_signature(key, message)
        return self.from_dict(dict(obj, signature=self.sig_to_wire(signature)))

    def with_signature(self, obj: dict[str, Any], signature: bytes) -> bytes:
        return self.from_dict(dict(obj, signature=self.sig_to_wire(signature)))

    def profile_accepts(self, raw: bytes, trust: TrustStore) -> bool:
        """Whether the profile itself (its reference decode + verify) accepts the
        signature on ``raw``. The oracle for forgeries: a forgery the profile
        cannot tell from a genuine command is the profile's limitation, not the
        implementation's failure."""
        try:
            envelope = self.profile.decode(raw)
            return self.profile.verify(envelope, trust) is None
        except Exception:
            return False


@functools.cache
def _sample_key(algorithm: Algorithm) -> SigningKey:
    return derive_signing_key("driver-sample", algorithm, "sample-key")


class Unforgeable(Exception):
    """The driver cannot make a signature for this object in this profile."""


def _seed_signed_bytes(body: dict[str, Any]) -> bytes:
    """The seed's ``_canonical_message``: f-strings of six fields, sorted, ``|``-joined.
    ``issued_at`` is signed as ``fromisoformat(wire).isoformat()``."""
    values = dict(body)
    issued = values.get("issued_at")
    if isinstance(issued, str):
        with contextlib.suppress(ValueError):
            values["issued_at"] = datetime.fromisoformat(issued).isoformat()
    parts = [f"{name}={values.get(name)}" for name in _SEED_SIGNED]
    return "|".join(sorted(parts)).encode("utf-8", "surrogatepass")
