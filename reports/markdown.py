"""``summary.md``: a short summary for a pull-request comment."""

from __future__ import annotations

from typing import Any

from reports.conformance import case_results, describe, verdict_counts
from reports.load import ConformanceInput, Input, SimInput
from reports.stats import headline, interrupted_note, percent, phase_table, seconds

#: A PR comment lists at most this many failures per input; the HTML has them all.
MAX_FAILURES = 10


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _interrupted(data: dict[str, Any]) -> str:
    note = interrupted_note(data)
    return f" ({note})" if note else ""


def _sim(sim: SimInput) -> list[str]:
    d = sim.data
    verdict = "PASSED" if sim.passed else "FAILED"
    lines = [
        f"### {sim.label}: {verdict}",
        "",
        f"{d['summary'].get('agents')} agents, {d['replications']} replication(s),"
        f" seed {d.get('seed')}{_interrupted(d)}. {headline(d)}",
        "",
        "| phase | n | p50 | p99 | max | SLA target / max | within max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in phase_table(d["summary"]["phases"], d["summary"].get("missing")):
        limit = f"{seconds(r['target'])} / {seconds(r['maximum'])}" if "maximum" in r else "-"
        within = percent(r["within_max"]["rate"]) if "within_max" in r else "-"
        lines.append(
            f"| {r['phase']} | {r['n']} | {seconds(r['p50'])} | {seconds(r['p99'])}"
            f" | {seconds(r['max'])} | {limit} | {within} |"
        )
    failed = [o for o in d["expectations"] if not o["passed"]]
    if failed:
        lines += ["", "Failed expectations:"]
        for o in failed[:MAX_FAILURES]:
            lines.append(
                f"- `{o['name']}`: expected {_cell(str(o.get('expected')))},"
                f" got {_cell(str(o.get('actual')))}"
            )
        if len(failed) > MAX_FAILURES:
            lines.append(f"- … and {len(failed) - MAX_FAILURES} more (see report.html)")
    return lines


def _conformance(conf: ConformanceInput) -> list[str]:
    facts = describe(conf)
    results = case_results(conf)
    counts = verdict_counts(results)
    verdict = "PASSED" if conf.passed else "FAILED"
    lines = [
        f"### {conf.label} (conformance): {verdict}",
        "",
        f"Profile {facts['profile']}, level asked {facts['level']}, highest level reached"
        f" {facts['highest_level']}. {len(results)} cases: "
        + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        + ".",
    ]
    failed = [r for r in results if r.verdict == "FAIL"]
    if failed:
        lines += ["", "Failures:"]
        for r in failed[:MAX_FAILURES]:
            reqs = ", ".join(r.requirements)
            lines.append(f"- `{r.id}` {_cell(r.title)} ({reqs}): {_cell(r.message)}")
        if len(failed) > MAX_FAILURES:
            lines.append(f"- … and {len(failed) - MAX_FAILURES} more (see report.html)")
    return lines


def render_markdown(inputs: list[Input]) -> str:
    passed = all(i.passed for i in inputs)
    lines = [f"## Kill-switch report: {'PASSED' if passed else 'FAILED'}", ""]
    for item in inputs:
        lines += _sim(item) if isinstance(item, SimInput) else _conformance(item)
        lines.append("")
    lines.append("Full report with plots: `report.html`; CI results: `junit.xml`.")
    return "\n".join(lines) + "\n"
