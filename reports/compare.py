"""Compare two runs metric by metric; a regression beyond the tolerance fails.

Simulation runs (``results.json``): p50, p99 and max of every phase (lower is
better), SLA compliance (higher is better), pairs that never took effect,
expectations and checkers that passed before and fail now. Conformance runs:
a lower level reached (none counts lowest: an interrupted run or one of some
cases only claims none), a NEW run that was interrupted, cases whose verdict
went from anything to FAIL, and cases that passed before and are missing or
were not run now.

Tolerance is relative: a latency regresses when NEW > BASE x (1 + tolerance)
+ abs_tolerance; compliance regresses when its miss rate (1 - rate) grows by
more than the same factor, so a run that met the SLA every time regresses on
its first miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.conformance import case_results, describe, interruption
from reports.load import ConformanceInput, Input, ReportInputError, SimInput
from reports.stats import SLA_PHASES, percent
from sim.samples import MISSING

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
    # The latency rows are over the pairs that have the phase: a run that lost
    # deliveries can look faster. These rows say what was lost (older results
    # carry no counts: nothing is compared then).
    b_missing, n_missing = base.summary.get("missing"), new.summary.get("missing")
    if isinstance(b_missing, dict) and isinstance(n_missing, dict):
        for phase, what in MISSING.items():
            b_n, n_n = int(b_missing.get(phase, 0)), int(n_missing.get(phase, 0))
            out.append(Change(f"pairs {what}", str(b_n), str(n_n), f"{n_n - b_n:+d}", n_n > b_n))
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


#: Levels from lowest to highest; ``None`` (no level reached or claimed) below all.
_LEVEL_ORDER = (None, "L1", "L2", "L3", "H")


def _reached(conf: ConformanceInput) -> str | None:
    """The level a run reached: None when interrupted or when it claims none."""
    if interruption(conf) is not None:
        return None
    level = conf.data.get("level")
    reached = level.get("reached") if isinstance(level, dict) else conf.data.get("highest_level")
    return reached if reached in _LEVEL_ORDER else None


def _conformance_changes(base: ConformanceInput, new: ConformanceInput) -> list[Change]:
    out = []
    b_level, n_level = _reached(base), _reached(new)
    if b_level != n_level:
        lower = _LEVEL_ORDER.index(n_level) < _LEVEL_ORDER.index(b_level)
        out.append(
            Change(
                "level reached",
                str(describe(base)["highest_level"]),
                str(describe(new)["highest_level"]),
                "-",
                lower,
                "" if lower else "better",
            )
        )
    b_stop, n_stop = interruption(base), interruption(new)
    if n_stop is not None:
        not_run = new.data["interrupted"].get("not_run", len(n_stop[1]))
        out.append(
            Change(
                "run",
                "interrupted" if b_stop is not None else "complete",
                f"interrupted in {n_stop[0]}, {not_run} not run",
                "-",
                True,
            )
        )
    elif b_stop is not None:
        out.append(Change("run", f"interrupted in {b_stop[0]}", "complete", "-", False, "fixed"))
    before = {r.id: r.verdict for r in case_results(base)}
    now = {r.id: r for r in case_results(new)}
    for r in now.values():
        was = before.get(r.id)
        if was == r.verdict:
            continue
        regression = r.verdict == "FAIL"
        note = "fixed" if was == "FAIL" else ("new case" if was is None else "changed")
        out.append(Change(f"case {r.id}", was or "-", r.verdict, "-", regression, note))
    pending = set(n_stop[1]) if n_stop is not None else set()
    for case_id, was in before.items():
        if case_id in now:
            continue
        # Passed before, not now: whatever the reason (interrupted, --case, a case
        # that no longer applies) the new run does not show it still passes.
        status = "not run" if case_id in pending else "missing"
        out.append(
            Change(
                f"case {case_id}", was, status, "-", was == "PASS", "" if was == "PASS" else status
            )
        )
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
