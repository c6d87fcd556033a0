"""Reports rendered from real simulator runs: every plot file, the page, the
PR summary, the JUnit file and report.json agree with results.json (issue 5)."""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
from click.testing import CliRunner
from reports_support import baseline_results, faulty_results, load, workdir

from killswitch_cli.main import main
from reports.render import render_reports
from reports.stats import SLA_PHASES, percent, seconds

PLOTS = ("cdf_time_to_halt", "cdf_delivery", "sla_phases", "halt_by_depth", "timeline", "tree",
         "spend")  # fmt: skip
#: Text each plot's SVG must carry: axis labels with units, and its SLA lines.
PLOT_TEXT = {
    "cdf_time_to_halt": ["Time to halt (s, log scale)", "Fraction of (command, agent) pairs",
                         "halt budget target 5.11 s", "halt budget maximum 30.55 s",
                         "expected all halted <= 5 s"],
    "cdf_delivery": ["Delivery latency (s, log scale)", "SLA target 5 s", "SLA maximum 30 s"],
    "sla_phases": ["Duration (s, log scale)", "SLA target", "SLA maximum", "issuance", "total"],
    "halt_by_depth": ["Depth in the tree (0 = root)", "Time to halt (s, log scale)",
                      "halt budget target 5.11 s"],
    "timeline": ["Virtual time (s)", "Agent (tree order)", "TERMINATED", "TERMINATE clicked at"],
    "tree": ["Depth (0 = root)", "Time to halt after the TERMINATE click (s)"],
    "spend": ["Spend after the click per replication (cost units)", "Replications",
              "Time to halt (s, log scale)", "Actions after the click"],
}  # fmt: skip


@functools.cache
def rendered() -> Path:
    out = workdir() / "report"
    render_reports([faulty_results(), baseline_results()], out)
    return out


def colour_count(image: np.ndarray) -> int:
    rgb = (image[..., :3] * 255).astype(np.uint32)
    return len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))


def svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def test_every_plot_is_written_as_png_and_svg_with_labels_and_sla_lines() -> None:
    folder = rendered() / "plots"
    for label in ("faulty", "baseline"):
        for name in PLOTS:
            png, svg = folder / f"{label}-{name}.png", folder / f"{label}-{name}.svg"
            image = matplotlib.image.imread(png)
            height, width = image.shape[:2]
            assert 500 <= width <= 2000 and 250 <= height <= 1500, (png, image.shape)
            # Not blank: a real plot has many colours and a fair share of ink.
            grey = image[..., :3].mean(axis=2)
            assert (grey < 0.9).mean() > 0.02, png
            assert colour_count(image) > 50, png
            text = svg_text(svg)
            assert label in text
            for expected in PLOT_TEXT[name]:
                assert expected in text, (svg.name, expected)
    compliance = svg_text(folder / "compliance.svg")
    assert "95% Wilson" in compliance and "required minimum" in compliance
    assert "faulty" in compliance and "baseline" in compliance


def test_cdf_legend_carries_each_transport_with_its_sample_count() -> None:
    data = load(faulty_results())
    text = svg_text(rendered() / "plots" / "faulty-cdf_delivery.svg")
    transports = data["summary"]["by_transport"]
    assert {"poll", "sse"} <= set(transports)  # the partitioned subtree fell back to polling
    for via, phases in transports.items():
        d = phases["delivery"]
        assert f"{via} (n={d['n']}, p99 {seconds(d['p99'])}, max {seconds(d['max'])})" in text


def test_timeline_shades_the_faults_over_the_agents_they_hit() -> None:
    text = svg_text(rendered() / "plots" / "faulty-timeline.svg")
    assert "fault: partition 25-45 s (4 agents)" in text  # agent-1 and its 3 children
    assert "fault: slow_cleanup 0-150 s (9 agents)" in text  # the leaves of a 3x3 tree
    assert "delivered via poll" in text


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href", "srcset", "poster", "data", "action") and value:
                self.urls.append((tag, name, value))


def test_html_has_every_section_and_no_external_resource() -> None:
    page = (rendered() / "report.html").read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(page)
    for label in ("faulty", "baseline"):
        assert f"sim-{label}" in parser.ids
        for part in ("expectations", "phases", "plots", "transports", "depth", "compliance",
                     "checks", "reproduce"):  # fmt: skip
            assert f"{label}-{part}" in parser.ids, part
        for name in PLOTS:
            assert f"fig-{label}-{name}" in parser.ids, name
    assert {"overview", "compliance", "fig-compliance"} <= parser.ids
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    images = [v for tag, name, v in parser.urls if tag == "img"]
    assert len(images) == 2 * len(PLOTS) + 1
    assert all(v.startswith("data:image/svg+xml;base64,") for v in images)
    for _tag, _name, value in parser.urls:
        assert not re.match(r"^(https?:)?//", value), value
        assert value.startswith(("data:", "#", "plots/")), value
    assert not re.search(r"url\(|@import", page.split("</style>")[0])


def test_html_numbers_match_results_json() -> None:
    page = (rendered() / "report.html").read_text(encoding="utf-8")
    data = load(faulty_results())
    c = data["summary"]["compliance"]
    lo, hi = c["wilson95"]
    assert f"{percent(c['rate'])}</b> (95% Wilson interval {percent(lo)}-{percent(hi)})" in page
    for phase in SLA_PHASES:
        d = data["summary"]["phases"][phase]
        assert f"{d['within_max']}/{d['n']} = {percent(d['within_max'] / d['n'])}" in page
    for outcome in data["expectations"]:
        assert outcome["name"] in page
    assert data["first_run"]["digest"] in page
    assert "killswitch sim run" in page and "--replications 12" in page


