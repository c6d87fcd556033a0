"""Wire profiles: round trips, deterministic signing, v1 hardening, seed weaknesses."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from core_support import T0, make_command, make_listener, signing_key, trust
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from killswitch import (
    Accepted,
    Algorithm,
    Command,
    CommandType,
    Listener,
    Reason,
    Rejected,
    SigningKey,
    derive_signing_key,
    from_posix,
    get_profile,
)
from killswitch.profiles import SeedProfile, V1Profile
from killswitch.profiles.v1 import DOMAIN, FIELDS, P256_ORDER, canonical_json, format_time

V1_ALGORITHMS = [Algorithm.ED25519, Algorithm.ES256, Algorithm.RS256]
SEED_ALGORITHMS = [Algorithm.RS256, Algorithm.ES256]
SEED_SIGNED = [
    "command_id",
    "command_type",
    "target_instance_id",
    "issued_by",
    "issued_at",
    "nonce",
]

V1 = V1Profile()
SEED = SeedProfile()


def v1_command(key: SigningKey, **kw: Any) -> Command:
    return make_command(key_id=key.key_id, **kw)


def seed_command(**kw: Any) -> Command:
    return make_command(seq=None, **kw)


def rejection(listener: Listener, raw: bytes) -> Reason | None:
    decision = listener.receive(raw, now=T0)
    return decision.reason if isinstance(decision, Rejected) else None


def v1_wire(key: SigningKey, **kw: Any) -> dict[str, Any]:
    return V1.to_dict(V1.encode(v1_command(key, **kw), key))


def resign(obj: dict[str, Any], key: SigningKey) -> bytes:
    """A v1 wire message for ``obj`` (any content), correctly signed by ``key``.

    Used to show that a rule rejects a message for the rule's sake, not because the
    signature happens to be broken too.
    """
    body = {name: value for name, value in obj.items() if name != "signature"}
    signature = key.sign(DOMAIN + canonical_json(body))
    if key.algorithm is Algorithm.ES256:
        signature = _der_to_raw(signature)
    return canonical_json({**body, "signature": signature.hex()})


def _der_to_raw(der: bytes) -> bytes:
    """DER ECDSA to raw low-S r || s, written independently of the profile's helper."""
    r, s = decode_dss_signature(der)
    s = min(s, P256_ORDER - s)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# -- strategies -----------------------------------------------------------------------

# Lone surrogates are not UTF-8, so no signer can produce them (rejection tested below).
_chars = st.characters(codec="utf-8")
_text = st.text(_chars, max_size=40)
_name = st.text(_chars, min_size=1, max_size=40)
_zones = st.sampled_from([UTC, *(timezone(timedelta(hours=h)) for h in (-11, -5, 5, 13))])
_instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=_zones
)
#: I-JSON / RFC 8785 integers: exactly representable as IEEE doubles.
_safe_ints = st.integers(0, 2**53 - 1)


@st.composite
def commands(draw: st.DrawFn, *, with_sequence: bool, key_id: str | None = None) -> Command:
    issued = draw(_instants)
    return Command(
        command_id=draw(_name),
        command_type=draw(st.sampled_from(list(CommandType))),
        target_instance_id=draw(_name),
        target_asset_id=draw(st.none() | _name),
        issued_by=draw(_name),
        issued_at=issued,
        expires_at=issued + timedelta(microseconds=draw(st.integers(1, 10**10))),
        nonce=draw(_name),
        reason=draw(_text),
        cascade=draw(st.booleans()),
        grace_period_seconds=draw(_safe_ints),
        key_id=key_id,
        sequence=draw(_safe_ints) if with_sequence else None,
    )


PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- round trips and determinism -------------------------------------------------------


@pytest.mark.parametrize("algorithm", V1_ALGORITHMS, ids=lambda a: a.value)
@PROPERTY
@given(data=st.data())
def test_v1_round_trip(algorithm: Algorithm, data: st.DataObject) -> None:
    key = signing_key(algorithm)
    command = data.draw(commands(with_sequence=True, key_id=key.key_id))
    envelope = V1.decode(V1.encode(command, key))
    assert envelope.command == command
    assert envelope.algorithm == algorithm.value
    assert V1.verify(envelope, trust(key)) is None


