"""Plots of the first replication's tree: agent state timelines and the tree
coloured by time to halt, with a small tidy-tree layout (no graphviz).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Patch

from killswitch.hierarchy import Hierarchy
from reports.load import SimInput
from reports.stats import halt_budget
from reports.style import (
    FAULT_COLOURS,
    MAXIMUM_STYLE,
    STATE_COLOURS,
    TARGET_STYLE,
    Plot,
    new_figure,
    save,
    transport_colour,
)
from sim.world import resolve_selector

#: Trees up to this many agents get a state timeline (one row per agent).
TIMELINE_LIMIT = 60
#: Trees up to this many agents get the tree plot; results.json carries edges to 400.
TREE_LIMIT = 400
MARKERS = {"sse": "o", "websocket": "s", "poll": "^", "file": "D", "cascade": "v"}


def agents_of(first_run: dict[str, Any]) -> list[str]:
    """Every agent of the first replication, parents before children, in tree order."""
    edges = [tuple(e) for e in first_run.get("edges") or []]
    known = [n for e in edges for n in e]
    known += [r["agent"] for r in first_run.get("rows") or []]
    known += list(first_run.get("timeline") or {})
    nodes = list(dict.fromkeys(known))
    children: dict[str, list[str]] = defaultdict(list)
    parent: dict[str, str] = {}
    for p, c in edges:
        children[p].append(c)
        parent[c] = p
    order: list[str] = []
    for root in (n for n in nodes if n not in parent):
        stack = [root]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(reversed(children[node]))
    return order


def tidy_layout(edges: list[tuple[str, str]], nodes: list[str]) -> dict[str, tuple[float, float]]:
    """Leaves evenly spaced in depth-first order; each parent centred over its
    first and last child; y = -depth. Iterative, so deep trees cannot recurse."""
    children: dict[str, list[str]] = defaultdict(list)
    parent: dict[str, str] = {}
    for p, c in edges:
        children[p].append(c)
        parent[c] = p
    x: dict[str, float] = {}
    depth: dict[str, int] = {}
    next_leaf = 0.0
    for root in (n for n in nodes if n not in parent):
        depth[root] = 0
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            kids = children[node]
            if done:
                if kids:
                    x[node] = (x[kids[0]] + x[kids[-1]]) / 2
                else:
                    x[node], next_leaf = next_leaf, next_leaf + 1
                continue
            stack.append((node, True))
            for kid in reversed(kids):
                depth[kid] = depth[node] + 1
                stack.append((kid, False))
        next_leaf += 0.5  # a gap between the trees of a forest
    return {n: (x[n], -float(depth[n])) for n in x}


def _halt_op(sim: SimInput) -> tuple[str, str] | None:
    """The first operator command that halts agents (op id, kind), in click order."""
    ops = sorted(sim.first_run.get("operator") or [], key=lambda o: float(o["at_s"]))
    for index, op in enumerate(ops):
        if op.get("command") != "RESUME":
            return f"op{index}", str(op["command"])
    return None


def tree_plot(sim: SimInput, folder: Path) -> Plot | None:
    first = sim.first_run
    rows = first.get("rows")
    agents = agents_of(first)
    halt_op = _halt_op(sim)
    if rows is None or not agents or len(agents) > TREE_LIMIT or halt_op is None:
        return None
    op_id, kind = halt_op
    halted = {
        r["agent"]: float(r["phases"]["time_to_halt"])
        for r in rows
        if r["op"] == op_id and "time_to_halt" in r["phases"]
    }
    edges = [(str(p), str(c)) for p, c in first.get("edges") or []]
    pos = tidy_layout(edges, agents)
    leaves = max(1, len({x for x, _ in pos.values()}))
    levels = 1 + int(max(-y for _, y in pos.values()))
    fig, ax = new_figure(min(16.0, max(7.0, 0.32 * leaves + 2.5)), min(9.0, 1.7 + 1.1 * levels))
    ax.add_collection(
        LineCollection([(pos[p], pos[c]) for p, c in edges], colors="#9a9a9a", linewidths=0.8)
    )
    size = 120 if len(agents) <= 40 else (40 if len(agents) <= 150 else 14)
    values = [halted[a] for a in agents if a in halted]
    if values:
        low, high = max(min(values), 1e-4), max(max(values), 1e-4)
        norm = (
            LogNorm(low, high)
            if high / low > 20
            else Normalize(low, high if high > low else low + 1)
        )
        xs = [pos[a][0] for a in agents if a in halted]
        ys = [pos[a][1] for a in agents if a in halted]
        points = ax.scatter(
            xs,
            ys,
            c=[max(v, 1e-4) for v in values],
            cmap="plasma",
            norm=norm,
            s=size,
            zorder=3,
            edgecolors="#333333",
            linewidths=0.4,
        )
        bar = fig.colorbar(points, ax=ax, shrink=0.9)
        bar.set_label(f"Time to halt after the {kind} click (s)")
        budget = halt_budget(sim.sla)
        if budget is not None:
            for value, style in zip(budget, (TARGET_STYLE, MAXIMUM_STYLE), strict=True):
                if low <= value <= high:
                    bar.ax.axhline(value, color=style["color"], linewidth=2)
    missing = [a for a in agents if a not in halted]
    if missing:
        ax.scatter(
            [pos[a][0] for a in missing],
            [pos[a][1] for a in missing],
            marker="X",
            s=size,
            color="#d62728",
            zorder=3,
            label=f"never halted ({len(missing)})",
        )
        ax.legend(loc="lower right")
    if len(agents) <= 40:
        for a in agents:
            ax.annotate(
                a,
                pos[a],
                xytext=(0, -11),
                textcoords="offset points",
                ha="center",
                fontsize=6.5,
                color="#333333",
            )
    ax.set_yticks([-d for d in range(levels)], [str(d) for d in range(levels)])
    ax.set_ylabel("Depth (0 = root)")
    ax.set_xticks([])
    ax.grid(False)
    ax.margins(0.05, 0.15)
    title = f"{sim.label}: the tree coloured by time to halt (first replication)"
    ax.set_title(title)
    caption = (
        f"Each dot is an agent ({len(agents)} in all), placed by a tidy-tree layout; its colour"
        f" is the time from the {kind} click until it stopped acting (colour bar marks the halt"
        " budget: green target, red maximum, when in range)."
    )
    return save(fig, folder, f"{sim.label}-tree", title, caption)


def _fault_rows(sim: SimInput, fault: dict[str, Any], agents: list[str]) -> list[str]:
    edges = [tuple(e) for e in sim.first_run.get("edges") or []]
    try:
        h = Hierarchy.from_edges(edges, agents)
        chosen: set[str] = set()
        for selector in fault.get("agents") or ["all"]:
            chosen.update(resolve_selector(h, str(selector)))
        return [a for a in agents if a in chosen]
    except (ValueError, KeyError, IndexError):
        return agents  # cannot resolve: shade every row rather than none


def timeline_plot(sim: SimInput, folder: Path) -> Plot | None:
    first = sim.first_run
    timeline = first.get("timeline") or {}
    agents = agents_of(first)
    if not timeline or not agents or len(agents) > TIMELINE_LIMIT:
        return None
    duration = float(sim.data["scenario"].get("duration_s") or 0)
    ops = sorted(first.get("operator") or [], key=lambda o: float(o["at_s"]))
    clicks = {f"op{i}": float(op["at_s"]) for i, op in enumerate(ops)}
    events = [float(t[0]) for ts in timeline.values() for t in ts] + list(clicks.values())
    events += [float(f["at_s"]) + float(f.get("duration_s", 0)) for f in first.get("faults", [])]
    last = max(events, default=duration)
    end = min(duration, last + max(5.0, 0.1 * last)) if duration else last * 1.1
    row = {a: i for i, a in enumerate(agents)}
    fig, ax = new_figure(11.0, 1.9 + 0.2 * len(agents))
    seen = {str(t[k]) for ts in timeline.values() for t in ts for k in (1, 2)} | {"RUNNING"}
    legend: list[Any] = [Patch(facecolor=c, label=s) for s, c in STATE_COLOURS.items() if s in seen]
    for i, fault in enumerate(first.get("faults") or []):
        start, width = float(fault["at_s"]), float(fault.get("duration_s", 0))
        width = width if width > 0 else end / 200  # an instant fault still shows
        colour = FAULT_COLOURS[i % len(FAULT_COLOURS)]
        for a in _fault_rows(sim, fault, agents):
            ax.broken_barh(
                [(start, min(width, end - start))],
                (row[a] - 0.5, 1.0),
                facecolors=colour,
                alpha=0.22,
                hatch="//",
                edgecolor=colour,
                linewidth=0,
                zorder=1,
            )
        label = f"fault: {fault['kind']} {start:g}-{start + width:g} s"
        legend.append(Patch(facecolor=colour, alpha=0.35, hatch="//", label=label))
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for agent in agents:
        ts = timeline.get(agent, [])
        state, since = (str(ts[0][1]) if ts else "RUNNING"), 0.0
        for t, _old, new, _cause in ts:
            spans[state].append((since, float(t) - since))
            state, since = str(new), float(t)
        spans[state].append((since, max(0.0, end - since)))
        for s, bars in list(spans.items()):
            ax.broken_barh(
                bars, (row[agent] - 0.3, 0.6), facecolors=STATE_COLOURS.get(s, "#999"), zorder=2
            )
        spans.clear()
    deliveries: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for r in first.get("rows") or []:
        p = r["phases"]
        if r["agent"] in row and "delivery" in p and r["op"] in clicks:
            at = clicks[r["op"]] + p.get("issuance", 0.0) + p["delivery"]
            deliveries[r["via"] or "none"].append((at, row[r["agent"]]))
    for via, points in sorted(deliveries.items()):
        ax.scatter(
            [t for t, _ in points],
            [y for _, y in points],
            marker=MARKERS.get(via, "o"),
            s=22,
            color=transport_colour(via),
            edgecolors="black",
            linewidths=0.5,
            zorder=4,
            label=f"delivered via {via}",
        )
    for i, op in enumerate(ops):
        ax.axvline(
            float(op["at_s"]),
            color="black",
            linestyle="--",
            linewidth=1,
            zorder=3,
            label=f"{op['command']} clicked at {float(op['at_s']):g} s" if i < 4 else None,
        )
    ax.set_yticks(range(len(agents)), agents, fontsize=7 if len(agents) > 25 else 8)
    ax.set_ylim(len(agents) - 0.5, -0.5)
    ax.set_xlim(0, end)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Virtual time (s)")
    ax.set_ylabel("Agent (tree order)")
    title = (
        f"{sim.label}: agent states and deliveries (first replication, seed {first.get('seed')})"
    )
    ax.set_title(title)
    legend += ax.get_legend_handles_labels()[0]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    caption = (
        "One row per agent, parents above their children: its state over time, the deliveries"
        " of the operator's commands (marker per transport) and the faults (hatched)."
    )
    return save(fig, folder, f"{sim.label}-timeline", title, caption)
