"""One look for every plot, and saving a figure as PNG and SVG.

Figures are built with ``matplotlib.figure.Figure`` (the Agg canvas, no
pyplot and no GUI state), so nothing is kept alive between plots and the
renderer works on machines without a display.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

RC: Any = {  # typed loosely: matplotlib types rcParams keys as Literals
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.9,
    "figure.dpi": 100,
    "savefig.dpi": 110,
    # Text stays text in SVG (searchable, small); fixed salt = reproducible ids.
    "svg.fonttype": "none",
    "svg.hashsalt": "killswitch-report",
}

TRANSPORT_COLOURS = {
    "sse": "#1f77b4",
    "websocket": "#9467bd",
    "poll": "#ff7f0e",
    "file": "#2ca02c",
    "cascade": "#17becf",
    "none": "#7f7f7f",
}
STATE_COLOURS = {
    "RUNNING": "#59a14f",
    "PAUSED": "#edc948",
    "TERMINATING": "#f28e2b",
    "TERMINATED": "#6b6b6b",
}
TARGET_STYLE: dict[str, Any] = {"color": "#2a9d3f", "linestyle": "--", "linewidth": 1.3}
MAXIMUM_STYLE: dict[str, Any] = {"color": "#d62728", "linestyle": "-", "linewidth": 1.3}
EXPECT_STYLE: dict[str, Any] = {"color": "#6a3d9a", "linestyle": ":", "linewidth": 1.6}
FAULT_COLOURS = ("#e15759", "#b07aa1", "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac")


def transport_colour(via: str) -> str:
    return TRANSPORT_COLOURS.get(via, "#333333")


#: Network links ([[network.links]]) in the order of their names; "default" is grey.
LINK_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22")


def link_colour(index: int, name: str) -> str:
    return "#7f7f7f" if name == "default" else LINK_COLOURS[index % len(LINK_COLOURS)]


@dataclass(frozen=True)
class Plot:
    """A rendered plot: where its files are and what it shows."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path


@contextmanager
def styled() -> Iterator[None]:
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float = 9.5, height: float = 4.5, **subplots: Any) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(**subplots)
    return fig, axes


def save(fig: Figure, folder: Path, name: str, title: str, caption: str) -> Plot:
    """Write ``name``.png and ``name``.svg (no timestamps, so reruns give equal files)."""
    folder.mkdir(parents=True, exist_ok=True)
    png, svg = folder / f"{name}.png", folder / f"{name}.svg"
    fig.savefig(png, format="png", metadata={"Software": None})
    fig.set_layout_engine("none")  # laid out for the PNG already; keep it for the SVG
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    fig.clear()
    return Plot(name, title, caption, png, svg)


def sla_lines(
    ax: Axes, target: float | None, maximum: float | None, *, vertical: bool, what: str = "SLA"
) -> None:
    """Draw the target and maximum as labelled lines (they appear in the legend)."""
    line = ax.axvline if vertical else ax.axhline
    if target is not None:
        line(target, label=f"{what} target {target:g} s", **TARGET_STYLE)
    if maximum is not None:
        line(maximum, label=f"{what} maximum {maximum:g} s", **MAXIMUM_STYLE)
