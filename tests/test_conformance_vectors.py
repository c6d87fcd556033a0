"""Wycheproof-style test vectors: deterministic, well-formed, no key material
beyond public keys, and the reference listener agrees with every one."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conformance.context import Context
from conformance.runner import build_setup, cleanup
from conformance.vectors import BUG_TYPES, build, check
from killswitch_cli.main import main


def _write(profile: str, path: Path) -> bytes:
    result = CliRunner().invoke(main, ["vectors", "--profile", profile, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path.read_bytes()


@pytest.mark.parametrize("profile", ["seed", "v1"])
def test_vectors_file_is_deterministic(tmp_path: Path, profile: str) -> None:
    first = _write(profile, tmp_path / "a.json")
    second = _write(profile, tmp_path / "b.json")
    assert first == second
    assert b"PRIVATE KEY" not in first


@pytest.mark.parametrize("profile", ["seed", "v1"])
def test_vectors_are_well_formed(profile: str) -> None:
    document = build(profile)
    assert document["schema"] == "killswitch.vectors/1"
    assert document["algorithm"] == f"killswitch-{profile}"
    expected_algorithms = ["RS256", "ES256"] if profile == "seed" else ["Ed25519", "ES256", "RS256"]
    assert [g["algorithm"] for g in document["testGroups"]] == expected_algorithms
    ids = [t["tcId"] for g in document["testGroups"] for t in g["tests"]]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) == document["numberOfTests"]
    for group in document["testGroups"]:
        _check_jwk_matches_pem(group["publicKeyJwk"], group["publicKeyPem"])
        for test in group["tests"]:
            assert set(test["flags"]) <= BUG_TYPES.keys()
            assert test["result"] in {"valid", "invalid", "acceptable"}
            assert (test["reason"] is None) == (test["result"] != "invalid")
            assert ("msg" in test) != ("msgHex" in test)
    flags = {f for g in document["testGroups"] for t in g["tests"] for f in t["flags"]}
    assert {"AUTH_BYPASS", "REPLAY", "STALE", "EXPIRY", "CANONICALIZATION"} <= flags
    tests = [t for g in document["testGroups"] for t in g["tests"]]
    acceptable = [t for t in tests if t["result"] == "acceptable"]
    if profile == "v1":
        assert acceptable == []  # v1 has no profile limitations
    else:
        assert all("PROFILE_LIMITATION" in t["flags"] for t in acceptable)
        assert any("cascade changed" in t["comment"] for t in acceptable)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_jwk_matches_pem(jwk: dict[str, str], pem: str) -> None:
    public = serialization.load_pem_public_key(pem.encode())
    if jwk["kty"] == "OKP":
        assert isinstance(public, ed25519.Ed25519PublicKey)
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert _unb64(jwk["x"]) == raw
    elif jwk["kty"] == "EC":
        assert isinstance(public, ec.EllipticCurvePublicKey)
        numbers = public.public_numbers()
        assert int.from_bytes(_unb64(jwk["x"]), "big") == numbers.x
        assert int.from_bytes(_unb64(jwk["y"]), "big") == numbers.y
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        assert int.from_bytes(_unb64(jwk["n"]), "big") == public.public_numbers().n


@pytest.mark.parametrize("profile", ["seed", "v1"])
def test_reference_agrees_with_every_vector(profile: str) -> None:
    document = build(profile)
    setup = build_setup(
        impl="conformance.reference:factory",
        cmd=None,
        profile=profile,
        clock=None,
        seed=0,
        examples=1,
    )
    try:
        ctx = Context(setup, "vectors", 0)
        assert check(document, lambda key: ctx.open(trusted=(key,))) == []
    finally:
        cleanup(setup)


def test_a_wrong_expectation_is_reported() -> None:
    document = build("v1")
    test = document["testGroups"][0]["tests"][0]
    assert test["result"] == "valid"
    test["result"], test["reason"] = "invalid", "BAD_SIGNATURE"
    setup = build_setup(
        impl="conformance.reference:factory", cmd=None, profile="v1", clock=None, seed=0, examples=1
    )
    try:
        ctx = Context(setup, "vectors", 0)
        found = check(json.loads(json.dumps(document)), lambda key: ctx.open(trusted=(key,)))
        assert [d.tc_id for d in found] == [test["tcId"]]
        assert found[0].observed == "valid"
    finally:
        cleanup(setup)
