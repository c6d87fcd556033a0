"""The pieces under the report: the bounded CDF results.json carries, the
statistics read from it, and the tidy-tree layout."""

from __future__ import annotations

import random
from array import array

from hypothesis import given
from hypothesis import strategies as st

from reports.stats import (
    box,
    halt_budget,
    headline,
    interrupted_note,
    long_tail,
    phase_table,
    quantile,
)
from reports.tree import tidy_layout
from sim.aggregate import CDF_EXACT_MAX, cdf_points, describe, percentile
from sim.results import reproduce_options


def test_cdf_is_exact_for_small_samples() -> None:
    values = sorted([0.3, 0.1, 0.2, 0.2])
    points = cdf_points(values)
    # The tie at 0.2 is one point: half the samples are below it, 3/4 at most it.
    assert points == {"x": [0.1, 0.2, 0.3], "p": [0.25, 0.75, 1.0]}


@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=3000))
def test_cdf_is_bounded_monotone_and_keeps_the_extremes(values: list[float]) -> None:
    ordered = sorted(values)
    points = cdf_points(ordered)
    xs, ps = points["x"], points["p"]
    assert len(xs) == len(ps) <= max(CDF_EXACT_MAX, 120)
    assert xs == sorted(xs) and ps == sorted(ps) and ps[-1] == 1.0
    assert xs[0] == round(ordered[0], 6) and xs[-1] == round(ordered[-1], 6)
    # Every point is an order statistic: x is the value at rank p * n, and p is
    # the fraction of samples at most x (ties included).
    n = len(ordered)
    assert len(set(xs)) == len(xs)
    for x, p in zip(xs, ps, strict=True):
        at = ordered[round(p * n) - 1]
        assert x == round(at, 6)
        assert p == round(sum(1 for v in ordered if v <= at) / n, 6)


def test_cdf_size_does_not_grow_with_the_samples() -> None:
    rng = random.Random(5)
    sizes = {
        n: len(describe(array("d", (rng.lognormvariate(0, 1) for _ in range(n))))["cdf"]["x"])
        for n in (1_000, 10_000, 100_000)
    }
    assert sizes[1_000] <= 120
    assert sizes[10_000] == sizes[100_000] <= 120


def test_quantiles_and_boxes_read_from_the_cdf() -> None:
    values = sorted(float(v) for v in range(1, 1001))
    d = describe(array("d", values))
    for q in (0.01, 0.25, 0.5, 0.75, 0.99):
        assert quantile(d, q) == percentile(values, 100 * q)
    b = box(d, "x")
    assert (b["whislo"], b["q1"], b["med"], b["q3"], b["whishi"]) == (10, 250, 500, 750, 990)
    assert b["fliers"] == [1000.0]
    # Without a stored CDF (older files) the five percentiles still give a curve.
    legacy = {k: v for k, v in d.items() if k != "cdf"}
    assert quantile(legacy, 0.99) == d["p99"] and quantile(legacy, 1.0) == d["max"]


def test_halt_budget_is_issuance_plus_delivery_plus_verification() -> None:
    sla = {"issuance_target_s": 0.1, "issuance_max_s": 0.5, "delivery_target_s": 5.0,
           "delivery_max_s": 30.0, "verification_target_s": 0.01, "verification_max_s": 0.05,
           "shutdown_target_s": 30.0, "shutdown_max_s": 60.0, "total_target_s": 35.0,
           "total_max_s": 60.0}  # fmt: skip
    target, maximum = halt_budget(sla) or (0, 0)
    assert abs(target - 5.11) < 1e-9 and abs(maximum - 30.55) < 1e-9


def _summary(p99s: dict[str, float], lost: int = 0) -> dict[str, object]:
    by_transport = {v: {"time_to_halt": {"n": 10, "p99": p}} for v, p in p99s.items()}
    return {
        "summary": {
            "phases": {"time_to_halt": {"n": 10, "p99": max(p99s.values())}},
            "by_transport": by_transport,
            "compliance": {
                "rate": 0.992,
                "n": 1000,
                "wilson95": [0.9843, 0.9959],
                "threshold_s": 60,
            },
            "never_effective": lost,
        }
    }


