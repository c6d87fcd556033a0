"""Aggregation: nearest-rank percentiles, Wilson intervals and SLA compliance counting.

Expected values are worked out by hand from the definitions, not read back
from the implementation.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import replace
from typing import Any

import pytest

from sim.aggregate import Summary, describe, percentile, wilson
from sim.checkers import Check
from sim.expect import evaluate
from sim.runner import RunResult
from sim.scenario import Expect, Sla

Z = 1.959963984540054  # the 97.5th percentile of the standard normal


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        # The classic nearest-rank example: rank = ceil(p/100 * 5).
        (5.0, 15.0),  # rank 1
        (30.0, 20.0),  # ceil(1.5) = 2
        (40.0, 20.0),  # exactly 2.0 -> rank 2, no interpolation
        (50.0, 35.0),  # ceil(2.5) = 3
        (100.0, 50.0),
        (0.0, 15.0),  # rank is at least 1
    ],
)
def test_percentile_nearest_rank(p: float, expected: float) -> None:
    assert percentile([15.0, 20.0, 35.0, 40.0, 50.0], p) == expected


def test_percentile_of_one_to_a_hundred_is_the_rank_itself() -> None:
    values = [float(v) for v in range(1, 101)]
    for p in (1.0, 50.0, 90.0, 99.0):
        assert percentile(values, p) == p
    assert percentile(values, 99.9) == 100.0  # ceil(99.9) = 100
    assert percentile(values, 0.5) == 1.0  # ceil(0.5) = 1


def test_percentile_accepts_a_compact_array() -> None:
    assert percentile(array("d", [1.0, 2.0, 3.0, 4.0]), 50.0) == 2.0


def wilson_by_hand(successes: int, n: int) -> tuple[float, float]:
    """(s + z^2/2 -/+ z*sqrt(s(n-s)/n + z^2/4)) / (n + z^2): the Wilson interval multiplied by n."""
    root = Z * math.sqrt(successes * (n - successes) / n + Z * Z / 4)
    centre = successes + Z * Z / 2
    return (centre - root) / (n + Z * Z), (centre + root) / (n + Z * Z)


def test_wilson_zero_successes() -> None:
    lo, hi = wilson(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12)
    # With s = 0 the square root is z/2, so the upper bound is z^2 / (n + z^2).
    assert hi == pytest.approx(Z * Z / (10 + Z * Z), rel=1e-12)
    assert hi == pytest.approx(0.2775, abs=1e-4)


def test_wilson_all_successes_mirrors_zero() -> None:
    lo, hi = wilson(10, 10)
    assert lo == pytest.approx(10 / (10 + Z * Z), rel=1e-12)
    assert lo == pytest.approx(0.7225, abs=1e-4)
    assert hi == pytest.approx(1.0, abs=1e-12)


def test_wilson_half() -> None:
    lo, hi = wilson(5, 10)
    assert (lo, hi) == pytest.approx(wilson_by_hand(5, 10), rel=1e-12)
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)  # symmetric about 0.5


@pytest.mark.parametrize(("s", "n"), [(1, 3), (17, 20), (990, 1000), (3, 1000)])
def test_wilson_matches_the_formula(s: int, n: int) -> None:
    lo, hi = wilson(s, n)
    assert (lo, hi) == pytest.approx(wilson_by_hand(s, n), rel=1e-12)
    assert lo < s / n < hi


def test_wilson_of_nothing_is_the_whole_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def row(op: str, agent: str, kind: str = "TERMINATE", **phases: float) -> dict[str, Any]:
    return {
        "op": op,
        "agent": agent,
        "kind": kind,
        "via": "sse" if "delivery" in phases else None,
        "depth": 0 if agent == "root" else 1,
        "rejected": None,
        "actions": 0,
        "spend": 0.0,
        "phases": phases,
    }


def result(seed: int, rows: list[dict[str, Any]], failed: tuple[str, ...] = ()) -> RunResult:
    checks = [
        Check(name, False, 2, "detail") if name in failed else Check(name, True, 0, "")
        for name in ("no_orphans", "terminate_final")
    ]
    return RunResult(
        seed=seed,
        digest=f"d{seed}",
        trace_lines=1,
        agents=len(rows),
        checks=checks,
        rows=rows,
        counters={"accepted": len(rows)},
        final_states={"TERMINATED": len(rows)},
        actions_after_click=3,
        spend_after_click=0.5,
        virtual_s=100.0,
    )


def test_compliance_counts_pairs_within_the_total_maximum() -> None:
    sla = Sla(total_max_s=60.0, delivery_target_s=5.0, delivery_max_s=30.0)
    summary = Summary(sla)
    summary.add(
        result(
            1,
            [
                row("op0", "root", delivery=1.0, total=10.0, time_to_halt=1.0),
                row("op0", "a", delivery=5.0, total=60.0, time_to_halt=5.0),  # on the limit: met
                row("op0", "b", delivery=31.0, total=60.5, time_to_halt=31.0),  # over: not met
            ],
        )
    )
    summary.add(
        result(
            2,
            [
                row("op0", "root", delivery=0.5, total=3.0, time_to_halt=0.5),
                row("op0", "a"),  # never delivered: counts against compliance
                row("op1", "a", kind="RESUME"),  # a RESUME never halts anything
            ],
            failed=("no_orphans",),
        )
    )
    c = summary.compliance()
    assert (c["met"], c["n"]) == (3, 6)
    assert c["rate"] == 0.5
    assert c["wilson95"] == pytest.approx(list(wilson_by_hand(3, 6)), abs=1e-6)
    assert summary.never_effective == 1  # the RESUME row is not "never effective"
    out = summary.to_json()
    delivery = out["phases"]["delivery"]
    assert delivery["n"] == 4
    assert delivery["within_target"] == 2  # strictly under 5 s: 1.0 and 0.5
    assert delivery["within_max"] == 3  # at most 30 s
    assert delivery["p50"] == 1.0  # sorted 0.5, 1, 5, 31: rank ceil(2) = 2
    assert delivery["max"] == 31.0
    assert out["checks"]["no_orphans"] == {
        "passed_runs": 1,
        "failed_runs": 1,
        "violations": 2,
        "worst_run": 2,
        "first_failure": {"seed": 2, "detail": "detail"},
    }
    assert out["checks"]["terminate_final"]["failed_runs"] == 0
    assert out["counters"] == {"accepted": 6}
    assert out["spend"]["actions_after_click"] == 6
    assert out["spend"]["mean_spend_per_run"] == 0.5
    assert [r["seed"] for r in summary.run_rows] == [1, 2]
    assert summary.run_rows[1]["failed_checks"] == ["no_orphans"]


def test_describe_reports_rank_percentiles_and_sla_counts() -> None:
    values = array("d", [float(v) for v in range(10, 0, -1)])  # unsorted on purpose
    d = describe(values, (5.0, 8.0))
    assert (d["n"], d["p50"], d["p90"], d["p99"], d["max"]) == (10, 5.0, 9.0, 10.0, 10.0)
    assert d["mean"] == 5.5
    assert d["within_target"] == 4  # 1..4 are strictly under 5
    assert d["within_max"] == 8  # 1..8 are at most 8


def test_expectations_judge_the_summary() -> None:
    summary = Summary(Sla())
    summary.add(
        result(
            1,
            [row("op0", "root", delivery=1.0, total=10.0, time_to_halt=1.0), row("op0", "a")],
            failed=("no_orphans",),
        )
    )
    expect = Expect(
        all_halted_within_s=5.0, max_orphans=0, p99_delivery_s=2.0, violations=["no_orphans"]
    )
    outcomes = {o.name: o for o in evaluate(expect, summary)}
    # One pair never took effect, so "all halted" fails even though the worst seen is 1 s.
    assert not outcomes["all_halted_within_s"].passed
    assert "never took effect" in outcomes["all_halted_within_s"].actual
    assert not outcomes["max_orphans"].passed
    # Half the pairs were never delivered: their delivery is later than any limit.
    assert not outcomes["p99_delivery_s"].passed
    assert outcomes["p99_delivery_s"].actual == "beyond any limit: 1 of the pairs have no delivery"
    assert outcomes["checker:no_orphans"].passed  # expected to fail, and it did
    assert outcomes["checker:terminate_final"].passed


@pytest.mark.parametrize(("lost", "passed"), [(0, True), (1, True), (2, True), (3, False)])
def test_a_p99_of_delivery_counts_the_pairs_never_delivered(lost: int, passed: bool) -> None:
    # 200 pairs: the nearest-rank p99 is the 198th; up to two lost pairs (counted
    # as infinitely late) leave it a real delivery, a third makes it infinite.
    rows = [row("op0", f"a{i}", delivery=1.0, total=2.0, time_to_halt=1.0) for i in range(200)]
    for r in rows[:lost]:
        r["phases"] = {}
    summary = Summary(Sla())
    summary.add(result(1, rows))
    assert summary.missing == ({"delivery": lost, "total": lost} if lost else {})
    outcomes = {o.name: o for o in evaluate(Expect(p99_delivery_s=2.0, p99_total_s=3.0), summary)}
    assert outcomes["p99_delivery_s"].passed is passed
    # p99_total_s is over the pairs that finished (documented): all 2.0 s.
    assert outcomes["p99_total_s"].passed
    assert outcomes["p99_total_s"].actual == "2.000 s"


def test_a_moot_pair_is_no_sla_sample() -> None:
    # A second TERMINATE refused ALREADY_TERMINATED and a RESUME refused NOT_PAUSED
    # had nothing to do: not SLA pairs, not "never took effect", not missing; a
    # STALE refusal is a real failure to take effect.
    again = row("op1", "root", delivery=0.5)
    again["rejected"] = "ALREADY_TERMINATED"
    noop = row("op2", "root", kind="RESUME", delivery=0.5)
    noop["rejected"] = "NOT_PAUSED"
    stale = row("op3", "root", kind="PAUSE", delivery=0.5)
    stale["rejected"] = "STALE"
    first = row("op0", "root", delivery=1.0, total=10.0, time_to_halt=1.0)
    summary = Summary(Sla())
    summary.add(result(1, [first, again, noop, stale]))
    assert (summary.sla_pairs, summary.moot, summary.never_effective) == (2, 2, 1)
    assert summary.missing == {"total": 1}
    assert summary.compliance()["met"] == 1
    # Moot pairs are no samples at all (they would dilute a p99 over all pairs).
    assert list(summary.phases["delivery"]) == [1.0, 0.5]
    out = summary.to_json()
    assert (out["moot"], out["missing"]) == (2, {"total": 1})


def test_merging_summaries_is_adding_their_runs_one_by_one() -> None:
    # Spends chosen so that the order of the float additions shows:
    # (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3).
    runs = [
        replace(
            result(
                seed,
                [
                    row("op0", "root", delivery=0.1 * seed, total=10.0 + seed, time_to_halt=1.0)
                    | {"link": "eu" if seed % 2 else "default"}
                ],
                failed=("no_orphans",) if seed in (2, 3) else (),
            ),
            spend_after_click=spend,
            counters={f"c{seed % 2}": seed},
        )
        for seed, spend in [(1, 0.1), (2, 0.2), (3, 0.3), (4, 0.7)]
    ]
    one_by_one = Summary(Sla())
    for run in runs:
        one_by_one.add(run)
    merged = Summary(Sla())
    merged.add(runs[0])
    for part in ([runs[1], runs[2]], [], [runs[3]]):
        later = Summary(Sla())
        for run in part:
            later.add(run)
        merged.merge(later)
    assert merged.to_json() == one_by_one.to_json()
    assert merged.to_json()["by_link"]["eu"]["total"]["n"] == 2
    assert merged.run_rows == one_by_one.run_rows
    assert merged.spend_after_click == one_by_one.spend_after_click  # exactly
    assert merged.checks["no_orphans"].first_failure == {"seed": 2, "detail": "detail"}
    assert merged.checks["no_orphans"].failed_runs == 2
