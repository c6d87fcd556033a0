"""Numbers the report shows, read from a results file's summary.

A distribution in ``results.json`` is a ``describe`` object (sim/aggregate.py):
``n``, p50/p90/p99/p999/max, and a compact ``cdf`` (at most ~120 points
whatever the number of replications). Everything here works from those
bounded objects, never from raw samples, so rendering a 1,000-replication run
costs what rendering a 1-replication run costs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sim.aggregate import wilson

#: The seed's SLA phases, in the order of its table.
SLA_PHASES = ("issuance", "delivery", "verification", "shutdown", "total")
PERCENTILE_KEYS = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99.9", "p999"))


def limits(sla: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Phase -> (target, maximum) in seconds, from results.json's ``sla``."""
    out = {}
    for phase in SLA_PHASES:
        target, maximum = sla.get(f"{phase}_target_s"), sla.get(f"{phase}_max_s")
        if target is not None and maximum is not None:
            out[phase] = (float(target), float(maximum))
    return out


def halt_budget(sla: dict[str, float]) -> tuple[float, float] | None:
    """Time-to-halt has no row in the seed's table; an agent halts once the
    command is issued, delivered and verified, so its budget is the sum of
    those three phases' targets and maxima."""
    lim = limits(sla)
    parts = [lim.get(p) for p in ("issuance", "delivery", "verification")]
    if any(p is None for p in parts):
        return None
    return (
        sum(p[0] for p in parts if p is not None),
        sum(p[1] for p in parts if p is not None),
    )


def cdf(d: dict[str, Any]) -> tuple[list[float], list[float]]:
    """(x, fraction <= x) points of a distribution. Files without a ``cdf``
    (older writers) fall back to the five percentiles they always carry."""
    stored = d.get("cdf")
    if isinstance(stored, dict) and stored.get("x"):
        return [float(v) for v in stored["x"]], [float(v) for v in stored["p"]]
    if not d.get("n"):
        return [], []
    points = [(d["p50"], 0.5), (d["p90"], 0.9), (d["p99"], 0.99), (d["p999"], 0.999)]
    points.append((d["max"], 1.0))
    return [float(x) for x, _ in points], [p for _, p in points]


def quantile(d: dict[str, Any], q: float) -> float:
    """The smallest stored value whose cumulative fraction reaches ``q``."""
    xs, ps = cdf(d)
    for x, p in zip(xs, ps, strict=True):
        if p >= q - 1e-12:
            return x
    return xs[-1] if xs else math.nan


def box(d: dict[str, Any], label: str) -> dict[str, Any]:
    """matplotlib ``bxp`` statistics: box p25-p75, median, whiskers p1-p99,
    the maximum as the one flier (the tail is what an SLA is about)."""
    return {
        "label": label,
        "med": quantile(d, 0.5),
        "q1": quantile(d, 0.25),
        "q3": quantile(d, 0.75),
        "whislo": quantile(d, 0.01),
        "whishi": quantile(d, 0.99),
        "fliers": [float(d["max"])],
    }


def rate(met: int, n: int) -> dict[str, Any]:
    """A proportion with its Wilson 95% interval."""
    lo, hi = wilson(met, n)
    return {"met": met, "n": n, "rate": met / n if n else 0.0, "wilson95": (lo, hi)}


def expected_limit(expectations: list[dict[str, Any]], name: str) -> float | None:
    """The number in an expectation's ``expected`` text ("<= 5 s", ">= 0.99")."""
    for outcome in expectations:
        if outcome.get("name") == name:
            match = re.search(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", str(outcome.get("expected")))
            return float(match.group()) if match else None
    return None


def seconds(value: float | None) -> str:
    """A duration for people: milliseconds below one second, else seconds."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0 s"
    if abs(value) < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} s"


def percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def long_tail(summary: dict[str, Any], phase: str = "time_to_halt") -> tuple[str, float] | None:
    """The transport whose p99 for ``phase`` is the slowest, when there are several
    and it is at least twice the fastest one's (else no transport stands out)."""
    candidates = [
        (via, float(phases[phase]["p99"]))
        for via, phases in summary.get("by_transport", {}).items()
        if phase in phases and phases[phase].get("n")
    ]
    if len(candidates) < 2:
        return None
    slowest = max(candidates, key=lambda c: c[1])
    fastest = min(c[1] for c in candidates)
    return slowest if slowest[1] >= 2 * fastest else None


def interrupted_note(data: dict[str, Any]) -> str | None:
    """ "Ctrl-C after N of M replications" for an interrupted run, else None."""
    stop = data.get("interrupted")
    if not stop:
        return None
    return f"Ctrl-C after {stop.get('done')} of {stop.get('requested')} replications"


def headline(data: dict[str, Any]) -> str:
    """One sentence for the top of the report, as a design review would quote it."""
    summary = data["summary"]
    parts = []
    halt = summary["phases"].get("time_to_halt")
    if halt and halt.get("n"):
        parts.append(f"p99 time-to-halt is {seconds(halt['p99'])}")
    c = summary["compliance"]
    lo, hi = c["wilson95"]
    parts.append(
        f"{percent(c['rate'])} ({percent(lo)}-{percent(hi)}) of {c['n']} (command, agent)"
        f" pairs finish within the {c.get('threshold_s', 0):g} s SLA"
    )
    tail = long_tail(summary)
    if tail is not None:
        parts.append(f"{tail[0]} is the long tail (p99 time-to-halt {seconds(tail[1])})")
    lost = int(summary.get("never_effective", 0))
    parts.append("nothing was lost" if lost == 0 else f"{lost} pairs never took effect")
    return ", ".join(parts[:-1]) + " and " + parts[-1] + "."


def phase_table(
    phases: dict[str, Any], missing: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Rows for a table of distributions: the seed's phases first, then the rest
    (time_to_halt); percentiles with n, the SLA limits, and the share within
    the maximum with its Wilson 95% interval. ``missing`` (the summary's): pairs
    that never had a phase, which count against its shares (a command never
    delivered was not delivered within the maximum)."""
    order = [p for p in SLA_PHASES if p in phases] + sorted(set(phases) - set(SLA_PHASES))
    rows = []
    for phase in order:
        d = phases[phase]
        row: dict[str, Any] = {"phase": phase, "n": int(d.get("n", 0))}
        for name, key in (*PERCENTILE_KEYS, ("max", "max")):
            row[name] = d.get(key)
        if "maximum" in d and row["n"]:
            lost = int((missing or {}).get(phase, 0))
            pairs = row["n"] + lost
            row["target"], row["maximum"] = d.get("target"), d["maximum"]
            row["within_target"] = rate(int(d.get("within_target", 0)), pairs)
            row["within_max"] = rate(int(d.get("within_max", 0)), pairs)
            if lost:
                row["missing"] = lost
        rows.append(row)
    return rows
