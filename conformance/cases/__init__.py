"""The conformance cases, one module per area of SPEC.md (see conformance.catalog)."""

from __future__ import annotations

import math
from typing import Any

from conformance.adapter import HALTED_FINAL
from conformance.context import Context, Instance, Obs
from conformance.outcome import Unsupported

TERMINATED_STATES = tuple(sorted(HALTED_FINAL))


def effect_kind(ctx: Context) -> str:
    """A command kind whose acceptance visibly changes a RUNNING agent's state,
    preferring the reversible PAUSE when the implementation supports it."""
    return "PAUSE" if ctx.setup.has("pause") else "TERMINATE"


def command_kinds(ctx: Context, *, resume: bool = True) -> tuple[str, ...]:
    """Every command kind the implementation takes, :func:`effect_kind` first.

    A rule that makes a command invalid (target, time, signature) must hold for
    each kind: probed with PAUSE alone, a listener that checks PAUSEs but obeys
    any authentic TERMINATE reached H. TERMINATE, whose wrongful acceptance
    cannot be undone, is always among them; a RESUME wrongly accepted undoes a
    halt (``resume=False`` leaves it out where no PAUSE can set one up). The
    effect kind comes first so that an implementation failing with it fails
    with the same first message as when only that kind was probed.
    """
    if not ctx.setup.has("pause"):
        return ("TERMINATE",)
    return ("PAUSE", "TERMINATE", "RESUME") if resume else ("PAUSE", "TERMINATE")


def expected_after(kind: str) -> tuple[str, ...]:
    if kind == "RESUME":
        return ("RUNNING",)
    return ("PAUSED",) if kind == "PAUSE" else TERMINATED_STATES


class Armed:
    """Fresh instances in which a valid command of one kind would act.

    TERMINATE and PAUSE act on the RUNNING agent a fresh instance is. A RESUME
    acts only on a PAUSED one, so each instance is first paused by a genuine
    PAUSE. That PAUSE is signed here, before the caller signs the RESUME under
    test, and issued before ``issued_at`` when that is given: the RESUME is the
    newer command by sequence and by issue time, so nothing but its own defect
    (target, time, signature) can be why it is refused.
    """

    def __init__(self, ctx: Context, kind: str, *, issued_at: float | None = None) -> None:
        self.ctx = ctx
        self.kind = kind
        self.pause: bytes | None = None
        if kind != "RESUME":
            return
        if issued_at is None:
            self.pause = ctx.sign("PAUSE")
            return
        now = ctx.now()
        issued = min(issued_at, now) - 1.0
        # Valid from now until well after any wait a case makes, within the lifetime limit.
        lifetime = min(ctx.with_policy().max_lifetime_s, max(60.0, now + 60.0 - issued))
        self.pause = ctx.sign("PAUSE", issued_at=issued, expires_at=issued + lifetime)

    @property
    def before(self) -> str:
        """The state the instances are in when the command under test arrives."""
        return "RUNNING" if self.pause is None else "PAUSED"

    def open(self, **kwargs: Any) -> Instance:
        """A fresh instance (``kwargs`` as for :meth:`Context.open`), paused for a RESUME."""
        inst = self.ctx.open(**kwargs)
        if self.pause is not None:
            obs = inst.deliver(self.pause)
            what = "a valid PAUSE (so that the RESUME under test has a halt to undo)"
            self.ctx.expect_accepted(obs, what)
            self.ctx.expect_state(obs.state, ("PAUSED",), f"after {what}")
        return inst


def finite_time(ctx: Context, value: float, what: str) -> float:
    """``value`` if it is a finite number of seconds, else a failure naming ``what``.

    Deadline checks compare with a tolerance, and every comparison with NaN is
    false: ``abs(nan - expected) > tolerance`` would let a NaN deadline pass.
    """
    if not math.isfinite(value):
        raise ctx.fail(f"{what} is {value!r}, not a finite time in POSIX seconds")
    return value


class Forgeries:
    """Checks deliveries of forged commands against the profile oracle.

    A forgery the implementation accepts is a FAIL, unless the profile itself
    accepts it (:meth:`~conformance.driver.ProfileDriver.profile_accepts`):
    then no implementation of that profile could reject it, and the case
    reports a profile limitation (UNSUPPORTED) naming what went undetected.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.trust = ctx.setup.keyring.trust_store()
        self.undetected: list[str] = []

    def check(self, obs: Obs, raw: bytes, what: str) -> None:
        if not obs.effective:
            self.ctx.expect_rejected(obs, what)  # also checks the state did not move
            return
        if self.ctx.setup.driver.profile_accepts(raw, self.trust):
            self.undetected.append(what)
            return
        self.ctx.expect_rejected(obs, what)

    def finish(self) -> None:
        if self.undetected:
            profile = self.ctx.setup.profile_name
            requirement = ", ".join(self.ctx.requirements) or "SPEC.md"
            raise Unsupported(
                f"profile limitation ({requirement}): the {profile} profile cannot detect "
                + "; ".join(self.undetected),
                "profile",
            )