def test_headline_names_the_long_tail_only_when_it_stands_out() -> None:
    assert long_tail(_summary({"sse": 0.2, "poll": 41.0})["summary"]) == ("poll", 41.0)  # type: ignore[arg-type]
    assert long_tail(_summary({"sse": 0.2, "cascade": 0.3})["summary"]) is None  # type: ignore[arg-type]
    text = headline(_summary({"sse": 0.2, "poll": 41.0}))
    assert text == (
        "p99 time-to-halt is 41 s, 99.20% (98.43%-99.59%) of 1000 (command, agent) pairs"
        " finish within the 60 s SLA, poll is the long tail (p99 time-to-halt 41 s) and"
        " nothing was lost."
    )
    assert headline(_summary({"sse": 0.2}, lost=3)).endswith("and 3 pairs never took effect.")


def test_tidy_layout_centres_parents_over_children_and_separates_leaves() -> None:
    edges = [("r", "a"), ("r", "b"), ("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1"),
             ("s", "s1")]  # fmt: skip
    nodes = ["r", "a", "b", "a1", "a2", "a3", "b1", "s", "s1"]
    pos = tidy_layout(edges, nodes)
    assert set(pos) == set(nodes)
    depth = {"r": 0, "a": 1, "b": 1, "a1": 2, "a2": 2, "a3": 2, "b1": 2, "s": 0, "s1": 1}
    assert all(pos[n][1] == -depth[n] for n in nodes)
    leaves = ["a1", "a2", "a3", "b1", "s1"]
    xs = [pos[leaf][0] for leaf in leaves]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # depth-first order, no overlap
    assert pos["a"][0] == (pos["a1"][0] + pos["a3"][0]) / 2
    assert pos["r"][0] == (pos["a"][0] + pos["b"][0]) / 2
    assert pos["s"][0] > pos["b1"][0]  # the second tree of the forest sits to the right


def test_tidy_layout_handles_a_deep_chain_without_recursion() -> None:
    chain = [(f"n{i}", f"n{i + 1}") for i in range(5000)]
    pos = tidy_layout(chain, [f"n{i}" for i in range(5001)])
    assert pos["n5000"] == (0.0, -5000.0) and pos["n0"] == (0.0, 0.0)


def test_reproduce_options_repeat_exactly_the_runs_reported() -> None:
    batch = {"seed": 7, "replications": 40, "first_run": {"seed": 123}}
    assert reproduce_options(batch) == "--seed 7 --replications 40"
    single = {"seed": 7, "replications": 1, "first_run": {"seed": 7}}
    assert reproduce_options(single) == "--seed 7"
    # Ctrl-C after the first replication of a batch: that run used a derived seed.
    cut_short = {"seed": 7, "replications": 1, "first_run": {"seed": 123},
                 "interrupted": {"requested": 40, "done": 1}}  # fmt: skip
    assert reproduce_options(cut_short) == "--seed 123"
    assert interrupted_note(cut_short) == "Ctrl-C after 1 of 40 replications"
    assert interrupted_note(batch) is None


def test_pairs_never_delivered_count_against_the_share_within_the_maximum() -> None:
    # 8 deliveries, all within the 30 s maximum, and 2 pairs never delivered:
    # 8 of 10 were delivered in time, not 8 of 8.
    phases = {"delivery": describe(array("d", [1.0] * 8), (5.0, 30.0))}
    (row,) = phase_table(phases, {"delivery": 2, "total": 3})
    assert (row["n"], row["missing"]) == (8, 2)
    assert (row["within_max"]["met"], row["within_max"]["n"]) == (8, 10)
    assert row["within_target"]["rate"] == 0.8
    (row,) = phase_table(phases)  # older results carry no missing counts
    assert (row["within_max"]["n"], "missing" in row) == (8, False)
