"""The conformance part of report.html: a summary per implementation, the case
matrix (rows = cases grouped by requirement, columns = implementations, cells
coloured by verdict, as Autobahn|Testsuite's index), every failure with its
counterexample, and the timing figures of INFORMATIONAL cases."""

from __future__ import annotations

from html import escape

from reports.conformance import (
    VERDICTS,
    case_results,
    describe,
    matrix,
    undetected_fields,
    verdict_counts,
)
from reports.htmlkit import badge, table
from reports.load import ConformanceInput


def _anchor(label: str, case_id: str) -> str:
    return escape(f"fail-{label}-{case_id}")


def _summary(confs: list[ConformanceInput]) -> str:
    rows = []
    for conf in confs:
        f = describe(conf)
        counts = verdict_counts(case_results(conf))
        rows.append(
            [
                escape(conf.label),
                escape(str(f["implementation"])),
                escape(f"{f['profile']} / {f['clock']}"),
                escape(str(f["level"])),
                escape(str(f["highest_level"])),
                *(str(counts[v]) for v in VERDICTS),
                badge(conf.passed),
            ]
        )
    headers = ["column", "implementation", "profile / clock", "level asked", "highest level"]
    out = [table([*headers, *VERDICTS, "result"], rows, set(range(5, 10)))]
    for conf in confs:
        fields = undetected_fields(conf)
        if fields:
            out.append(
                f"<p><b>{escape(conf.label)}</b>: fields that can be changed without detection:"
                f" {escape(', '.join(fields))}.</p>"
            )
    return "\n".join(out)


def _matrix(confs: list[ConformanceInput]) -> str:
    labels = [c.label for c in confs]
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    body = []
    for requirement, rows in matrix(confs):
        span = 4 + len(labels)
        body.append(f'<tr class="group"><th colspan="{span}">{escape(requirement)}</th></tr>')
        for row in rows:
            cells = []
            for label in labels:
                r = row.cells.get(label)
                if r is None:
                    cells.append('<td class="missing">not run</td>')
                    continue
                text = escape(r.shown_verdict)
                if r.verdict in ("FAIL", "NON-STRICT"):
                    text = f'<a href="#{_anchor(label, r.id)}">{text}</a>'
                tip = escape(r.message, quote=True)
                cells.append(f'<td class="{escape(r.verdict)}" title="{tip}">{text}</td>')
            level = " ".join((row.level, row.strength)).strip()
            body.append(
                f"<tr><td><code>{escape(row.case_id)}</code></td><td>{escape(row.title)}</td>"
                f"<td>{escape(' '.join(row.requirements))}</td><td>{escape(level)}</td>"
                f"{''.join(cells)}</tr>"
            )
    return (
        f"<table><thead><tr><th>case</th><th>title</th><th>requirements</th><th>level</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _failures(confs: list[ConformanceInput]) -> str:
    out = []
    for conf in confs:
        for r in case_results(conf):
            if r.verdict not in ("FAIL", "NON-STRICT"):
                continue
            out.append(
                f'<h4 id="{_anchor(conf.label, r.id)}">{escape(conf.label)}: {escape(r.id)}'
                f' <span class="badge {escape(r.verdict)}">{escape(r.verdict)}</span></h4>'
                f"<p>{escape(r.title)} (requirements: {escape(', '.join(r.requirements) or '-')},"
                f" {escape(r.level)} {escape(r.strength)})</p><pre>{escape(r.message)}</pre>"
            )
            if r.counterexample:
                out.append(
                    "<details open><summary>counterexample</summary>"
                    f"<pre>{escape(r.counterexample)}</pre></details>"
                )
    return "\n".join(out) or "<p>No failures.</p>"


def _figures(confs: list[ConformanceInput]) -> str:
    rows = [
        [escape(conf.label), escape(r.id), escape(name), f"{value:.6g}"]
        for conf in confs
        for r in case_results(conf)
        for name, value in r.figures
    ]
    if not rows:
        return "<p>No figures.</p>"
    return table(["column", "case", "figure", "value"], rows, {3})


def conformance_section(confs: list[ConformanceInput]) -> str:
    return "\n".join(
        [
            '<section id="conformance"><h2>Conformance</h2>',
            _summary(confs),
            '<h3 id="conformance-matrix">Case matrix</h3>',
            _matrix(confs),
            '<h3 id="conformance-failures">Failures and counterexamples</h3>',
            _failures(confs),
            '<h3 id="conformance-figures">Figures (informational cases)</h3>',
            _figures(confs),
            "</section>",
        ]
    )
