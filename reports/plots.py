"""Latency plots of one simulation run, and compliance across runs.

Each function draws one figure from the bounded summary of a ``results.json``
(stats.py), saves it as PNG and SVG, and returns a :class:`~reports.style.Plot`
or None when the run has nothing to show (no samples for that phase).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from reports.load import SimInput
from reports.stats import (
    SLA_PHASES,
    box,
    cdf,
    expected_limit,
    halt_budget,
    limits,
    seconds,
)
from reports.style import (
    EXPECT_STYLE,
    MAXIMUM_STYLE,
    TARGET_STYLE,
    Plot,
    link_colour,
    new_figure,
    save,
    sla_lines,
    transport_colour,
)

PHASE_LABELS = {
    "issuance": "Issuance",
    "delivery": "Delivery latency",
    "verification": "Verification",
    "shutdown": "Shutdown",
    "total": "Total (click to done)",
    "time_to_halt": "Time to halt",
}
#: Durations of exactly 0 (e.g. an instant local delivery) sit here on log axes.
LOG_FLOOR = 1e-4


def _log_floor(values: list[float]) -> float:
    positive = [v for v in values if v > 0]
    return min(LOG_FLOOR, min(positive) / 2) if positive else LOG_FLOOR


def _phase_lines(ax: Axes, sim: SimInput, phase: str, *, vertical: bool) -> None:
    """SLA target and maximum for a seed phase; the halt budget and the
    scenario's expectation for time-to-halt."""
    if phase == "time_to_halt":
        budget = halt_budget(sim.sla)
        if budget is not None:
            sla_lines(ax, *budget, vertical=vertical, what="halt budget")
        expected = expected_limit(sim.data["expectations"], "all_halted_within_s")
        if expected is not None:
            line = ax.axvline if vertical else ax.axhline
            line(expected, label=f"expected all halted <= {expected:g} s", **EXPECT_STYLE)
        return
    target, maximum = limits(sim.sla).get(phase, (None, None))
    sla_lines(ax, target, maximum, vertical=vertical)


def cdf_plot(sim: SimInput, phase: str, folder: Path, by: str = "transport") -> Plot | None:
    """Empirical CDF of ``phase`` per transport (or per network link, ``by="link"``:
    only for scenarios with [[network.links]]), log x, with the SLA lines."""
    summary = sim.summary
    series = [
        (group, phases[phase])
        for group, phases in sorted((summary.get(f"by_{by}") or {}).items())
        if phase in phases and phases[phase].get("n")
    ]
    if not series:
        return None
    overall = summary["phases"].get(phase)
    everything = f"all {by}s"
    if by == "transport":
        curves = [(group, d, transport_colour(group)) for group, d in series]
    else:
        curves = [(group, d, link_colour(i, group)) for i, (group, d) in enumerate(series)]
    if len(series) > 1 and overall and overall.get("n"):
        curves.append((everything, overall, "#222222"))
    floor = _log_floor([x for _, d, _ in curves for x in cdf(d)[0]])
    fig, ax = new_figure(10.0, 4.6)
    for name, d, colour in curves:
        xs, ps = cdf(d)
        xs = [max(x, floor) for x in xs]
        ax.step(
            [xs[0], *xs],
            [0.0, *ps],
            where="post",
            color=colour,
            linewidth=2.0 if name != everything else 1.2,
            linestyle="-" if name != everything else (0, (4, 2)),
            label=f"{name} (n={d['n']}, p99 {seconds(d['p99'])}, max {seconds(d['max'])})",
        )
    _phase_lines(ax, sim, phase, vertical=True)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    label = PHASE_LABELS.get(phase, phase)
    ax.set_xlabel(f"{label} (s, log scale)")
    ax.set_ylabel("Fraction of (command, agent) pairs")
    title = f"{sim.label}: {label.lower()} by {by} (CDF)"
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    one_curve = (
        "one curve per transport that delivered the command"
        if by == "transport"
        else "one curve per network link ([[network.links]]; default: the other agents)"
    )
    caption = (
        f"Cumulative distribution of {label.lower()} over {sim.data['replications']}"
        f" replication(s), {one_curve}."
    )
    name = f"{sim.label}-cdf_{phase}" if by == "transport" else f"{sim.label}-cdf_{phase}_by_{by}"
    return save(fig, folder, name, title, caption)


