"""What a case body works with: fresh instances of the implementation, commands
in its profile, the run's clock, and a transcript of everything sent.

Every call into the implementation goes through :class:`Instance`, which
records it (the transcript becomes the replayable counterexample file when a
case fails) and turns any misbehaviour — an exception, a malformed reply, an
unknown state — into :class:`~conformance.adapter.ImplementationError`.
"""

from __future__ import annotations

import base64
import itertools
import math
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from conformance.adapter import (
    STATES,
    Capabilities,
    ClockMode,
    Config,
    Factory,
    Implementation,
    ImplementationError,
    Observation,
    PolicyHints,
    TrustedKey,
)
from conformance.clock import Clock, make_clock
from conformance.driver import ProfileDriver
from conformance.keyring import Keyring
from conformance.outcome import CaseFailure, Unsupported
from killswitch import Command, CommandType, SigningKey, from_posix

INSTANCE_ID = "agent-under-test"
ASSET_ID = "asset-billing"
OTHER_INSTANCE = "agent-other"
OTHER_ASSET = "asset-other"
#: Marker for "leave target_asset_id as the default" in :meth:`Context.command`.
_DEFAULT: Any = object()


@dataclass
class Setup:
    """Everything fixed for one run of the suite."""

    factory: Factory
    capabilities: Capabilities
    driver: ProfileDriver
    keyring: Keyring
    clock_mode: ClockMode
    seed: int
    examples: int
    work_dir: Path
    margin: float = 2.0
    max_wait: float = 5.0
    #: Hypothesis settings profile name (``ci``/``thorough``) the examples came from.
    hypothesis_profile: str | None = None
    #: Counters over the run (for figures): test examples started, deliveries made.
    examples_run: int = 0
    deliveries: int = 0

    @property
    def profile_name(self) -> str:
        return self.driver.name

    def has(self, feature: str) -> bool:
        return feature in self.capabilities.features


@dataclass(frozen=True)
class Obs:
    """One delivery's outcome, with the state before it (when known)."""

    accepted: bool | None
    reason: str | None
    state: str
    before: str | None
    #: The hard-kill deadline the implementation reported, if it exposes one.
    hard_kill_at: float | None = None

    @property
    def effective(self) -> bool:
        """Accepted, as reported; or, if the implementation cannot tell, a state change."""
        if self.accepted is not None:
            return self.accepted
        return self.before is not None and self.before != self.state

    def describe(self) -> str:
        verdict = {True: "accepted", False: "rejected", None: "no verdict"}[self.accepted]
        reason = f" ({self.reason})" if self.reason else ""
        return f"{verdict}{reason}, state {self.before} -> {self.state}"


