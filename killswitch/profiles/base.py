"""The profile interface: a wire format plus the definition of the signed bytes.

A profile turns a :class:`~killswitch.command.Command` into signed bytes
(:meth:`Profile.encode`) and bytes back into an :class:`Envelope`
(:meth:`Profile.decode`), and says how to check the signature
(:meth:`Profile.verify`). Decoding never trusts anything: the listener acts
on an envelope only after :meth:`Profile.verify` returned ``None``.

A new profile is a small subclass: see ``seed.py`` (about 100 lines) and ``v1.py``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from killswitch.command import Command, CommandType
from killswitch.decision import Reason
from killswitch.keys import SigningKey, TrustStore


class MalformedCommand(ValueError):
    """The bytes are not a well-formed command for this profile (says which field and why)."""


@dataclass(frozen=True)
class Envelope:
    """A decoded but not yet verified command."""

    command: Command
    #: The algorithm name exactly as the wire states it (may be "none" or garbage).
    algorithm: str
    #: The signature, decoded from its wire encoding (not yet validated).
    signature: bytes
    #: The exact bytes the signature must cover, computed by this profile.
    signed_bytes: bytes


class Profile(ABC):
    """A wire format and signing scheme."""

    #: The name used on the command line and in reports (``seed``, ``v1``).
    name: ClassVar[str]
    #: Whether this profile's commands carry a ``sequence`` used for ordering.
    has_sequence: ClassVar[bool] = False
    #: Fields a forger can change without breaking the signature (documented weakness).
    unsigned_fields: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def encode(self, command: Command, key: SigningKey) -> bytes:
        """Sign ``command`` with ``key`` and serialise it to wire bytes."""

    @abstractmethod
    def decode(self, raw: bytes) -> Envelope:
        """Parse wire bytes; raise :class:`MalformedCommand` naming the problem."""

    @abstractmethod
    def verify(self, envelope: Envelope, trust: TrustStore) -> Reason | None:
        """``None`` if the signature is valid under ``trust``, else the reason it is not."""

    def to_dict(self, raw: bytes) -> dict[str, Any]:
        """The wire object as a dict (for tools that tamper with single fields)."""
        return load_object(raw)

    def from_dict(self, obj: dict[str, Any]) -> bytes:
        """Wire bytes for a (possibly tampered) dict, in this profile's JSON style."""
        return json.dumps(obj).encode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _no_constants(name: str) -> Any:
    raise MalformedCommand(f"non-finite number {name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedCommand(f"duplicate key {key!r}")
            seen.add(key)
    return obj


# Built once: json.loads(text, **options) would build a decoder per call.
_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constants)


def load_object(raw: bytes, max_bytes: int = 1 << 20) -> dict[str, Any]:
    """Parse one JSON object strictly: UTF-8, no NaN/Infinity, no duplicate keys."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MalformedCommand(f"expected bytes, got {type(raw).__name__}")
    if len(raw) > max_bytes:
        raise MalformedCommand(f"message is {len(raw)} bytes, limit {max_bytes}")
    try:
        text = bytes(raw).decode("utf-8")
        obj = _STRICT_DECODER.decode(text)
    except MalformedCommand:
        raise
    except RecursionError:
        raise MalformedCommand("JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedCommand(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedCommand(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def req_str(obj: dict[str, Any], name: str) -> str:
    """``obj[name]``, which must be present and a string."""
    if name not in obj:
        raise MalformedCommand(f"missing field {name!r}")
    value = obj[name]
    if not isinstance(value, str):
        raise MalformedCommand(f"field {name!r} must be a string, got {type(value).__name__}")
    return value


def opt_str(obj: dict[str, Any], name: str) -> str | None:
    """``obj[name]`` if present and not null; it must then be a string."""
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedCommand(
            f"field {name!r} must be a string or null, got {type(value).__name__}"
        )
    return value


def command_type(obj: dict[str, Any]) -> CommandType:
    value = req_str(obj, "command_type")
    try:
        return CommandType(value)
    except ValueError:
        raise MalformedCommand(
            f"field 'command_type' must be TERMINATE, PAUSE or RESUME, got {value!r}"
        ) from None
