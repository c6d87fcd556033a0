"""The conformance cases, one module per area of SPEC.md (see conformance.catalog)."""

from __future__ import annotations

from conformance.adapter import HALTED_FINAL
from conformance.context import Context, Obs
from conformance.outcome import Unsupported

TERMINATED_STATES = tuple(sorted(HALTED_FINAL))


def effect_kind(ctx: Context) -> str:
    """A command kind whose acceptance visibly changes a RUNNING agent's state,
    preferring the reversible PAUSE when the implementation supports it."""
    return "PAUSE" if ctx.setup.has("pause") else "TERMINATE"


def expected_after(kind: str) -> tuple[str, ...]:
    return ("PAUSED",) if kind == "PAUSE" else TERMINATED_STATES


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