def _boxes(ax: Axes, stats: list[dict[str, Any]]) -> None:
    values = [v for s in stats for v in (s["whislo"], s["q1"], *s["fliers"])]
    floor = _log_floor(values)
    for s in stats:
        for key in ("med", "q1", "q3", "whislo", "whishi"):
            s[key] = max(s[key], floor)
        s["fliers"] = [max(v, floor) for v in s["fliers"]]
    ax.bxp(
        stats,
        showfliers=True,
        patch_artist=True,
        boxprops={"facecolor": "#cfe2f3", "edgecolor": "#1f4e79"},
        medianprops={"color": "#1f4e79", "linewidth": 2},
        flierprops={"marker": "D", "markerfacecolor": "#1f4e79", "markersize": 4},
    )
    ax.set_yscale("log")


def phases_plot(sim: SimInput, folder: Path) -> Plot | None:
    """One box per SLA phase, with that phase's target and maximum from the seed."""
    phases = sim.summary["phases"]
    present = [p for p in SLA_PHASES if phases.get(p, {}).get("n")]
    if not present:
        return None
    fig, ax = new_figure(9.5, 4.6)
    stats = [box(phases[p], f"{p}\nn={phases[p]['n']}") for p in present]
    _boxes(ax, stats)
    lim = limits(sim.sla)
    for i, phase in enumerate(present, start=1):
        if phase not in lim:
            continue
        target, maximum = lim[phase]
        first = i == 1
        ax.hlines(target, i - 0.4, i + 0.4, label="SLA target" if first else None, **TARGET_STYLE)
        ax.hlines(
            maximum, i - 0.4, i + 0.4, label="SLA maximum" if first else None, **MAXIMUM_STYLE
        )
    ax.set_ylabel("Duration (s, log scale)")
    ax.set_xlabel("SLA phase (seed's table)")
    title = f"{sim.label}: SLA phases against the seed's table"
    ax.set_title(title)
    ax.plot([], [], "D", color="#1f4e79", markersize=4, label="maximum observed")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    caption = (
        "Boxes span p25-p75 with the median; whiskers reach p1 and p99; the diamond is the"
        " maximum. Short lines mark each phase's SLA target (dashed) and maximum (solid)."
    )
    return save(fig, folder, f"{sim.label}-sla_phases", title, caption)


def depth_plot(sim: SimInput, folder: Path) -> Plot | None:
    """Time-to-halt per depth in the tree (0 = the root): how a cascade slows down."""
    by_depth = sim.summary.get("by_depth") or {}
    depths = sorted(
        (int(k), v["time_to_halt"])
        for k, v in by_depth.items()
        if isinstance(v, dict) and v.get("time_to_halt", {}).get("n")
    )
    if not depths:
        return None
    fig, ax = new_figure(9.0, 4.4)
    _boxes(ax, [box(d, f"{depth}\nn={d['n']}") for depth, d in depths])
    _phase_lines(ax, sim, "time_to_halt", vertical=False)
    ax.plot([], [], "D", color="#1f4e79", markersize=4, label="maximum observed")
    ax.set_xlabel("Depth in the tree (0 = root)")
    ax.set_ylabel("Time to halt (s, log scale)")
    title = f"{sim.label}: time to halt by depth"
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    caption = (
        "Time from the operator's click until each agent stopped acting, by its depth in the"
        " tree: a cascade adds a hop per level. Boxes as in the SLA phase plot."
    )
    return save(fig, folder, f"{sim.label}-halt_by_depth", title, caption)


