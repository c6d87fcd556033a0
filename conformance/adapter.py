"""The adapter contract: how the suite talks to an implementation under test.

The suite never calls an implementation any other way, the reference listener
included (see :mod:`conformance.reference`). An in-process implementation is
a Python callable ``factory() -> Implementation``; a subprocess speaks the
same operations as newline-delimited JSON (``conformance/PROTOCOL.md``,
:mod:`conformance.subprocess_adapter`).

One :class:`Implementation` object is one agent's listener (or, with the
``cascade`` feature, one agent tree). The harness creates a fresh object per
test example, calls :meth:`Implementation.start` once with a :class:`Config`,
then any number of ``deliver``/``state``/``advance``/``restart`` calls.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol, runtime_checkable

ClockMode = Literal["injected", "wall"]
CLOCK_MODES: tuple[ClockMode, ...] = ("injected", "wall")

#: Agent states an implementation reports (SPEC.md's state table).
STATES = ("RUNNING", "PAUSED", "TERMINATING", "TERMINATED")
HALTED_FINAL = frozenset({"TERMINATING", "TERMINATED"})

#: Optional features an implementation may declare. Cases that need an
#: undeclared one are UNSUPPORTED, never FAILED.
FEATURES = {
    "pause": "PAUSE and RESUME commands",
    "cascade": "an agent tree: cascade of commands to descendants (Config.hierarchy)",
    "watchdog": "dead-man's switch: halt after Config.policy.watchdog_timeout_s of silence",
}


@dataclass(frozen=True)
class Capabilities:
    """What an implementation declares about itself."""

    #: ``injected``: it uses the ``now`` passed to deliver/advance. ``wall``: it
    #: reads its own clock (the harness then builds timestamps from real time).
    clock: ClockMode = "injected"
    #: Wire profiles it speaks (empty: any the harness picks).
    profiles: tuple[str, ...] = ()
    #: Signature algorithms it verifies (wire names).
    algorithms: tuple[str, ...] = ("Ed25519", "ES256", "RS256")
    #: Optional features, names from :data:`FEATURES`.
    features: frozenset[str] = frozenset()
    #: Transport names it accepts in ``via`` (they matter for replay across transports).
    transports: tuple[str, ...] = ("sse", "poll", "file")
    #: Whether rejections carry SPEC.md reason names (``Observation.reason``).
    reasons: bool = False
    #: A name for reports.
    name: str = ""
    #: With the ``watchdog`` feature: the timeout T its watchdog always uses, for an
    #: implementation that cannot take T from ``Config.policy`` (None: it can, and
    #: the harness picks T per case). Turning the watchdog on and off still follows
    #: ``policy.watchdog_timeout_s`` being set or None (SPEC.md KS-180).
    watchdog_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.clock not in CLOCK_MODES:
            raise ValueError(f"clock must be one of {CLOCK_MODES}, got {self.clock!r}")
        unknown = set(self.features) - FEATURES.keys()
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; known: {sorted(FEATURES)}")
        _check_timeout(self.watchdog_timeout_s, "watchdog_timeout_s")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "clock": self.clock,
            "profiles": list(self.profiles),
            "algorithms": list(self.algorithms),
            "features": sorted(self.features),
            "transports": list(self.transports),
            "reasons": self.reasons,
            "watchdog_timeout_s": self.watchdog_timeout_s,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str = "capabilities") -> Capabilities:
        """Parse a declaration (from a subprocess); a ValueError names the bad field."""
        if not isinstance(obj, Mapping):
            raise ValueError(f"{where} must be an object, got {type(obj).__name__}")

        def strings(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = obj.get(name, list(default))
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}.{name} must be a list of strings, got {value!r}")
            return tuple(value)

        base = cls()
        clock = obj.get("clock", base.clock)
        reasons = obj.get("reasons", False)
        name = obj.get("name", "")
        if not isinstance(reasons, bool) or not isinstance(name, str):
            raise ValueError(f"{where}.reasons must be a boolean and {where}.name a string")
        fixed = _check_timeout(obj.get("watchdog_timeout_s"), f"{where}.watchdog_timeout_s")
        return cls(
            clock=clock,
            profiles=strings("profiles", ()),
            algorithms=strings("algorithms", base.algorithms),
            features=frozenset(strings("features", ())),
            transports=strings("transports", base.transports),
            reasons=reasons,
            name=name,
            watchdog_timeout_s=fixed,
        )


def _check_timeout(value: object, where: str) -> float | None:
    """A positive number of seconds, or None; a ValueError names ``where`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{where} must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TrustedKey:
    """A public key the agent must trust, pinned to one algorithm."""

    key_id: str
    algorithm: str
    public_pem: str
    #: The same key as a JWK (RFC 7517), for implementations that prefer it.
    jwk: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "public_pem": self.public_pem,
            "jwk": dict(self.jwk),
        }


@dataclass(frozen=True)
class PolicyHints:
    """The policy the harness tests against (SPEC.md defaults). Implementations
    should apply these values; a case may change one (e.g. a short watchdog)."""

    clock_skew_s: float = 30.0
    max_lifetime_s: float = 300.0
    allow_wildcard: bool = False
    max_grace_s: float = 60.0
    watchdog_timeout_s: float | None = None
    max_message_bytes: int = 16 * 1024

    def to_json(self) -> dict[str, Any]:
        return {
            "clock_skew_s": self.clock_skew_s,
            "max_lifetime_s": self.max_lifetime_s,
            "allow_wildcard": self.allow_wildcard,
            "max_grace_s": self.max_grace_s,
            "watchdog_timeout_s": self.watchdog_timeout_s,
            "max_message_bytes": self.max_message_bytes,
        }


@dataclass(frozen=True)
class Config:
    """Everything an implementation is started with."""

    instance_id: str
    asset_id: str | None
    trusted_keys: tuple[TrustedKey, ...]
    policy: PolicyHints
    #: A fresh, empty directory this instance owns; durable state goes here and
    #: must survive :meth:`Implementation.restart`.
    state_dir: str
    #: The clock mode of this run (``wall``: ignore ``now``, read your own clock).
    clock: ClockMode
    #: The wire profile commands are encoded in.
    profile: str
    #: The harness's time at start (POSIX seconds); with ``injected``, the
    #: implementation's notion of "now" until told otherwise.
    start_time: float
    #: Parent -> child edges of the agent tree rooted at ``instance_id`` (only
    #: with the ``cascade`` feature; empty otherwise).
    hierarchy: tuple[tuple[str, str], ...] = ()
    #: Key ids that are revoked (SPEC.md KS-070): a command naming one, or signed
    #: by a key listed under one, must be rejected as if the key were unknown, even
    #: when ``trusted_keys`` still lists a key with that id (revocation wins: a
    #: revoked id is never trusted again). Optional; empty by default.
    revoked_key_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], state_dir: str | None = None) -> Config:
        """The configuration recorded by :meth:`to_json` (optionally on another state_dir)."""
        return cls(
            instance_id=obj["instance_id"],
            asset_id=obj["asset_id"],
            trusted_keys=tuple(
                TrustedKey(k["key_id"], k["algorithm"], k["public_pem"], k.get("jwk", {}))
                for k in obj["trusted_keys"]
            ),
            policy=PolicyHints(**obj["policy"]),
            state_dir=state_dir or obj["state_dir"],
            clock=obj["clock"],
            profile=obj["profile"],
            start_time=obj["start_time"],
            hierarchy=tuple((p, c) for p, c in obj.get("hierarchy", [])),
            revoked_key_ids=tuple(obj.get("revoked_key_ids", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "asset_id": self.asset_id,
            "trusted_keys": [k.to_json() for k in self.trusted_keys],
            "policy": self.policy.to_json(),
            "state_dir": self.state_dir,
            "clock": self.clock,
            "profile": self.profile,
            "start_time": self.start_time,
            "hierarchy": [list(edge) for edge in self.hierarchy],
            "revoked_key_ids": list(self.revoked_key_ids),
        }


@dataclass(frozen=True)
class Observation:
    """What one delivery did, as the implementation reports it."""

    #: Whether the command was accepted. ``None`` if the implementation cannot
    #: tell; the harness then infers acceptance from a state change.
    accepted: bool | None
    #: Why it was rejected (SPEC.md reason name) or None.
    reason: str | None
    #: The addressed agent's state after the delivery (one of :data:`STATES`).
    state: str
    #: The addressed agent's hard-kill deadline after the delivery (POSIX seconds),
    #: if the implementation exposes it; None otherwise or when there is none.
    #: Optional: when given, the harness checks it (SPEC.md KS-023).
    hard_kill_at: float | None = None


@runtime_checkable
class Implementation(Protocol):
    """One kill-switch listener under test. See ``conformance/PROTOCOL.md``.

    ``close()`` is optional (called when the harness is done with the object).
    """

    capabilities: Capabilities

    def start(self, config: Config) -> None:
        """Begin with this configuration and an empty ``config.state_dir``."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        """Hand over raw bytes that arrived on transport ``via`` at time ``now``.

        ``to`` names the agent whose listener receives it (cascade feature
        only; None means ``config.instance_id``). Must never raise for any bytes.
        """

    def state(self, agent: str | None = None) -> str:
        """The agent's state now (``agent`` only with the cascade feature)."""

    def restart(self) -> None:
        """Behave as if the process died and started again on the same state_dir."""

    def advance(self, now: float) -> None:
        """Time passed to ``now`` with no message (grace deadlines, watchdog).

        Never called in wall-clock mode.
        """


Factory = Callable[[], Implementation]


class ImplementationError(Exception):
    """The implementation misbehaved at the protocol level: crashed, hung, raised,
    or answered something that is not a valid reply. The case FAILS with this text."""


class Unresponsive(ImplementationError):
    """The implementation did not answer in time, or could not be started."""


class _Interrupts:
    """Whether a KeyboardInterrupt is the user's Ctrl-C (see :func:`watch_interrupts`)."""

    #: Nesting depth of :func:`watch_interrupts` (0: not watching).
    depth = 0
    #: The watch can tell: a real SIGINT would go through its handler.
    reliable = False
    #: A real SIGINT arrived while watching (or a stop was noted: :func:`note_stop`).
    seen = False
    #: What asked the run to stop, for messages: "Ctrl-C" or "SIGTERM".
    how = "Ctrl-C"


@contextlib.contextmanager
def watch_interrupts() -> Iterator[None]:
    """Tell a user's Ctrl-C from a ``KeyboardInterrupt`` an implementation raises.

    While active (in the main thread), SIGINT goes through a handler that notes
    it before doing what the previous handler did. A ``KeyboardInterrupt`` with
    no SIGINT noted came from the implementation's own code: it fails the case.
    Where the signal cannot be watched (another thread), every
    ``KeyboardInterrupt`` counts as the user's.
    """
    if _Interrupts.depth:
        _Interrupts.depth += 1
        try:
            yield
        finally:
            _Interrupts.depth -= 1
        return
    previous: Any = None
    installed = False
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
        if previous is signal.SIG_IGN:
            _Interrupts.reliable = True  # no Ctrl-C can raise anything
        elif previous is signal.SIG_DFL or callable(previous):

            def noted(signum: int, frame: Any) -> None:
                note_stop("Ctrl-C")
                if callable(previous):
                    previous(signum, frame)
                else:
                    raise KeyboardInterrupt

            signal.signal(signal.SIGINT, noted)
            installed = _Interrupts.reliable = True
    _Interrupts.depth, _Interrupts.seen, _Interrupts.how = 1, False, "Ctrl-C"
    try:
        yield
    finally:
        _Interrupts.depth, _Interrupts.reliable = 0, False
        if installed:
            signal.signal(signal.SIGINT, previous)


def note_stop(how: str) -> None:
    """Record that the user asked the run to stop (``how``: "Ctrl-C", "SIGTERM").

    Recorded, not only raised: a ``KeyboardInterrupt`` can be swallowed where it
    lands (Python only prints "Exception ignored in ..." for one raised in a gc
    callback or a finaliser), so the runner also checks :func:`stop_requested`
    between examples and after every case."""
    if not _Interrupts.seen:
        _Interrupts.how = how
    _Interrupts.seen = True


def stop_requested() -> str | None:
    """What asked the run to stop ("Ctrl-C", "SIGTERM") since the outermost
    :func:`watch_interrupts` began, or None."""
    return _Interrupts.how if _Interrupts.seen else None


def check_stop() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was recorded (:func:`stop_requested`)
    but its ``KeyboardInterrupt`` was lost on the way."""
    if _Interrupts.depth and _Interrupts.seen:
        raise KeyboardInterrupt


def interrupted_by_user() -> bool:
    """Whether a ``KeyboardInterrupt`` caught now is (or may be) the user's Ctrl-C."""
    return not (_Interrupts.depth and _Interrupts.reliable) or _Interrupts.seen


def escaped(op: str, exc: BaseException) -> ImplementationError | None:
    """The case failure for a ``BaseException`` (not an ``Exception``) that left the
    implementation's ``op`` — ``sys.exit()``, a ``KeyboardInterrupt`` it raised
    itself — or None for the user's own Ctrl-C, which must stop the run."""
    if isinstance(exc, KeyboardInterrupt) and interrupted_by_user():
        return None
    if isinstance(exc, SystemExit):
        return ImplementationError(
            f"{op} tried to exit the process (SystemExit, exit code {exc.code!r}):"
            " an implementation under test must return, not call sys.exit()"
        )
    text = f": {exc}" if str(exc) else ""
    return ImplementationError(
        f"{op} raised {type(exc).__name__}{text} (not an Exception: it would have stopped"
        " the harness)"
    )


def _guarded(op: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:
        raise  # the context reports these with their text
    except BaseException as exc:
        error = escaped(op, exc)
        if error is None:
            raise
        raise error from None


class GuardedImplementation:
    """An in-process implementation whose calls cannot stop the harness: a
    ``SystemExit`` (the seed's ``sys.exit(0)`` after a TERMINATE) or a
    ``KeyboardInterrupt`` it raises itself becomes an
    :class:`ImplementationError`, which fails the current case. Other
    attributes (``capabilities``, ``close``, anything else) are the object's own."""

    def __init__(self, impl: Any) -> None:
        self.wrapped = impl

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        value = getattr(self.wrapped, name)
        if name == "close" and callable(value):
            return functools.partial(_guarded, "close", value)
        return value

    def start(self, config: Config) -> None:
        _guarded("start", self.wrapped.start, config)

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Any:
        return _guarded("deliver", self.wrapped.deliver, raw, now, via, to)

    def state(self, agent: str | None = None) -> Any:
        return _guarded("state", self.wrapped.state, agent)

    def restart(self) -> None:
        _guarded("restart", self.wrapped.restart)

    def advance(self, now: float) -> None:
        _guarded("advance", self.wrapped.advance, now)


class GuardedFactory:
    """``factory()`` returning :class:`GuardedImplementation` objects; the factory
    call itself is guarded the same way."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.wrapped = factory

    def __call__(self) -> Any:
        return GuardedImplementation(_guarded("the factory", self.wrapped))


class BadTarget(ValueError):
    """A ``module:callable`` (or ``file.py:callable``) that cannot be loaded."""


def load_object(target: str, what: str = "factory") -> Any:
    """Import ``module:attribute`` or ``path/to/file.py:attribute``.

    The current directory is importable (as with ``python -m``), so a team can
    point at a module of its own project without installing it.
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise BadTarget(f"{what} {target!r} must look like module:callable or file.py:callable")
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise BadTarget(f"{what} {target!r}: no such file {str(path)!r}")
            # Like running a script: its directory is importable (sibling modules).
            folder = str(path.resolve().parent)
            if folder not in sys.path:
                sys.path.insert(0, folder)
            module = _load_file(path.resolve())
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except BadTarget:
        raise
    except ModuleNotFoundError as exc:
        raise BadTarget(f"{what} {target!r}: module {exc.name!r} not found") from None
    except Exception as exc:
        raise BadTarget(
            f"{what} {target!r}: importing failed: {type(exc).__name__}: {exc}"
        ) from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise BadTarget(f"{what} {target!r}: {module_name!r} has no attribute {attr!r}") from None


@functools.cache
def _load_file(path: Path) -> ModuleType:
    """Execute a Python file as a module, once per process (like an import)."""
    name = "_ks_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12] + "_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BadTarget(f"cannot load {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_factory(target: str) -> Factory:
    """The implementation factory named by ``target`` (checked to be callable)."""
    obj = load_object(target)
    if not callable(obj):
        raise BadTarget(f"factory {target!r} is a {type(obj).__name__}, not a callable")
    return obj  # type: ignore[no-any-return]
