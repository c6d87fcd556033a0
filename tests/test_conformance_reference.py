"""The reference listener, plugged in like any implementation, against the suite:
every MUST at H with v1, at L3 with seed (H blocked only by marked profile
limitations), and the same verdicts with the injected and the wall clock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.catalog import Case
from conformance.outcome import Verdict
from conformance.report import to_json
from conformance.runner import RunResult, build_setup, cleanup, run_suite

REFERENCE = "conformance.reference:factory"

#: The H cases the seed profile cannot pass, by construction (SPEC.md §4.1.2).
SEED_LIMITATIONS = {
    "KS-KEY-UNKNOWN",
    "KS-SIG-NONCANONICAL",
    "KS-CANON-DELIMITER",
    "KS-CANON-RESPELL",
    "KS-SIG-TAMPER-expires_at",
    "KS-SIG-TAMPER-target_asset_id",
    "KS-SIG-TAMPER-reason",
    "KS-SIG-TAMPER-cascade",
    "KS-SIG-TAMPER-grace_period_seconds",
}


def run(
    tmp_path: Path,
    profile: str,
    level: str = "H",
    *,
    clock: str | None = None,
    examples: int = 15,
    margin: float = 2.0,
    max_wait: float = 5.0,
    only: Callable[[Case], bool] | None = None,
) -> RunResult:
    setup = build_setup(
        impl=REFERENCE,
        cmd=None,
        profile=profile,
        clock=clock,
        seed=7,
        examples=examples,
        margin=margin,
        max_wait=max_wait,
    )
    try:
        return run_suite(setup, level, target=REFERENCE, only=only)
    finally:
        cleanup(setup)


def verdicts(result: RunResult) -> dict[str, Verdict]:
    return {r.case.id: r.verdict for r in result.results}


def failures(result: RunResult) -> dict[str, str]:
    return {r.case.id: r.detail for r in result.results if r.verdict is Verdict.FAIL}


@pytest.fixture(scope="module")
def v1_injected(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run(tmp_path_factory.mktemp("v1"), "v1")


def test_reference_reaches_h_with_v1(v1_injected: RunResult) -> None:
    assert failures(v1_injected) == {}
    assert v1_injected.level_reached == "H"
    assert v1_injected.ok
    unsupported = {r.case.id for r in v1_injected.results if r.verdict is Verdict.UNSUPPORTED}
    assert unsupported == set()  # the reference declares every feature
    # Every case names the SPEC.md requirements it checks.
    assert all(r.case.requirements for r in v1_injected.results)
    assert {r.case.level for r in v1_injected.results} == {"L1", "L2", "L3", "H"}


def test_reference_reaches_l3_with_seed_and_h_is_a_profile_limitation(tmp_path: Path) -> None:
    result = run(tmp_path, "seed")
    assert failures(result) == {}
    limited = {r.case.id: r for r in result.results if r.limitation == "profile"}
    assert set(limited) == SEED_LIMITATIONS
    for r in limited.values():
        assert r.verdict is Verdict.UNSUPPORTED
        assert r.case.level == "H"
        assert "profile" in r.detail
    assert any("KS-071" in r.detail for r in limited.values())
    assert result.level_reached == "L3"
    assert not result.ok  # H was requested: the seed profile cannot reach it
    fields = {f["field"] for f in to_json(result, 1)["undetected_fields"]}
    assert fields == {"expires_at", "target_asset_id", "reason", "cascade", "grace_period_seconds"}


def test_reference_seed_at_l3_passes(tmp_path: Path) -> None:
    result = run(tmp_path, "seed", level="L3", examples=5)
    assert result.ok and result.level_reached == "L3"


def test_wall_clock_gives_the_same_verdicts(tmp_path: Path, v1_injected: RunResult) -> None:
    wall = run(tmp_path, "v1", clock="wall", margin=0.4)
    assert verdicts(wall) == verdicts(v1_injected)
    report = to_json(wall, 0)
    assert report["clock"]["mode"] == "wall"
    assert report["clock"]["declared"] == "injected"
    assert report["clock"]["overridden"] is True
    changed = {c["id"] for c in report["clock"]["changed_cases"]}
    assert {"KS-TIME-BOUNDARY", "KS-TIME-EXPIRES-LATER", "KS-L1-KILL-60S"} <= changed
    # The watchdog and deadline cases really waited (short T) and still passed.
    watchdog = {"KS-WATCHDOG", "KS-WATCHDOG-OFF", "KS-WATCHDOG-FED", "KS-WATCHDOG-NOT-FED"}
    assert watchdog | {"KS-STATE-TERMINATE-DEADLINE"} <= changed
    assert to_json(v1_injected, 0)["clock"]["changed_cases"] == []


def test_waits_beyond_max_wait_are_unsupported_never_failed(tmp_path: Path) -> None:
    waiting = {
        "KS-L1-KILL-60S",
        "KS-TIME-EXPIRES-LATER",
        "KS-REPLAY-WINDOW",
        "KS-REPLAY-NOT-RECORDED",
        "KS-WATCHDOG",
        "KS-WATCHDOG-OFF",
        "KS-WATCHDOG-FED",
        "KS-WATCHDOG-NOT-FED",
        "KS-STATE-TERMINATE-DEADLINE",
    }
    result = run(
        tmp_path,
        "v1",
        clock="wall",
        max_wait=0.0,
        examples=3,
        only=lambda case: case.id in waiting | {"KS-L1-KILL"},
    )
    by_id = {r.case.id: r for r in result.results}
    for case_id in waiting:
        assert by_id[case_id].verdict is Verdict.UNSUPPORTED, by_id[case_id].detail
        assert by_id[case_id].limitation == "clock"
        assert "wall-clock waits are limited to 0 s" in by_id[case_id].detail
    assert by_id["KS-L1-KILL"].verdict is Verdict.PASS
    # A clock limitation blocks no level (a run of some cases claims none at all,
    # so the results say it).
    assert all(r.blocks_level is None for r in result.results)
