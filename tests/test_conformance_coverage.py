"""Coverage gaps an audit found, each shown closed by a deliberately broken
variant of the reference listener that the suite used to pass:

1. targeting and time rules hold for every command kind, not only PAUSE (a
   listener obeying any authentic TERMINATE reached H);
2. a test vector decided wrongly (an invalid command accepted) is a failed
   MUST, not a SHOULD note; a wrong reason alone stays a SHOULD;
3. forged commands are refused on every declared transport, the kill file
   included (KS-222);
4. a non-finite hard-kill deadline fails instead of slipping through the
   tolerance comparison.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, ClassVar

import pytest

from conformance.adapter import Config, Observation
from conformance.cases import finite_time
from conformance.context import Context
from conformance.outcome import CaseFailure, Verdict
from conformance.reference import ReferenceAdapter
from conformance.runner import CaseResult, RunResult, build_setup, cleanup, run_suite
from killswitch import Algorithm, Listener, TrustStore, VerifyingKey

TARGET_CASES = {"KS-TARGET-INSTANCE", "KS-TARGET-ASSET", "KS-TARGET-WILDCARD"}
TIME_CASES = {
    "KS-TIME-EXPIRED",
    "KS-TIME-NOT-YET-VALID",
    "KS-TIME-LIFETIME",
    "KS-TIME-BOUNDARY",
    "KS-TIME-EXPIRES-LATER",
    "KS-TIME-NAIVE",
}
VECTOR_CASES = {"KS-VECTORS", "KS-VECTORS-REPLAY", "KS-VECTORS-ENCODING", "KS-REASONS"}


def run(
    adapter: type[ReferenceAdapter],
    cases: set[str] | None,
    *,
    profile: str = "v1",
    clock: str | None = None,
    level: str = "H",
) -> RunResult:
    """The suite (``cases`` only, or every case up to ``level``) against ``adapter``."""
    setup = build_setup(
        impl="conformance.reference:factory",
        cmd=None,
        profile=profile,
        clock=clock,
        seed=5,
        examples=3,
        margin=0.5,
    )
    setup.factory = lambda: adapter()  # a plain callable, as a user's factory would be
    setup.capabilities = adapter.capabilities
    only = None if cases is None else (lambda c: c.id in cases)
    try:
        return run_suite(setup, level, target=adapter.__name__, only=only)
    finally:
        cleanup(setup)


def by_id(result: RunResult) -> dict[str, CaseResult]:
    return {r.case.id: r for r in result.results}


def failed(result: RunResult) -> dict[str, str]:
    return {r.case.id: r.detail for r in result.results if r.verdict is Verdict.FAIL}


def blocked(result: RunResult) -> set[str]:
    """The levels the results keep the implementation from (a run of a few
    cases claims no level, so this is what says a failure counts)."""
    return {r.blocks_level for r in result.results if r.blocks_level is not None}


def _command_type(raw: bytes) -> str | None:
    found = re.search(rb'"command_type":\s*"([A-Z]+)"', raw)
    return found.group(1).decode() if found else None


class Mutant(ReferenceAdapter):
    def _listener(self, to: str | None) -> Listener:
        assert self._config is not None
        return self._listeners[to or self._config.instance_id]


_AFTER = {"TERMINATE": "TERMINATED", "PAUSE": "PAUSED", "RESUME": "RUNNING"}


class ObeysRefused(Mutant):
    """Obeys an authentic command of kind ``kind`` that the reference refuses for
    one of ``reasons``: the audit's "fail-safe" shortcut (a signed kill is always
    obeyed), and the same for the other kinds."""

    kind: ClassVar[str] = "TERMINATE"
    reasons: ClassVar[frozenset[str]] = frozenset()

    def start(self, config: Config) -> None:
        super().start(config)
        self._forced: dict[str, str] = {}

    def _authentic_kind(self, raw: bytes, to: str | None) -> str | None:
        listener = self._listener(to)
        try:
            envelope = listener.profile.decode(raw)
        except Exception:
            return None
        if listener.profile.verify(envelope, listener.trust) is not None:
            return None
        return envelope.command.command_type.value

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        agent = to or self._require().instance_id
        if agent in self._forced:  # what it obeyed stays in force
            return Observation(False, "ALREADY_TERMINATED", self._forced[agent])
        observation = super().deliver(raw, now, via, to)
        if (
            observation.accepted is False
            and observation.reason in self.reasons
            and self._authentic_kind(raw, to) == self.kind
        ):
            self._forced[agent] = _AFTER[self.kind]
            return Observation(True, None, self._forced[agent])
        return observation

    def state(self, agent: str | None = None) -> str:
        forced = self._forced.get(agent or self._require().instance_id)
        return forced or super().state(agent)


def obeys(kind: str, *reasons: str, pause: bool = True) -> type[ObeysRefused]:
    features = ReferenceAdapter.capabilities.features
    capabilities = dataclasses.replace(
        ReferenceAdapter.capabilities,
        features=features if pause else features - {"pause"},
    )
    name = f"Obeys{kind.title()}Despite{'And'.join(r.title().replace('_', '') for r in reasons)}"
    attributes: dict[str, Any] = {
        "kind": kind,
        "reasons": frozenset(reasons),
        "capabilities": capabilities,
    }
    return type(name, (ObeysRefused,), attributes)


# -- the reference passes everything touched here ---------------------------------------


@pytest.mark.parametrize("profile", ["v1", "seed"])
def test_the_reference_passes_the_extended_cases(profile: str) -> None:
    cases = TARGET_CASES | TIME_CASES | VECTOR_CASES | {"KS-TRANSPORT-VERIFIED"}
    cases |= {"KS-STATE-TERMINATE-DEADLINE"}
    result = run(ReferenceAdapter, cases, profile=profile)
    assert set(by_id(result)) == cases
    assert failed(result) == {}
    assert {r.verdict for r in result.results} == {Verdict.PASS}


def test_the_reference_passes_the_extended_cases_with_the_wall_clock() -> None:
    cases = TARGET_CASES | TIME_CASES | {"KS-TRANSPORT-VERIFIED", "KS-VECTORS"}
    result = run(ReferenceAdapter, cases, clock="wall")
    assert {r.verdict for r in result.results} == {Verdict.PASS}, failed(result)


# -- 1. every command kind -----------------------------------------------------------------

TARGETING = "NOT_FOR_THIS_AGENT"


@pytest.mark.parametrize(
    ("mutant", "expected"),
    [
        (obeys("TERMINATE", TARGETING), TARGET_CASES),
        (obeys("TERMINATE", "EXPIRED"), {"KS-TIME-EXPIRED", "KS-TIME-BOUNDARY"}),
        (obeys("TERMINATE", "NOT_YET_VALID"), {"KS-TIME-NOT-YET-VALID", "KS-TIME-BOUNDARY"}),
        (obeys("TERMINATE", "LIFETIME_TOO_LONG"), {"KS-TIME-LIFETIME", "KS-TIME-BOUNDARY"}),
        # A RESUME obeyed against the rules undoes a halt.
        (obeys("RESUME", TARGETING), TARGET_CASES),
        (obeys("RESUME", "EXPIRED"), {"KS-TIME-EXPIRED", "KS-TIME-BOUNDARY"}),
        (obeys("RESUME", "NOT_YET_VALID"), {"KS-TIME-NOT-YET-VALID", "KS-TIME-BOUNDARY"}),
        (obeys("RESUME", "LIFETIME_TOO_LONG"), {"KS-TIME-LIFETIME", "KS-TIME-BOUNDARY"}),
        # Without the pause feature TERMINATE was already the kind probed: still caught.
        (obeys("TERMINATE", TARGETING, pause=False), TARGET_CASES),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_rule_broken_for_one_command_kind_fails_its_cases(
    mutant: type[ObeysRefused], expected: set[str]
) -> None:
    result = run(mutant, TARGET_CASES | TIME_CASES)
    failures = failed(result)
    if "EXPIRED" in mutant.reasons:
        expected = expected | {"KS-TIME-EXPIRES-LATER"}  # the command, later, is expired
    assert set(failures) == expected, failures
    for detail in failures.values():
        assert f"a {mutant.kind} " in detail or f"the same {mutant.kind} " in detail, detail
        assert "was accepted" in detail
    # Before, none of these failed and the implementation reached H.
    assert blocked(result) == {by_id(result)[case].case.level for case in expected}


def test_any_authentic_terminate_obeyed_no_longer_reaches_any_level() -> None:
    # The audit's adapter: a signed TERMINATE is obeyed whatever its target or time.
    mutant = obeys("TERMINATE", TARGETING, "EXPIRED", "NOT_YET_VALID", "LIFETIME_TOO_LONG")
    result = run(mutant, TARGET_CASES | TIME_CASES | VECTOR_CASES)
    failures = failed(result)
    assert TARGET_CASES | (TIME_CASES - {"KS-TIME-NAIVE"}) | {"KS-VECTORS"} <= set(failures)
    assert "a TERMINATE for 'agent-other'" in failures["KS-TARGET-INSTANCE"]
    assert "L1" in blocked(result)  # it reached H before


class ZoneLessTerminate(ReferenceAdapter):
    """Obeys a TERMINATE for this agent whose timestamps carry no zone (taken as
    local time, and not verified: "a kill from the operator's console")."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        naive = re.search(rb'"issued_at":\s*"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"', raw)
        if naive and _command_type(raw) == "TERMINATE" and b'"agent-under-test"' in raw:
            return Observation(True, None, "TERMINATED")
        return super().deliver(raw, now, via, to)