@pytest.mark.parametrize("algorithm", SEED_ALGORITHMS, ids=lambda a: a.value)
@PROPERTY
@given(data=st.data())
def test_seed_round_trip(algorithm: Algorithm, data: st.DataObject) -> None:
    key = signing_key(algorithm)
    command = data.draw(commands(with_sequence=False))
    envelope = SEED.decode(SEED.encode(command, key))
    assert envelope.command == command
    assert envelope.algorithm == algorithm.value
    assert SEED.verify(envelope, trust(key)) is None


PROFILE_ALGORITHMS = [("v1", a) for a in V1_ALGORITHMS] + [("seed", a) for a in SEED_ALGORITHMS]


@pytest.mark.parametrize(
    ("profile_name", "algorithm"), PROFILE_ALGORITHMS, ids=lambda x: getattr(x, "value", x)
)
def test_encoded_command_is_accepted_by_a_listener(profile_name: str, algorithm: Algorithm) -> None:
    key = signing_key(algorithm)
    command = make_command(seq=None if profile_name == "seed" else 1, key_id=key.key_id)
    listener = make_listener(key, profile=profile_name)
    decision = listener.receive(get_profile(profile_name).encode(command, key), now=T0)
    assert isinstance(decision, Accepted), decision


@pytest.mark.parametrize(
    ("profile_name", "algorithm"), PROFILE_ALGORITHMS, ids=lambda x: getattr(x, "value", x)
)
def test_signing_is_deterministic(profile_name: str, algorithm: Algorithm) -> None:
    profile = get_profile(profile_name)
    key = signing_key(algorithm)
    rederived = derive_signing_key("killswitch-tests", algorithm, key.key_id)
    command = make_command(seq=None if profile_name == "seed" else 7)
    first = profile.encode(command, key)
    assert profile.encode(command, key) == first
    assert profile.encode(command, rederived) == first
    # ...and the signature does depend on the content.
    other = profile.encode(make_command(seq=command.sequence, nonce="another"), key)
    assert profile.to_dict(other)["signature"] != profile.to_dict(first)["signature"]


# -- v1: every field is signed ---------------------------------------------------------


def _other_type(value: str) -> str:
    return CommandType.TERMINATE.value if value != "TERMINATE" else CommandType.PAUSE.value


#: For each v1 field: a different value that is itself well formed, and the reason a
#: listener must give. ``v`` has no other valid value, so any change is MALFORMED.
TAMPERS: dict[str, tuple[Any, Reason]] = {
    "v": (lambda o: 2, Reason.MALFORMED),
    "command_id": (lambda o: o["command_id"] + "-x", Reason.BAD_SIGNATURE),
    "command_type": (lambda o: _other_type(o["command_type"]), Reason.BAD_SIGNATURE),
    "target_instance_id": (lambda o: "agent-2", Reason.BAD_SIGNATURE),
    "target_asset_id": (lambda o: None, Reason.BAD_SIGNATURE),
    "issued_by": (lambda o: "mallory", Reason.BAD_SIGNATURE),
    "issued_at": (lambda o: format_time(from_posix(T0 - 1)), Reason.BAD_SIGNATURE),
    "expires_at": (lambda o: format_time(from_posix(T0 + 299)), Reason.BAD_SIGNATURE),
    "reason": (lambda o: "something else", Reason.BAD_SIGNATURE),
    "cascade": (lambda o: not o["cascade"], Reason.BAD_SIGNATURE),
    "grace_period_seconds": (lambda o: o["grace_period_seconds"] + 1, Reason.BAD_SIGNATURE),
    "nonce": (lambda o: o["nonce"] + "-x", Reason.BAD_SIGNATURE),
    "sequence": (lambda o: o["sequence"] + 1, Reason.BAD_SIGNATURE),
    # Another key the listener trusts, pinned to the same algorithm.
    "key_id": (lambda o: o["key_id"][:-2] + "-2", Reason.BAD_SIGNATURE),
    "signature_algorithm": (
        lambda o: "RS256" if o["signature_algorithm"] != "RS256" else "ES256",
        Reason.UNSUPPORTED_ALGORITHM,
    ),
}


