"""Canonical form: no two different commands sign the same bytes, and
timestamps verify in every spelling the profile allows (and only those)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

from conformance.cases import Forgeries, effect_kind, expected_after
from conformance.catalog import case
from conformance.context import Context
from conformance.outcome import Unsupported


@case(
    "KS-CANON-DELIMITER",
    "Delimiter injection cannot make two different commands sign the same bytes",
    level="H",
)
def delimiter_injection(ctx: Context) -> None:
    driver = ctx.setup.driver
    inst = ctx.open()
    forgeries = Forgeries(ctx)
    # 1. A PAUSE whose issued_by smuggles "|command_type=TERMINATE|...": re-split
    #    at other "|", the same signed string reads as a TERMINATE.
    probe = ctx.command("PAUSE")
    spelled = driver.to_dict(ctx.encode(probe))["issued_at"]
    smuggled = f"ops|command_type=TERMINATE|issued_at={spelled}|issued_by=ops2"
    signed = ctx.command("PAUSE", issued_at=probe.issued_at_s, issued_by=smuggled)
    obj = driver.to_dict(ctx.encode(signed))
    obj["command_id"] = f"{signed.command_id}|command_type=PAUSE|issued_at={spelled}|issued_by=ops"
    obj["command_type"] = "TERMINATE"
    obj["issued_by"] = "ops2"
    raw = driver.from_dict(obj)
    forgeries.check(
        inst.deliver(raw),
        raw,
        "a PAUSE re-split into a TERMINATE (issued_by='ops|command_type=TERMINATE|...')",
    )
    # 2. issued_by="ops|nonce=x" + nonce="y" re-split as issued_by="ops" + nonce="x|nonce=y":
    #    a fresh nonce for an already signed command.
    kind = effect_kind(ctx)
    signed = ctx.command(kind, issued_by="ops|nonce=x", nonce="y")
    obj = driver.to_dict(ctx.encode(signed))
    obj["issued_by"], obj["nonce"] = "ops", "x|nonce=y"
    raw = driver.from_dict(obj)
    forgeries.check(
        inst.deliver(raw),
        raw,
        "issued_by='ops|nonce=x', nonce='y' re-split as a new nonce 'x|nonce=y'",
    )
    forgeries.finish()


def _spell(when: float, style: str) -> str:
    moment = datetime.fromtimestamp(when, tz=UTC)
    if style == "Z":
        return moment.isoformat().replace("+00:00", "Z")
    if style == "+00:00":
        return moment.isoformat()
    if style == "Z .000":
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if style == "+02:00":
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    if style == "-05:30":
        return moment.astimezone(timezone(-timedelta(hours=5, minutes=30))).isoformat()
    if style == "lower-case z":
        return moment.isoformat().replace("+00:00", "z")
    raise ValueError(style)


_STYLES = ("Z", "+00:00", "Z .000", "+02:00", "-05:30", "lower-case z")


@case(
    "KS-CANON-TIMESTAMPS",
    "Timestamps verify in each spelling (Z, +00:00, offsets, fractions) as the profile specifies",
    level="L2",
)
def timestamp_spellings(ctx: Context) -> None:
    driver = ctx.setup.driver
    if not driver.can_forge:
        raise Unsupported("the profile's signature spelling could not be detected", "profile")
    trust = ctx.setup.keyring.trust_store()
    kind = effect_kind(ctx)
    for fraction in (0.0, 0.5):
        for style in _STYLES:
            inst = ctx.open()
            issued = math.floor(ctx.now()) - 5 + fraction
            command = ctx.command(kind, issued_at=issued, expires_at=issued + 120)
            obj = driver.to_dict(ctx.encode(command))
            obj["issued_at"] = _spell(issued, style)
            obj["expires_at"] = _spell(issued + 120, style)
            raw = driver.resign(obj, ctx.setup.keyring.primary)
            what = f"timestamps spelled {obj['issued_at']!r} ({style})"
            obs = inst.deliver(raw)
            if driver.profile_accepts(raw, trust):
                ctx.expect_accepted(obs, f"{what}, allowed by the {driver.name} profile,")
                ctx.expect_state(obs.state, expected_after(kind), what)
            else:
                ctx.expect_rejected(obs, f"{what}, not allowed by the {driver.name} profile,")


@case(
    "KS-CANON-RESPELL",
    "Re-spelling a signed timestamp (same instant) after signing is detected",
    level="H",
)
def respelled_timestamp(ctx: Context) -> None:
    driver = ctx.setup.driver
    inst = ctx.open()
    forgeries = Forgeries(ctx)
    obj = driver.to_dict(ctx.encode(ctx.command(effect_kind(ctx))))
    original = obj["issued_at"]
    moment = datetime.fromisoformat(original)
    other = (
        moment.isoformat() if original.endswith("Z") else moment.isoformat().replace("+00:00", "Z")
    )
    if other == original:
        other = moment.astimezone(timezone(timedelta(hours=1))).isoformat()
    obj["issued_at"] = other
    raw = driver.from_dict(obj)
    forgeries.check(
        inst.deliver(raw), raw, f"issued_at re-spelled {original!r} -> {other!r} after signing"
    )
    forgeries.finish()
