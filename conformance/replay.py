"""Replaying a counterexample file (``killswitch conform ... --replay FILE``).

The file holds the configurations and every call the suite made in the
failing example, what the implementation answered then, and what the
property expected where it says. Replaying re-runs the calls on fresh state
directories against the implementation given on the command line and
reports, step by step, what it answers now and whether each expectation holds.

Time: with clock ``injected`` every call is made at its recorded time, so a
replay months later still sees the commands as they were. An implementation
that reads its own clock (``wall``) cannot be taken back in time: the calls
are made now (keeping the recorded gaps between deliveries, up to
``--max-wait``), and when a command's validity has changed since it was
recorded (it expired, say) the replay is *inconclusive*, never "fixed".

The whole file is checked before anything runs: a damaged file is a
:class:`ReplayError` naming the field, whatever the implementation.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from conformance.adapter import (
    CLOCK_MODES,
    STATES,
    Config,
    ImplementationError,
    PolicyHints,
    escaped,
    watch_interrupts,
)
from conformance.context import Setup
from conformance.report import COUNTEREXAMPLE_SCHEMA
from killswitch import Profile

#: What a replay concluded: every expectation held (0), one did not or the replay
#: cannot tell (1), Ctrl-C stopped it (130).
Outcome = Literal["fixed", "fails", "inconclusive", "interrupted"]
OPS = ("start", "deliver", "state", "restart", "advance")


class ReplayError(ValueError):
    """The file is not a counterexample this version can replay."""


@dataclass(frozen=True)
class Step:
    """One recorded call, checked."""

    index: int
    op: str
    config: int = 0
    raw: bytes = b""
    now: float = 0.0
    via: str = ""
    #: ``to`` of a delivery, ``agent`` of a state query.
    agent: str | None = None
    text: str | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    observed: Any = None


@dataclass(frozen=True)
class Counterexample:
    path: Path
    case: str
    title: str
    failure: str
    #: The clock mode it was recorded in.
    clock: str
    profile: str
    configs: tuple[Mapping[str, Any], ...]
    steps: tuple[Step, ...]


@dataclass
class ReplayResult:
    lines: list[str]
    outcome: Outcome

    @property
    def exit_code(self) -> int:
        return {"fixed": 0, "fails": 1, "inconclusive": 1, "interrupted": 130}[self.outcome]


# -- reading and checking the file -------------------------------------------------------


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def bad(self, where: str, problem: str) -> ReplayError:
        return ReplayError(f"--replay {self.path}: {where}: {problem}")

    def string(
        self, obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False
    ) -> Any:
        value = obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.bad(f"{where}.{key}", f"must be a string, got {value!r:.60}")
        return value

    def number(self, obj: Mapping[str, Any], key: str, where: str) -> float:
        value = obj.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.bad(f"{where}.{key}", f"must be a finite number, got {value!r:.60}")
        return float(value)

    def strings(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.bad(where, f"must be a list of strings, got {value!r:.60}")
        return value

    def policy(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise self.bad(where, f"must be an object, got {value!r:.60}")
        defaults = {f.name: f.default for f in dataclasses.fields(PolicyHints)}
        for key, given in value.items():
            if key not in defaults:
                known = ", ".join(defaults)
                raise self.bad(f"{where}.{key}", f"unknown policy member (known: {known})")
            default = defaults[key]
            if isinstance(default, bool):
                ok = isinstance(given, bool)
            elif isinstance(default, int) and not isinstance(default, bool):
                ok = isinstance(given, int) and not isinstance(given, bool)
            else:  # seconds; None allowed where the default is None
                ok = (given is None and default is None) or (
                    isinstance(given, int | float)
                    and not isinstance(given, bool)
                    and math.isfinite(given)
                )
            if not ok:
                raise self.bad(f"{where}.{key}", f"has the wrong type: {given!r:.60}")

    def config(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.bad(where, f"must be an object, got {value!r:.60}")
        self.string(value, "instance_id", where)
        self.string(value, "asset_id", where, optional=True)
        self.string(value, "profile", where)
        clock = self.string(value, "clock", where)
        if clock not in CLOCK_MODES:
            raise self.bad(f"{where}.clock", f"must be one of {CLOCK_MODES}, got {clock!r}")
        self.number(value, "start_time", where)
        self.policy(value.get("policy"), f"{where}.policy")
        keys = value.get("trusted_keys")
        if not isinstance(keys, list):
            raise self.bad(f"{where}.trusted_keys", f"must be a list, got {keys!r:.60}")
        for n, key in enumerate(keys):
            at = f"{where}.trusted_keys[{n}]"
            if not isinstance(key, dict):
                raise self.bad(at, "must be an object")
            for name in ("key_id", "algorithm", "public_pem"):
                self.string(key, name, at)
            if not isinstance(key.get("jwk", {}), dict):
                raise self.bad(f"{at}.jwk", "must be an object")
        edges = value.get("hierarchy", [])
        if not isinstance(edges, list) or not all(
            isinstance(e, list) and len(e) == 2 and all(isinstance(n, str) for n in e)
            for e in edges
        ):
            raise self.bad(f"{where}.hierarchy", "must be a list of [parent, child] names")
        self.strings(value.get("revoked_key_ids", []), f"{where}.revoked_key_ids")
        try:  # anything the checks above missed is still a message, not a traceback
            Config.from_json(value, "/")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self.bad(where, f"{type(exc).__name__}: {exc}") from None
        return value

    def expect(self, value: Any, where: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.bad(where, f"must be an object, got {value!r:.60}")
        if "accepted" in value and not isinstance(value["accepted"], bool):
            raise self.bad(f"{where}.accepted", f"must be true or false, got {value['accepted']!r}")
        if "state" in value:
            self.strings(value["state"], f"{where}.state")
        return value

    def step(self, value: Any, index: int, configs: int, started: bool) -> Step:
        where = f"steps[{index}]"
        if not isinstance(value, dict):
            raise self.bad(where, f"must be an object, got {value!r:.60}")
        op = value.get("op")
        if op not in OPS:
            raise self.bad(f"{where}.op", f"must be one of {OPS}, got {op!r:.60}")
        if op != "start" and not started:
            raise self.bad(where, f"{op} before any start")
        expect = self.expect(value.get("expect"), f"{where}.expect")
        common: dict[str, Any] = {"index": index, "op": op, "expect": expect}
        common["observed"] = value.get("observed")
        if op == "start":
            number = value.get("config")
            if isinstance(number, bool) or not isinstance(number, int):
                raise self.bad(f"{where}.config", f"must be an index into configs, got {number!r}")
            if not 0 <= number < configs:
                raise self.bad(
                    f"{where}.config", f"{number} is out of range: the file has {configs} config(s)"
                )
            return Step(config=number, **common)
        if op == "deliver":
            encoded = self.string(value, "raw_b64", where)
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.bad(f"{where}.raw_b64", f"not valid base64: {exc}") from None
            return Step(
                raw=raw,
                now=self.number(value, "now", where),
                via=self.string(value, "via", where),
                agent=self.string(value, "to", where, optional=True),
                text=self.string(value, "text", where, optional=True),
                **common,
            )
        if op == "state":
            return Step(agent=self.string(value, "agent", where, optional=True), **common)
        if op == "advance":
            return Step(now=self.number(value, "now", where), **common)
        return Step(**common)


def load(path: Path) -> Counterexample:
    """The counterexample in ``path``, checked throughout; ReplayError otherwise."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"--replay {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReplayError(f"--replay {path}: not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != COUNTEREXAMPLE_SCHEMA:
        raise ReplayError(f"--replay {path}: not a {COUNTEREXAMPLE_SCHEMA} file")
    check = _Checker(path)
    configs = document.get("configs")
    if not isinstance(configs, list) or not configs:
        raise check.bad("configs", "must be a non-empty list of configurations")
    checked = tuple(check.config(c, f"configs[{n}]") for n, c in enumerate(configs))
    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise check.bad("steps", "must be a non-empty list of calls")
    steps: list[Step] = []
    for index, value in enumerate(raw_steps):
        steps.append(check.step(value, index, len(checked), started=bool(steps)))
    clock = document.get("clock", "injected")
    if clock not in CLOCK_MODES:
        raise check.bad("clock", f"must be one of {CLOCK_MODES}, got {clock!r:.60}")
    return Counterexample(
        path=path,
        case=str(document.get("case", "?")),
        title=str(document.get("title", "")),
        failure=str(document.get("failure", "")),
        clock=clock,
        profile=str(document.get("profile", checked[0]["profile"])),
        configs=checked,
        steps=tuple(steps),
    )


# -- replaying ---------------------------------------------------------------------------


def _check(expect: Mapping[str, Any], accepted: bool, state: str) -> str | None:
    if "accepted" in expect and expect["accepted"] != accepted:
        return f"expected {'acceptance' if expect['accepted'] else 'rejection'}"
    if "state" in expect and state not in expect["state"]:
        return f"expected state {' or '.join(expect['state'])}"
    return None


def _observation(result: object) -> tuple[Any, Any, Any]:
    """(accepted, reason, state) of what deliver returned, or ImplementationError."""
    if isinstance(result, Mapping):
        if "state" not in result:
            raise ImplementationError(f"deliver returned {result!r:.80} without 'state'")
        return result.get("accepted"), result.get("reason"), result["state"]
    if all(hasattr(result, name) for name in ("accepted", "reason", "state")):
        return result.accepted, result.reason, result.state  # type: ignore[attr-defined]
    raise ImplementationError(f"deliver returned {type(result).__name__}, not an Observation")


def _state(value: object, op: str) -> str:
    if not isinstance(value, str) or value not in STATES:
        raise ImplementationError(f"{op} reported state {value!r:.60}; expected one of {STATES}")
    return value


class _Validity:
    """When each recorded command is valid (SPEC.md: issued_at - skew to
    expires_at + skew), from the recording's own profile; for telling whether
    a wall-clock replay sees a command as it was when recorded."""

    def __init__(self, profile_name: str, fallback: Profile) -> None:
        from conformance.profiles import resolve_profile

        try:
            self.profile = resolve_profile(profile_name)
        except Exception:
            self.profile = fallback

    def status(self, raw: bytes, at: float, skew: float) -> str | None:
        try:
            command = self.profile.decode(raw).command
            start = command.issued_at.timestamp() - skew
            end = command.expires_at.timestamp() + skew
        except Exception:  # not a well-formed command: its fate does not depend on time
            return None
        if at < start:
            return "not yet valid"
        return "expired" if at > end else "valid"


def replay_file(path: Path, setup: Setup) -> ReplayResult:
    """Replay ``path`` against ``setup``'s implementation, in its clock mode."""
    example = load(path)
    injected = setup.clock_mode == "injected"
    lines = [f"Replaying {example.case} ({example.title}): {example.failure}"]
    if injected:
        lines.append("clock injected: every call is made at its recorded time")
    else:
        lines.append(
            "clock wall: the implementation reads its own clock, so calls are made now"
            " (the recorded times cannot be replayed)"
        )
    validity = _Validity(example.profile, setup.driver.profile)
    violations = 0
    shifted: list[str] = []
    impl: Any = None
    states: dict[str | None, str] = {}
    skew = 0.0
    # Wall clock: the real time of the previous delivery and its recorded time.
    last: tuple[float, float] | None = None
    interrupted = False

    def call(op: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except ImplementationError:
            raise
        except Exception as exc:
            raise ImplementationError(f"{op} raised {type(exc).__name__}: {exc}") from exc
        except BaseException as exc:
            error = escaped(op, exc)
            if error is None:
                raise
            raise error from None

    with tempfile.TemporaryDirectory(prefix="killswitch-replay-") as scratch, watch_interrupts():
        step: Step | None = None
        try:
            for step in example.steps:
                number, op, expect = step.index + 1, step.op, step.expect
                problem = None
                if op == "start":
                    _close(impl, call)
                    impl = None
                    folder = Path(scratch) / f"start-{number}"
                    folder.mkdir()
                    recorded = dict(example.configs[step.config])
                    recorded["clock"] = setup.clock_mode
                    if not injected:
                        recorded["start_time"] = time.time()
                    config = Config.from_json(recorded, str(folder))
                    skew = config.policy.clock_skew_s
                    impl = call("the factory", setup.factory)
                    call("start", impl.start, config)
                    states = {None: "RUNNING"}
                    last = None
                    lines.append(
                        f"{number:>4} start {config.instance_id} ({config.profile}, {config.clock})"
                    )
                    continue
                if op == "deliver":
                    now = step.now
                    if not injected:
                        now = _wall_time(step.now, last, setup.max_wait)
                        last = (now, step.now)
                        then = validity.status(step.raw, step.now, skew)
                        if then is not None and then != validity.status(step.raw, now, skew):
                            shifted.append(
                                f"step {number}: the command was {then} when recorded and is"
                                f" {validity.status(step.raw, now, skew)} now"
                            )
                    before = states.get(step.agent)
                    accepted, reason, state = _observation(
                        call("deliver", impl.deliver, step.raw, now, step.via, step.agent)
                    )
                    state = _state(state, "deliver")
                    if accepted is not None and not isinstance(accepted, bool):
                        raise ImplementationError(f"deliver reported accepted={accepted!r:.40}")
                    effective = accepted if accepted is not None else before != state
                    states[step.agent] = state
                    shown = (step.text or f"<{len(step.raw)} bytes>")[:60]
                    outcome = f"accepted={accepted} reason={reason} state={state}"
                    problem = _check(expect, effective, state)
                elif op == "state":
                    state = _state(call("state", impl.state, step.agent), "state")
                    states[step.agent] = state
                    shown, outcome = step.agent or "", f"state={state}"
                    problem = _check(expect, False, state) if "state" in expect else None
                elif op == "restart":
                    call("restart", impl.restart)
                    shown, outcome = "", ""
                else:  # advance
                    shown, outcome = f"{step.now:g}", ""
                    if injected:
                        call("advance", impl.advance, step.now)
                    else:
                        shifted.append(
                            f"step {number}: advance (time passing without a message) is never"
                            " sent with the wall clock"
                        )
                mark = f"VIOLATED: {problem}" if problem else ("ok" if expect else "")
                violations += bool(problem)
                lines.append(
                    f"{number:>4} {op} {shown} -> {outcome} (recorded {step.observed})"
                    f" {mark}".rstrip()
                )
        except ImplementationError as exc:
            where = f"step {step.index + 1}: " if step is not None else ""
            lines.append(f"{where}implementation error: {exc}")
            violations += 1
        except KeyboardInterrupt:
            lines.append("Interrupted (Ctrl-C): the replay is incomplete.")
            interrupted = True
        finally:
            try:
                _close(impl, call)
            except ImplementationError as exc:
                lines.append(f"implementation error: close: {exc}")
                violations += 1
    if interrupted:
        return ReplayResult(lines, "interrupted")
    if shifted:
        lines += [f"    {s}" for s in shifted]
        lines.append(
            f"{violations} expectation(s) violated, but the replay is inconclusive: the"
            " implementation reads its own clock and the counterexample's commands are not"
            " what they were when recorded (e.g. they expired since). Replay it with an"
            " injected clock (an adapter declaring clock 'injected'), or re-run the case."
        )
        return ReplayResult(lines, "inconclusive")
    verdict = "still fails" if violations else "no longer fails"
    lines.append(f"{violations} expectation(s) violated: the counterexample {verdict}.")
    return ReplayResult(lines, "fails" if violations else "fixed")


def _close(impl: Any, call: Callable[..., Any]) -> None:
    close = getattr(impl, "close", None)
    if callable(close):
        call("close", close)


def _wall_time(recorded: float, last: tuple[float, float] | None, max_wait: float) -> float:
    """Now, after waiting out the recorded gap since the previous delivery (at most
    ``max_wait`` seconds: a damaged or slow recording cannot hang the replay)."""
    if last is not None:
        real, then = last
        gap = min(max(recorded - then, 0.0), max_wait)
        remaining = real + gap - time.time()
        if remaining > 0:
            time.sleep(remaining)
    return time.time()