def test_zone_less_timestamps_are_probed_with_terminate_too() -> None:
    failures = failed(run(ZoneLessTerminate, {"KS-TIME-NAIVE"}))
    assert set(failures) == {"KS-TIME-NAIVE"}
    assert "a TERMINATE with zone-less issued_at was accepted" in failures["KS-TIME-NAIVE"]


# -- 2. test vectors: a wrong decision is a MUST ------------------------------------------


class LargerMessageLimit(ReferenceAdapter):
    """Ignores the policy's max_message_bytes (16 KiB) for a fixed 64 KiB: a
    17 KiB command is parsed and accepted (KS-123). The huge-message case, whose
    inputs are all far above 64 KiB, does not notice; the vector does."""

    def start(self, config: Config) -> None:
        policy = dataclasses.replace(config.policy, max_message_bytes=64 * 1024)
        super().start(dataclasses.replace(config, policy=policy))


def test_an_invalid_vector_accepted_is_a_failed_must_and_blocks_l2() -> None:
    result = run(LargerMessageLimit, None, profile="seed", level="L2")
    failures = failed(result)
    assert set(failures) == {"KS-VECTORS"}, failures
    detail = failures["KS-VECTORS"]
    assert "over max_message_bytes" in detail and "KS-123" in detail
    assert "expected invalid (MALFORMED), got valid" in detail
    assert result.level_reached == "L1"  # was L2 (then H), with a NON-STRICT note only
    # The reasons case leaves decisions to KS-VECTORS: no double report.
    assert by_id(result)["KS-REASONS"].verdict is Verdict.PASS
    vectors = by_id(result)["KS-VECTORS"]
    assert vectors.case.strength == "MUST" and vectors.blocks_level == "L2"
    # The counterexample is the one vector, with what was expected of it.
    assert vectors.transcript is not None
    steps = vectors.transcript["steps"]
    assert [s["op"] for s in steps] == ["start", "deliver"]
    assert steps[-1]["expect"] == {"accepted": False}


