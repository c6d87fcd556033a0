"""Render every report file for one or more inputs into one folder.

``render_reports([path, ...], out_dir)`` is what ``killswitch report``,
``killswitch sim run`` and ``killswitch conform`` call. Inputs are told apart
by their ``schema`` field (reports/load.py). Files written, by format:

* ``html``: ``report.html`` and, for each simulation run, its plots as PNG and
  SVG under ``plots/`` (the page embeds the SVGs);
* ``md``: ``summary.md``; ``junit``: ``junit.xml``;
* ``json``: ``report.json`` (schema ``killswitch.report/1``): the numbers the
  page shows, for other tools.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from reports.load import ConformanceInput, Input, ReportInputError, SimInput, load_inputs
from reports.style import Plot, styled

FORMATS = ("html", "md", "json", "junit")
REPORT_SCHEMA = "killswitch.report/1"


def parse_formats(text: str) -> tuple[str, ...]:
    """``"html,md"`` -> ("html", "md"); unknown names are a user error."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ReportInputError(
            "--format", f"unknown format {', '.join(unknown) or '(none)'}; use {','.join(FORMATS)}"
        )
    return names


def sim_plots(sim: SimInput, folder: Path) -> list[Plot]:
    from reports import plots, timeline, tree

    makers: list[Callable[[SimInput, Path], Plot | None]] = [
        lambda s, f: plots.cdf_plot(s, "time_to_halt", f),
        lambda s, f: plots.cdf_plot(s, "delivery", f),
        lambda s, f: plots.cdf_plot(s, "time_to_halt", f, by="link"),
        plots.phases_plot,
        plots.depth_plot,
        timeline.timeline_plot,
        tree.tree_plot,
        plots.spend_plot,
    ]
    return [p for make in makers if (p := make(sim, folder)) is not None]


def report_json(inputs: list[Input]) -> dict[str, Any]:
    from reports.conformance import case_results, describe, verdict_counts
    from reports.stats import headline, phase_table

    items: list[dict[str, Any]] = []
    for item in inputs:
        entry: dict[str, Any] = {"label": item.label, "path": str(item.path), "passed": item.passed}
        if isinstance(item, SimInput):
            s = item.summary
            entry |= {
                "kind": "sim",
                "scenario": item.name,
                "replications": item.data["replications"],
                "headline": headline(item.data),
                "phases": phase_table(s["phases"], s.get("missing")),
                "by_transport": {v: phase_table(p) for v, p in sorted(s["by_transport"].items())},
                "by_link": {v: phase_table(p) for v, p in sorted(s.get("by_link", {}).items())},
                "compliance": s["compliance"],
                "failed_expectations": [o for o in item.data["expectations"] if not o["passed"]],
            }
        else:
            results = case_results(item)
            entry |= {
                "kind": "conformance",
                **describe(item),
                "verdicts": verdict_counts(results),
                "failures": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "requirements": list(r.requirements),
                        "message": r.message,
                    }
                    for r in results
                    if r.verdict == "FAIL"
                ],
            }
        items.append(entry)
    return {"schema": REPORT_SCHEMA, "passed": all(i.passed for i in inputs), "inputs": items}


def render_reports(
    paths: Sequence[Path | str], out_dir: Path | str, formats: Iterable[str] = FORMATS
) -> list[Path]:
    """Write the requested report files into ``out_dir``; the first path returned is
    the main one (report.html when rendered). Raises ReportInputError on bad input."""
    wanted = tuple(formats)
    inputs = load_inputs([Path(p) for p in paths])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    plot_files: list[Path] = []
    if "html" in wanted:
        from reports.html import render_html
        from reports.plots import compliance_plot

        folder = out / "plots"
        sims = [i for i in inputs if isinstance(i, SimInput)]
        with styled():
            plots = {s.label: sim_plots(s, folder) for s in sims}
            compliance = compliance_plot(sims, folder) if sims else None
        page = out / "report.html"
        page.write_text(render_html(inputs, plots, compliance), encoding="utf-8")
        written.append(page)
        for plot in [
            *(p for ps in plots.values() for p in ps),
            *([compliance] if compliance else []),
        ]:
            plot_files += [plot.png, plot.svg]
    if "md" in wanted:
        from reports.markdown import render_markdown

        summary = out / "summary.md"
        summary.write_text(render_markdown(inputs), encoding="utf-8")
        written.append(summary)
    if "json" in wanted:
        path = out / "report.json"
        path.write_text(json.dumps(report_json(inputs), indent=1, default=list) + "\n", "utf-8")
        written.append(path)
    if "junit" in wanted:
        from reports.junit import write_junit

        written.append(write_junit(inputs, out / "junit.xml"))
    return written + plot_files


__all__ = ["FORMATS", "ConformanceInput", "ReportInputError", "parse_formats", "render_reports"]
