"""Signing keys, trusted verification keys, and the trust store.

Every key is pinned to exactly one algorithm (RFC 8725 §3.1): the algorithm a
command claims must equal its key's algorithm, so switching algorithms or
claiming ``none`` can never change how a signature is checked.

Signatures here are in each algorithm's *native* encoding as ``cryptography``
produces it (DER for ES256); a profile converts to its wire encoding.
Private key material never appears in a ``repr``.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_SHA256 = hashes.SHA256()
_ECDSA = ec.ECDSA(_SHA256)
_ECDSA_DETERMINISTIC = ec.ECDSA(_SHA256, deterministic_signing=True)
_PKCS1 = padding.PKCS1v15()


class Algorithm(enum.Enum):
    """Signature algorithms, by their wire name."""

    #: EdDSA over Curve25519 (RFC 8032); deterministic by construction.
    ED25519 = "Ed25519"
    #: ECDSA P-256 with SHA-256; signed deterministically (RFC 6979).
    ES256 = "ES256"
    #: RSASSA-PKCS1-v1_5 with SHA-256; deterministic by construction.
    RS256 = "RS256"

    def __repr__(self) -> str:
        return f"Algorithm.{self.name}"

    @classmethod
    def from_wire(cls, name: object) -> Algorithm | None:
        """The algorithm for a wire name, or None (``none``, unknown, wrong type)."""
        return _BY_WIRE_NAME.get(name) if isinstance(name, str) else None


_BY_WIRE_NAME = {algorithm.value: algorithm for algorithm in Algorithm}


def _algorithm_of(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return Algorithm.ED25519
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"ES256 needs a P-256 key, got curve {key.curve.name}")
        return Algorithm.ES256
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"RS256 needs an RSA key of at least 2048 bits, got {key.key_size}")
        return Algorithm.RS256
    raise ValueError(f"unsupported key type {type(key).__name__}")


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A trusted public key, pinned to one algorithm."""

    key_id: str
    algorithm: Algorithm
    public_key: PublicKey = field(repr=False, compare=False)
    _check: Callable[[bytes, bytes], None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        actual = _algorithm_of(self.public_key)
        if actual is not self.algorithm:
            raise ValueError(
                f"key {self.key_id!r} is a {actual.value} key, not {self.algorithm.value}"
            )
        # Bind the algorithm's parameters once: verify() runs on every delivery.
        key = self.public_key
        check: Callable[[bytes, bytes], None]
        if isinstance(key, ed25519.Ed25519PublicKey):
            check = key.verify
        elif isinstance(key, ec.EllipticCurvePublicKey):
            check = functools.partial(key.verify, signature_algorithm=_ECDSA)
        else:
            check = functools.partial(key.verify, padding=_PKCS1, algorithm=_SHA256)
        object.__setattr__(self, "_check", check)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` (native encoding) is valid for ``message``."""
        try:
            self._check(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_pem(self) -> str:
        """SubjectPublicKeyInfo PEM, for handing to an implementation under test."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @classmethod
    def from_pem(
        cls, key_id: str, pem: str | bytes, algorithm: Algorithm | None = None
    ) -> VerifyingKey:
        data = pem.encode() if isinstance(pem, str) else pem
        public = serialization.load_pem_public_key(data)
        if not isinstance(
            public, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
        ):
            raise ValueError(f"unsupported public key type {type(public).__name__}")
        return cls(key_id, algorithm or _algorithm_of(public), public)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A control-plane private key. Its repr shows the key id and algorithm only."""

    key_id: str
    algorithm: Algorithm
    private_key: PrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        actual = _algorithm_of(self.private_key)
        if actual is not self.algorithm:
            raise ValueError(
                f"key {self.key_id!r} is a {actual.value} key, not {self.algorithm.value}"
            )

    def sign(self, message: bytes) -> bytes:
        """Deterministic signature in the algorithm's native encoding (DER for ES256)."""
        key = self.private_key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(message)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(message, _ECDSA_DETERMINISTIC)
        return key.sign(message, _PKCS1, _SHA256)

    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey(self.key_id, self.algorithm, self.private_key.public_key())


def derive_signing_key(seed: int | bytes | str, algorithm: Algorithm, key_id: str) -> SigningKey:
    """A test key derived from ``seed``: the same seed always gives the same key.

    Ed25519 and P-256 keys are derived from SHA-256 of the seed and key id.
    RSA keys cannot be derived cheaply, so RS256 picks one of the bundled
    fixture keys (``killswitch/fixtures/test-rsa-*.pem``) by the same hash.
    These keys are for tests and simulations only.
    """
    material = seed if isinstance(seed, bytes) else str(seed).encode()
    digest = hashlib.sha256(b"killswitch-test-key\0" + material + b"\0" + key_id.encode()).digest()
    private: PrivateKey
    if algorithm is Algorithm.ED25519:
        private = ed25519.Ed25519PrivateKey.from_private_bytes(digest)
    elif algorithm is Algorithm.ES256:
        order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        scalar = int.from_bytes(digest, "big") % (order - 1) + 1
        private = ec.derive_private_key(scalar, ec.SECP256R1())
    else:
        names = fixture_rsa_names()
        private = load_fixture_rsa(names[digest[0] % len(names)])
    return SigningKey(key_id, algorithm, private)


def derive_distinct_key(
    label: str, algorithm: Algorithm, key_id: str, avoid: Iterable[VerifyingKey]
) -> SigningKey:
    """A test key like :func:`derive_signing_key` whose material differs from every
    key in ``avoid`` (an attacker's or a rotated key: RS256 test keys come from a
    few bundled fixtures, so a plain derivation can repeat one)."""
    taken = {key.public_pem() for key in avoid}
    for n in range(64):
        candidate = derive_signing_key(f"{label}-{n}", algorithm, key_id)
        if candidate.verifying_key().public_pem() not in taken:
            return candidate
    raise ValueError(f"no {algorithm.value} test key distinct from {len(taken)} given keys")


def fixture_rsa_names() -> list[str]:
    folder = resources.files("killswitch") / "fixtures"
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".pem"))


def load_fixture_rsa(name: str) -> rsa.RSAPrivateKey:
    data = (resources.files("killswitch") / "fixtures" / name).read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"fixture {name} is not an RSA key")
    return key


class TrustStore:
    """The public keys an agent trusts, by key id, with revocation for rotation.

    Several keys may be active at once (rotation overlap). A revoked key id
    stays known as revoked so it can never be re-added by mistake.
    """

    __slots__ = ("_keys", "_revoked")

    def __init__(self, keys: Iterable[VerifyingKey] = ()) -> None:
        self._keys: dict[str, VerifyingKey] = {}
        self._revoked: set[str] = set()
        for key in keys:
            self.add(key)

    def add(self, key: VerifyingKey) -> None:
        if key.key_id in self._revoked:
            raise ValueError(f"key {key.key_id!r} was revoked and cannot be trusted again")
        if key.key_id in self._keys:
            raise ValueError(f"key id {key.key_id!r} is already in the trust store")
        self._keys[key.key_id] = key

    def revoke(self, key_id: str) -> None:
        self._keys.pop(key_id, None)
        self._revoked.add(key_id)

    def get(self, key_id: str) -> VerifyingKey | None:
        """The active key with this id, or None (unknown or revoked)."""
        return self._keys.get(key_id)

    def is_revoked(self, key_id: str) -> bool:
        return key_id in self._revoked

    def __iter__(self) -> Iterator[VerifyingKey]:
        return iter(list(self._keys.values()))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"TrustStore({list(self._keys.values())!r})"
