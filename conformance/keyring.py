"""The harness's keys: trusted keys handed to the implementation, and the
attacker's keys the suite forges with. All derived from the run seed, so a run
is reproducible; private keys never leave this module's objects (reports and
counterexample files carry public keys only)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conformance.adapter import TrustedKey
from killswitch import (
    Algorithm,
    SigningKey,
    TrustStore,
    derive_distinct_key,
    derive_signing_key,
)

#: Key ids the harness uses, by algorithm.
KEY_IDS = {
    Algorithm.ED25519: "ks-ed25519",
    Algorithm.ES256: "ks-es256",
    Algorithm.RS256: "ks-rs256",
}


def _b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(key: SigningKey) -> dict[str, str]:
    """The public half of ``key`` as a JWK (RFC 7517/8037), with kid and alg."""
    public = key.private_key.public_key()
    jwk: dict[str, str]
    if isinstance(public, ed25519.Ed25519PublicKey):
        x = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(x)}
    elif isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        rsa_numbers = public.public_numbers()
        jwk = {"kty": "RSA", "n": _b64url_int(rsa_numbers.n), "e": _b64url_int(rsa_numbers.e)}
    return {**jwk, "kid": key.key_id, "alg": key.algorithm.value, "use": "sig"}


def trusted_key(key: SigningKey) -> TrustedKey:
    """What the implementation is told to trust for ``key``."""
    return TrustedKey(
        key.key_id, key.algorithm.value, key.verifying_key().public_pem(), public_jwk(key)
    )


class Keyring:
    """One signing key per algorithm the run uses, plus forgers' keys."""

    def __init__(self, seed: int, algorithms: Iterable[Algorithm]) -> None:
        self.seed = seed
        self.algorithms = tuple(algorithms)
        if not self.algorithms:
            raise ValueError("no signature algorithm in common between profile and implementation")
        self.keys = {
            a: derive_signing_key(f"trusted-{seed}", a, KEY_IDS[a]) for a in self.algorithms
        }
        # Deriving an RSA key parses a PEM fixture (milliseconds): derive each once.
        self._derived: dict[tuple[Algorithm, str | None], SigningKey] = {}

    @property
    def primary(self) -> SigningKey:
        """The key ordinary commands are signed with (the profile's first algorithm)."""
        return self.keys[self.algorithms[0]]

    def trusted(self) -> tuple[TrustedKey, ...]:
        return tuple(trusted_key(k) for k in self.keys.values())

    def trust_store(self) -> TrustStore:
        """The same keys as a reference trust store (for the profile oracle)."""
        return TrustStore(k.verifying_key() for k in self.keys.values())

    def attacker(self, algorithm: Algorithm, key_id: str | None = None) -> SigningKey:
        """A key of the same algorithm, with a trusted key's id but other material."""
        cached = self._derived.get((algorithm, key_id))
        if cached is None:
            cached = self._derived[(algorithm, key_id)] = self._derive_attacker(algorithm, key_id)
        return cached

    def _derive_attacker(self, algorithm: Algorithm, key_id: str | None) -> SigningKey:
        real = self.keys[algorithm]
        wanted = key_id or real.key_id
        return derive_distinct_key(
            f"attacker-{self.seed}", algorithm, wanted, [real.verifying_key()]
        )

    def another(self, algorithm: Algorithm, key_id: str) -> SigningKey:
        """A further control-plane key (rotation, revocation) under ``key_id``, with
        material distinct from the run's trusted keys (RS256 keys come from a few
        bundled fixtures, so a derivation can repeat one)."""
        cached = self._derived.get((algorithm, "another:" + key_id))
        if cached is None:
            trusted = [k.verifying_key() for k in self.keys.values()]
            cached = derive_distinct_key(f"another-{self.seed}", algorithm, key_id, trusted)
            self._derived[(algorithm, "another:" + key_id)] = cached
        return cached

    def stranger(self, algorithm: Algorithm) -> SigningKey:
        """A key whose id the implementation was never told about."""
        return self.attacker(algorithm, key_id=f"ks-unknown-{algorithm.value.lower()}")
