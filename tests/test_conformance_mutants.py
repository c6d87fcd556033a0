"""The watchdog, hard-kill deadline and key-revocation cases catch the bugs
they are about: each deliberately broken variant of the reference listener
fails exactly its case (with a message naming what went wrong), and the
adapter contract's new optional members parse and default as documented."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from conformance.adapter import Capabilities, Config, Observation, PolicyHints
from conformance.outcome import Verdict
from conformance.reference import ReferenceAdapter
from conformance.runner import CaseResult, build_setup, cleanup, run_suite
from killswitch import AgentState, Listener

NEW_CASES = {
    "KS-WATCHDOG",
    "KS-WATCHDOG-OFF",
    "KS-WATCHDOG-FED",
    "KS-WATCHDOG-NOT-FED",
    "KS-STATE-TERMINATE-DEADLINE",
    "KS-KEY-REVOKED",
    "KS-KEY-ROTATION",
}


def run_new_cases(
    factory: Any,
    *,
    clock: str | None = None,
    max_wait: float = 5.0,
    cases: frozenset[str] | set[str] = NEW_CASES,
) -> dict[str, CaseResult]:
    setup = build_setup(
        impl="conformance.reference:factory",
        cmd=None,
        profile="v1",
        clock=clock,
        seed=5,
        examples=3,
        margin=0.5,
        max_wait=max_wait,
    )
    setup.factory = lambda: factory()  # a plain callable, as a user's factory would be
    setup.capabilities = factory.capabilities
    try:
        result = run_suite(setup, "H", target="mutant", only=lambda c: c.id in cases)
    finally:
        cleanup(setup)
    return {r.case.id: r for r in result.results}


def failed(results: dict[str, CaseResult]) -> dict[str, str]:
    return {k: r.detail for k, r in results.items() if r.verdict is Verdict.FAIL}


class Mutant(ReferenceAdapter):
    """The reference listener with one bug; hooks for the variants below."""

    def _listener(self, to: str | None) -> Listener:
        assert self._config is not None
        return self._listeners[to or self._config.instance_id]


class FeedsOnAnyBytes(Mutant):
    """Treats every arrival as a sign of life: a replayed recording keeps it running."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        self._listener(to).heard(now)
        return super().deliver(raw, now, via, to)


class FeedsOnlyWhenAccepted(Mutant):
    """Feeds the watchdog only for accepted commands (KS-183 says steps 1-9)."""

    keep_on_reject = True

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        listener = self._listener(to)
        before = listener._last_heard
        observation = super().deliver(raw, now, via, to)
        if self.keep_on_reject and not observation.accepted:
            listener._last_heard = before
        return observation


class NeverFed(FeedsOnlyWhenAccepted):
    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        listener = self._listener(to)
        before = listener._last_heard
        observation = super().deliver(raw, now, via, to)
        listener._last_heard = before
        return observation


def _with_timeout(config: Config, timeout: float | None) -> Config:
    return dataclasses.replace(
        config, policy=dataclasses.replace(config.policy, watchdog_timeout_s=timeout)
    )


class HaltsEarly(Mutant):
    def start(self, config: Config) -> None:
        timeout = config.policy.watchdog_timeout_s
        super().start(_with_timeout(config, timeout and timeout * 0.9))


class AlwaysOn(Mutant):
    """A watchdog that is on (T = 60 s) even when the policy leaves it off."""

    def start(self, config: Config) -> None:
        super().start(_with_timeout(config, config.policy.watchdog_timeout_s or 60.0))


class IgnoresRevocation(Mutant):
    def start(self, config: Config) -> None:
        super().start(dataclasses.replace(config, revoked_key_ids=()))


class MovesDeadline(Mutant):
    """A TERMINATE while TERMINATING restarts the grace period."""

    reports_deadline = True

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        listener = self._listener(to)
        observation = super().deliver(raw, now, via, to)
        if listener.state is AgentState.TERMINATING and observation.reason == "ALREADY_TERMINATED":
            grace = listener.profile.decode(raw).command.grace_period_seconds
            listener._record = dataclasses.replace(listener._record, hard_kill_at=now + grace)
        if not self.reports_deadline:
            return dataclasses.replace(observation, hard_kill_at=None)
        return dataclasses.replace(observation, hard_kill_at=listener.hard_kill_at)


class MovesDeadlineSilently(MovesDeadline):
    reports_deadline = False


@pytest.fixture(scope="module")
def reference() -> dict[str, CaseResult]:
    return run_new_cases(ReferenceAdapter)


def test_the_reference_passes_every_new_case(reference: dict[str, CaseResult]) -> None:
    assert set(reference) == NEW_CASES
    assert {k: r.verdict for k, r in reference.items()} == {k: Verdict.PASS for k in NEW_CASES}


