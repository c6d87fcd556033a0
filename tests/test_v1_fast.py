"""The canonical fast path of the v1 decoder agrees with the strict decoder.

``v1_fast.decode_canonical`` may only narrow: whenever it answers, the strict
decoder must produce the same envelope; when it declines, the strict one
decides. Checked on commands with hostile strings and on mutated wire bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from killswitch import Algorithm, Command, CommandType, MalformedCommand, derive_signing_key
from killswitch.profiles import V1Profile
from killswitch.profiles.v1_fast import decode_canonical

V1 = V1Profile()
KEYS = {a: derive_signing_key(11, a, f"k-{a.value}") for a in Algorithm}
text = st.text(min_size=1, max_size=40)


@st.composite
def commands(draw: st.DrawFn) -> tuple[Command, Algorithm]:
    issued = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=draw(st.integers(0, 10**12)))
    algorithm = draw(st.sampled_from(list(Algorithm)))
    command = Command(
        command_id=draw(text),
        command_type=draw(st.sampled_from(list(CommandType))),
        target_instance_id=draw(text),
        issued_by=draw(text),
        issued_at=issued,
        expires_at=issued + timedelta(seconds=draw(st.integers(1, 600))),
        nonce=draw(text),
        reason=draw(st.text(max_size=40)),
        target_asset_id=draw(st.none() | text),
        cascade=draw(st.booleans()),
        grace_period_seconds=draw(st.integers(0, 2**53 - 1)),
        key_id=KEYS[algorithm].key_id,
        sequence=draw(st.integers(0, 2**53 - 1)),
    )
    return command, algorithm


def strict(raw: bytes) -> object:
    try:
        return V1.decode_strict(raw)
    except MalformedCommand:
        return "MALFORMED"


def assert_agrees(raw: bytes) -> bool:
    fast = decode_canonical(raw)
    if fast is None:
        return False
    envelope = strict(raw)
    assert envelope != "MALFORMED", raw
    command, algorithm, signature, signed = fast
    assert (command, algorithm, signature) == (
        envelope.command,  # type: ignore[attr-defined]
        envelope.algorithm,  # type: ignore[attr-defined]
        envelope.signature,  # type: ignore[attr-defined]
    )
    assert b"killswitch/v1\n" + signed == envelope.signed_bytes  # type: ignore[attr-defined]
    return True


@settings(max_examples=300, deadline=None)
@given(commands())
def test_fast_path_equals_strict_path_on_encoded_commands(case: tuple[Command, Algorithm]) -> None:
    command, algorithm = case
    raw = V1.encode(command, KEYS[algorithm])
    used = assert_agrees(raw)
    fields = [command.command_id, command.target_instance_id, command.issued_by]
    fields += [command.nonce, command.reason, command.target_asset_id or ""]
    if all(c not in '"\\' and ord(c) >= 32 for c in "".join(fields)):
        assert used, "the fast path must take every plain canonical command"


@settings(max_examples=400, deadline=None)
@given(commands(), st.data())
def test_fast_path_never_accepts_what_strict_rejects(
    case: tuple[Command, Algorithm], data: st.DataObject
) -> None:
    command, algorithm = case
    raw = bytearray(V1.encode(command, KEYS[algorithm]))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = data.draw(st.sampled_from(list(b' "\\{},:0123456789abcdefAZtn\x00\x1f\xc3\xff')))
        if action == "flip":
            raw[position] = byte
        elif action == "insert":
            raw.insert(position, byte)
        elif len(raw) > 1:
            del raw[position]
    assert_agrees(bytes(raw))


def test_fast_path_declines_non_canonical_spellings() -> None:
    command, algorithm = Command(
        "c1", CommandType.PAUSE, "agent-1", "ops", datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 5, tzinfo=UTC), "n1", key_id="k-Ed25519", sequence=1,
    ), Algorithm.ED25519  # fmt: skip
    raw = V1.encode(command, KEYS[algorithm])
    assert decode_canonical(raw) is not None
    for variant in (
        raw.replace(b'"cascade":true,', b'"cascade": true,'),
        raw.replace(b'"reason":""', b'"reason":"\\u0041"'),
        raw.replace(b'"sequence":1,', b'"sequence":1.0,'),
        raw.replace(b'"sequence":1,', b'"sequence":01,'),
        raw.replace(b'"v":1}', b'"v":1,"v":1}'),
        raw.upper(),
    ):
        assert decode_canonical(variant) is None
    for variant in (
        raw.replace(b'"ops"', b'"o\x00ps"'),  # a raw control character: JSON forbids it
        raw.replace(b'"ops"', b'"o\xffps"'),  # not UTF-8
        raw.replace(b'"n1"', b'"n1\x1f"'),
    ):
        assert decode_canonical(variant) is None
        assert strict(variant) == "MALFORMED"
    signature = V1.to_dict(raw)["signature"].encode()
    for spelled in (signature.upper(), signature[:2] + b" " + signature[2:], signature[:-1]):
        variant = raw.replace(signature, spelled)
        assert decode_canonical(variant) is None
        assert strict(variant) == "MALFORMED"
