"""Test vectors in the style of Project Wycheproof, for teams without Python.

``build(profile)`` returns a deterministic document: one test group per
signature algorithm of the profile (its public key as PEM and JWK, the
agent's identity and the policy), each with tests of one delivery (and,
for replay and ordering, the deliveries before it): ``tcId``, ``comment``,
``flags`` (bug types), the message, ``now``, and the expected ``result``
(``valid``, ``invalid``, or ``acceptable`` where the profile itself cannot
tell a forgery from the genuine command) with the expected ``reason``
(SPEC.md §6). Expectations are written down here, independently of the
reference listener; a test checks that the reference agrees with each.

:func:`check` runs a document against any implementation through the adapter
contract: the ``KS-VECTORS`` cases check each decision (MUST, SPEC.md KS-120)
and ``KS-REASONS`` the rejection reasons (SHOULD, KS-122).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

from conformance.adapter import PolicyHints, TrustedKey
from conformance.cases.signature import ber_variants, mutate, shift_time
from conformance.clock import ANCHOR
from conformance.context import ASSET_ID, INSTANCE_ID, OTHER_ASSET, OTHER_INSTANCE
from conformance.driver import P256_ORDER, ProfileDriver, der_to_raw, raw_to_der
from conformance.keyring import Keyring, public_jwk
from conformance.profiles import resolve_profile
from killswitch import Algorithm, Command, CommandType, SigningKey, from_posix

SCHEMA = "killswitch.vectors/1"

#: Bug types carried in ``flags`` (Wycheproof "notes").
BUG_TYPES = {
    "AUTH_BYPASS": "A forged or altered command must not be accepted.",
    "MODIFIED_SIGNATURE": "A truncated, extended, bit-flipped or empty signature.",
    "ALGORITHM_CONFUSION": "'none', an HMAC keyed with the public key, or another key's algorithm.",
    "SIGNATURE_MALLEABILITY": "Another encoding of a valid signature (high-S, BER, spelling).",
    "CANONICALIZATION": "Two commands or spellings that must not share signed bytes.",
    "EXPIRY": "Outside the validity window issued_at - skew <= now < expires_at + skew.",
    "LIFETIME": "expires_at - issued_at beyond the maximum lifetime.",
    "EXACT_BOUNDARY": "Exactly at a time boundary (SPEC.md §5): tests the comparison operators.",
    "REPLAY": "A command (id or nonce) already accepted.",
    "STALE": "A PAUSE/RESUME older than the last accepted command.",
    "TARGETING": "A command for another instance or asset, or a refused wildcard.",
    "MALFORMED_INPUT": "Not a well-formed command of this profile.",
    "PROFILE_LIMITATION": "The profile cannot detect this (result 'acceptable').",
}

#: The SPEC.md requirements a wrong decision on a vector with these flags breaks
#: (every vector: KS-120, accept exactly what passes every step of §6).
FLAG_REQUIREMENTS = {
    "AUTH_BYPASS": ("KS-120", "KS-041", "KS-065"),
    "MODIFIED_SIGNATURE": ("KS-120",),
    "ALGORITHM_CONFUSION": ("KS-042", "KS-069"),
    "SIGNATURE_MALLEABILITY": ("KS-042", "KS-067", "KS-068"),
    "CANONICALIZATION": ("KS-063", "KS-072"),
    "EXPIRY": ("KS-100", "KS-101"),
    "LIFETIME": ("KS-104",),
    "EXACT_BOUNDARY": ("KS-100", "KS-101", "KS-104"),
    "REPLAY": ("KS-140",),
    "STALE": ("KS-161", "KS-165"),
    "TARGETING": ("KS-012", "KS-013"),
    "MALFORMED_INPUT": ("KS-003", "KS-040", "KS-061", "KS-123"),
}


def requirements_of(flags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """KS-120 and the requirements of ``flags``, sorted."""
    found = {"KS-120"}
    for flag in flags:
        found.update(FLAG_REQUIREMENTS.get(flag, ()))
    return tuple(sorted(found))


@dataclass
class Vector:
    comment: str
    flags: list[str]
    raw: bytes
    result: str
    reason: str | None
    now: float = 0.0  # 0: the group's default delivery time
    history: list[tuple[bytes, float]] = field(default_factory=list)


class _Maker:
    """Commands for one group: issued at the anchor, valid for 120 s."""

    def __init__(self, driver: ProfileDriver, key: SigningKey, anchor: float) -> None:
        self.driver = driver
        self.key = key
        self.anchor = anchor
        self.n = 0

    def command(self, kind: str = "TERMINATE", **over: Any) -> Command:
        self.n += 1
        issued = round(over.pop("issued", self.anchor), 3)
        expires = over.pop("expires", issued + 120.0)
        values: dict[str, Any] = {
            "command_id": f"vector-{self.n}",
            "command_type": CommandType(kind),
            "target_instance_id": INSTANCE_ID,
            "target_asset_id": ASSET_ID,
            "issued_by": "ops@example.com",
            "issued_at": from_posix(issued),
            "expires_at": from_posix(round(expires, 3)),
            "nonce": f"nonce-{self.n}",
            "reason": "test vector",
            "key_id": self.key.key_id,
            "sequence": over.pop("sequence", self.n),
        }
        values.update(over)
        return Command(**values)

    def raw(self, kind: str = "TERMINATE", key: SigningKey | None = None, **over: Any) -> bytes:
        return self.driver.encode(self.command(kind, **over), key or self.key)

    def obj(self, kind: str = "TERMINATE", **over: Any) -> dict[str, Any]:
        return self.driver.to_dict(self.raw(kind, **over))


def _vectors(
    driver: ProfileDriver, keyring: Keyring, algorithm: Algorithm, anchor: float
) -> Iterator[Vector]:
    key = keyring.keys[algorithm]
    make = _Maker(driver, key, anchor)
    v1 = driver.has_key_id
    trust = keyring.trust_store()
    limited = "acceptable"

    def forged(raw: bytes, invalid_reason: str) -> tuple[str, str | None]:
        """Expected outcome of a forgery: invalid, unless the profile itself accepts it."""
        return (
            (limited, None) if driver.profile_accepts(raw, trust) else ("invalid", invalid_reason)
        )

    yield Vector("valid TERMINATE", [], make.raw("TERMINATE"), "valid", None)
    yield Vector("valid PAUSE", [], make.raw("PAUSE"), "valid", None)
    yield Vector(
        "valid, non-ASCII and delimiter characters in signed fields",
        [],
        make.raw("TERMINATE", issued_by="öps|=\u2028😀", reason='naïve "quoted" \\ back'),
        "valid",
        None,
    )
    yield Vector(
        "valid, no asset (target_asset_id null)", [], make.raw(target_asset_id=None), "valid", None
    )

    # Tampering with one field after signing.
    edits: dict[str, Callable[[Any], Any]] = {
        "command_id": lambda v: v + "-x",
        "command_type": lambda v: "PAUSE" if v != "PAUSE" else "TERMINATE",
        "issued_by": lambda v: "attacker@example.com",
        "issued_at": lambda v: shift_time(v, 1.0),
        "nonce": lambda v: v + "-x",
        "reason": lambda v: v + " (edited)",
        "cascade": lambda v: not v,
        "grace_period_seconds": lambda v: 0,
        "expires_at": lambda v: shift_time(v, 60.0),
        "sequence": lambda v: v + 1000,
    }
    for name, edit in edits.items():
        obj = make.obj("TERMINATE")
        if name not in obj:
            continue
        obj[name] = edit(obj[name])
        raw = driver.from_dict(obj)
        result, reason = forged(raw, "BAD_SIGNATURE")
        flags = ["AUTH_BYPASS"] + (["PROFILE_LIMITATION"] if result == limited else [])
        yield Vector(f"{name} changed after signing", flags, raw, result, reason)
    obj = make.obj("TERMINATE", target_instance_id=OTHER_INSTANCE)
    obj["target_instance_id"] = INSTANCE_ID
    yield Vector(
        "another agent's command redirected to this agent",
        ["AUTH_BYPASS"],
        driver.from_dict(obj),
        "invalid",
        "BAD_SIGNATURE",
    )
    obj = make.obj("TERMINATE", target_asset_id=OTHER_ASSET)
    obj["target_asset_id"] = ASSET_ID
    raw = driver.from_dict(obj)
    result, reason = forged(raw, "BAD_SIGNATURE")
    yield Vector(
        "another asset's command redirected to this asset",
        ["AUTH_BYPASS"] + (["PROFILE_LIMITATION"] if result == limited else []),
        raw,
        result,
        reason,
    )

    # Keys and algorithms.
    forger = keyring.attacker(algorithm)
    yield Vector(
        "signed by an untrusted key under the trusted key's id",
        ["AUTH_BYPASS"],
        make.raw(key=forger),
        "invalid",
        "BAD_SIGNATURE",
    )
    if v1:
        stranger = keyring.stranger(algorithm)
        yield Vector(
            "unknown key id",
            ["AUTH_BYPASS"],
            make.raw(key=stranger, key_id=stranger.key_id),
            "invalid",
            "UNKNOWN_KEY",
        )
    for name in ("none", "None", "HS256", "EdDSA", algorithm.value.lower()):
        obj = make.obj()
        obj["signature_algorithm"] = name
        yield Vector(
            f"signature_algorithm {name!r}",
            ["ALGORITHM_CONFUSION"],
            driver.with_signature(obj, b"\x00" * 8)
            if name.lower() == "none"
            else driver.from_dict(obj),
            "invalid",
            "UNSUPPORTED_ALGORITHM",
        )
    obj = make.obj()
    obj["signature_algorithm"] = "HS256"
    mac = hmac.new(
        key.verifying_key().public_pem().encode(), driver.signed_bytes(obj) or b"", hashlib.sha256
    ).digest()
    yield Vector(
        "HS256 keyed with the public key PEM",
        ["ALGORITHM_CONFUSION"],
        driver.with_signature(obj, mac),
        "invalid",
        "UNSUPPORTED_ALGORITHM",
    )
    for other in Algorithm:
        if other is algorithm:
            continue
        obj = make.obj()
        obj["signature_algorithm"] = other.value
        expected = "UNSUPPORTED_ALGORITHM"
        yield Vector(
            f"relabelled {other.value}, signature kept",
            ["ALGORITHM_CONFUSION"],
            driver.from_dict(obj),
            "invalid",
            expected,
        )

    # Mutated signatures.
    obj = make.obj()
    signature = driver.sig_from_wire(obj["signature"])
    for label, mutation in (
        ("first bit flipped", ("flip", 0)),
        ("last bit flipped", ("flip", 8 * len(signature) - 1)),
        ("last byte removed", ("truncate", 0)),
        ("one byte appended", ("extend", b"\x00")),
        ("empty", ("empty", 0)),
    ):
        mutated = mutate(signature, mutation)
        raw = driver.with_signature(obj, mutated)
        reason = "MALFORMED" if (v1 and not mutated) else "BAD_SIGNATURE"
        yield Vector(f"signature {label}", ["MODIFIED_SIGNATURE"], raw, "invalid", reason)
    if driver.codec == "hex":
        raw = driver.from_dict(dict(obj, signature=obj["signature"].upper()))
        result, reason = forged(raw, "MALFORMED")
        flags = ["SIGNATURE_MALLEABILITY"] + (["PROFILE_LIMITATION"] if result == limited else [])
        yield Vector("signature in upper-case hex", flags, raw, result, reason)
    if algorithm is Algorithm.ES256:
        der = raw_to_der(signature) if driver.es256_raw else signature
        r_s = der_to_raw(der)
        high = r_s[:32] + (P256_ORDER - int.from_bytes(r_s[32:], "big")).to_bytes(32, "big")
        raw = driver.with_signature(obj, high if driver.es256_raw else raw_to_der(high))
        result, reason = forged(raw, "BAD_SIGNATURE")
        flags = ["SIGNATURE_MALLEABILITY"] + (["PROFILE_LIMITATION"] if result == limited else [])
        yield Vector("ES256 signature with high S", flags, raw, result, reason)
        if driver.es256_raw:
            yield Vector(
                "ES256 signature DER-encoded",
                ["SIGNATURE_MALLEABILITY"],
                driver.with_signature(obj, der),
                "invalid",
                "BAD_SIGNATURE",
            )
        else:
            for label, variant in ber_variants(der):
                yield Vector(
                    f"ES256 signature in BER: {label}",
                    ["SIGNATURE_MALLEABILITY"],
                    driver.with_signature(obj, variant),
                    "invalid",
                    "BAD_SIGNATURE",
                )

    # Canonical form.
    signed = make.command("PAUSE", issued_by="ops|nonce=x", nonce="y")
    obj = driver.to_dict(driver.encode(signed, key))
    obj["issued_by"], obj["nonce"] = "ops", "x|nonce=y"
    raw = driver.from_dict(obj)
    result, reason = forged(raw, "BAD_SIGNATURE")
    flags = ["CANONICALIZATION"] + (["PROFILE_LIMITATION"] if result == limited else [])
    yield Vector(
        "delimiter injection: issued_by='ops|nonce=x', nonce='y' re-split",
        flags,
        raw,
        result,
        reason,
    )
    for spelling in ("Z", "+00:00", "+02:00"):
        obj = make.obj()
        for name in ("issued_at", "expires_at"):
            moment = datetime.fromisoformat(obj[name]).astimezone(UTC)
            if spelling == "+02:00":
                text = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
            else:
                text = moment.isoformat().replace("+00:00", spelling)
            obj[name] = text
        yield Vector(
            f"timestamps spelled with {spelling}, signed as the profile specifies",
            [],
            driver.resign(obj, key),
            "valid",
            None,
        )

    # Time.
    skew, limit = 30.0, 300.0
    now = anchor + 5.0
    yield Vector(
        "expired beyond the leeway",
        ["EXPIRY"],
        make.raw(issued=now - 200, expires=now - 100),
        "invalid",
        "EXPIRED",
    )
    yield Vector(
        "issued beyond the leeway in the future",
        ["EXPIRY"],
        make.raw(issued=now + 100, expires=now + 200),
        "invalid",
        "NOT_YET_VALID",
    )
    yield Vector(
        "lifetime over the maximum",
        ["LIFETIME"],
        make.raw(issued=now - 10, expires=now - 10 + limit + 1),
        "invalid",
        "LIFETIME_TOO_LONG",
    )
    yield Vector(
        "lifetime exactly the maximum",
        ["LIFETIME", "EXACT_BOUNDARY"],
        make.raw(issued=now - 10, expires=now - 10 + limit),
        "valid",
        None,
    )
    yield Vector(
        "now == expires_at + leeway",
        ["EXPIRY", "EXACT_BOUNDARY"],
        make.raw(issued=now - 60, expires=now - skew),
        "invalid",
        "EXPIRED",
    )
    yield Vector(
        "now == expires_at + leeway - 1 s",
        ["EXACT_BOUNDARY"],
        make.raw(issued=now - 60, expires=now - skew + 1),
        "valid",
        None,
    )
    yield Vector(
        "now == issued_at - leeway",
        ["EXACT_BOUNDARY"],
        make.raw(issued=now + skew, expires=now + skew + 60),
        "valid",
        None,
    )
    yield Vector(
        "now == issued_at - leeway - 1 s",
        ["EXPIRY", "EXACT_BOUNDARY"],
        make.raw(issued=now + skew + 1, expires=now + skew + 60),
        "invalid",
        "NOT_YET_VALID",
    )
    yield Vector(
        "expires_at before issued_at",
        ["MALFORMED_INPUT"],
        make.raw(issued=now - 10, expires=now - 20),
        "invalid",
        "MALFORMED",
    )
    obj = make.obj()
    obj["issued_at"] = obj["issued_at"][:19]
    yield Vector(
        "issued_at without a time zone",
        ["MALFORMED_INPUT"],
        driver.resign(obj, key),
        "invalid",
        "MALFORMED",
    )

    # Targeting.
    yield Vector(
        "for another instance",
        ["TARGETING"],
        make.raw(target_instance_id=OTHER_INSTANCE),
        "invalid",
        "NOT_FOR_THIS_AGENT",
    )
    yield Vector(
        "for another instance of this asset",
        ["TARGETING"],
        make.raw(target_instance_id=OTHER_INSTANCE, target_asset_id=ASSET_ID),
        "invalid",
        "NOT_FOR_THIS_AGENT",
    )
    yield Vector(
        "this instance, another asset",
        ["TARGETING"],
        make.raw(target_asset_id=OTHER_ASSET),
        "invalid",
        "NOT_FOR_THIS_AGENT",
    )
    yield Vector(
        "wildcard target, wildcards off",
        ["TARGETING"],
        make.raw(target_instance_id="*"),
        "invalid",
        "NOT_FOR_THIS_AGENT",
    )

    # Replay and ordering (with history).
    first = make.raw("PAUSE")
    yield Vector(
        "the same command again", ["REPLAY"], first, "invalid", "REPLAY", history=[(first, now)]
    )
    earlier = make.raw("PAUSE", nonce="shared-nonce")
    yield Vector(
        "a new command reusing an accepted nonce",
        ["REPLAY"],
        make.raw("PAUSE", nonce="shared-nonce"),
        "invalid",
        "REPLAY",
        history=[(earlier, now)],
    )
    # Issued 1 s apart: seed orders by issued_at (equal times are not ordered).
    resume = make.raw("RESUME", issued=anchor)
    pause = make.raw("PAUSE", issued=anchor + 1)
    yield Vector(
        "a RESUME older than the accepted PAUSE",
        ["STALE"],
        resume,
        "invalid",
        "STALE",
        history=[(pause, now)],
    )
    old_pause, new_resume = make.raw("PAUSE", issued=anchor), make.raw("RESUME", issued=anchor + 1)
    yield Vector(
        "a PAUSE older than a RESUME refused as NOT_PAUSED",
        ["STALE"],
        old_pause,
        "invalid",
        "STALE",
        history=[(new_resume, now)],
    )
    terminate = make.raw("TERMINATE")
    yield Vector(
        "RESUME after TERMINATE",
        [],
        make.raw("RESUME"),
        "invalid",
        "ALREADY_TERMINATED",
        history=[(terminate, now)],
    )
    yield Vector("RESUME while running", [], make.raw("RESUME"), "invalid", "NOT_PAUSED")

    # Malformed input.
    good = make.raw()
    yield Vector(
        "truncated JSON", ["MALFORMED_INPUT"], good[: len(good) // 2], "invalid", "MALFORMED"
    )
    yield Vector(
        "deeply nested JSON", ["MALFORMED_INPUT"], b"[" * 5000 + b"]" * 5000, "invalid", "MALFORMED"
    )
    yield Vector("not JSON", ["MALFORMED_INPUT"], b"\xff\xfe kill", "invalid", "MALFORMED")
    yield Vector(
        "over max_message_bytes", ["MALFORMED_INPUT"], b" " * 16385 + good, "invalid", "MALFORMED"
    )
    obj = make.obj()
    obj["cascade"] = "false"
    yield Vector(
        "cascade as a string, signed",
        ["MALFORMED_INPUT"],
        driver.resign(obj, key),
        "invalid",
        "MALFORMED",
    )
    obj = make.obj()
    obj["grace_period_seconds"] = 30.0
    yield Vector(
        "grace_period_seconds 30.0 (not an integer), signed",
        ["MALFORMED_INPUT"],
        driver.resign(obj, key),
        "invalid",
        "MALFORMED",
    )
    obj = make.obj()
    obj["command_type"] = "terminate"
    yield Vector(
        "command_type in lower case, signed",
        ["MALFORMED_INPUT"],
        driver.resign(obj, key),
        "invalid",
        "MALFORMED",
    )


def _text(raw: bytes) -> dict[str, str]:
    try:
        return {"msg": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"msgHex": raw.hex()}


def _iso(seconds: float) -> str:
    return from_posix(seconds).isoformat().replace("+00:00", "Z")


def build(
    profile: str,
    seed: int = 0,
    *,
    anchor: float = ANCHOR,
    algorithms: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The vector document for ``profile``: deterministic for a given seed and
    anchor (the commands' issue time; deliveries happen 5 s later)."""
    driver = ProfileDriver(resolve_profile(profile), profile)
    order = (
        [Algorithm.RS256, Algorithm.ES256]
        if profile == "seed"
        else [Algorithm.ED25519, Algorithm.ES256, Algorithm.RS256]
    )
    chosen = [a for a in order if a in driver.algorithms]
    if algorithms is not None:
        chosen = [a for a in chosen if a.value in algorithms]
    groups = []
    tc_id = 0
    for algorithm in chosen:
        keyring = Keyring(seed, [algorithm])
        key = keyring.keys[algorithm]
        tests = []
        for vector in _vectors(driver, keyring, algorithm, anchor):
            tc_id += 1
            when = vector.now or anchor + 5.0
            tests.append(
                {
                    "tcId": tc_id,
                    "comment": vector.comment,
                    "flags": vector.flags,
                    **_text(vector.raw),
                    "now": _iso(when),
                    "nowPosix": when,
                    "history": [{**_text(raw), "nowPosix": when} for raw, when in vector.history],
                    "result": vector.result,
                    "reason": vector.reason,
                }
            )
        groups.append(
            {
                "type": "KillSwitchCommandVerify",
                "profile": profile,
                "algorithm": algorithm.value,
                "keyId": key.key_id,
                "publicKeyPem": key.verifying_key().public_pem(),
                "publicKeyJwk": public_jwk(key),
                "agent": {"instanceId": INSTANCE_ID, "assetId": ASSET_ID},
                "policy": PolicyHints().to_json(),
                "tests": tests,
            }
        )
    return {
        "schema": SCHEMA,
        "algorithm": f"killswitch-{profile}",
        "generatorVersion": "1",
        "numberOfTests": tc_id,
        "header": [
            "Kill-switch command verification vectors (SPEC.md). Each test: deliver 'history'"
            " then 'msg' (or 'msgHex') at 'nowPosix' to a fresh listener for 'agent' that",
            "trusts exactly this group's key with this policy; compare the decision with"
            " 'result' (acceptable = the profile cannot tell; either is conformant) and 'reason'.",
        ],
        "notes": {name: {"bugType": name, "description": text} for name, text in BUG_TYPES.items()},
        "testGroups": groups,
    }


