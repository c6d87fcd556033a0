"""Aggregate replications into percentiles, SLA compliance and checker tallies.

Replications are added one at a time, in seed order, whatever process ran
them, so the summary is the same for any ``--jobs``. Samples are kept in
compact arrays (8 bytes each); the per-run detail is dropped after adding.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sim.checkers import Check
from sim.runner import RunResult
from sim.samples import Samples
from sim.scenario import Sla

#: A grouping's key: a transport or link name, or a depth.
K = TypeVar("K", str, int)

PHASES = ("issuance", "delivery", "verification", "shutdown", "total", "time_to_halt")
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
#: Each distribution carries a compact CDF for the report plots: every value up
#: to this many samples, else the order statistics at CDF_LEVELS (dense in the
#: tail), so results.json stays the same size for any number of replications.
CDF_EXACT_MAX = 128
CDF_LEVELS = (
    *(k / 100 for k in range(1, 100)),
    *(0.99 + k / 1000 for k in range(1, 10)),
    *(0.999 + k / 10000 for k in range(1, 10)),
)


def percentile(sorted_values: array[float] | list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (exact, deterministic)."""
    n = len(sorted_values)
    rank = max(1, math.ceil(p / 100.0 * n))
    return float(sorted_values[rank - 1])


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def cdf_points(ordered: list[float]) -> dict[str, list[float]]:
    """Points (x, fraction of samples <= x) of the empirical CDF: all of them for
    small samples, else the minimum, the order statistics at CDF_LEVELS and the
    maximum. Tied samples are one point, at the fraction up to the last of them."""
    n = len(ordered)
    if n <= CDF_EXACT_MAX:
        ranks = list(range(1, n + 1))
    else:
        ranks = sorted({1, n, *(max(1, math.ceil(q * n)) for q in CDF_LEVELS)})
    xs: list[float] = []
    ps: list[float] = []
    for r in ranks:
        x = ordered[r - 1]
        point, fraction = round(x, 6), round(bisect_right(ordered, x) / n, 6)
        if xs and xs[-1] == point:  # a tie (or equal to the microsecond): one point
            ps[-1] = fraction
            continue
        xs.append(point)
        ps.append(fraction)
    return {"x": xs, "p": ps}


def sla_limits(sla: Sla) -> dict[str, tuple[float, float]]:
    return {
        "issuance": (sla.issuance_target_s, sla.issuance_max_s),
        "delivery": (sla.delivery_target_s, sla.delivery_max_s),
        "verification": (sla.verification_target_s, sla.verification_max_s),
        "shutdown": (sla.shutdown_target_s, sla.shutdown_max_s),
        "total": (sla.total_target_s, sla.total_max_s),
    }


def describe(values: array[float], limits: tuple[float, float] | None = None) -> dict[str, Any]:
    ordered = sorted(values)
    out: dict[str, Any] = {"n": len(ordered)}
    if ordered:
        for name, p in PERCENTILES:
            out[name] = round(percentile(ordered, p), 6)
        out["max"] = round(ordered[-1], 6)
        out["mean"] = round(math.fsum(ordered) / len(ordered), 6)
        out["cdf"] = cdf_points(ordered)
    if limits is not None:
        target, maximum = limits
        out["target"] = target
        out["maximum"] = maximum
        out["within_target"] = sum(1 for v in ordered if v < target)
        out["within_max"] = sum(1 for v in ordered if v <= maximum)
    return out


def _extend(into: dict[str, array[float]], values: dict[str, array[float]]) -> None:
    for phase, more in values.items():
        mine = into.get(phase)
        if mine is None:
            into[phase] = array("d", more)
        else:
            mine.extend(more)


def _extend_groups(
    into: dict[K, dict[str, array[float]]], more: dict[K, dict[str, array[float]]]
) -> None:
    for group, phases in more.items():
        _extend(into.setdefault(group, {}), phases)


@dataclass
class CheckTally:
    failed_runs: int = 0
    violations: int = 0
    #: The most violations in any one replication.
    worst_run: int = 0
    first_failure: dict[str, Any] | None = None


