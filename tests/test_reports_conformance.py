"""The conformance report: case matrix grouped by requirement, one column per
implementation, cells coloured by verdict, each failure with its counterexample."""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from reports_support import REQUIREMENT, baseline_results, conformance_doc, workdir

from reports.render import render_reports

GOOD = {case: "PASS" for case in REQUIREMENT} | {"KS-TIMING": "INFORMATIONAL"}
NAIVE = GOOD | {
    "KS-SIG-WRONG-KEY": "FAIL",
    "KS-TARGET-INSTANCE": "FAIL",
    "KS-CASCADE-PAUSE": "UNSUPPORTED",
}


@functools.cache
def rendered() -> Path:
    """Two implementations and a simulation run in one report."""
    folder = workdir() / "conformance"
    good = conformance_doc("pkg.reference:factory", GOOD, folder / "good")
    naive = conformance_doc("naive_adapter:factory", NAIVE, folder / "naive")
    out = folder / "report"
    render_reports([good, naive, baseline_results()], out)
    return out


def test_matrix_groups_cases_by_requirement_with_a_column_per_implementation() -> None:
    page = (rendered() / "report.html").read_text(encoding="utf-8")
    matrix = page.split('id="conformance-matrix"')[1].split("</table>")[0]
    head = matrix.split("</thead>")[0]
    assert "pkg.reference-factory-v1" in head and "naive_adapter-factory-v1" in head
    groups = re.findall(r'<tr class="group"><th colspan="\d+">([^<]+)</th>', matrix)
    assert groups == sorted(set(REQUIREMENT.values()))  # SPEC order: KS-012 ... KS-262
    rows = re.findall(r"<tr><td><code>([^<]+)</code>.*?</tr>", matrix)
    assert sorted(rows) == sorted(REQUIREMENT)
    for case, verdict in NAIVE.items():
        row = re.search(rf"<tr><td><code>{case}</code>.*?</tr>", matrix)
        assert row is not None
        cells = re.findall(r'<td class="([A-Z-]+)"', row.group())
        assert cells == [GOOD[case], verdict], case
    assert "UNSUPPORTED (capability)" in matrix
    assert 'href="#fail-naive_adapter-factory-v1-KS-SIG-WRONG-KEY"' in matrix


def test_every_failure_shows_its_detail_and_counterexample() -> None:
    page = (rendered() / "report.html").read_text(encoding="utf-8")
    failures = page.split('id="conformance-failures"')[1].split('id="conformance-figures"')[0]
    for case in ("KS-SIG-WRONG-KEY", "KS-TARGET-INSTANCE"):
        assert f'id="fail-naive_adapter-factory-v1-{case}"' in failures
        assert f"detail of {case} &lt;FAIL&gt;" in failures  # escaped, not markup
        assert f"bytes for {case}" in failures  # the counterexample file's content
    assert "KS-TIME-EXPIRED" not in failures
    assert "reason (profile limitation)" in page  # undetected fields are listed
    figures = page.split('id="conformance-figures"')[1]
    assert "KS-TIMING" in figures and "p99_ms" in figures


def test_junit_and_summary_for_conformance() -> None:
    out = rendered()
    root = ET.parse(out / "junit.xml").getroot()
    suite = next(s for s in root if s.get("name") == "conformance.naive_adapter-factory-v1")
    cases = {c.get("name", "").split(":")[0]: c for c in suite.findall("testcase")}
    assert set(cases) == set(NAIVE)
    assert {k for k, c in cases.items() if c.find("failure") is not None} == {
        "KS-SIG-WRONG-KEY",
        "KS-TARGET-INSTANCE",
    }
    assert {k for k, c in cases.items() if c.find("skipped") is not None} == {"KS-CASCADE-PAUSE"}
    assert suite.get("failures") == "2" and suite.get("skipped") == "1"
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "### naive_adapter-factory-v1 (conformance): FAILED" in summary
    assert "### pkg.reference-factory-v1 (conformance): PASSED" in summary
    assert "`KS-SIG-WRONG-KEY`" in summary and "`KS-TIME-EXPIRED`" not in summary
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    naive = next(i for i in report["inputs"] if i["label"] == "naive_adapter-factory-v1")
    assert naive["verdicts"]["FAIL"] == 2 and naive["highest_level"] == "none"
