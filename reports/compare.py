"""Compare two runs metric by metric; a regression beyond the tolerance fails.

Simulation runs (``results.json``): p50, p99 and max of every phase (lower is
better), SLA compliance (higher is better), pairs that never took effect,
expectations and checkers that passed before and fail now. Conformance runs:
cases whose verdict went from anything to FAIL.

Tolerance is relative: a latency regresses when NEW > BASE x (1 + tolerance)
+ abs_tolerance; compliance regresses when its miss rate (1 - rate) grows by
more than the same factor, so a run that met the SLA every time regresses on
its first miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.conformance import case_results
from reports.load import ConformanceInput, Input, ReportInputError, SimInput
from reports.stats import SLA_PHASES, percent

LATENCY_STATS = ("p50", "p99", "max")
#: Float noise from rounding in results.json (6 decimals) is not a change.
EPSILON = 1e-6


@dataclass(frozen=True)
class Change:
    metric: str
    base: str
    new: str
    delta: str
    regression: bool
    note: str = ""

    @property
    def status(self) -> str:
        return "REGRESSION" if self.regression else (self.note or "ok")


def _relative(base: float, new: float) -> str:
    if base == 0:
        return "+0.0%" if new == 0 else "new > 0"
    return f"{100 * (new - base) / base:+.1f}%"


def _latency(metric: str, base: float, new: float, tolerance: float, abs_tol: float) -> Change:
    worse = new > base * (1 + tolerance) + abs_tol + EPSILON
    better = new < base - EPSILON
    note = "better" if better else ("worse, within tolerance" if new > base + EPSILON else "")
    return Change(metric, f"{base:.6g} s", f"{new:.6g} s", _relative(base, new), worse, note)


def _sim_changes(base: SimInput, new: SimInput, tolerance: float, abs_tol: float) -> list[Change]:
    out: list[Change] = []
    bp, np_ = base.summary["phases"], new.summary["phases"]
    order = [p for p in (*SLA_PHASES, "time_to_halt") if p in bp or p in np_]
    order += sorted((set(bp) | set(np_)) - set(order))
    for phase in order:
        b, n = bp.get(phase, {}), np_.get(phase, {})
        if not n.get("n") and b.get("n"):
            out.append(Change(f"{phase}", f"n={b['n']}", "no samples", "-", True))
            continue
        if not b.get("n"):
            out.append(Change(f"{phase}", "no samples", f"n={n.get('n')}", "-", False, "new"))
            continue
        for stat in LATENCY_STATS:
            out.append(
                _latency(f"{phase} {stat}", float(b[stat]), float(n[stat]), tolerance, abs_tol)
            )
    bc, nc = base.summary["compliance"], new.summary["compliance"]
    b_miss, n_miss = 1 - float(bc["rate"]), 1 - float(nc["rate"])
    worse = n_miss > b_miss * (1 + tolerance) + EPSILON
    note = "better" if n_miss < b_miss - EPSILON else ""
    out.append(
        Change(
            f"compliance (total <= {nc.get('threshold_s', 0):g} s)",
            f"{percent(bc['rate'])} of {bc['n']}",
            f"{percent(nc['rate'])} of {nc['n']}",
            f"{100 * (float(nc['rate']) - float(bc['rate'])):+.2f} pp",
            worse,
            note,
        )
    )
    b_lost = int(base.summary.get("never_effective", 0))
    n_lost = int(new.summary.get("never_effective", 0))
    out.append(
        Change(
            "pairs never effective",
            str(b_lost),
            str(n_lost),
            f"{n_lost - b_lost:+d}",
            n_lost > b_lost,
        )
    )
    before = {o["name"]: bool(o["passed"]) for o in base.data["expectations"]}
    for o in new.data["expectations"]:
        was = before.get(o["name"])
        if was and not o["passed"]:
            out.append(
                Change(
                    f"expectation {o['name']}", "PASS", "FAIL", "-", True, str(o.get("actual", ""))
                )
            )
        elif was is False and o["passed"]:
            out.append(Change(f"expectation {o['name']}", "FAIL", "PASS", "-", False, "fixed"))
    return out


def _conformance_changes(base: ConformanceInput, new: ConformanceInput) -> list[Change]:
    before = {r.id: r.verdict for r in case_results(base)}
    out = []
    for r in case_results(new):
        was = before.get(r.id)
        if was == r.verdict:
            continue
        regression = r.verdict == "FAIL"
        note = "fixed" if was == "FAIL" else ("new case" if was is None else "changed")
        out.append(Change(f"case {r.id}", was or "-", r.verdict, "-", regression, note))
    return out


def compare(base: Input, new: Input, tolerance: float, abs_tol: float = 0.0) -> list[Change]:
    if isinstance(base, SimInput) and isinstance(new, SimInput):
        return _sim_changes(base, new, tolerance, abs_tol)
    if isinstance(base, ConformanceInput) and isinstance(new, ConformanceInput):
        return _conformance_changes(base, new)
    raise ReportInputError(
        new.path, "cannot compare a simulation results.json with a conformance.json"
    )


def format_changes(changes: list[Change]) -> list[str]:
    width = max([len(c.metric) for c in changes] + [6])
    lines = [f"{'metric':{width}s}  {'base':>16s}  {'new':>16s}  {'change':>9s}  status"]
    for c in changes:
        lines.append(f"{c.metric:{width}s}  {c.base:>16s}  {c.new:>16s}  {c.delta:>9s}  {c.status}")
    return lines