def test_tamper_table_covers_every_signed_field() -> None:
    assert set(TAMPERS) == FIELDS - {"signature"}


@pytest.mark.parametrize("algorithm", V1_ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("field", sorted(TAMPERS))
def test_v1_rejects_tampering_with_each_field(algorithm: Algorithm, field: str) -> None:
    key, second = signing_key(algorithm), signing_key(algorithm, f"{algorithm.value.lower()}-2")
    listener = make_listener(key, second)
    obj = v1_wire(key)
    change, expected = TAMPERS[field]
    tampered = {**obj, field: change(obj)}
    assert tampered[field] != obj[field]
    assert rejection(listener, V1.from_dict(tampered)) is expected
    assert isinstance(listener.receive(V1.from_dict(obj), now=T0), Accepted)


# -- v1: key handling ------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", V1_ALGORITHMS, ids=lambda a: a.value)
def test_v1_rejects_unknown_key_id(algorithm: Algorithm) -> None:
    stranger = signing_key(algorithm, "stranger")
    listener = make_listener(signing_key(algorithm))
    assert rejection(listener, V1.encode(v1_command(stranger), stranger)) is Reason.UNKNOWN_KEY


def test_v1_key_rotation_and_revocation() -> None:
    old, new = signing_key(key_id="old"), signing_key(key_id="new")
    listener = make_listener(old, new)
    first = make_command(seq=1)
    assert isinstance(listener.receive(V1.encode(first, old), now=T0), Accepted)
    listener.trust.revoke("old")
    paused_again = make_command(seq=2)
    assert rejection(listener, V1.encode(paused_again, old)) is Reason.UNKNOWN_KEY
    assert isinstance(listener.receive(V1.encode(paused_again, new), now=T0), Accepted)
    with pytest.raises(ValueError, match="revoked"):
        listener.trust.add(old.verifying_key())


@pytest.mark.parametrize("claimed", ["none", "None", "HS256", "EdDSA", "es256", None, 256])
def test_v1_rejects_none_and_unknown_algorithms(claimed: object) -> None:
    key = signing_key()
    obj = {**v1_wire(key), "signature_algorithm": claimed}
    reason = rejection(make_listener(key), V1.from_dict(obj))
    # A non-string algorithm is a type error in the message itself.
    expected = Reason.UNSUPPORTED_ALGORITHM if isinstance(claimed, str) else Reason.MALFORMED
    assert reason is expected


def test_v1_rejects_unsigned_none_command() -> None:
    """The classic JWT downgrade: ``none`` and no signature at all."""
    key = signing_key()
    obj = {**v1_wire(key), "signature_algorithm": "none", "signature": ""}
    for raw in (V1.from_dict(obj), json.dumps(obj).encode()):
        assert rejection(make_listener(key), raw) in {
            Reason.UNSUPPORTED_ALGORITHM,
            Reason.MALFORMED,
        }


def test_v1_rejects_algorithm_switching_on_a_pinned_key() -> None:
    """An attacker signs with their own Ed25519 key under the id of a trusted ES256 key."""
    trusted = signing_key(Algorithm.ES256, "ops-key")
    attacker = signing_key(Algorithm.ED25519, "ops-key")
    listener = make_listener(trusted)
    forged = V1.encode(v1_command(attacker), attacker)
    assert V1.to_dict(forged)["key_id"] == "ops-key"
    assert rejection(listener, forged) is Reason.UNSUPPORTED_ALGORITHM


# -- v1: signature encodings -----------------------------------------------------------


def _es256_parts(obj: dict[str, Any]) -> tuple[int, int, bytes]:
    raw = bytes.fromhex(obj["signature"])
    body = {k: v for k, v in obj.items() if k != "signature"}
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"), canonical_json(body)


def test_v1_rejects_high_s_es256_signature() -> None:
    key = signing_key(Algorithm.ES256)
    obj = v1_wire(key)
    r, s, body = _es256_parts(obj)
    high_s = P256_ORDER - s
    assert high_s > P256_ORDER // 2, "v1 must emit low-S signatures"
    # (r, n - s) is a mathematically valid signature: only the low-S rule rejects it.
    public = key.private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(encode_dss_signature(r, high_s), DOMAIN + body, ec.ECDSA(hashes.SHA256()))
    malleated = r.to_bytes(32, "big") + high_s.to_bytes(32, "big")
    tampered = {**obj, "signature": malleated.hex()}
    assert rejection(make_listener(key), V1.from_dict(tampered)) is Reason.BAD_SIGNATURE


def test_v1_rejects_der_encoded_es256_signature() -> None:
    key = signing_key(Algorithm.ES256)
    obj = v1_wire(key)
    r, s, body = _es256_parts(obj)
    der = encode_dss_signature(r, s)
    public = key.private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(der, DOMAIN + body, ec.ECDSA(hashes.SHA256()))  # the same, valid signature
    tampered = {**obj, "signature": der.hex()}
    assert rejection(make_listener(key), V1.from_dict(tampered)) is Reason.BAD_SIGNATURE


SIGNATURE_SPELLINGS: dict[str, Callable[[str], str]] = {
    "uppercase-hex": str.upper,
    "separated-hex": lambda sig: " ".join(sig[i : i + 2] for i in range(0, len(sig), 2)),
    "base64url": lambda sig: base64.urlsafe_b64encode(bytes.fromhex(sig)).rstrip(b"=").decode(),
    "base64url-padded": lambda sig: base64.urlsafe_b64encode(bytes.fromhex(sig)).decode(),
    "odd-length": lambda sig: sig[1:],
}


@pytest.mark.parametrize("variant", sorted(SIGNATURE_SPELLINGS))
def test_v1_rejects_other_spellings_of_the_signature(variant: str) -> None:
    """A signature has exactly one wire spelling (lowercase hex): any other is MALFORMED."""
    key = signing_key()
    obj = v1_wire(key, nonce="n-with-letters")
    assert any(c in "abcdef" for c in obj["signature"])  # so uppercasing changes it
    changed = SIGNATURE_SPELLINGS[variant](obj["signature"])
    assert changed != obj["signature"]
    listener = make_listener(key)
    decision = listener.receive(V1.from_dict({**obj, "signature": changed}), now=T0)
    assert isinstance(decision, Rejected)
    assert decision.reason is Reason.MALFORMED
    assert "signature" in decision.detail


# -- v1: structure ---------------------------------------------------------------------


def _detail(listener: Listener, raw: bytes) -> tuple[Reason | None, str]:
    decision = listener.receive(raw, now=T0)
    assert isinstance(decision, Rejected), decision
    return decision.reason, decision.detail


def test_v1_rejects_extra_field() -> None:
    key = signing_key()
    reason, detail = _detail(make_listener(key), resign({**v1_wire(key), "admin": True}, key))
    assert reason is Reason.MALFORMED
    assert "admin" in detail


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_v1_rejects_missing_field(field: str) -> None:
    key = signing_key()
    obj = v1_wire(key)
    del obj[field]
    reason, detail = _detail(
        make_listener(key), resign(obj, key) if field != "signature" else V1.from_dict(obj)
    )
    assert reason is Reason.MALFORMED
    assert field in detail


def sign_text(body: bytes, key: SigningKey) -> bytes:
    """``body`` (JSON text of an object without its signature, canonical or not),
    signed over exactly those bytes, with the signature member appended.

    This models a careless or hostile *signer*: v1's rules must hold even for
    messages whose signature is genuine.
    """
    signature = key.sign(DOMAIN + body)
    if key.algorithm is Algorithm.ES256:
        signature = _der_to_raw(signature)
    assert body.endswith(b"}")
    return body[:-1] + b',"signature":"' + signature.hex().encode() + b'"}'


def _unsigned_text(obj: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k != "signature"})