def test_the_audits_expired_terminate_fails_the_vectors_naming_the_rule() -> None:
    mutant = obeys("TERMINATE", "EXPIRED")
    no_reasons = dataclasses.replace(mutant.capabilities, reasons=False)
    quiet = type("QuietExpiredTerminate", (mutant,), {"capabilities": no_reasons})
    results = by_id(run(quiet, {"KS-VECTORS", "KS-REASONS"}))
    assert results["KS-REASONS"].verdict is Verdict.UNSUPPORTED  # no reasons declared ...
    detail = results["KS-VECTORS"].detail  # ... and the decisions are checked all the same
    assert results["KS-VECTORS"].verdict is Verdict.FAIL
    assert "tcId 37 (expired beyond the leeway; KS-100, KS-101, KS-120)" in detail
    assert "expected invalid (EXPIRED), got valid" in detail


class WrongReasons(ReferenceAdapter):
    """Decides like the reference but gives every rejection as MALFORMED."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        observation = super().deliver(raw, now, via, to)
        if observation.accepted is False:
            return dataclasses.replace(observation, reason="MALFORMED")
        return observation


def test_a_wrong_reason_alone_stays_a_should() -> None:
    result = run(WrongReasons, VECTOR_CASES)
    results = by_id(result)
    assert failed(result) == {}
    assert results["KS-REASONS"].verdict is Verdict.NON_STRICT
    assert "rightly rejected with another reason" in results["KS-REASONS"].detail
    assert "got invalid (MALFORMED)" in results["KS-REASONS"].detail
    assert blocked(result) == set()


class UpperCaseHex(ReferenceAdapter):
    """Reads the signature case-insensitively (v1 allows lowercase only, KS-067)."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        raw = re.sub(rb'"signature":"([0-9a-fA-F]+)"', lambda m: m.group(0).lower(), raw)
        return super().deliver(raw, now, via, to)