def _text_of(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if len(text) <= 4096 else None


class Instance:
    """One started implementation object; records every call in the transcript."""

    def __init__(self, ctx: Context, impl: Implementation, config: Config) -> None:
        self.ctx = ctx
        self.impl = impl
        self.config = config
        self.known: dict[str | None, str] = {}
        self.closed = False

    def _call(self, op: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"{op} raised {type(exc).__name__}: {exc}") from exc

    def _check_state(self, value: object, op: str) -> str:
        if not isinstance(value, str) or value not in STATES:
            raise ImplementationError(f"{op} reported state {value!r}; expected one of {STATES}")
        return value

    def deliver(
        self, raw: bytes, *, via: str | None = None, to: str | None = None, now: float | None = None
    ) -> Obs:
        ctx = self.ctx
        via = via or ctx.setup.capabilities.transports[0]
        when = ctx.clock.now() if now is None else now
        agent = to or self.config.instance_id
        before = self.known.get(agent)
        step: dict[str, Any] = {
            "op": "deliver",
            "raw_b64": base64.b64encode(raw).decode("ascii"),
            "now": when,
            "via": via,
            "to": to,
        }
        text = _text_of(raw)
        if text is not None:
            step["text"] = text
        ctx.record(step)
        if before is None:
            before = self.state(to)
        ctx.setup.deliveries += 1
        result = self._call("deliver", self.impl.deliver, raw, when, via, to)
        observation = _as_observation(result)
        state = self._check_state(observation.state, "deliver")
        if observation.accepted is not None and not isinstance(observation.accepted, bool):
            raise ImplementationError(f"deliver reported accepted={observation.accepted!r}")
        deadline = observation.hard_kill_at
        if deadline is not None and (
            isinstance(deadline, bool) or not isinstance(deadline, int | float)
        ):
            raise ImplementationError(f"deliver reported hard_kill_at={deadline!r}")
        if deadline is not None and not math.isfinite(deadline):
            # Every comparison with NaN is false, so a deadline check with a
            # tolerance would pass it; infinity is no deadline either.
            raise ImplementationError(
                f"deliver reported hard_kill_at={deadline!r}: not a finite time in POSIX"
                " seconds (null when there is no deadline)"
            )
        step["observed"] = {
            "accepted": observation.accepted,
            "reason": observation.reason,
            "state": state,
        }
        if deadline is not None:
            step["observed"]["hard_kill_at"] = deadline
        self.known[agent] = state
        return Obs(observation.accepted, observation.reason, state, before, deadline)

    def state(self, agent: str | None = None) -> str:
        step: dict[str, Any] = {"op": "state", "agent": agent}
        self.ctx.record(step)
        value = self._check_state(self._call("state", self.impl.state, agent), "state")
        step["observed"] = value
        self.known[agent or self.config.instance_id] = value
        return value

    def restart(self) -> None:
        self.ctx.record({"op": "restart"})
        self._call("restart", self.impl.restart)
        self.known.clear()

    def advance(self, now: float) -> None:
        self.ctx.record({"op": "advance", "now": now})
        self._call("advance", self.impl.advance, now)
        self.known.clear()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close = getattr(self.impl, "close", None)
        if callable(close):
            self._call("close", close)


def _as_observation(result: object) -> Observation:
    if isinstance(result, Observation):
        return result
    if isinstance(result, dict):
        try:
            return Observation(
                result.get("accepted"),
                result.get("reason"),
                result["state"],
                result.get("hard_kill_at"),
            )
        except KeyError:
            raise ImplementationError(f"deliver returned {result!r} without 'state'") from None
    fields = ("accepted", "reason", "state")
    if all(hasattr(result, f) for f in fields):
        accepted, reason, state = (getattr(result, f) for f in fields)
        return Observation(accepted, reason, state, getattr(result, "hard_kill_at", None))
    raise ImplementationError(f"deliver returned {type(result).__name__}, not an Observation")


class Context:
    """One case's view of the run: opens instances, builds commands, checks outcomes."""

    def __init__(self, setup: Setup, case_id: str, seed: int) -> None:
        self.setup = setup
        self.case_id = case_id
        self.seed = seed
        self.clock: Clock = make_clock(setup.clock_mode, setup.margin, setup.max_wait)
        self.instance: Instance | None = None
        self.notes: list[str] = []
        #: SPEC.md requirement ids of the case (for profile-limitation messages).
        self.requirements: tuple[str, ...] = ()
        self._dirs = itertools.count()
        self._steps: list[dict[str, Any]] = []
        self._configs: list[dict[str, Any]] = []
        self._n = 0
        self._base = self.clock.now() - 10.0

    # -- transcript ----------------------------------------------------------------------

    def record(self, step: dict[str, Any]) -> None:
        self._steps.append(step)

    def transcript(self) -> dict[str, Any]:
        return {"configs": list(self._configs), "steps": list(self._steps)}

    def begin_example(self) -> None:
        """Start a fresh example: no instance, clock at its start, empty transcript."""
        self.setup.examples_run += 1
        self.close()
        self.clock.reset()
        self._steps = []
        self._configs = []
        self._n = 0
        self._base = self.clock.now() - 10.0

    # -- instances -----------------------------------------------------------------------

    def open(
        self,
        *,
        policy: PolicyHints | None = None,
        trusted: Iterable[TrustedKey] | None = None,
        hierarchy: tuple[tuple[str, str], ...] = (),
        asset_id: str | None = ASSET_ID,
        revoked: Iterable[str] = (),
    ) -> Instance:
        """A new implementation object, started on an empty state directory.

        Any instance this context had open is closed first.
        """
        self.close()
        setup = self.setup
        state_dir = setup.work_dir / f"{self.case_id}-{next(self._dirs)}"
        shutil.rmtree(state_dir, ignore_errors=True)
        state_dir.mkdir(parents=True)
        config = Config(
            instance_id=INSTANCE_ID,
            asset_id=asset_id,
            trusted_keys=tuple(setup.keyring.trusted() if trusted is None else trusted),
            policy=policy or PolicyHints(),
            state_dir=str(state_dir),
            clock=setup.clock_mode,
            profile=setup.profile_name,
            start_time=self.clock.now(),
            hierarchy=hierarchy,
            revoked_key_ids=tuple(revoked),
        )
        self._configs.append(config.to_json())
        self.record({"op": "start", "config": len(self._configs) - 1})
        try:
            impl = setup.factory()
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"factory raised {type(exc).__name__}: {exc}") from exc
        instance = Instance(self, impl, config)
        instance._call("start", impl.start, config)
        # A fresh state directory: every agent starts RUNNING (SPEC.md's initial state).
        instance.known = {INSTANCE_ID: "RUNNING"}
        instance.known.update({child: "RUNNING" for _, child in hierarchy})
        self.instance = instance
        return instance

    def close(self) -> None:
        if self.instance is not None:
            instance, self.instance = self.instance, None
            instance.close()

    # -- time ----------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass for the implementation (advance, or really sleep)."""
        self.clock.wait(seconds)
        if self.clock.sends_advance and self.instance is not None:
            self.instance.advance(self.clock.now())

    @property
    def wall(self) -> bool:
        return self.clock.mode == "wall"

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # -- commands ------------------------------------------------------------------------

    def next_order(self) -> int:
        self._n += 1
        return self._n

    def command(
        self,
        kind: str | CommandType = CommandType.PAUSE,
        *,
        order: int | None = None,
        target: str = INSTANCE_ID,
        asset: Any = _DEFAULT,
        issued_at: float | None = None,
        expires_at: float | None = None,
        lifetime: float = 120.0,
        key: SigningKey | None = None,
        **fields: Any,
    ) -> Command:
        """A valid command for the agent under test, unless told otherwise.

        ``order`` ranks commands for ordering (issued_at and sequence grow with it).
        """
        n = self.next_order()
        order = n if order is None else order
        issued = self._base + order * 0.01 if issued_at is None else issued_at
        expires = issued + lifetime if expires_at is None else expires_at
        key = key or self.setup.keyring.primary
        return Command(
            command_id=fields.pop("command_id", f"cmd-{n}"),
            command_type=CommandType(kind) if isinstance(kind, str) else kind,
            target_instance_id=target,
            issued_by=fields.pop("issued_by", "ops@example.com"),
            issued_at=_at(issued),
            expires_at=_at(expires),
            nonce=fields.pop("nonce", f"nonce-{self.seed:x}-{n}"),
            reason=fields.pop("reason", "conformance"),
            target_asset_id=ASSET_ID if asset is _DEFAULT else asset,
            cascade=fields.pop("cascade", True),
            grace_period_seconds=fields.pop("grace_period_seconds", 30),
            key_id=key.key_id,
            sequence=order,
            **fields,
        )

    def encode(self, command: Command, key: SigningKey | None = None) -> bytes:
        key = (
            key
            or self.setup.keyring.keys.get(_algorithm_of(command, self))
            or (self.setup.keyring.primary)
        )
        return self.setup.driver.encode(command, key)

    def sign(self, kind: str | CommandType = CommandType.PAUSE, **kwargs: Any) -> bytes:
        """Shorthand: a command encoded and signed with the primary key (or ``key=``)."""
        key = kwargs.get("key")
        return self.setup.driver.encode(
            self.command(kind, **kwargs), key or self.setup.keyring.primary
        )

    # -- checks --------------------------------------------------------------------------

    def fail(self, message: str) -> CaseFailure:
        return CaseFailure(message)

    def expect_rejected(self, obs: Obs, what: str) -> None:
        self._expect({"accepted": False})
        if obs.effective:
            raise CaseFailure(f"{what} was accepted: {obs.describe()}")
        if obs.before is not None and obs.state != obs.before:
            raise CaseFailure(f"{what} was rejected but changed the state: {obs.describe()}")

    def expect_accepted(self, obs: Obs, what: str) -> None:
        self._expect({"accepted": True})
        if not obs.effective:
            raise CaseFailure(f"{what} was not accepted: {obs.describe()}")

    def expect_state(self, actual: str, allowed: Iterable[str], what: str) -> None:
        allowed = tuple(allowed)
        self._expect({"state": list(allowed)})
        if actual not in allowed:
            raise CaseFailure(f"{what}: state is {actual}, expected {' or '.join(allowed)}")

    def _expect(self, expectation: dict[str, Any]) -> None:
        for step in reversed(self._steps):
            if step["op"] in ("deliver", "state"):
                step.setdefault("expect", {}).update(expectation)
                return

    def require(self, feature: str) -> None:
        if not self.setup.has(feature):
            raise Unsupported(f"the implementation does not declare the {feature!r} feature")

    def with_policy(self, **changes: Any) -> PolicyHints:
        return replace(PolicyHints(), **changes)


def _algorithm_of(command: Command, ctx: Context) -> Any:
    for algorithm, key in ctx.setup.keyring.keys.items():
        if key.key_id == command.key_id:
            return algorithm
    return None


def _at(seconds: float) -> datetime:
    # Millisecond resolution: every profile spells it exactly, no float noise.
    return from_posix(round(seconds, 3))


__all__ = [
    "ASSET_ID",
    "INSTANCE_ID",
    "OTHER_ASSET",
    "OTHER_INSTANCE",
    "Context",
    "Instance",
    "Obs",
    "Setup",
]