def test_sign_text_builds_what_the_listener_accepts() -> None:
    key = signing_key()
    raw = sign_text(_unsigned_text(v1_wire(key)), key)
    assert isinstance(make_listener(key).receive(raw, now=T0), Accepted)


def test_v1_rejects_duplicate_key() -> None:
    key = signing_key()
    raw = V1.encode(v1_command(key), key)
    duplicated = b'{"command_type":"TERMINATE",' + raw[1:]
    assert json.loads(duplicated)["command_type"] == "PAUSE"  # last one wins in plain json
    assert rejection(make_listener(key), duplicated) in {Reason.MALFORMED, Reason.BAD_SIGNATURE}


def test_v1_rejects_duplicate_key_even_when_signed() -> None:
    """Parsers disagree on duplicates (first or last wins): a signed message with a
    duplicate key means different commands to different listeners, so it is refused."""
    key = signing_key()
    body = _unsigned_text(v1_wire(key))
    duplicated = b'{"command_type":"TERMINATE",' + body[1:]
    reason, detail = _detail(make_listener(key), sign_text(duplicated, key))
    assert reason is Reason.MALFORMED
    assert "command_type" in detail


@pytest.mark.parametrize("field", ["reason", "issued_by", "nonce"])
def test_v1_rejects_lone_surrogate(field: str) -> None:
    key = signing_key()
    obj = {**v1_wire(key), field: "ok\ud800"}
    raw = json.dumps(obj).encode()  # ASCII-escaped: the JSON text itself is valid
    assert b"\\ud800" in raw
    assert rejection(make_listener(key), raw) is Reason.MALFORMED
    # Signed over exactly these bytes: still not a string any signer could mean
    # (no UTF-8 encoding, no RFC 8785 form), so it must not reach the agent.
    body = json.dumps(
        {k: v for k, v in obj.items() if k != "signature"}, sort_keys=True, separators=(",", ":")
    ).encode()
    assert rejection(make_listener(key), sign_text(body, key)) is Reason.MALFORMED


