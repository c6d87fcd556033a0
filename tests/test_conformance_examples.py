"""The two example implementations: the naive, seed-like listener (wall clock)
fails exactly the cases it should; the Node.js v1 listener passes at H."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.context import Context
from conformance.outcome import Verdict
from conformance.runner import RunResult, build_setup, cleanup, run_suite
from conformance.vectors import build, check

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAIVE = f"{EXAMPLES / 'naive_adapter.py'}:factory"
NODE = f"node {EXAMPLES / 'node-v1' / 'listener.js'}"

#: What the naive listener gets wrong, by case, and the SPEC.md rule it breaks.
NAIVE_FAILS = {
    # Target matches if the instance OR the wildcard OR the asset matches (KS-012, KS-013).
    "KS-TARGET-INSTANCE",
    "KS-TARGET-ASSET",
    "KS-TARGET-WILDCARD",
    # A zone-less issued_at is signed and compared without complaint (KS-011).
    "KS-TIME-NAIVE",
    # Unsigned fields are taken without type checks; NaN and such pass json.loads (KS-040).
    "KS-ROBUST-TYPES",
    "KS-ROBUST-JSON",
    # No size limit (KS-123).
    "KS-ROBUST-HUGE",
    # No not-yet-valid check, no lifetime bound, no clock-skew leeway (KS-100..KS-104).
    "KS-TIME-NOT-YET-VALID",
    "KS-TIME-LIFETIME",
    "KS-TIME-BOUNDARY",
    "KS-TIME-EXPIRES-LATER",
    # The same gaps (and the loose target match) on every transport.
    "KS-TRANSPORT-RULES",
    "KS-REPLAY-WINDOW",
    "KS-REPLAY-NOT-RECORDED",
    # Replay by command id only, in memory (KS-140, KS-144).
    "KS-REPLAY-NONCE",
    "KS-REPLAY-RESTART",
    # Nothing survives a restart; no ordering (KS-144, KS-160, KS-165).
    "KS-STATE-TERMINATE-RESTART",
    "KS-STATE-PAUSE-RESTART",
    "KS-STATE-STALE-RESUME",
    "KS-STATE-MACHINE",
    "KS-ORDER-PERMUTE",
    # Trusts the first listed key only: a second active key is not trusted, and a
    # revoked key listed first is (KS-070).
    "KS-KEY-ROTATION",
    "KS-KEY-REVOKED",
    # Decides test vectors wrongly: another instance of the same asset, not yet
    # valid, over-long lifetime (KS-120); nonce replays and stale RESUMEs (KS-140, KS-161).
    "KS-VECTORS",
    "KS-VECTORS-REPLAY",
}

#: Checks the naive listener does get right (the seed verifies its six fields properly).
NAIVE_PASSES = {
    "KS-L1-KILL",
    # Its six signed fields are verified on every transport it reads.
    "KS-TRANSPORT-VERIFIED",
    "KS-VECTORS-ENCODING",
    "KS-L1-KILL-60S",
    "KS-STATE-TERMINATE-FINAL",
    # TERMINATE goes straight to TERMINATED: no deadline for a second one to move.
    "KS-STATE-TERMINATE-DEADLINE",
    "KS-VALID-ACCEPT",
    "KS-TRUST-NONE",
    "KS-SIG-WRONG-KEY",
    "KS-SIG-MUTATE",
    "KS-ALG-NONE",
    "KS-ALG-HMAC",
    "KS-ALG-SWITCH",
    "KS-TIME-EXPIRED",
    "KS-REPLAY-DUPLICATE",
    "KS-REPLAY-COMMAND-ID",
    "KS-SIG-TAMPER-command_id",
    "KS-SIG-TAMPER-issued_by",
    "KS-SIG-TAMPER-nonce",
}


def verdicts(result: RunResult) -> dict[str, Verdict]:
    return {r.case.id: r.verdict for r in result.results}


@pytest.fixture(scope="module")
def naive() -> RunResult:
    setup = build_setup(
        impl=NAIVE, cmd=None, profile=None, clock=None, seed=3, examples=20, margin=0.75
    )
    try:
        return run_suite(setup, "H", target=NAIVE)
    finally:
        cleanup(setup)


def test_naive_runs_in_its_declared_wall_clock_mode(naive: RunResult) -> None:
    assert naive.setup.clock_mode == "wall"
    assert naive.setup.profile_name == "seed"


def test_naive_fails_exactly_the_cases_it_should(naive: RunResult) -> None:
    by_id = verdicts(naive)
    failed = {case for case, verdict in by_id.items() if verdict is Verdict.FAIL}
    assert failed == NAIVE_FAILS
    for case in NAIVE_PASSES:
        assert by_id[case] is Verdict.PASS, case
    assert naive.level_reached is None
    assert not naive.ok


def test_naive_failures_carry_shrunk_replayable_counterexamples(naive: RunResult) -> None:
    details = {r.case.id: r for r in naive.results}
    assert "asset 'asset-other'" in details["KS-TARGET-ASSET"].detail
    permute = details["KS-ORDER-PERMUTE"]
    assert permute.transcript is not None and permute.example is not None
    # Shrunk: a handful of deliveries, not a random jumble.
    delivered = [s for s in permute.transcript["steps"] if s["op"] == "deliver"]
    assert 2 <= len(delivered) <= 4
    assert all(r.transcript for r in naive.results if r.verdict is Verdict.FAIL)


def test_naive_unsupported_cases_name_the_reason(naive: RunResult) -> None:
    unsupported = {r.case.id: r for r in naive.results if r.verdict is Verdict.UNSUPPORTED}
    assert unsupported["KS-CASCADE-TERMINATE"].limitation == "capability"
    assert unsupported["KS-SIG-TAMPER-cascade"].limitation == "profile"
    assert "KS-071" in unsupported["KS-SIG-TAMPER-cascade"].detail
    assert unsupported["KS-REASONS"].limitation == "capability"
    for case in ("KS-WATCHDOG", "KS-WATCHDOG-OFF", "KS-WATCHDOG-FED", "KS-WATCHDOG-NOT-FED"):
        assert unsupported[case].limitation == "capability"  # the seed has no watchdog


node_missing = shutil.which("node") is None
needs_node = pytest.mark.skipif(node_missing, reason="the Node.js example needs `node` on PATH")


@needs_node
def test_node_example_passes_at_h(tmp_path: Path) -> None:
    setup = build_setup(
        impl=None, cmd=NODE, profile=None, clock=None, seed=11, examples=25, work_dir=tmp_path
    )
    try:
        result = run_suite(setup, "H", target=NODE)
        failed = {r.case.id: r.detail for r in result.results if r.verdict is Verdict.FAIL}
        assert failed == {}
        assert result.level_reached == "H"
        unsupported = {r.case.id for r in result.results if r.verdict is Verdict.UNSUPPORTED}
        assert unsupported == set()  # it offers the watchdog too
        by_id = verdicts(result)
        for case in ("KS-REASONS", "KS-WATCHDOG-NOT-FED", "KS-KEY-REVOKED"):
            assert by_id[case] is Verdict.PASS, case
    finally:
        cleanup(setup)


@needs_node
def test_node_example_agrees_with_every_v1_vector() -> None:
    setup = build_setup(impl=None, cmd=NODE, profile="v1", clock=None, seed=0, examples=1)
    try:
        ctx = Context(setup, "vectors", 0)
        assert check(build("v1", 0), lambda key: ctx.open(trusted=(key,))) == []
    finally:
        cleanup(setup)


@needs_node
def test_node_example_reports_the_hard_kill_deadline_it_keeps() -> None:
    setup = build_setup(impl=None, cmd=NODE, profile="v1", clock=None, seed=0, examples=1)
    try:
        ctx = Context(setup, "deadline", 0)
        inst = ctx.open()
        first = inst.deliver(ctx.sign("TERMINATE", grace_period_seconds=30))
        assert first.state == "TERMINATING"
        assert first.hard_kill_at == ctx.now() + 30
        ctx.wait(5)
        second = inst.deliver(ctx.sign("TERMINATE", grace_period_seconds=30))
        assert (second.accepted, second.reason) == (False, "ALREADY_TERMINATED")
        assert second.hard_kill_at == first.hard_kill_at
    finally:
        cleanup(setup)
