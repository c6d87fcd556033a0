"""Robustness: arbitrary bytes, broken or deeply nested JSON, wrong types and
huge fields are rejected without a crash or a hang.

Where a malformed-looking message is in fact acceptable to the profile (the
seed profile ignores unknown fields and defaults ``cascade``), the profile
oracle decides: the implementation must reject exactly what the profile's
reference decoder and verifier reject, and may accept the rest.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from conformance.cases import effect_kind
from conformance.catalog import case
from conformance.context import Context, Instance
from conformance.driver import Unforgeable
from conformance.hypo import forall


@case("KS-ROBUST-BYTES", "Arbitrary bytes are rejected without a crash", level="L1")
def arbitrary_bytes(ctx: Context) -> None:
    def check(blobs: list[bytes]) -> None:
        inst = ctx.open()
        for blob in blobs:
            ctx.expect_rejected(inst.deliver(blob), f"{len(blob)} arbitrary bytes")
        ctx.expect_state(inst.state(), ("RUNNING",), "after arbitrary bytes")

    forall(ctx, st.lists(st.binary(max_size=600), min_size=1, max_size=6), check)


def _json_garbage(valid: bytes) -> st.SearchStrategy[tuple[str, bytes]]:
    """Broken JSON derived from one valid command."""
    text = valid.decode()
    truncated = st.integers(0, len(valid) - 1).map(lambda n: ("truncated", valid[:n]))
    nested = st.tuples(st.integers(1, 20_000), st.sampled_from(["[", '{"a":'])).map(
        lambda t: (
            f"nested {t[0]} deep",
            (t[1] * t[0] + "1" + ("]" if t[1] == "[" else "}") * t[0]).encode(),
        )
    )
    other = st.sampled_from(
        [
            ("JSON null", b"null"),
            ("a JSON array holding the command", b"[" + valid + b"]"),
            ("a JSON string holding the command", b'"' + valid.replace(b'"', b'\\"') + b'"'),
            ("two commands on one line", valid + valid),
            ("NaN inside", valid.replace(b'"reason":', b'"nan":NaN,"reason":', 1)),
            ("a BOM first", b"\xef\xbb\xbf" + valid),
            ("invalid UTF-8 inside", valid.replace(b'"reason":"', b'"reason":"\xff\xfe', 1)),
            ("a duplicated command_type", ('{"command_type":"TERMINATE",' + text[1:]).encode()),
        ]
    )
    return st.one_of(truncated, nested, other)


@case("KS-ROBUST-JSON", "Truncated, deeply nested or otherwise broken JSON is rejected", level="L1")
def broken_json(ctx: Context) -> None:
    kind = effect_kind(ctx)
    trust = ctx.setup.keyring.trust_store()
    valid = ctx.sign(kind)

    def check(example: tuple[str, bytes]) -> None:
        label, raw = example
        inst = ctx.open()
        obs = inst.deliver(raw)
        if not ctx.setup.driver.profile_accepts(raw, trust):
            ctx.expect_rejected(obs, label)
        inst.state()  # still answering

    forall(ctx, _json_garbage(valid), check)


_WRONG: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], {}, 2**64, ["PAUSE"], {"a": 1}]


def _same_type(a: Any, b: Any) -> bool:
    return type(a) is type(b) and not (isinstance(a, str) and a and b == "")


@case(
    "KS-ROBUST-TYPES",
    "A field of the wrong type is rejected, even when correctly signed",
    level="L1",
)
def wrong_types(ctx: Context) -> None:
    driver = ctx.setup.driver
    trust = ctx.setup.keyring.trust_store()
    kind = effect_kind(ctx)
    inst = ctx.open()
    for field in (*driver.fields, "signature"):
        for value in _WRONG:
            obj = driver.to_dict(ctx.sign(kind))
            if _same_type(obj[field], value) or obj[field] == value:
                continue
            obj[field] = value
            try:
                raw = (
                    driver.from_dict(obj)
                    if field == "signature"
                    else driver.resign(obj, ctx.setup.keyring.primary)
                )
            except (Unforgeable, ValueError, TypeError):
                raw = driver.from_dict(obj)
            what = f"{field} = {value!r}"
            obs = inst.deliver(raw)
            if driver.profile_accepts(raw, trust):
                inst = ctx.open() if obs.effective else inst  # legitimately accepted: start over
                continue
            ctx.expect_rejected(obs, f"a command with {what}")


def _huge(ctx: Context, inst: Instance, field: str, size: int) -> None:
    driver = ctx.setup.driver
    obj = driver.to_dict(ctx.sign(effect_kind(ctx)))
    obj[field] = "x" * size
    try:
        raw = driver.resign(obj, ctx.setup.keyring.primary)
    except Unforgeable:
        raw = driver.from_dict(obj)
    ctx.expect_rejected(inst.deliver(raw), f"a command whose {field} is {size:,} characters")


@case("KS-ROBUST-HUGE", "Huge messages and fields are rejected without a hang", level="L2")
def huge(ctx: Context) -> None:
    limit = ctx.with_policy().max_message_bytes
    inst = ctx.open()
    for field, size in (("reason", 1 << 20), ("issued_by", 64 * 1024), ("command_id", 4 * limit)):
        _huge(ctx, inst, field, size)
    padded = b" " * (1 << 20) + ctx.sign(effect_kind(ctx))
    ctx.expect_rejected(inst.deliver(padded), "a valid command after 1 MiB of whitespace")
    ctx.expect_state(inst.state(), ("RUNNING",), "after the huge messages")