def test_v1_issuer_refuses_integers_without_an_exact_jcs_form() -> None:
    """KS-073: JCS writes numbers as IEEE doubles, so an issuer emits nothing >= 2^53."""
    key = signing_key()
    largest = make_command(seq=2**53 - 1, grace=2**53 - 1, key_id=key.key_id)
    assert V1.decode(V1.encode(largest, key)).command == largest
    for field, too_big in [
        ("sequence", make_command(seq=2**53)),
        ("grace_period_seconds", make_command(grace=2**53)),
    ]:
        with pytest.raises(ValueError, match=field):
            V1.encode(too_big, key)


@pytest.mark.parametrize("field", ["sequence", "grace_period_seconds"])
@pytest.mark.parametrize(
    ("value", "expected"), [(2**63 - 1, None), (2**63, Reason.MALFORMED), (-1, Reason.MALFORMED)]
)
def test_v1_verifier_integer_range(field: str, value: int, expected: Reason | None) -> None:
    """SPEC 4.2.1: 0 <= n < 2^63 (above 2^53 a documented divergence from RFC 8785)."""
    key = signing_key()
    assert rejection(make_listener(key), resign({**v1_wire(key), field: value}, key)) is expected


@PROPERTY
@given(commands(with_sequence=True, key_id="k"), _text)
def test_canonical_json_is_rfc8785(command: Command, signature: str) -> None:
    key = signing_key(key_id="k")
    obj = {**V1.unsigned_object(command, key), "signature": signature}
    assert canonical_json(obj) == rfc8785.dumps(obj)


# -- seed: what is and is not signed ---------------------------------------------------


def seed_wire(key: SigningKey, **kw: Any) -> dict[str, Any]:
    return SEED.to_dict(SEED.encode(seed_command(**kw), key))


SEED_UNSIGNED_CHANGES: dict[str, Any] = {
    "expires_at": from_posix(T0 + 60).isoformat(),
    "target_asset_id": None,
    "reason": "routine maintenance",
    "cascade": False,
    "grace_period_seconds": 0,
}


def test_seed_documents_exactly_the_unsigned_fields() -> None:
    wire = seed_wire(signing_key(Algorithm.RS256))
    assert SEED.unsigned_fields == {*SEED_UNSIGNED_CHANGES, "signature_algorithm"}
    assert set(wire) == {*SEED_SIGNED, *SEED.unsigned_fields, "signature"}


