"""``junit.xml``: one test case per expectation and per SLA phase of each run,
one per conformance case, so CI systems show failures natively."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from reports.conformance import case_results, describe, interruption
from reports.load import ConformanceInput, Input, SimInput
from reports.stats import SLA_PHASES, percent, phase_table, seconds

#: Characters XML 1.0 cannot carry, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", classname=_clean(classname), name=_clean(name), time="0"
    )


def _sim_suite(root: ET.Element, sim: SimInput) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=_clean(f"sim.{sim.label}"))
    props = ET.SubElement(suite, "properties")
    for key in ("seed", "replications"):
        ET.SubElement(props, "property", name=key, value=str(sim.data.get(key)))
    ET.SubElement(props, "property", name="results", value=_clean(sim.path))
    for o in sim.data["expectations"]:
        case = _case(suite, f"sim.{sim.label}.expectations", str(o["name"]))
        text = f"expected {o.get('expected')}, got {o.get('actual')}"
        if not o["passed"]:
            ET.SubElement(case, "failure", message=_clean(text), type="expectation")
        ET.SubElement(case, "system-out").text = _clean(text)
    for row in phase_table(sim.summary["phases"]):
        if row["phase"] not in SLA_PHASES or "within_max" not in row:
            continue
        case = _case(suite, f"sim.{sim.label}.sla", row["phase"])
        within, target = row["within_max"], row["within_target"]
        figures = (
            f"n={row['n']} p50 {seconds(row['p50'])} p99 {seconds(row['p99'])}"
            f" max {seconds(row['max'])}; target {seconds(row['target'])}:"
            f" {percent(target['rate'])} within; maximum {seconds(row['maximum'])}:"
            f" {percent(within['rate'])} within"
        )
        if within["met"] < within["n"]:
            over = within["n"] - within["met"]
            message = (
                f"{over} of {row['n']} samples over the {seconds(row['maximum'])} SLA maximum"
                f" (max {seconds(row['max'])})"
            )
            ET.SubElement(case, "failure", message=_clean(message), type="sla").text = figures
        ET.SubElement(case, "system-out").text = figures
    return suite


def _conformance_suite(root: ET.Element, conf: ConformanceInput) -> ET.Element:
    suite = ET.SubElement(root, "testsuite", name=_clean(f"conformance.{conf.label}"))
    props = ET.SubElement(suite, "properties")
    for key, value in describe(conf).items():
        ET.SubElement(props, "property", name=key, value=_clean(value))
    for r in case_results(conf):
        group = r.requirements[0] if r.requirements else "cases"
        case = _case(suite, f"conformance.{conf.label}.{group}", f"{r.id}: {r.title}".rstrip(": "))
        if r.verdict == "FAIL":
            failure = ET.SubElement(case, "failure", message=_clean(r.message), type="FAIL")
            failure.text = _clean(r.counterexample or r.message)
        elif r.verdict == "UNSUPPORTED":
            ET.SubElement(case, "skipped", message=_clean(r.message or "unsupported"))
        elif r.verdict in ("NON-STRICT", "INFORMATIONAL"):
            ET.SubElement(case, "system-out").text = _clean(f"{r.verdict}: {r.message}")
    stop = interruption(conf)
    if stop is not None:
        # Not green: the case Ctrl-C stopped in is an error, the rest are skipped.
        where, pending = stop
        not_run = conf.data["interrupted"].get("not_run", len(pending))
        by = conf.data["interrupted"].get("by", "Ctrl-C")
        message = f"interrupted ({by}) in {where}: {not_run} case(s) not run"
        for index, case_id in enumerate(pending or [where]):
            case = _case(suite, f"conformance.{conf.label}.not-run", case_id)
            if index == 0:
                ET.SubElement(case, "error", message=_clean(message), type="interrupted")
            else:
                ET.SubElement(case, "skipped", message=_clean(f"not run: {message}"))
    return suite


def _count(suite: ET.Element) -> dict[str, int]:
    cases = suite.findall("testcase")
    return {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }


def write_junit(inputs: list[Input], path: Path) -> Path:
    root = ET.Element("testsuites", name="killswitch report")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for item in inputs:
        if isinstance(item, SimInput):
            suite = _sim_suite(root, item)
        else:
            suite = _conformance_suite(root, item)
        counts = _count(suite)
        for key, n in counts.items():
            suite.set(key, str(n))
            totals[key] += n
    for key, n in totals.items():
        root.set(key, str(n))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
