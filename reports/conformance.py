"""The conformance case matrix: cases grouped by requirement, one column per
implementation, as Autobahn|Testsuite's index page.

Reads ``conformance.json`` (schema ``killswitch.conformance/1``, written by
conformance/report.py): ``implementation`` (``target`` and declared
``capabilities``), ``profile``, ``level`` (``requested``, ``reached``),
``exit_code``, ``undetected_fields`` and ``cases``; each case has ``id``,
``verdict`` (PASS, FAIL, NON-STRICT, INFORMATIONAL, UNSUPPORTED) and
``title``, ``requirements`` (SPEC ids), ``level``, ``strength``, ``detail``,
``limitation``, ``figures`` and ``counterexample`` (the path of a replayable
counterexample file, inlined into the report when it can be read).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.load import ConformanceInput, implementation_name

VERDICTS = ("PASS", "FAIL", "NON-STRICT", "INFORMATIONAL", "UNSUPPORTED")
#: Counterexample files larger than this are linked by name, not inlined.
INLINE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class CaseResult:
    id: str
    title: str
    requirements: tuple[str, ...]
    level: str
    strength: str
    verdict: str
    message: str
    counterexample: str | None
    #: Why an UNSUPPORTED case could not be decided (capability, profile, clock).
    limitation: str = ""
    figures: tuple[tuple[str, float], ...] = ()

    @property
    def shown_verdict(self) -> str:
        return f"{self.verdict} ({self.limitation})" if self.limitation else self.verdict


def _counterexample(base: Path, value: Any) -> str | None:
    """The counterexample as text: an inline object, or a counterexample file's
    content (looked up as written, next to the conformance.json, and in its
    counterexamples/ folder, so a moved report folder still finds its files)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
    given = Path(value)
    for candidate in (given, base / given, base / "counterexamples" / given.name):
        try:
            if candidate.is_file() and candidate.stat().st_size <= INLINE_LIMIT:
                text = candidate.read_text(encoding="utf-8", errors="replace")
                return f"# {value}\n{text}"
        except OSError:
            continue
    return value


def case_results(conf: ConformanceInput) -> list[CaseResult]:
    base = conf.path.parent
    out = []
    for c in conf.cases:
        reqs = c.get("requirements")
        if reqs is None:
            reqs = [c["requirement"]] if c.get("requirement") else []
        message = c.get("message") or c.get("reason") or c.get("detail") or ""
        example = next(
            (c[k] for k in ("counterexample", "example", "vector", "transcript") if c.get(k)), None
        )
        out.append(
            CaseResult(
                id=str(c["id"]),
                title=str(c.get("title", "")),
                requirements=tuple(str(r) for r in reqs),
                level=str(c.get("level", "")),
                strength=str(c.get("strength", "")),
                verdict=str(c["verdict"]).upper(),
                message=str(message),
                counterexample=_counterexample(base, example),
                limitation=str(c.get("limitation") or ""),
                figures=tuple(
                    (str(k), float(v))
                    for k, v in (c.get("figures") or {}).items()
                    if isinstance(v, int | float)
                ),
            )
        )
    return out


def verdict_counts(results: list[CaseResult]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


@dataclass(frozen=True)
class MatrixRow:
    case_id: str
    title: str
    requirements: tuple[str, ...]
    level: str
    strength: str
    #: implementation label -> its result (missing when it did not run the case).
    cells: dict[str, CaseResult]


def matrix(confs: list[ConformanceInput]) -> list[tuple[str, list[MatrixRow]]]:
    """Groups (first requirement id, rows), in SPEC.md order (KS-nnn by number);
    rows within a group in the first input's order."""
    rows: dict[str, MatrixRow] = {}
    for conf in confs:
        for r in case_results(conf):
            row = rows.get(r.id)
            if row is None:
                row = rows[r.id] = MatrixRow(r.id, r.title, r.requirements, r.level, r.strength, {})
            row.cells[conf.label] = r
    groups: dict[str, list[MatrixRow]] = {}
    for row in rows.values():
        key = row.requirements[0] if row.requirements else "(no requirement)"
        groups.setdefault(key, []).append(row)
    return sorted(groups.items(), key=lambda g: _natural(g[0]))


def _natural(requirement: str) -> tuple[str, int, str]:
    """KS-012 < KS-100; ids without a number after those with one."""
    match = re.match(r"^(\D*)(\d+)(.*)$", requirement)
    if match is None:
        return ("~", 0, requirement)
    return (match[1], int(match[2]), match[3])


def describe(conf: ConformanceInput) -> dict[str, Any]:
    """Header facts of one conformance run."""
    d = conf.data
    level = d.get("level")
    requested, reached = (
        (level.get("requested"), level.get("reached"))
        if isinstance(level, dict)
        else (level, d.get("highest_level"))
    )
    clock = d.get("clock")
    stop = d.get("interrupted")
    selection = d.get("selection")
    highest = reached or "none"
    if isinstance(stop, dict):  # Ctrl-C: unrun cases could block any level
        highest = f"none (interrupted in {stop.get('case')})"
    elif isinstance(selection, dict):  # --case: a level is a claim about every case
        highest = (
            f"none (only {selection.get('selected')} of {selection.get('of')} cases"
            f" selected: {selection.get('how')})"
        )
    return {
        "implementation": implementation_name(d),
        "profile": d.get("profile", "-"),
        "clock": clock.get("mode", "-") if isinstance(clock, dict) else (clock or "-"),
        "level": requested or "-",
        "highest_level": highest,
        "seed": d.get("seed", "-"),
        "passed": conf.passed,
    }


def interruption(conf: ConformanceInput) -> tuple[str, list[str]] | None:
    """Where Ctrl-C stopped the run (``interrupted.case``) and the ids of the cases
    it left unrun (``interrupted.not_run_cases``, empty when an older file lacks
    it), or None for a run that completed."""
    stop = conf.data.get("interrupted")
    if not isinstance(stop, dict):
        return None
    pending = stop.get("not_run_cases")
    ids = [str(c) for c in pending] if isinstance(pending, list) else []
    return str(stop.get("case") or "?"), ids


def undetected_fields(conf: ConformanceInput) -> list[str]:
    """Wire fields that could be changed after signing without detection, and why."""
    out = []
    for f in conf.data.get("undetected_fields") or []:
        if isinstance(f, dict):
            out.append(f"{f.get('field')} ({f.get('why')})")
    return out