@pytest.mark.parametrize("algorithm", SEED_ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("field", sorted(SEED_UNSIGNED_CHANGES))
def test_seed_unsigned_field_can_be_changed_without_breaking_the_signature(
    algorithm: Algorithm, field: str
) -> None:
    key = signing_key(algorithm)
    obj = seed_wire(key)
    forged = {**obj, field: SEED_UNSIGNED_CHANGES[field]}
    assert forged[field] != obj[field]
    decision = make_listener(key, profile="seed").receive(SEED.from_dict(forged), now=T0)
    assert isinstance(decision, Accepted), decision
    # The agent acts on the forged value.
    assert decision.effect.command == SEED.decode(SEED.from_dict(forged)).command
    assert decision.effect.command != SEED.decode(SEED.from_dict(obj)).command


def test_seed_signature_algorithm_is_not_in_the_signed_bytes() -> None:
    """Relabelling only picks another verifier (which then fails); it is not signed."""
    key = signing_key(Algorithm.RS256)
    obj = seed_wire(key)
    relabelled = {**obj, "signature_algorithm": "ES256"}
    original = SEED.decode(SEED.from_dict(obj))
    assert SEED.decode(SEED.from_dict(relabelled)).signed_bytes == original.signed_bytes


SEED_SIGNED_CHANGES: dict[str, Any] = {
    "command_id": "cmd-other",
    "command_type": "TERMINATE",
    "target_instance_id": "agent-2",
    "issued_by": "mallory",
    "issued_at": from_posix(T0 + 1).isoformat(),
    "nonce": "nonce-other",
}


def test_seed_signed_change_table_covers_the_six_fields() -> None:
    assert set(SEED_SIGNED_CHANGES) == set(SEED_SIGNED)


@pytest.mark.parametrize("algorithm", SEED_ALGORITHMS, ids=lambda a: a.value)
@pytest.mark.parametrize("field", SEED_SIGNED)
def test_seed_signed_field_change_breaks_the_signature(algorithm: Algorithm, field: str) -> None:
    key = signing_key(algorithm)
    obj = seed_wire(key)
    forged = {**obj, field: SEED_SIGNED_CHANGES[field]}
    assert forged[field] != obj[field]
    listener = make_listener(key, profile="seed")
    assert rejection(listener, SEED.from_dict(forged)) is Reason.BAD_SIGNATURE


def test_seed_delimiter_injection_lets_one_signature_cover_another_command() -> None:
    """Documents the seed's weakness: ``|`` and ``=`` in values are not escaped, so
    issued_by="ops|nonce=n1", nonce="n2" and issued_by="ops", nonce="n1|nonce=n2"
    sign the same string. A signature for the first is a valid forgery of the second,
    which claims another issuer and carries a fresh nonce."""
    key = signing_key(Algorithm.RS256)
    genuine = seed_command(issued_by="ops|nonce=n1", nonce="n2")
    forged = seed_command(issued_by="ops", nonce="n1|nonce=n2")
    assert genuine != forged
    assert SEED.decode(SEED.encode(genuine, key)).signed_bytes == (
        SEED.decode(SEED.encode(forged, key)).signed_bytes
    )
    # The forger edits the genuine wire object; they never hold the key.
    genuine_wire = SEED.to_dict(SEED.encode(genuine, key))
    forged_wire = {**genuine_wire, "issued_by": "ops", "nonce": "n1|nonce=n2"}
    decision = make_listener(key, profile="seed").receive(SEED.from_dict(forged_wire), now=T0)
    assert isinstance(decision, Accepted)
    assert decision.effect.command == forged

    # v1 signs an unambiguous encoding: the same trick is a bad signature.
    v1_key = signing_key()
    v1_genuine = V1.to_dict(V1.encode(make_command(issued_by="ops|nonce=n1", nonce="n2"), v1_key))
    v1_forged = {**v1_genuine, "issued_by": "ops", "nonce": "n1|nonce=n2"}
    assert rejection(make_listener(v1_key), V1.from_dict(v1_forged)) is Reason.BAD_SIGNATURE
