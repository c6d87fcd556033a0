"""``report.html``: one self-contained page (inline CSS, plots embedded as SVG
data URIs, no script, no external resource) that opens from disk or as an
attachment, readable without JavaScript.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from reports.conformance import case_results, verdict_counts
from reports.conformance_html import conformance_section
from reports.htmlkit import CSS, badge, facts, table
from reports.load import ConformanceInput, Input, SimInput
from reports.stats import (
    headline,
    interrupted_note,
    percent,
    phase_table,
    seconds,
)
from reports.style import Plot
from sim.results import reproduce_command
from sim.samples import MISSING


def _rate(r: dict[str, Any]) -> str:
    lo, hi = r["wilson95"]
    return f"{r['met']}/{r['n']} = {percent(r['rate'])} ({percent(lo)}-{percent(hi)})"


def _figure(plot: Plot) -> str:
    data = base64.b64encode(plot.svg.read_bytes()).decode("ascii")
    return (
        f'<figure id="fig-{escape(plot.name)}">'
        f'<img src="data:image/svg+xml;base64,{data}" alt="{escape(plot.title)}">'
        f"<figcaption><b>{escape(plot.title)}.</b> {escape(plot.caption)}"
        f' Files: <a href="plots/{escape(plot.png.name)}">PNG</a>,'
        f' <a href="plots/{escape(plot.svg.name)}">SVG</a>.</figcaption></figure>'
    )


def _phases_table(phases: dict[str, Any], missing: dict[str, int]) -> str:
    rows = []
    for r in phase_table(phases, missing):
        within = r.get("within_max")
        over = within is not None and within["met"] < within["n"]
        rows.append(
            [
                escape(r["phase"]),
                str(r["n"]),
                *(seconds(r[k]) for k in ("p50", "p90", "p99", "p99.9", "max")),
                seconds(r.get("target")),
                seconds(r.get("maximum")),
                _rate(r["within_target"]) if "within_target" in r else "-",
                (f'<span class="over">{_rate(within)}</span>' if over else _rate(within))
                if within
                else "-",
            ]
        )
    headers = ["phase", "n", "p50", "p90", "p99", "p99.9", "max", "SLA target", "SLA maximum"]
    headers += ["within target (95% CI)", "within maximum (95% CI)"]
    return table(headers, rows, numeric=set(range(1, 9)))


def _group_table(column: str, groups: dict[str, Any]) -> str:
    """Phases per group (a transport, a link): one row per (group, phase)."""
    rows = []
    for group, phases in sorted(groups.items()):
        for r in phase_table(phases):
            within = r.get("within_max")
            rows.append(
                [escape(group), escape(r["phase"]), str(r["n"])]
                + [seconds(r[k]) for k in ("p50", "p90", "p99", "p99.9", "max")]
                + [_rate(within) if within else "-"]
            )
    headers = [column, "phase", "n", "p50", "p90", "p99", "p99.9", "max"]
    return table([*headers, "within SLA maximum (95% CI)"], rows, numeric=set(range(2, 8)))


def _sim_section(sim: SimInput, plots: list[Plot]) -> str:
    d, s, label = sim.data, sim.summary, escape(sim.label)
    sc = d["scenario"]
    first = sim.first_run
    out = [f'<section id="sim-{label}"><h2>Scenario {escape(sc["name"])} {badge(sim.passed)}</h2>']
    out.append(f'<p class="headline">{escape(headline(d))}</p>')
    out.append(
        facts(
            [
                ("description", sc.get("description", "")),
                ("source", f"{sc.get('source', '')} (sha256 {str(sc.get('sha256', ''))[:16]}…)"),
                *(
                    [("changed with --set", "; ".join(sc["overrides"]))]
                    if sc.get("overrides")
                    else []
                ),
                (
                    "profile / transports",
                    f"{sc.get('profile')} / {', '.join(sc.get('transports', []))}",
                ),
                ("agents", s.get("agents")),
                ("replications / seed", f"{d['replications']} / {d.get('seed')}"),
                *([("interrupted", note)] if (note := interrupted_note(d)) else []),
                ("first run", f"seed {first.get('seed')}, trace sha256 {first.get('digest')}"),
                ("results file", str(sim.path)),
            ]
        )
    )
    rows = [
        [
            escape(str(o["name"])),
            escape(str(o.get("expected", ""))),
            escape(str(o.get("actual", ""))),
            f'<span class="badge {"pass" if o["passed"] else "fail"}">'
            f"{'PASS' if o['passed'] else 'FAIL'}</span>",
        ]
        for o in d["expectations"]
    ]
    out.append(f'<h3 id="{label}-expectations">Expectations</h3>')
    out.append(table(["expectation", "expected", "actual", "verdict"], rows))
    out.append(f'<h3 id="{label}-phases">SLA phases (all transports)</h3>')
    out.append(_phases_table(s["phases"], s.get("missing", {})))
    lost = s.get("missing", {})
    if lost:
        items = ", ".join(f"{n} {MISSING.get(p, p)}" for p, n in sorted(lost.items()))
        out.append(
            f"<p>Pairs without a phase ({escape(items)}) have no duration above; they count"
            " against its share within the maximum.</p>"
        )
    out.append(f'<h3 id="{label}-plots">Plots</h3>')
    out.extend(_figure(p) for p in plots)
    if not plots:
        out.append("<p>No plots: the report was rendered without them.</p>")
    out.append(f'<h3 id="{label}-transports">By transport</h3>')
    out.append(_group_table("transport", s["by_transport"]))
    if s.get("by_link"):
        out.append(f'<h3 id="{label}-links">By network link</h3>')
        out.append(
            "<p>Agents the scenario's <code>[[network.links]]</code> give their own link"
            " to the control plane, by link (<code>default</code>: the others).</p>"
        )
        out.append(_group_table("link", s["by_link"]))
    out.append(f'<h3 id="{label}-depth">By depth in the tree</h3>')
    depth_rows = []
    for depth, phases in sorted((s.get("by_depth") or {}).items(), key=lambda kv: int(kv[0])):
        for phase, dist in sorted(phases.items()):
            depth_rows.append(
                [escape(depth), escape(phase), str(dist.get("n", 0))]
                + [seconds(dist.get(k)) for k in ("p50", "p99", "max")]
            )
    out.append(table(["depth", "phase", "n", "p50", "p99", "max"], depth_rows, {2, 3, 4, 5}))
    c = s["compliance"]
    lo, hi = c["wilson95"]
    out.append(f'<h3 id="{label}-compliance">Compliance</h3>')
    out.append(
        f"<p>{c['met']} of {c['n']} (command, agent) pairs finished within the"
        f" {c.get('threshold_s', 0):g} s SLA maximum: <b>{percent(c['rate'])}</b>"
        f" (95% Wilson interval {percent(lo)}-{percent(hi)}). Pairs that never took"
        f" effect: {s.get('never_effective', 0)}.</p>"
    )
    out.append(f'<h3 id="{label}-checks">Checkers and counters</h3>')
    check_rows = []
    for name, t in sorted((s.get("checks") or {}).items()):
        failure = t.get("first_failure") or {}
        detail = f"seed {failure.get('seed')}: {failure.get('detail')}" if failure else ""
        check_rows.append(
            [
                escape(name),
                str(t.get("passed_runs")),
                str(t.get("failed_runs")),
                str(t.get("violations")),
                escape(detail),
            ]
        )
    out.append(
        table(
            ["checker", "passed runs", "failed runs", "violations", "first failure"],
            check_rows,
            {1, 2, 3},
        )
    )
    spend = s.get("spend") or {}
    out.append(
        facts(
            [
                ("final states", s.get("final_states")),
                ("counters", s.get("counters")),
                ("actions after click", spend.get("actions_after_click")),
                (
                    "spend after click",
                    f"{spend.get('spend_after_click')} in all,"
                    f" {spend.get('mean_spend_per_run')} per run",
                ),
            ]
        )
    )
    command = reproduce_command(d)
    out.append(f'<h3 id="{label}-reproduce">Reproduce</h3><pre>{escape(command)}</pre></section>')
    return "\n".join(out)


def _compliance_section(sims: list[SimInput], plot: Plot | None) -> str:
    rows = []
    for sim in sims:
        c = sim.summary["compliance"]
        lo, hi = c["wilson95"]
        rows.append(
            [
                escape(sim.label),
                str(c["met"]),
                str(c["n"]),
                percent(c["rate"]),
                f"{percent(lo)}-{percent(hi)}",
                f"{c.get('threshold_s', 0):g} s",
            ]
        )
    out = ['<section id="compliance"><h2>SLA compliance across scenarios</h2>']
    out.append(
        table(["scenario", "met", "n", "rate", "95% Wilson", "SLA maximum"], rows, {1, 2, 3, 4, 5})
    )
    if plot is not None:
        out.append(_figure(plot))
    out.append("</section>")
    return "\n".join(out)


def render_html(inputs: list[Input], plots: dict[str, list[Plot]], compliance: Plot | None) -> str:
    sims = [i for i in inputs if isinstance(i, SimInput)]
    confs = [i for i in inputs if isinstance(i, ConformanceInput)]
    passed = all(i.passed for i in inputs)
    nav = ['<li><a href="#overview">Overview</a></li>']
    nav += [
        f'<li><a href="#sim-{escape(s.label)}">Scenario {escape(s.label)}</a></li>' for s in sims
    ]
    if sims:
        nav.append('<li><a href="#compliance">SLA compliance across scenarios</a></li>')
    if confs:
        nav.append('<li><a href="#conformance">Conformance</a></li>')
    overview = []
    for i in inputs:
        if isinstance(i, SimInput):
            kind, text = "simulation", headline(i.data)
        else:
            counts = verdict_counts(case_results(i))
            kind = "conformance"
            text = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        overview.append([escape(i.label), kind, badge(i.passed), escape(text)])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Kill-switch report: {escape(', '.join(i.label for i in inputs))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>Kill-switch report {badge(passed)}</h1>",
        f"<nav><ol>{''.join(nav)}</ol></nav></header>",
        '<section id="overview"><h2>Overview</h2>',
        table(["input", "kind", "result", "summary"], overview),
        "</section>",
    ]
    parts += [_sim_section(s, plots.get(s.label, [])) for s in sims]
    if sims:
        parts.append(_compliance_section(sims, compliance))
    if confs:
        parts.append(conformance_section(confs))
    parts.append(
        "<footer><p>Rendered by <code>killswitch report</code>.</p></footer></body></html>"
    )
    return "\n".join(parts) + "\n"