def test_replay_and_encoding_vectors_fail_at_their_levels() -> None:
    replayed = failed(run(obeys("PAUSE", "REPLAY"), VECTOR_CASES))
    assert set(replayed) == {"KS-VECTORS-REPLAY"}
    assert "KS-140" in replayed["KS-VECTORS-REPLAY"]
    respelled = failed(run(UpperCaseHex, VECTOR_CASES))
    assert set(respelled) == {"KS-VECTORS-ENCODING"}
    assert "signature in upper-case hex" in respelled["KS-VECTORS-ENCODING"]


# -- 3. KS-222: every transport verifies -------------------------------------------------


class TrustsOneTransport(ObeysRefused):
    """Takes whatever names this agent on one transport as authentic: no
    signature check there (the kill file "is local, so it is trusted")."""

    transport: ClassVar[str] = "file"

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        agent = to or self._require().instance_id
        if agent in self._forced:
            return Observation(False, "ALREADY_TERMINATED", self._forced[agent])
        observation = super().deliver(raw, now, via, to)
        kind = _command_type(raw)
        signature = observation.reason in ("BAD_SIGNATURE", "UNKNOWN_KEY", "UNSUPPORTED_ALGORITHM")
        acts = kind in _AFTER and (kind != "RESUME" or observation.state == "PAUSED")
        if via == self.transport and signature and acts and agent.encode() in raw:
            self._forced[agent] = _AFTER[str(kind)]
            return Observation(True, None, self._forced[agent])
        return observation


def trusts(transport: str) -> type[TrustsOneTransport]:
    return type(f"Trusts{transport.title()}", (TrustsOneTransport,), {"transport": transport})


def test_a_listener_trusting_its_kill_file_fails_only_the_transport_cases() -> None:
    result = run(trusts("file"), None, level="L2")
    failures = failed(result)
    # Its unknown key ids are taken from the kill file too.
    assert set(failures) == {"KS-TRANSPORT-VERIFIED", "KS-TRANSPORT-RULES"}, failures
    assert "unknown key id" in failures["KS-TRANSPORT-RULES"]
    detail = failures["KS-TRANSPORT-VERIFIED"]
    assert "(via file) was accepted" in detail
    assert result.level_reached == "L1"  # was H
    assert "KS-222" in by_id(result)["KS-TRANSPORT-VERIFIED"].case.requirements


@pytest.mark.parametrize("transport", ["sse", "poll"])
def test_every_declared_transport_is_probed(transport: str) -> None:
    failures = failed(run(trusts(transport), {"KS-TRANSPORT-VERIFIED"}))
    assert f"(via {transport}) was accepted" in failures["KS-TRANSPORT-VERIFIED"]