def spend_plot(sim: SimInput, folder: Path) -> Plot | None:
    """Work done between the click and the halt: per replication, and per agent."""
    runs = sim.data["runs"]
    rows = [r for r in sim.first_run.get("rows") or [] if "time_to_halt" in r.get("phases", {})]
    fig, (left, right) = new_figure(11.0, 4.2, ncols=2)
    spends = [float(r.get("spend_after_click", 0.0)) for r in runs]
    counts = Counter(spends)
    if len(counts) <= 12:  # a few distinct totals (a fixed cost per action): one bar each
        gaps = [b - a for a, b in itertools.pairwise(sorted(counts))]
        width = 0.8 * min(gaps) if gaps else 1.0
        left.bar(list(counts), list(counts.values()), width=width, color="#8cb4d9",
                 edgecolor="#1f4e79")  # fmt: skip
    else:
        bins = min(40, max(10, round(2 * math.sqrt(len(spends)))))
        left.hist(spends, bins=bins, color="#8cb4d9", edgecolor="#1f4e79")
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    mean = sum(spends) / len(spends)
    left.axvline(mean, color="#1f4e79", linewidth=1.2, label=f"mean {mean:.3g}")
    limit = expected_limit(sim.data["expectations"], "max_spend_after_click")
    if limit is not None:
        left.axvline(limit, label=f"expected mean <= {limit:g}", **MAXIMUM_STYLE)
    left.set_xlabel("Spend after the click per replication (cost units)")
    left.set_ylabel("Replications")
    left.set_title("Spend between click and halt")
    left.legend(loc="upper right")
    if rows:
        for via in sorted({r["via"] or "none" for r in rows}):
            mine = [r for r in rows if (r["via"] or "none") == via]
            right.scatter(
                [max(r["phases"]["time_to_halt"], LOG_FLOOR) for r in mine],
                [r.get("actions", 0) for r in mine],
                s=18,
                color=transport_colour(via),
                label=f"{via} (agents={len(mine)})",
                alpha=0.8,
            )
        right.set_xscale("log")
        budget = halt_budget(sim.sla)
        if budget is not None:
            sla_lines(right, *budget, vertical=True, what="halt budget")
        right.legend(loc="upper left")
    else:
        right.text(0.5, 0.5, "no per-agent rows (tree too large)", ha="center", va="center")
    right.set_xlabel("Time to halt (s, log scale)")
    right.set_ylabel("Actions after the click")
    right.set_title("Actions per agent (first replication)")
    title = f"{sim.label}: actions and spend between the click and the halt"
    fig.suptitle(title, fontweight="bold")
    caption = (
        "Left: what the agents spent after the operator's click, per replication. Right: actions"
        " each agent performed after the click against how long it took to halt."
    )
    return save(fig, folder, f"{sim.label}-spend", title, caption)


def compliance_plot(sims: list[SimInput], folder: Path, name: str = "compliance") -> Plot | None:
    """SLA compliance per scenario with its Wilson 95% interval."""
    if not sims:
        return None
    height = 1.6 + 0.45 * len(sims)
    fig, ax = new_figure(9.0, height)
    lows = []
    for i, sim in enumerate(sims):
        c = sim.summary["compliance"]
        lo, hi = c["wilson95"]
        lows.append(lo)
        r = c["rate"]
        ax.errorbar(
            [100 * r],
            [i],
            xerr=[[100 * (r - lo)], [100 * (hi - r)]],
            fmt="o",
            color="#1f4e79",
            capsize=4,
            label="compliance, 95% Wilson interval" if i == 0 else None,
        )
        required = expected_limit(sim.data["expectations"], "min_sla_compliance")
        if required is not None:
            ax.vlines(
                100 * required,
                i - 0.35,
                i + 0.35,
                label="required minimum" if i == 0 else None,
                **EXPECT_STYLE,
            )
    ticks = [
        f"{s.label}\n{100 * s.summary['compliance']['rate']:.2f}% of {s.summary['compliance']['n']}"
        for s in sims
    ]
    ax.set_yticks(range(len(sims)), ticks)
    ax.set_ylim(len(sims) - 0.3, -0.7)  # the first input on top
    ax.set_xlim(max(0.0, 100 * min(lows) - 3), 100.5)
    threshold = sims[0].summary["compliance"].get("threshold_s", 0)
    ax.set_xlabel(f"Pairs finished within the SLA maximum ({threshold:g} s total), %")
    title = "SLA compliance by scenario (95% Wilson intervals)"
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    caption = (
        "Share of (command, agent) pairs whose total time stayed within the SLA maximum, with"
        " the 95% Wilson score interval; the dotted mark is the scenario's required minimum."
    )
    return save(fig, folder, name, title, caption)