def test_junit_has_a_case_per_expectation_and_sla_phase_failing_where_results_fail() -> None:
    root = ET.parse(rendered() / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"sim.faulty", "sim.baseline"}
    total = 0
    for label, path in (("faulty", faulty_results()), ("baseline", baseline_results())):
        data = load(path)
        suite = suites[f"sim.{label}"]
        cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
        expected_failures = set()
        for o in data["expectations"]:
            key = (f"sim.{label}.expectations", o["name"])
            assert key in cases
            if not o["passed"]:
                expected_failures.add(key)
        for phase in SLA_PHASES:
            key = (f"sim.{label}.sla", phase)
            assert key in cases
            d = data["summary"]["phases"][phase]
            if d["within_max"] < d["n"]:
                expected_failures.add(key)
        assert len(cases) == len(data["expectations"]) + len(SLA_PHASES)
        failing = {k for k, c in cases.items() if c.find("failure") is not None}
        assert failing == expected_failures
        assert suite.get("failures") == str(len(failing))
        total += len(failing)
    assert root.get("failures") == str(total)
    assert total > 0  # the faulty design really fails


def test_summary_md_is_short_and_names_what_failed() -> None:
    text = (rendered() / "summary.md").read_text(encoding="utf-8")
    data = load(faulty_results())
    lines = text.splitlines()
    assert lines[0] == "## Kill-switch report: FAILED"
    assert "### faulty: FAILED" in lines and "### baseline: PASSED" in lines
    assert len(lines) < 60
    for o in data["expectations"]:
        assert (f"`{o['name']}`" in text) == (not o["passed"])
    total = data["summary"]["phases"]["total"]
    assert f"| total | {total['n']} | {seconds(total['p50'])} | {seconds(total['p99'])} |" in text
    assert "nothing was lost" in text


def test_report_json_carries_the_percentiles_with_n() -> None:
    report = json.loads((rendered() / "report.json").read_text(encoding="utf-8"))
    assert report["schema"] == "killswitch.report/1" and report["passed"] is False
    faulty = report["inputs"][0]
    data = load(faulty_results())
    assert faulty["label"] == "faulty" and faulty["passed"] is False
    rows = {r["phase"]: r for r in faulty["phases"]}
    for phase, d in data["summary"]["phases"].items():
        assert rows[phase]["n"] == d["n"]
        assert rows[phase]["p99"] == d["p99"] and rows[phase]["p99.9"] == d["p999"]
    assert set(faulty["by_transport"]) == set(data["summary"]["by_transport"])


def test_sim_run_writes_its_report_into_its_out_folder() -> None:
    folder = baseline_results().parent
    assert (folder / "report.html").is_file() and (folder / "junit.xml").is_file()
    assert (folder / "plots" / "baseline-tree.svg").is_file()


def test_render_cli_exit_codes_and_formats(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["report", str(baseline_results()), "--out", str(tmp_path / "a"),
                              "--format", "md,junit"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["junit.xml", "summary.md"]
    failed = runner.invoke(main, ["report", "render", str(faulty_results()), "--out",
                                  str(tmp_path / "b"), "--format", "json"])  # fmt: skip
    assert failed.exit_code == 1 and "FAILED: faulty" in failed.output
    assert (tmp_path / "b" / "report.json").is_file()
    # A run's folder stands for the results.json inside it.
    folder = runner.invoke(main, ["report", str(baseline_results().parent), "--out",
                                  str(tmp_path / "c"), "--format", "md"])  # fmt: skip
    assert folder.exit_code == 0, folder.output


def test_report_help_everywhere() -> None:
    runner = CliRunner()
    for args in (["report", "--help"], ["report", "render", "--help"],
                 ["report", "compare", "--help"]):  # fmt: skip
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output, args
    assert "compare" in runner.invoke(main, ["report", "--help"]).output


def _strip_cdf(node: object) -> None:
    if isinstance(node, dict):
        node.pop("cdf", None)
        for value in node.values():
            _strip_cdf(value)


def test_large_tree_and_older_results_without_cdf_still_render(tmp_path: Path) -> None:
    """Trees too large for per-agent rows get no tree or timeline plot; files from
    before the compact CDF fall back to the percentiles they always carry."""
    from reports import plots, timeline, tree
    from reports.load import load_inputs
    from reports.style import styled

    data = load(faulty_results())
    _strip_cdf(data["summary"])
    for key in ("rows", "edges", "timeline"):
        del data["first_run"][key]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    (sim,) = load_inputs([path])
    with styled():
        assert tree.tree_plot(sim, tmp_path) is None
        assert timeline.timeline_plot(sim, tmp_path) is None
        made = [
            plots.cdf_plot(sim, "delivery", tmp_path),
            plots.phases_plot(sim, tmp_path),
            plots.depth_plot(sim, tmp_path),
            plots.spend_plot(sim, tmp_path),
        ]
    for plot in made:
        assert plot is not None and plot.png.stat().st_size > 10_000
    assert "no per-agent rows" in svg_text(tmp_path / "faulty-spend.svg")


def test_plots_are_byte_identical_when_rendered_again(tmp_path: Path) -> None:
    render_reports([faulty_results()], tmp_path, ("html",))
    again = sorted((tmp_path / "plots").glob("faulty-*"))
    assert len(again) == 2 * len(PLOTS)
    for path in again:
        assert path.read_bytes() == (rendered() / "plots" / path.name).read_bytes(), path.name