class DropsOneTransport(ReferenceAdapter):
    """Declares polling but drops what arrives on it."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        if via == "poll":
            return Observation(False, "MALFORMED", self.state(to))
        return super().deliver(raw, now, via, to)


def test_a_declared_transport_that_is_dead_is_named() -> None:
    failures = failed(run(DropsOneTransport, {"KS-TRANSPORT-VERIFIED"}))
    assert "the genuine PAUSE via poll, after the forged ones" in failures["KS-TRANSPORT-VERIFIED"]


# -- 4. non-finite deadlines ---------------------------------------------------------------


class ReportsDeadline(ReferenceAdapter):
    """Reports ``deadline`` as the hard-kill deadline of a TERMINATING agent."""

    deadline: ClassVar[float] = math.nan

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        observation = super().deliver(raw, now, via, to)
        if observation.hard_kill_at is not None:
            # math.nan is one object: `nan in (None, nan)` is True by identity, so a
            # second TERMINATE "keeping" it slipped through the moved-deadline check too.
            return dataclasses.replace(observation, hard_kill_at=self.deadline)
        return observation


@pytest.mark.parametrize("clock", [None, "wall"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_hard_kill_deadline_fails(value: float, clock: str | None) -> None:
    mutant = type("ReportsOdd", (ReportsDeadline,), {"deadline": value})
    cases = {"KS-STATE-TERMINATE-DEADLINE"}
    failures = failed(run(mutant, cases, clock=clock))
    assert set(failures) == cases
    detail = failures["KS-STATE-TERMINATE-DEADLINE"]
    assert f"hard_kill_at={value!r}: not a finite time in POSIX seconds" in detail


def test_the_deadline_check_itself_refuses_nan() -> None:
    # The context already refuses a non-finite hard_kill_at; the case checks again,
    # so that a comparison with NaN can never pass whatever reaches it.
    setup = build_setup(
        impl="conformance.reference:factory", cmd=None, profile="v1", clock=None, seed=0, examples=1
    )
    try:
        ctx = Context(setup, "deadline", 0)
        assert finite_time(ctx, 12.5, "x") == 12.5
        with pytest.raises(CaseFailure, match=r"the deadline is nan, not a finite time"):
            finite_time(ctx, math.nan, "the deadline")
    finally:
        cleanup(setup)


# -- a second audit: optional features, one transport, case, cascade ----------------------


class NoPause(ReferenceAdapter):
    """A valid listener without the optional ``pause`` feature: it refuses every
    PAUSE and RESUME as malformed and otherwise is the reference."""

    capabilities = dataclasses.replace(
        ReferenceAdapter.capabilities,
        features=ReferenceAdapter.capabilities.features - {"pause"},
    )

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        if _command_type(raw) in ("PAUSE", "RESUME"):
            return Observation(False, "MALFORMED", self.state(to))
        return super().deliver(raw, now, via, to)


def test_a_listener_without_pause_is_probed_for_command_type_tampering() -> None:
    # Was UNSUPPORTED ("needs the 'pause' feature"), which kept it from L2.
    result = run(NoPause, {"KS-SIG-TAMPER-command_type"})
    assert by_id(result)["KS-SIG-TAMPER-command_type"].verdict is Verdict.PASS
    assert blocked(result) == set()


class NoPauseObeysTypeChange(NoPause):
    """Without pause, and obeys a TERMINATE whose signature covers another type
    (the type is left out of what it verifies)."""

    def start(self, config: Config) -> None:
        super().start(config)
        self.terminated = False

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        if _command_type(raw) == "TERMINATE" and not self.terminated:
            listener = self._listeners[to or self._require().instance_id]
            for kind in ("PAUSE", "RESUME"):
                text = raw.replace(b'"TERMINATE"', f'"{kind}"'.encode())
                if listener.profile.verify(listener.profile.decode(text), listener.trust) is None:
                    self.terminated = True
                    return Observation(True, None, "TERMINATED")
        return super().deliver(raw, now, via, to)

    def state(self, agent: str | None = None) -> str:
        return "TERMINATED" if self.terminated else super().state(agent)


def test_command_type_tampering_without_pause_fails() -> None:
    result = run(NoPauseObeysTypeChange, {"KS-SIG-TAMPER-command_type"})
    assert "command_type changed from 'RESUME' to 'TERMINATE'" in failed(result).get(
        "KS-SIG-TAMPER-command_type", ""
    )
    assert blocked(result) == {"L2"}


class ObeysOnOneTransport(ObeysRefused):
    """Applies a rule on every transport but one (``transport``): there it obeys
    an authentic command the rule refuses (an expired kill from the kill file)."""

    transport: ClassVar[str] = "file"

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        agent = to or self._require().instance_id
        if via != self.transport and agent not in self._forced:
            return ReferenceAdapter.deliver(self, raw, now, via, to)
        return super().deliver(raw, now, via, to)


def obeys_on(transport: str, *reasons: str) -> type[ObeysOnOneTransport]:
    name = f"Obeys{'And'.join(r.title().replace('_', '') for r in reasons)}Via{transport.title()}"
    attributes = {"transport": transport, "reasons": frozenset(reasons)}
    return type(name, (ObeysOnOneTransport,), attributes)


@pytest.mark.parametrize(
    "mutant",
    [
        obeys_on("file", "EXPIRED"),
        obeys_on("poll", "EXPIRED"),
        obeys_on("file", "NOT_YET_VALID", "LIFETIME_TOO_LONG"),
        obeys_on("file", TARGETING),
        obeys_on("poll", TARGETING),
    ],
    ids=lambda v: v.__name__,
)
def test_a_rule_skipped_on_one_transport_fails_the_transport_rules(
    mutant: type[ObeysOnOneTransport],
) -> None:
    result = run(
        mutant, TARGET_CASES | TIME_CASES | {"KS-TRANSPORT-VERIFIED", "KS-TRANSPORT-RULES"}
    )
    failures = failed(result)
    assert set(failures) == {"KS-TRANSPORT-RULES"}, failures  # before: nothing failed, H
    assert f"(via {mutant.transport}) was accepted" in failures["KS-TRANSPORT-RULES"]
    assert blocked(result) == {"L2"}


class NoTrustViaFile(Mutant):
    """With no trusted key, obeys whatever the kill file says (it is "local")."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        observation = super().deliver(raw, now, via, to)
        if via == "file" and not self._require().trusted_keys and _command_type(raw) == "TERMINATE":
            return Observation(True, None, "TERMINATED")
        return observation