@dataclass
class Summary:
    sla: Sla
    runs: int = 0
    phases: dict[str, array[float]] = field(default_factory=dict)
    by_transport: dict[str, dict[str, array[float]]] = field(default_factory=dict)
    by_depth: dict[int, dict[str, array[float]]] = field(default_factory=dict)
    by_link: dict[str, dict[str, array[float]]] = field(default_factory=dict)
    #: Pairs (command, agent) that needed to finish, and how many met the total maximum.
    sla_pairs: int = 0
    sla_met: int = 0
    #: Pairs that never took effect (never delivered, rejected, agent down).
    never_effective: int = 0
    #: Pairs with nothing to do (sim.observe.is_moot): no SLA samples.
    moot: int = 0
    #: Of the SLA's pairs, how many never had a ``delivery`` or a ``total``.
    missing: dict[str, int] = field(default_factory=dict)
    checks: dict[str, CheckTally] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    final_states: dict[str, int] = field(default_factory=dict)
    actions_after_click: int = 0
    spend_after_click: float = 0.0
    run_rows: list[dict[str, Any]] = field(default_factory=list)
    agents: int = 0

    def add(self, result: RunResult) -> None:
        self.runs += 1
        self.agents = result.agents
        samples = result.samples if result.samples is not None else Samples.of_rows(result.rows)
        self._extend_samples(samples)
        self.sla_pairs += samples.pairs
        # A pair meets the SLA when its command took effect and finished in time:
        # each pair has at most one total.
        total_max = self.sla.total_max_s
        self.sla_met += sum(1 for total in samples.phases.get("total", ()) if total <= total_max)
        self.never_effective += samples.never_effective
        self._count_missing(samples)
        for check in result.checks:
            self._tally(check, result.seed)
        for name, n in result.counters.items():
            self.counters[name] = self.counters.get(name, 0) + n
        for state, n in result.final_states.items():
            self.final_states[state] = self.final_states.get(state, 0) + n
        self.actions_after_click += result.actions_after_click
        self.spend_after_click += result.spend_after_click
        self.run_rows.append(
            {
                "seed": result.seed,
                "digest": result.digest,
                "failed_checks": [c.name for c in result.checks if not c.passed],
                "spend_after_click": result.spend_after_click,
            }
        )

    def _extend_samples(self, more: Samples | Summary) -> None:
        """Append ``more``'s durations to every grouping (both hold the same four)."""
        _extend(self.phases, more.phases)
        _extend_groups(self.by_transport, more.by_transport)
        _extend_groups(self.by_depth, more.by_depth)
        _extend_groups(self.by_link, more.by_link)

    def _count_missing(self, more: Samples | Summary) -> None:
        self.moot += more.moot
        for phase, n in more.missing.items():
            self.missing[phase] = self.missing.get(phase, 0) + n

    def merge(self, later: Summary) -> None:
        """Add the runs of ``later``, a summary of the replications that follow
        this one's: the result is exactly what adding them one by one gives (the
        Monte Carlo parent merges what its workers aggregated)."""
        if later.runs == 0:
            return
        self.runs += later.runs
        self.agents = later.agents
        self._extend_samples(later)
        self.sla_pairs += later.sla_pairs
        self.sla_met += later.sla_met
        self.never_effective += later.never_effective
        self._count_missing(later)
        for name, tally in later.checks.items():
            mine = self.checks.setdefault(name, CheckTally())
            mine.failed_runs += tally.failed_runs
            mine.violations += tally.violations
            mine.worst_run = max(mine.worst_run, tally.worst_run)
            if mine.first_failure is None:
                mine.first_failure = tally.first_failure
        for name, n in later.counters.items():
            self.counters[name] = self.counters.get(name, 0) + n
        for state, n in later.final_states.items():
            self.final_states[state] = self.final_states.get(state, 0) + n
        self.actions_after_click += later.actions_after_click
        # Floating-point sums depend on their order: add the runs' spends one by
        # one, as add() does, rather than the other summary's total.
        for row in later.run_rows:
            self.spend_after_click += row["spend_after_click"]
        self.run_rows += later.run_rows

    def _tally(self, check: Check, seed: int) -> None:
        tally = self.checks.setdefault(check.name, CheckTally())
        if not check.passed:
            tally.failed_runs += 1
            tally.violations += check.violations
            tally.worst_run = max(tally.worst_run, check.violations)
            if tally.first_failure is None:
                tally.first_failure = {"seed": seed, "detail": check.detail}

    def compliance(self) -> dict[str, Any]:
        lo, hi = wilson(self.sla_met, self.sla_pairs)
        rate = self.sla_met / self.sla_pairs if self.sla_pairs else 0.0
        return {
            "met": self.sla_met,
            "n": self.sla_pairs,
            "rate": round(rate, 6),
            "wilson95": [round(lo, 6), round(hi, 6)],
            "threshold_s": self.sla.total_max_s,
        }

    def to_json(self) -> dict[str, Any]:
        limits = sla_limits(self.sla)
        return {
            "runs": self.runs,
            "agents": self.agents,
            "phases": {
                p: describe(self.phases[p], limits.get(p)) for p in PHASES if p in self.phases
            },
            "by_transport": {
                via: {p: describe(v, limits.get(p)) for p, v in sorted(phases.items())}
                for via, phases in sorted(self.by_transport.items())
            },
            "by_depth": {
                str(d): {p: describe(v) for p, v in sorted(phases.items())}
                for d, phases in sorted(self.by_depth.items())
            },
            "by_link": {
                link: {p: describe(v, limits.get(p)) for p, v in sorted(phases.items())}
                for link, phases in sorted(self.by_link.items())
            },
            "compliance": self.compliance(),
            "never_effective": self.never_effective,
            "moot": self.moot,
            "missing": dict(sorted(self.missing.items())),
            "checks": {
                name: {
                    "passed_runs": self.runs - t.failed_runs,
                    "failed_runs": t.failed_runs,
                    "violations": t.violations,
                    "worst_run": t.worst_run,
                    "first_failure": t.first_failure,
                }
                for name, t in self.checks.items()
            },
            "final_states": dict(sorted(self.final_states.items())),
            "counters": dict(sorted(self.counters.items())),
            "spend": {
                "actions_after_click": self.actions_after_click,
                "spend_after_click": round(self.spend_after_click, 6),
                "mean_spend_per_run": round(self.spend_after_click / max(1, self.runs), 6),
            },
        }