@pytest.mark.parametrize(
    ("mutant", "case", "words", "also"),
    [
        (FeedsOnAnyBytes, "KS-WATCHDOG-NOT-FED", "the accepted PAUSE replayed", set()),
        (FeedsOnlyWhenAccepted, "KS-WATCHDOG-FED", "refused as NOT_PAUSED", set()),
        (NeverFed, "KS-WATCHDOG-FED", "fed by a fresh PAUSE and RESUME", set()),
        # Halting early also cuts short the fed agent's extra time.
        (HaltsEarly, "KS-WATCHDOG", "before the 10 s watchdog timeout", {"KS-WATCHDOG-FED"}),
        (AlwaysOn, "KS-WATCHDOG-OFF", "with no watchdog configured", set()),
        (IgnoresRevocation, "KS-KEY-REVOKED", "listed but revoked was accepted", set()),
        (MovesDeadline, "KS-STATE-TERMINATE-DEADLINE", "moved hard_kill_at", set()),
        (MovesDeadlineSilently, "KS-STATE-TERMINATE-DEADLINE", "expected TERMINATED", set()),
    ],
)
def test_each_bug_fails_its_case(
    mutant: type[Mutant], case: str, words: str, also: set[str]
) -> None:
    results = run_new_cases(mutant)
    failures = failed(results)
    assert set(failures) == {case} | also, failures
    assert words in failures[case]
    assert results[case].transcript  # a replayable counterexample


def test_every_not_fed_probe_is_caught_on_its_own() -> None:
    # One agent per probe with the injected clock: the failure names the first
    # probe that fed the watchdog, here the replay (the probes' order).
    detail = failed(run_new_cases(FeedsOnAnyBytes))["KS-WATCHDOG-NOT-FED"]
    assert "which must not feed it (KS-183)" in detail
    assert "expired" not in detail  # only the one probe of that agent is named


def test_the_wall_clock_catches_a_replay_feeding_the_watchdog_and_a_moved_deadline() -> None:
    # (The reference passes both with the wall clock: test_conformance_reference.py.)
    fed = failed(run_new_cases(FeedsOnAnyBytes, clock="wall", cases={"KS-WATCHDOG-NOT-FED"}))
    # With the wall clock every probe goes to one agent: the message names them all.
    assert "the accepted PAUSE replayed" in fed["KS-WATCHDOG-NOT-FED"]
    assert "bytes that are not a command" in fed["KS-WATCHDOG-NOT-FED"]
    deadline = {"KS-STATE-TERMINATE-DEADLINE"}
    moved = failed(run_new_cases(MovesDeadline, clock="wall", cases=deadline))
    assert "moved hard_kill_at" in moved["KS-STATE-TERMINATE-DEADLINE"]


class NoWatchdog(ReferenceAdapter):
    capabilities = dataclasses.replace(
        ReferenceAdapter.capabilities, features=frozenset({"pause", "cascade"})
    )


def test_no_watchdog_is_unsupported_and_blocks_no_level() -> None:
    results = run_new_cases(NoWatchdog)
    for case in ("KS-WATCHDOG", "KS-WATCHDOG-OFF", "KS-WATCHDOG-FED", "KS-WATCHDOG-NOT-FED"):
        assert results[case].verdict is Verdict.UNSUPPORTED
        assert results[case].limitation == "capability"
        assert results[case].blocks_level is None  # "if offered" (SPEC.md §1.3)


class FixedTimeout(ReferenceAdapter):
    """A watchdog whose T cannot be configured: always 7 s when on."""

    capabilities = dataclasses.replace(ReferenceAdapter.capabilities, watchdog_timeout_s=7.0)

    def start(self, config: Config) -> None:
        on = config.policy.watchdog_timeout_s is not None
        super().start(_with_timeout(config, 7.0 if on else None))


def test_a_declared_fixed_timeout_is_used_injected_and_too_long_for_the_wall_clock() -> None:
    injected = run_new_cases(FixedTimeout)
    assert failed(injected) == {}
    wall = run_new_cases(FixedTimeout, clock="wall", max_wait=5.0)
    for case in ("KS-WATCHDOG", "KS-WATCHDOG-FED", "KS-WATCHDOG-NOT-FED"):
        assert wall[case].verdict is Verdict.UNSUPPORTED
        assert wall[case].limitation == "clock"
        assert "T=7 s" in wall[case].detail and "limited to 5 s" in wall[case].detail


def test_capabilities_parse_the_fixed_timeout_and_name_a_bad_one() -> None:
    parsed = Capabilities.from_json({"features": ["watchdog"], "watchdog_timeout_s": 3})
    assert parsed.watchdog_timeout_s == 3.0
    assert Capabilities.from_json({}).watchdog_timeout_s is None
    assert parsed.to_json()["watchdog_timeout_s"] == 3.0
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match=r"describe_ok\.watchdog_timeout_s"):
            Capabilities.from_json({"watchdog_timeout_s": bad}, "describe_ok")


def test_revoked_key_ids_round_trip_and_default_to_none_revoked() -> None:
    config = Config("a", None, (), PolicyHints(), "/x", "injected", "v1", 1.0, (), ("k1",))
    document = config.to_json()
    assert document["revoked_key_ids"] == ["k1"]
    assert Config.from_json(document) == config
    del document["revoked_key_ids"]  # a counterexample file from before the member existed
    assert Config.from_json(document).revoked_key_ids == ()