def test_no_trust_anchor_is_checked_on_every_transport() -> None:
    failures = failed(run(NoTrustViaFile, {"KS-TRUST-NONE", "KS-TRANSPORT-RULES"}))
    assert set(failures) == {"KS-TRANSPORT-RULES"}, failures
    assert "via file while no key is trusted" in failures["KS-TRANSPORT-RULES"]


class TargetIgnoringCase(ObeysRefused):
    """Compares target and asset ids case-insensitively."""

    reasons = frozenset({"NOT_FOR_THIS_AGENT"})

    def _authentic_kind(self, raw: bytes, to: str | None) -> str | None:
        kind = super()._authentic_kind(raw, to)
        if kind is None:
            return None
        command = self._listener(to).profile.decode(raw).command
        config = self._require()
        asset = command.target_asset_id
        same_target = command.target_instance_id.lower() == config.instance_id.lower()
        same_asset = asset is None or asset.lower() == (config.asset_id or "").lower()
        return kind if same_target and same_asset else None


def test_targets_are_compared_exactly() -> None:
    result = run(TargetIgnoringCase, TARGET_CASES)
    failures = failed(result)
    assert set(failures) == {"KS-TARGET-INSTANCE", "KS-TARGET-ASSET"}, failures
    assert "'AGENT-UNDER-TEST'" in failures["KS-TARGET-INSTANCE"]
    assert "'ASSET-BILLING'" in failures["KS-TARGET-ASSET"]
    assert blocked(result) == {"L1"}


class ExpiredWithoutCascade(ObeysRefused):
    """Checks expiry only on the cascading path: cascade=false skips it."""

    reasons = frozenset({"EXPIRED"})

    def _authentic_kind(self, raw: bytes, to: str | None) -> str | None:
        kind = super()._authentic_kind(raw, to)
        if kind is None or self._listener(to).profile.decode(raw).command.cascade:
            return None
        return kind


def test_expiry_is_probed_with_cascade_off() -> None:
    result = run(ExpiredWithoutCascade, {"KS-TIME-EXPIRED"})
    assert "(cascade=False) was accepted" in failed(result).get("KS-TIME-EXPIRED", "")
    assert blocked(result) == {"L2"}


