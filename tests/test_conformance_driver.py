"""The harness's profile driver and keys: forged objects are signed exactly as
each profile verifies them, and a user's own Profile class works like a built-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.cases.signature import ber_variants
from conformance.driver import ProfileDriver
from conformance.keyring import Keyring
from conformance.outcome import Verdict
from conformance.profiles import resolve_profile
from conformance.runner import build_setup, cleanup, run_suite
from killswitch import Algorithm, Command, CommandType, from_posix
from killswitch.profiles import V1Profile


class RenamedV1(V1Profile):
    """A user-written profile (here: v1 under another name), loaded as file.py:Class."""

    name = "v1-renamed"


def _driver(profile: str) -> tuple[ProfileDriver, Keyring]:
    driver = ProfileDriver(resolve_profile(profile), profile)
    return driver, Keyring(5, driver.algorithms)


DRIVERS = {profile: _driver(profile) for profile in ("seed", "v1")}


def _command(key_id: str, **fields: object) -> Command:
    values: dict[str, object] = {
        "command_id": "c-1",
        "command_type": CommandType.PAUSE,
        "target_instance_id": "agent",
        "issued_by": "ops",
        "issued_at": from_posix(1_767_225_600.0),
        "expires_at": from_posix(1_767_225_660.0),
        "nonce": "n-1",
        "key_id": key_id,
        "sequence": 1,
    }
    values.update(fields)
    return Command(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", ["seed", "v1"])
def test_signature_format_is_detected(profile: str) -> None:
    driver = ProfileDriver(resolve_profile(profile), profile)
    assert driver.codec == "hex"
    assert driver.es256_raw is (profile == "v1")
    assert driver.has_key_id is (profile == "v1")
    assert set(driver.algorithms) == (
        {Algorithm.RS256, Algorithm.ES256} if profile == "seed" else set(Algorithm)
    )


@pytest.mark.parametrize("profile", ["seed", "v1"])
@settings(max_examples=40, deadline=None)
@given(issued_by=st.text(min_size=1, max_size=20), reason=st.text(max_size=20))
def test_signed_bytes_equal_what_the_profile_verifies(
    profile: str, issued_by: str, reason: str
) -> None:
    driver, keyring = DRIVERS[profile]
    key = keyring.primary
    raw = driver.encode(_command(key.key_id, issued_by=issued_by, reason=reason), key)
    obj = driver.to_dict(raw)
    assert driver.signed_bytes(obj) == driver.profile.decode(raw).signed_bytes
    # Re-signing an edited object gives a command the profile accepts.
    obj["reason"] = reason + "!"
    assert driver.profile_accepts(driver.resign(obj, key), keyring.trust_store())


def test_keyring_is_deterministic_and_forgers_differ() -> None:
    first, second = Keyring(9, list(Algorithm)), Keyring(9, list(Algorithm))
    other = Keyring(10, list(Algorithm))
    for algorithm in Algorithm:
        pem = first.keys[algorithm].verifying_key().public_pem()
        assert pem == second.keys[algorithm].verifying_key().public_pem()
        attacker = first.attacker(algorithm)
        assert attacker.key_id == first.keys[algorithm].key_id
        assert attacker.verifying_key().public_pem() != pem
    assert (
        first.keys[Algorithm.ED25519].verifying_key().public_pem()
        != other.keys[Algorithm.ED25519].verifying_key().public_pem()
    )
    assert "PRIVATE" not in repr(first.primary)


def test_ber_variants_are_rejected_by_a_strict_der_verifier() -> None:
    key = Keyring(1, [Algorithm.ES256]).primary
    signature = key.sign(b"message")
    for _, variant in ber_variants(signature):
        assert variant != signature
        assert not key.verifying_key().verify(variant, b"message")


def test_a_user_profile_class_runs_like_a_built_in() -> None:
    target = f"{Path(__file__).resolve()}:RenamedV1"
    setup = build_setup(
        impl="conformance.reference:factory",
        cmd=None,
        profile=target,
        clock=None,
        seed=2,
        examples=3,
    )
    try:
        assert setup.driver.codec == "hex" and setup.driver.has_key_id
        result = run_suite(setup, "L2", target="reference with a user profile class")
        assert {r.case.id: r.detail for r in result.results if r.verdict is Verdict.FAIL} == {}
        assert result.level_reached == "L2"
    finally:
        cleanup(setup)