@dataclass
class Disagreement:
    tc_id: int
    comment: str
    expected: str
    observed: str
    flags: tuple[str, ...] = ()
    #: True when the decision itself is wrong (an invalid vector accepted, a
    #: valid one rejected); False when only the rejection reason differs.
    wrong_decision: bool = True

    def describe(self) -> str:
        return (
            f"tcId {self.tc_id} ({self.comment}; {', '.join(requirements_of(self.flags))}):"
            f" expected {self.expected}, got {self.observed}"
        )


def raw_of(test: dict[str, Any]) -> bytes:
    return test["msg"].encode("utf-8") if "msg" in test else bytes.fromhex(test["msgHex"])


def group_key(group: dict[str, Any]) -> TrustedKey:
    return TrustedKey(
        group["keyId"], group["algorithm"], group["publicKeyPem"], group["publicKeyJwk"]
    )


class _Delivers(Protocol):
    def deliver(self, raw: bytes, *, now: float | None = None) -> Any: ...


def check(
    document: dict[str, Any],
    open_instance: Callable[[TrustedKey], _Delivers],
    *,
    reasons: bool = True,
    skip_flags: frozenset[str] = frozenset(),
    select: Callable[[dict[str, Any]], bool] | None = None,
) -> list[Disagreement]:
    """Run every test (with none of ``skip_flags``, and that ``select`` accepts)
    on a fresh instance trusting the group's key (``open_instance(key)``, whose
    ``deliver`` returns an object with ``effective`` and ``reason``); list the
    tests whose outcome (or, with ``reasons``, whose rejection reason) differs
    from the expectation."""
    found = []
    for group in document["testGroups"]:
        key = group_key(group)
        for test in group["tests"]:
            if skip_flags & set(test["flags"]):
                continue
            if select is not None and not select(test):
                continue
            inst = open_instance(key)
            for item in test["history"]:
                inst.deliver(raw_of(item), now=item["nowPosix"])
            obs = inst.deliver(raw_of(test), now=test["nowPosix"])
            accepted = obs.effective
            expected = test["result"]
            right = expected == "acceptable" or accepted == (expected == "valid")
            ok = right
            if ok and reasons and expected == "invalid" and obs.reason != test["reason"]:
                ok = False
            if not ok:
                seen = "valid" if accepted else f"invalid ({obs.reason})"
                want = expected if expected != "invalid" else f"invalid ({test['reason']})"
                found.append(
                    Disagreement(
                        test["tcId"], test["comment"], want, seen, tuple(test["flags"]), not right
                    )
                )
    return found