class ObeysRevoked(ObeysRefused):
    """Ignores the revocation of a listed key for commands of ``kind``."""

    reasons = frozenset({"UNKNOWN_KEY", "BAD_SIGNATURE"})

    def _authentic_kind(self, raw: bytes, to: str | None) -> str | None:
        listener = self._listener(to)
        listed = TrustStore(
            VerifyingKey.from_pem(k.key_id, k.public_pem, Algorithm(k.algorithm))
            for k in self._require().trusted_keys
        )
        try:
            envelope = listener.profile.decode(raw)
        except Exception:
            return None
        if listener.profile.verify(envelope, listed) is not None:
            return None
        return envelope.command.command_type.value


@pytest.mark.parametrize("kind", ["TERMINATE", "RESUME"])
def test_a_revoked_key_is_probed_with_every_kind(kind: str) -> None:
    mutant = type(f"ObeysRevoked{kind.title()}", (ObeysRevoked,), {"kind": kind})
    failures = failed(run(mutant, {"KS-KEY-REVOKED"}))
    assert f"a {kind} signed with" in failures.get("KS-KEY-REVOKED", ""), failures


class ReplayCheckedByOneField(ObeysRefused):
    """Remembers only one field (``field``) of the commands of ``kind`` it
    accepted: a new command of that kind reusing the other field is obeyed."""

    reasons = frozenset({"REPLAY"})
    field: ClassVar[str] = "nonce"

    def start(self, config: Config) -> None:
        super().start(config)
        self._seen: set[str] = set()

    def _value(self, raw: bytes, to: str | None) -> str | None:
        try:
            command = self._listener(to).profile.decode(raw).command
        except Exception:
            return None
        return str(getattr(command, self.field))

    def _authentic_kind(self, raw: bytes, to: str | None) -> str | None:
        kind = super()._authentic_kind(raw, to)
        return None if kind is None or self._value(raw, to) in self._seen else kind

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        observation = super().deliver(raw, now, via, to)
        value = self._value(raw, to)
        if observation.accepted and value is not None:
            self._seen.add(value)
        return observation


@pytest.mark.parametrize(
    ("kind", "field", "case"),
    [
        ("RESUME", "nonce", "KS-REPLAY-COMMAND-ID"),
        ("RESUME", "command_id", "KS-REPLAY-NONCE"),
        ("TERMINATE", "nonce", "KS-REPLAY-COMMAND-ID"),
    ],
)
def test_reused_ids_and_nonces_are_probed_with_every_kind(kind: str, field: str, case: str) -> None:
    name = f"Remembers{field.title()}Of{kind.title()}"
    mutant = type(name, (ReplayCheckedByOneField,), {"kind": kind, "field": field})
    failures = failed(run(mutant, {"KS-REPLAY-NONCE", "KS-REPLAY-COMMAND-ID"}))
    assert set(failures) == {case}, failures
    assert f"a new {kind} carrying" in failures[case]


class StateOnly(ReferenceAdapter):
    """Reports only the state (accepted=None, no reason, no deadline): allowed."""

    capabilities = dataclasses.replace(ReferenceAdapter.capabilities, reasons=False)

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        observation = super().deliver(raw, now, via, to)
        return Observation(None, None, observation.state, None)


def test_the_state_machine_takes_a_listener_reporting_only_its_state() -> None:
    # Was: "a fresh PAUSE in state PAUSED was not accepted: no verdict".
    result = run(StateOnly, {"KS-STATE-MACHINE"})
    assert by_id(result)["KS-STATE-MACHINE"].verdict is Verdict.PASS, failed(result)


class StateOnlyNeverPauses(StateOnly):
    """State only, and a PAUSE changes nothing: still caught by the state."""

    def deliver(self, raw: bytes, now: float, via: str, to: str | None = None) -> Observation:
        if _command_type(raw) == "PAUSE":
            return Observation(None, None, self.state(to), None)
        return super().deliver(raw, now, via, to)


def test_the_state_machine_still_checks_a_state_only_listeners_states() -> None:
    failures = failed(run(StateOnlyNeverPauses, {"KS-STATE-MACHINE"}))
    assert "state is RUNNING, expected PAUSED" in failures.get("KS-STATE-MACHINE", ""), failures
