"""The first replication's tree coloured by time to halt, placed by a small
tidy-tree layout (no graphviz), and the tree order the timeline reuses.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, Normalize

from reports.load import SimInput
from reports.stats import halt_budget
from reports.style import (
    MAXIMUM_STYLE,
    TARGET_STYLE,
    Plot,
    new_figure,
    save,
)

#: Trees up to this many agents get the tree plot; results.json carries edges to 400.
TREE_LIMIT = 400


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
