"""Signatures: tampering with each field, wrong and unknown keys, mutated
signatures, algorithm switching (``none``, HMAC with the public key, another
key's algorithm) and non-canonical signature encodings."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from conformance.cases import Armed, Forgeries, command_kinds, effect_kind
from conformance.catalog import Case, case, generator
from conformance.context import ASSET_ID, INSTANCE_ID, OTHER_ASSET, OTHER_INSTANCE, Context, Setup
from conformance.driver import P256_ORDER, der_to_raw, raw_to_der
from conformance.hypo import forall
from conformance.keyring import trusted_key
from conformance.outcome import Unsupported
from conformance.requirements import SIGNED_IN_EVERY_PROFILE
from killswitch import Algorithm, Command


def shift_time(text: str, seconds: float) -> str:
    """``text`` moved by ``seconds``, spelled the same way (``Z`` stays ``Z``)."""
    moved = (datetime.fromisoformat(text) + timedelta(seconds=seconds)).isoformat()
    return moved.replace("+00:00", "Z") if text.endswith("Z") else moved


# -- single-field tampering -------------------------------------------------------------
# For each field: the command the control plane really signed, and the attacker's
# edit of one field. The base is chosen so that the edit would *gain* something
# (an expired command revived, another agent's command redirected to this one).

Edit = Callable[[dict[str, Any]], Any]


def _base(ctx: Context, field: str) -> Command:
    kind = effect_kind(ctx)
    now = ctx.now()
    if field == "target_instance_id":
        return ctx.command(kind, target=OTHER_INSTANCE)
    if field == "target_asset_id":
        return ctx.command(kind, asset=OTHER_ASSET)
    if field == "expires_at":
        # Expired 140 s ago (well past the leeway); the edit revives it within the lifetime limit.
        return ctx.command(kind, issued_at=now - 200.0, expires_at=now - 140.0)
    if field == "command_type":
        # Signed as a PAUSE (or, without the 'pause' feature, a RESUME: the
        # listener need not take it, the edit turns it into a TERMINATE).
        return ctx.command("PAUSE" if ctx.setup.has("pause") else "RESUME")
    return ctx.command(kind)


def _edit(ctx: Context, field: str, obj: dict[str, Any]) -> Any:
    value = obj[field]
    fixed: dict[str, Callable[[], Any]] = {
        "target_instance_id": lambda: INSTANCE_ID,
        "target_asset_id": lambda: ASSET_ID,
        "expires_at": lambda: shift_time(value, 230.0),
        "issued_at": lambda: shift_time(value, 1.0),
        "command_type": lambda: "TERMINATE",
        "cascade": lambda: not value,
        "grace_period_seconds": lambda: 0 if value else 30,
        "signature_algorithm": lambda: _other_algorithm(ctx, value),
        "key_id": lambda: _other_key_id(ctx, value),
        "sequence": lambda: value + 1000 if isinstance(value, int) else 1,
        "v": lambda: value + 1 if isinstance(value, int) else 1,
    }
    if field in fixed:
        return fixed[field]()
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-x"
    return "tampered"


def _other_algorithm(ctx: Context, current: str) -> str:
    others = [a.value for a in ctx.setup.keyring.keys if a.value != current]
    return others[0] if others else ("ES256" if current != "ES256" else "RS256")


def _other_key_id(ctx: Context, current: str) -> str:
    others = [k.key_id for k in ctx.setup.keyring.keys.values() if k.key_id != current]
    return others[0] if others else "ks-unknown"


def _tamper_case(field: str) -> Case:
    def run(ctx: Context) -> None:
        inst = ctx.open()
        driver = ctx.setup.driver
        obj = driver.to_dict(ctx.encode(_base(ctx, field)))
        original = obj[field]
        obj[field] = _edit(ctx, field, obj)
        raw = driver.from_dict(obj)
        forgeries = Forgeries(ctx)
        what = f"{field} changed from {original!r} to {obj[field]!r} after signing"
        forgeries.check(inst.deliver(raw), raw, what)
        forgeries.finish()

    return Case(
        id=f"KS-SIG-TAMPER-{field}",
        title=f"Changing {field} after signing is detected",
        level="L2" if field in SIGNED_IN_EVERY_PROFILE else "H",
        strength="MUST",
        run=run,
    )


@generator
def tamper_cases(setup: Setup) -> list[Case]:
    """One case per wire field of the profile (the signature itself excepted)."""
    return [_tamper_case(field) for field in setup.driver.fields]


# -- keys -------------------------------------------------------------------------------


@case("KS-SIG-WRONG-KEY", "A command signed by an untrusted key with a trusted key id", level="L2")
def wrong_key(ctx: Context) -> None:
    kind = effect_kind(ctx)
    inst = ctx.open()
    for algorithm in ctx.setup.keyring.keys:
        forger = ctx.setup.keyring.attacker(algorithm)
        raw = ctx.setup.driver.encode(ctx.command(kind, key=forger), forger)
        ctx.expect_rejected(inst.deliver(raw), f"{algorithm.value} command signed by a wrong key")


@case("KS-KEY-UNKNOWN", "A command naming an unknown key id is rejected", level="H")
def unknown_key(ctx: Context) -> None:
    if not ctx.setup.driver.has_key_id:
        raise Unsupported(
            f"profile limitation ({', '.join(ctx.requirements)}): the {ctx.setup.profile_name}"
            " profile has no key ids",
            "profile",
        )
    kind = effect_kind(ctx)
    inst = ctx.open()
    for algorithm in ctx.setup.keyring.keys:
        stranger = ctx.setup.keyring.stranger(algorithm)
        raw = ctx.setup.driver.encode(ctx.command(kind, key=stranger), stranger)
        ctx.expect_rejected(
            inst.deliver(raw), f"{algorithm.value} command with key id {stranger.key_id!r}"
        )


@case(
    "KS-KEY-ROTATION",
    "Several active keys of one algorithm: each one's commands are accepted",
    level="H",
)
def key_rotation(ctx: Context) -> None:
    keyring = ctx.setup.keyring
    algorithm = keyring.primary.algorithm
    kind = effect_kind(ctx)
    current = keyring.primary
    following = keyring.another(algorithm, current.key_id + "-next")
    trusted = (*keyring.trusted(), trusted_key(following))
    for key in (current, following):
        inst = ctx.open(trusted=trusted)
        obs = inst.deliver(ctx.setup.driver.encode(ctx.command(kind, key=key), key))
        ctx.expect_accepted(
            obs, f"a {kind} signed with {key.key_id} while two {algorithm.value} keys are trusted"
        )


@case(
    "KS-KEY-REVOKED",
    "A command signed with a revoked key is rejected; the other trusted keys still work",
    level="H",
)
def key_revoked(ctx: Context) -> None:
    keyring = ctx.setup.keyring
    current = keyring.primary
    old = keyring.another(current.algorithm, current.key_id + "-retired")
    # After a rotation the retired key may still be listed (here first, being older)
    # while its id is revoked: revocation wins (KS-070: a revoked id is never trusted).
    trusted = (trusted_key(old), *keyring.trusted())
    for kind in command_kinds(ctx):  # a revoked key may be ignored for one kind only
        armed = Armed(ctx, kind)
        revoked = ctx.setup.driver.encode(ctx.command(kind, key=old), old)
        genuine = ctx.setup.driver.encode(ctx.command(kind, key=current), current)
        inst = armed.open(trusted=trusted, revoked=(old.key_id,))
        obs = inst.deliver(revoked)
        ctx.expect_rejected(obs, f"a {kind} signed with {old.key_id}, listed but revoked")
        obs = inst.deliver(genuine)
        ctx.expect_accepted(
            obs, f"a {kind} signed with {current.key_id} while {old.key_id} is revoked"
        )


# -- mutated signatures -----------------------------------------------------------------

_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16)),
    st.tuples(st.just("truncate"), st.integers(1, 1 << 16)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("empty"), st.just(0)),
)


def mutate(signature: bytes, mutation: tuple[str, Any]) -> bytes:
    kind, arg = mutation
    if kind == "flip":
        bit = arg % (8 * len(signature))
        flipped = bytearray(signature)
        flipped[bit // 8] ^= 1 << (bit % 8)
        return bytes(flipped)
    if kind == "truncate":
        return signature[: len(signature) - 1 - (arg % len(signature))]
    if kind == "extend":
        return signature + bytes(arg)
    return b""


@case(
    "KS-SIG-MUTATE", "Truncated, extended, bit-flipped or empty signatures are rejected", level="L2"
)
def mutated_signature(ctx: Context) -> None:
    driver = ctx.setup.driver
    if not driver.can_forge:
        raise Unsupported("the profile's signature spelling could not be detected", "profile")
    keys = ctx.setup.keyring.keys
    kind = effect_kind(ctx)

    def check(example: tuple[Algorithm, tuple[str, Any]]) -> None:
        algorithm, mutation = example
        inst = ctx.open()
        obj = driver.to_dict(driver.encode(ctx.command(kind, key=keys[algorithm]), keys[algorithm]))
        signature = driver.sig_from_wire(obj["signature"])
        raw = driver.with_signature(obj, mutate(signature, mutation))
        forgeries = Forgeries(ctx)
        forgeries.check(
            inst.deliver(raw), raw, f"{algorithm.value} signature, {mutation[0]} {mutation[1]!r}"
        )
        forgeries.finish()

    forall(ctx, st.tuples(st.sampled_from(list(keys)), _MUTATION), check)


# -- algorithm switching ----------------------------------------------------------------


def _probe_all(ctx: Context, probes: list[tuple[str, bytes]]) -> None:
    inst = ctx.open()
    forgeries = Forgeries(ctx)
    for what, raw in probes:
        forgeries.check(inst.deliver(raw), raw, what)
    forgeries.finish()


@case("KS-ALG-NONE", "signature_algorithm 'none' (any spelling) is rejected", level="L2")
def alg_none(ctx: Context) -> None:
    driver = ctx.setup.driver
    kind = effect_kind(ctx)
    probes = []
    for name in ("none", "None", "NONE", ""):
        for keep_signature in (False, True):
            obj = driver.to_dict(ctx.encode(ctx.command(kind)))
            obj["signature_algorithm"] = name
            if driver.can_forge and not keep_signature:
                raw = driver.with_signature(obj, b"")
            else:
                raw = driver.from_dict(obj)
            sig = "the original signature" if keep_signature else "an empty signature"
            probes.append((f"algorithm {name!r} with {sig}", raw))
    _probe_all(ctx, probes)


@case("KS-ALG-HMAC", "An HMAC keyed with the public key (HS256) is rejected", level="L2")
def alg_hmac(ctx: Context) -> None:
    driver = ctx.setup.driver
    if not driver.can_forge:
        raise Unsupported("the profile's signature spelling could not be detected", "profile")
    kind = effect_kind(ctx)
    probes = []
    for key in ctx.setup.keyring.keys.values():
        pem = key.verifying_key().public_pem().encode()
        for name, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
            obj = driver.to_dict(ctx.encode(ctx.command(kind, key=key), key))
            obj["signature_algorithm"] = name
            message = driver.signed_bytes(obj) or b""
            for label, secret in (("PEM", pem), ("PEM without newline", pem.rstrip(b"\n"))):
                mac = hmac.new(secret, message, digest).digest()
                raw = driver.with_signature(obj, mac)
                probes.append((f"{name} keyed with {key.key_id}'s public {label}", raw))
    _probe_all(ctx, probes)


@case("KS-ALG-SWITCH", "Algorithm switching: a key is used only with its own algorithm", level="L2")
def alg_switch(ctx: Context) -> None:
    driver = ctx.setup.driver
    keys = ctx.setup.keyring.keys
    kind = effect_kind(ctx)
    probes = []
    for algorithm, key in keys.items():
        # The label changed, the signature kept.
        for other in ("Ed25519", "ES256", "RS256", "EdDSA", "PS256", "ES384", "RS512"):
            if other == algorithm.value:
                continue
            obj = driver.to_dict(ctx.encode(ctx.command(kind, key=key), key))
            obj["signature_algorithm"] = other
            probes.append((f"{key.key_id} command relabelled {other}", driver.from_dict(obj)))
        # Another trusted key's signature presented under this key (id/label).
        if not driver.can_forge:
            continue
        for other_algorithm, other_key in keys.items():
            if other_algorithm is algorithm:
                continue
            obj = driver.to_dict(ctx.encode(ctx.command(kind, key=key), key))
            if driver.has_key_id:
                obj["key_id"] = key.key_id
            # Without key ids, the other key's own label makes a genuine command.
            labels = [algorithm.value]
            if driver.has_key_id:
                labels.append(other_algorithm.value)
            for label in labels:
                obj["signature_algorithm"] = label
                message = driver.signed_bytes(obj) or b""
                raw = driver.with_signature(obj, driver.profile_signature(other_key, message))
                probes.append(
                    (
                        f"{other_algorithm.value} signature for key {key.key_id} labelled {label}",
                        raw,
                    )
                )
    _probe_all(ctx, probes)


# -- signature encodings ----------------------------------------------------------------


def _spelling_variants(ctx: Context, text: str) -> list[tuple[str, str]]:
    variants = [
        ("upper case", text.upper()),
        ("0x prefix", "0x" + text),
        ("spaces", " ".join(text[i : i + 2] for i in range(0, len(text), 2))),
    ]
    if ctx.setup.driver.codec != "hex":
        variants = [("padding", text + "=="), ("whitespace", text[:8] + " " + text[8:])]
    return [(label, value) for label, value in variants if value != text]


@case(
    "KS-SIG-NONCANONICAL",
    "Non-canonical signature encodings (high-S, DER for raw, other spellings) are rejected",
    level="H",
)
def noncanonical(ctx: Context) -> None:
    driver = ctx.setup.driver
    if not driver.can_forge:
        raise Unsupported("the profile's signature spelling could not be detected", "profile")
    keys = ctx.setup.keyring.keys
    kind = effect_kind(ctx)
    probes = []
    for key in keys.values():
        obj = driver.to_dict(ctx.encode(ctx.command(kind, key=key), key))
        for label, text in _spelling_variants(ctx, obj["signature"]):
            probes.append(
                (
                    f"{key.key_id} signature spelled with {label}",
                    driver.from_dict(dict(obj, signature=text)),
                )
            )
    if Algorithm.ES256 in keys:
        key = keys[Algorithm.ES256]
        obj = driver.to_dict(ctx.encode(ctx.command(kind, key=key), key))
        signature = driver.sig_from_wire(obj["signature"])
        der = signature if not driver.es256_raw else raw_to_der(signature)
        raw_sig = der_to_raw(der)
        r, s = int.from_bytes(raw_sig[:32], "big"), int.from_bytes(raw_sig[32:], "big")
        high = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
        high_sig = high if driver.es256_raw else raw_to_der(high)
        probes.append(("ES256 signature with high S (n - s)", driver.with_signature(obj, high_sig)))
        if driver.es256_raw:
            probes.append(
                ("ES256 signature DER-encoded instead of raw r||s", driver.with_signature(obj, der))
            )
    _probe_all(ctx, probes)


def ber_variants(der: bytes) -> list[tuple[str, bytes]]:
    """BER spellings of a DER ECDSA signature that a strict DER parser rejects."""
    body = der[2:]
    long_length = b"\x30\x81" + bytes([len(body)]) + body
    # Re-encode r with a superfluous leading zero byte.
    r_len = body[1]
    r = body[2 : 2 + r_len]
    rest = body[2 + r_len :]
    padded_r = b"\x02" + bytes([r_len + 1]) + b"\x00" + r
    padded = b"\x30" + bytes([len(padded_r) + len(rest)]) + padded_r + rest
    trailing = der + b"\x00"
    return [
        ("long-form length", long_length),
        ("non-minimal INTEGER", padded),
        ("trailing byte", trailing),
    ]


def _der_es256(setup: Setup) -> bool:
    driver = setup.driver
    return Algorithm.ES256 in setup.keyring.keys and not driver.es256_raw and driver.can_forge


@case(
    "KS-SIG-BER",
    "ES256 DER signatures in BER (non-minimal) form are rejected",
    level="L2",
    applies=_der_es256,
)
def ber_signatures(ctx: Context) -> None:
    driver = ctx.setup.driver
    keys = ctx.setup.keyring.keys
    key = keys[Algorithm.ES256]
    obj = driver.to_dict(ctx.encode(ctx.command(effect_kind(ctx), key=key), key))
    der = driver.sig_from_wire(obj["signature"])
    trust = ctx.setup.keyring.trust_store()
    probes = []
    for label, sig in ber_variants(der):
        raw = driver.with_signature(obj, sig)
        if not driver.profile_accepts(raw, trust):  # only what the profile itself forbids
            probes.append((f"ES256 signature with {label}", raw))
    _probe_all(ctx, probes)
