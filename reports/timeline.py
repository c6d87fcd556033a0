"""A timeline of the first replication: one row per agent (parents above their
children) with its state over time, the deliveries of the operator's
commands, the clicks, and the faults shaded over the agents they hit."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.patches import Patch

from killswitch.hierarchy import Hierarchy
from reports.load import SimInput
from reports.style import FAULT_COLOURS, STATE_COLOURS, Plot, new_figure, save, transport_colour
from reports.tree import agents_of
from sim.world import resolve_selector

#: Trees up to this many agents get a timeline (the simulator records them up to 60).
TIMELINE_LIMIT = 60
MARKERS = {"sse": "o", "websocket": "s", "poll": "^", "file": "D", "cascade": "v"}
CLICK_COLOURS = ("#000000", "#7b3294", "#a6611a", "#008837")


def _window(sim: SimInput, timeline: dict[str, Any], clicks: list[float]) -> tuple[float, float]:
    """From a little before the first click to a little after the last event, so
    the seconds around the command are not squeezed by an idle start."""
    first = sim.first_run
    duration = float(sim.data["scenario"].get("duration_s") or 0)
    events = [float(t[0]) for ts in timeline.values() for t in ts] + clicks
    events += [float(f["at_s"]) + float(f.get("duration_s", 0)) for f in first.get("faults", [])]
    last = max(events, default=duration)
    end = min(duration, last + max(2.0, 0.1 * last)) if duration else last * 1.1
    begin = min(clicks, default=0.0)
    begin = max(0.0, begin - max(2.0, 0.25 * (end - begin)))
    return begin, end


def _fault_rows(sim: SimInput, fault: dict[str, Any], agents: list[str]) -> list[str]:
    edges = [(str(p), str(c)) for p, c in sim.first_run.get("edges") or []]
    try:
        h = Hierarchy.from_edges(edges, agents)
        chosen: set[str] = set()
        for selector in fault.get("agents") or ["all"]:
            chosen.update(resolve_selector(h, str(selector)))
        return [a for a in agents if a in chosen]
    except (ValueError, KeyError, IndexError):
        return agents  # cannot resolve: shade every row rather than none


def _faults(ax: Axes, sim: SimInput, agents: list[str], begin: float, end: float) -> list[Any]:
    legend = []
    row = {a: i for i, a in enumerate(agents)}
    for i, fault in enumerate(sim.first_run.get("faults") or []):
        start, width = float(fault["at_s"]), float(fault.get("duration_s", 0))
        shown = width if width > 0 else (end - begin) / 150  # an instant fault still shows
        colour = FAULT_COLOURS[i % len(FAULT_COLOURS)]
        bars = [(row[a] - 0.5, 1.0) for a in _fault_rows(sim, fault, agents)]
        for y in bars:
            ax.broken_barh([(start, shown)], y, facecolors=colour, alpha=0.22, hatch="//",
                           edgecolor=colour, linewidth=0, zorder=1)  # fmt: skip
        label = f"fault: {fault['kind']} {start:g}-{start + width:g} s ({len(bars)} agents)"
        legend.append(Patch(facecolor=colour, alpha=0.35, hatch="//", label=label))
    return legend


def _states(ax: Axes, timeline: dict[str, Any], agents: list[str], end: float) -> list[Any]:
    for y, agent in enumerate(agents):
        transitions = timeline.get(agent, [])
        spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
        state, since = (str(transitions[0][1]) if transitions else "RUNNING"), 0.0
        for t, _old, new, _cause in transitions:
            spans[state].append((since, float(t) - since))
            state, since = str(new), float(t)
        spans[state].append((since, max(0.0, end - since)))
        for s, bars in spans.items():
            ax.broken_barh(bars, (y - 0.3, 0.6), facecolors=STATE_COLOURS.get(s, "#999999"),
                           zorder=2)  # fmt: skip
    seen = {str(t[k]) for ts in timeline.values() for t in ts for k in (1, 2)} | {"RUNNING"}
    return [Patch(facecolor=c, label=s) for s, c in STATE_COLOURS.items() if s in seen]


def _deliveries(ax: Axes, sim: SimInput, agents: list[str], clicks: dict[str, float]) -> None:
    row = {a: i for i, a in enumerate(agents)}
    points: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for r in sim.first_run.get("rows") or []:
        p = r["phases"]
        if r["agent"] in row and "delivery" in p and r["op"] in clicks:
            at = clicks[r["op"]] + p.get("issuance", 0.0) + p["delivery"]
            points[r["via"] or "none"].append((at, row[r["agent"]]))
    for via, xy in sorted(points.items()):
        ax.scatter([t for t, _ in xy], [y for _, y in xy], marker=MARKERS.get(via, "o"), s=24,
                   color=transport_colour(via), edgecolors="black", linewidths=0.5, zorder=4,
                   label=f"delivered via {via}")  # fmt: skip


def timeline_plot(sim: SimInput, folder: Path) -> Plot | None:
    first = sim.first_run
    timeline = first.get("timeline") or {}
    agents = agents_of(first)
    if not timeline or not agents or len(agents) > TIMELINE_LIMIT:
        return None
    ops = sorted(first.get("operator") or [], key=lambda o: float(o["at_s"]))
    clicks = {f"op{i}": float(op["at_s"]) for i, op in enumerate(ops)}
    begin, end = _window(sim, timeline, list(clicks.values()))
    fig, ax = new_figure(11.0, 1.9 + 0.2 * len(agents))
    legend = _states(ax, timeline, agents, end)
    legend += _faults(ax, sim, agents, begin, end)
    _deliveries(ax, sim, agents, clicks)
    for i, op in enumerate(ops):
        ax.axvline(float(op["at_s"]), color=CLICK_COLOURS[i % len(CLICK_COLOURS)],
                   linestyle="--", linewidth=1.1, zorder=3,
                   label=f"{op['command']} clicked at {float(op['at_s']):g} s")  # fmt: skip
    ax.set_yticks(range(len(agents)), agents, fontsize=7 if len(agents) > 25 else 8)
    ax.set_ylim(len(agents) - 0.5, -0.5)
    ax.set_xlim(begin, end)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Virtual time (s)")
    ax.set_ylabel("Agent (tree order)")
    title = f"{sim.label}: agent states and deliveries (first replication)"
    ax.set_title(title)
    legend += ax.get_legend_handles_labels()[0]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    caption = (
        f"First replication (seed {first.get('seed')}). One row per agent, parents above their"
        " children: its state over time, the deliveries of the operator's commands (marker per"
        " transport), the clicks (dashed) and the faults (hatched, over the agents they hit)."
    )
    return save(fig, folder, f"{sim.label}-timeline", title, caption)
