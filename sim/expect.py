"""Judge a summary against the scenario's ``[expect]`` table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.aggregate import Summary, percentile
from sim.checkers import CHECKERS
from sim.scenario import Expect


@dataclass(frozen=True)
class Outcome:
    name: str
    expected: str
    actual: str
    passed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "expected": self.expected,
            "actual": self.actual,
            "passed": self.passed,
        }


def _p99(summary: Summary, phase: str, over_all_pairs: bool) -> tuple[float | None, int]:
    """The nearest-rank p99 of ``phase`` and how many pairs never had it. Over all
    the SLA's pairs, those count as later than any limit (inf), so that a p99 is
    never met by leaving out the pairs that were lost; otherwise over the pairs
    that have it."""
    values = sorted(summary.phases.get(phase, ()))
    missing = summary.missing.get(phase, 0) if over_all_pairs else 0
    if not values and not missing:
        return None, 0
    return percentile(values + [math.inf] * missing, 99.0), missing


def _worst(summary: Summary, phase: str) -> float | None:
    values = summary.phases.get(phase)
    return max(values) if values else None


def evaluate(expect: Expect, summary: Summary) -> list[Outcome]:
    out: list[Outcome] = []
    missing = summary.never_effective
    # A run whose pairs were all moot (every command found its agents already
    # there) owes nothing: the time limits hold vacuously, and say so.
    if expect.all_halted_within_s is not None:
        worst = _worst(summary, "time_to_halt")
        ok = missing == 0 and (worst is None or worst <= expect.all_halted_within_s)
        if worst is not None:
            actual = f"max {worst:.3f} s"
        else:
            actual = "never halted" if missing else "no pair had to halt an agent"
        if missing:
            actual += f", {missing} (command, agent) pairs never took effect"
        out.append(
            Outcome("all_halted_within_s", f"<= {expect.all_halted_within_s:g} s", actual, ok)
        )
    if expect.all_terminated_within_s is not None:
        worst = _worst(summary, "total")
        done = len(summary.phases.get("total", ()))
        needed = summary.sla_pairs
        ok = done == needed and (worst is None or worst <= expect.all_terminated_within_s)
        if worst is not None:
            actual = f"max {worst:.3f} s"
        else:
            actual = "none finished" if needed else "no pair had to finish (all moot)"
        if done != needed:
            actual += f", {needed - done} of {needed} never finished"
        out.append(
            Outcome(
                "all_terminated_within_s", f"<= {expect.all_terminated_within_s:g} s", actual, ok
            )
        )
    if expect.max_orphans is not None:
        # Per replication: a Monte Carlo batch is judged by its worst run.
        tally = summary.checks.get("no_orphans")
        worst = tally.worst_run if tally else 0
        total = tally.violations if tally else 0
        actual = f"{worst} in the worst run ({total} over {summary.runs} runs)"
        out.append(
            Outcome(
                "max_orphans",
                f"<= {expect.max_orphans} per run",
                actual,
                worst <= expect.max_orphans,
            )
        )
    # Delivery over all pairs (a lost command is the worst delivery); total over
    # the pairs that finished (the others are judged by compliance and orphans).
    for name, phase, limit, over_all_pairs in (
        ("p99_delivery_s", "delivery", expect.p99_delivery_s, True),
        ("p99_total_s", "total", expect.p99_total_s, False),
    ):
        if limit is None:
            continue
        value, missing = _p99(summary, phase, over_all_pairs)
        ok = value <= limit if value is not None else summary.sla_pairs == 0
        if value is None:
            actual = "no samples" + ("" if summary.sla_pairs else " (every pair was moot)")
        elif value == math.inf:
            actual = f"beyond any limit: {missing} of the pairs have no {phase}"
        else:
            actual = f"{value:.3f} s" + (f" ({missing} pairs without {phase})" if missing else "")
        out.append(Outcome(name, f"<= {limit:g} s", actual, ok))
    if expect.min_sla_compliance is not None:
        c = summary.compliance()
        lo, hi = c["wilson95"]
        ok = c["rate"] >= expect.min_sla_compliance or c["n"] == 0
        actual = f"{c['rate']:.4f} (95% CI {lo:.4f}-{hi:.4f}, n={c['n']})"
        if c["n"] == 0:
            actual = "no SLA pairs: every (command, agent) pair was moot"
        out.append(Outcome("min_sla_compliance", f">= {expect.min_sla_compliance:g}", actual, ok))
    if expect.max_spend_after_click is not None:
        spend = summary.spend_after_click / max(1, summary.runs)
        ok = spend <= expect.max_spend_after_click
        out.append(
            Outcome(
                "max_spend_after_click", f"<= {expect.max_spend_after_click:g}", f"{spend:.4f}", ok
            )
        )
    expected_failures = set(expect.violations)
    for name in CHECKERS:
        tally = summary.checks.get(name)
        failed = tally is not None and tally.failed_runs > 0
        if name in expected_failures:
            actual = (
                "failed (as expected)" if failed else "passed: the documented weakness did not show"
            )
            out.append(Outcome(f"checker:{name}", "fails (documented weakness)", actual, failed))
        else:
            detail = tally.first_failure["detail"] if tally and tally.first_failure else ""
            actual = (
                f"failed in {tally.failed_runs} run(s): {detail}" if failed and tally else "passed"
            )
            out.append(Outcome(f"checker:{name}", "passes", actual, not failed))
    return out
