"""Reports of a run: the console table, ``conformance.json`` (schema
``killswitch.conformance/1``), ``junit.xml``, a self-contained
``conformance.html``, and one replayable counterexample file per failure.

Nothing here writes key material: configurations carry public keys only.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import tempfile
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from conformance.outcome import Verdict
from conformance.runner import CaseResult, RunResult

SCHEMA = "killswitch.conformance/1"
COUNTEREXAMPLE_SCHEMA = "killswitch.counterexample/1"
_TAMPER = "KS-SIG-TAMPER-"


def _version() -> str:
    try:
        return metadata.version("killswitch")
    except metadata.PackageNotFoundError:
        return "unknown"


def undetected_fields(run: RunResult) -> list[dict[str, str]]:
    """Fields that could be changed after signing without the change being rejected."""
    found = []
    for r in run.results:
        if r.case.id.startswith(_TAMPER) and (
            r.verdict is Verdict.FAIL or r.limitation == "profile"
        ):
            why = "profile limitation" if r.limitation == "profile" else "implementation failure"
            found.append({"field": r.case.id[len(_TAMPER) :], "why": why})
    return found


def clock_changes(run: RunResult) -> list[dict[str, str]]:
    return [{"id": r.case.id, "change": r.clock_change} for r in run.results if r.clock_change]


# -- counterexamples ---------------------------------------------------------------------


def write_counterexamples(run: RunResult, out: Path) -> None:
    """One JSON file per failed case with a transcript; sets ``counterexample_file``."""
    folder = out / "counterexamples"
    for r in run.results:
        if r.verdict not in (Verdict.FAIL, Verdict.NON_STRICT) or not r.transcript:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{r.case.id}.json"
        document = {
            "schema": COUNTEREXAMPLE_SCHEMA,
            "case": r.case.id,
            "title": r.case.title,
            "requirements": list(r.case.requirements),
            "level": r.case.level,
            "strength": r.case.strength,
            "failure": r.detail,
            "example": r.example,
            "profile": run.setup.profile_name,
            "clock": run.setup.clock_mode,
            "seed": run.setup.seed,
            "note": (
                "Replay with: killswitch conform --impl/--cmd ... --replay this-file."
                " Steps carry what was observed when the case failed and, where the"
                " property says, what was expected."
                + (
                    " Recorded in wall-clock mode: timestamps are absolute, so a replay"
                    " later is not time-accurate."
                    if run.setup.clock_mode == "wall"
                    else ""
                )
            ),
            **r.transcript,
        }
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
        r.counterexample_file = str(path)


# -- console table -----------------------------------------------------------------------


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(run: RunResult) -> str:
    setup = run.setup
    caps = setup.capabilities
    clock = setup.clock_mode
    declared = f" (declared {run.clock_declared})" if clock != run.clock_declared else ""
    lines = [
        f"killswitch conformance · {run.target}" + (f" ({caps.name})" if caps.name else ""),
        f"profile {setup.profile_name} · clock {clock}{declared} · seed {setup.seed} ·"
        f" {setup.examples} examples per property · level {run.level_requested} requested",
        "",
        f"{'Case':<36} {'Title':<58} {'Requirement':<22} {'Lvl':<3} Verdict",
        f"{'-' * 36} {'-' * 58} {'-' * 22} {'-' * 3} {'-' * 13}",
    ]
    for r in run.results:
        verdict = r.verdict.value
        if r.limitation:
            verdict += f" ({r.limitation})"
        lines.append(
            f"{_cut(r.case.id, 36):<36} {_cut(r.case.title, 58):<58}"
            f" {_cut(','.join(r.case.requirements), 22):<22} {r.case.level:<3} {verdict}"
        )
    counts = ", ".join(f"{run.count(v)} {v.value}" for v in Verdict)
    lines += ["", f"Summary: {counts} ({len(run.results)} cases, {run.seconds:.1f} s)"]
    fields = undetected_fields(run)
    if fields:
        listed = ", ".join(f"{f['field']} ({f['why']})" for f in fields)
        lines.append(f"Changeable without detection: {listed}")
    limited = [r for r in run.results if r.limitation in ("profile", "clock")]
    if limited:
        lines.append("Limitations (not failures of the implementation):")
        lines += [
            textwrap.shorten(f"    {r.case.id}: {r.detail}", 220, placeholder=" …") for r in limited
        ]
    for r in run.results:
        if r.verdict in (Verdict.FAIL, Verdict.NON_STRICT, Verdict.INFORMATIONAL):
            head = f"{r.verdict.value} {r.case.id}: "
            body = r.detail.splitlines()[0] if r.detail else ""
            lines.append(textwrap.shorten(head + body, 220, placeholder=" …"))
            if r.counterexample_file:
                lines.append(f"    counterexample: {r.counterexample_file}")
    if clock == "wall":
        changed = clock_changes(run)
        lines.append(f"Wall-clock mode changed {len(changed)} case(s):")
        lines += [f"    {c['id']}: {c['change']}" for c in changed]
    reached = run.level_claimed or "none"
    lines.append(f"Highest level reached: {reached} (requested {run.level_requested})")
    if run.selection is not None:
        lines.append(run.selection.describe())
    if run.interrupted is not None:
        lines.append(run.interrupted.describe(len(run.results)))
    return "\n".join(lines)


# -- conformance.json --------------------------------------------------------------------


def to_json(run: RunResult, exit_code: int) -> dict[str, Any]:
    setup = run.setup
    return {
        "schema": SCHEMA,
        "tool": {"name": "killswitch", "version": _version()},
        "implementation": {
            "target": run.target,
            "capabilities": setup.capabilities.to_json(),
        },
        "profile": setup.profile_name,
        "clock": {
            "mode": setup.clock_mode,
            "declared": run.clock_declared,
            "overridden": setup.clock_mode != run.clock_declared,
            "margin_s": setup.margin if setup.clock_mode == "wall" else None,
            "max_wait_s": setup.max_wait if setup.clock_mode == "wall" else None,
            "changed_cases": clock_changes(run),
        },
        "seed": setup.seed,
        "examples": setup.examples,
        "hypothesis_profile": setup.hypothesis_profile,
        "level": {"requested": run.level_requested, "reached": run.level_claimed},
        "exit_code": exit_code,
        "summary": {v.value: run.count(v) for v in Verdict},
        "undetected_fields": undetected_fields(run),
        "duration_s": round(run.seconds, 3),
        "interrupted": None
        if run.interrupted is None
        else {
            "case": run.interrupted.case,
            "not_run": run.interrupted.not_run,
            "not_run_cases": [c.id for c in run.interrupted.pending],
            "by": run.interrupted.how,
        },
        "selection": None
        if run.selection is None
        else {
            "how": run.selection.how,
            "selected": run.selection.selected,
            "of": run.selection.of,
        },
        "cases": [_case_json(r) for r in run.results],
    }


def _case_json(r: CaseResult) -> dict[str, Any]:
    return {
        "id": r.case.id,
        "title": r.case.title,
        "requirements": list(r.case.requirements),
        "level": r.case.level,
        "strength": r.case.strength,
        "features": sorted(r.case.needs),
        "verdict": r.verdict.value,
        "limitation": r.limitation,
        "blocks_level": r.blocks_level,
        "detail": r.detail,
        "figures": r.figures,
        "duration_s": round(r.seconds, 4),
        "clock_change": r.clock_change,
        "counterexample": r.counterexample_file,
    }


# -- junit.xml ---------------------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_text(text: str) -> str:
    return _XML_BAD.sub("?", text)


def junit(run: RunResult) -> bytes:
    stop = run.interrupted
    pending = stop.pending if stop is not None else ()
    # Interrupted: one error (the case Ctrl-C stopped in), the cases after it skipped.
    errors = 0 if stop is None else 1
    not_run = max(len(pending), errors)
    suite = ET.Element(
        "testsuite",
        name=f"killswitch.conformance[{run.setup.profile_name}]",
        tests=str(len(run.results) + not_run),
        failures=str(run.count(Verdict.FAIL)),
        errors=str(errors),
        skipped=str(run.count(Verdict.UNSUPPORTED) + not_run - errors),
        time=f"{run.seconds:.3f}",
    )
    for r in run.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{r.case.level}",
            name=f"{r.case.id} {r.case.title}",
            time=f"{r.seconds:.4f}",
        )
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="requirements", value=",".join(r.case.requirements))
        ET.SubElement(props, "property", name="strength", value=r.case.strength)
        ET.SubElement(props, "property", name="verdict", value=r.verdict.value)
        detail = _xml_text(r.detail)
        if r.verdict is Verdict.FAIL:
            failure = ET.SubElement(
                case,
                "failure",
                message=_xml_text(r.detail.splitlines()[0] if r.detail else "failed"),
            )
            failure.text = detail + (
                f"\ncounterexample: {r.counterexample_file}" if r.counterexample_file else ""
            )
        elif r.verdict is Verdict.UNSUPPORTED:
            ET.SubElement(case, "skipped", message=_xml_text(f"{r.limitation}: {r.detail}"))
        elif r.verdict in (Verdict.NON_STRICT, Verdict.INFORMATIONAL):
            ET.SubElement(case, "system-out").text = f"{r.verdict.value}: {detail}"
    if stop is not None:
        # An interrupted run is not green: the case Ctrl-C stopped in is an error,
        # every case after it is listed as skipped (not run).
        told = stop.describe(len(run.results))
        if not pending:
            case = ET.SubElement(suite, "testcase", classname="conformance", name=stop.case)
            ET.SubElement(case, "error", type="interrupted", message=told)
        for index, pending_case in enumerate(pending):
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"conformance.{pending_case.level}",
                name=f"{pending_case.id} {pending_case.title}",
                time="0",
            )
            if index == 0:
                ET.SubElement(case, "error", type="interrupted", message=told)
            else:
                ET.SubElement(
                    case, "skipped", message=f"not run: the run was interrupted in {stop.case}"
                )
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))


# -- conformance.html --------------------------------------------------------------------

_COLOURS = {
    "PASS": "#1a7f37",
    "FAIL": "#cf222e",
    "NON-STRICT": "#9a6700",
    "INFORMATIONAL": "#0969da",
    "UNSUPPORTED": "#6e7781",
}


def html_report(run: RunResult, exit_code: int) -> str:
    """A simple, self-contained page (no scripts, no external resources)."""
    e = html.escape
    setup = run.setup
    rows = []
    for r in run.results:
        colour = _COLOURS[r.verdict.value]
        verdict = r.verdict.value + (f" ({r.limitation})" if r.limitation else "")
        link = ""
        if r.counterexample_file:
            name = Path(r.counterexample_file).name
            link = f'<br><a href="counterexamples/{e(name)}">counterexample</a>'
        rows.append(
            f"<tr><td><code>{e(r.case.id)}</code></td><td>{e(r.case.title)}</td>"
            f"<td>{e(', '.join(r.case.requirements))}</td><td>{r.case.level}</td>"
            f"<td>{r.case.strength}</td>"
            f"<td style='color:{colour};font-weight:bold'>{e(verdict)}</td>"
            f"<td><small>{e(r.detail)}</small>{link}</td></tr>"
        )
    summary = " · ".join(f"{run.count(v)} {v.value}" for v in Verdict)
    fields = ", ".join(f["field"] for f in undetected_fields(run)) or "none"
    stopped = ""
    if run.interrupted is not None:
        stopped = f"<b>Stopped:</b> {e(run.interrupted.describe(len(run.results)))}<br>"
    if run.selection is not None:
        stopped += f"<b>Subset:</b> {e(run.selection.describe())}<br>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>killswitch conformance: {e(run.target)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: 4px 8px; text-align: left;
  vertical-align: top; }}
th {{ background: #f6f8fa; }}
small {{ white-space: pre-wrap; }}
</style></head><body>
<h1>killswitch conformance</h1>
<p><b>Implementation:</b> <code>{e(run.target)}</code> {e(setup.capabilities.name)}<br>
<b>Profile:</b> {e(setup.profile_name)} · <b>clock:</b> {e(setup.clock_mode)}
(declared {e(run.clock_declared)}) · <b>seed:</b> {setup.seed} ·
<b>examples:</b> {setup.examples}<br>
<b>Level reached:</b> {e(run.level_claimed or "none")} (requested {e(run.level_requested)}) ·
<b>exit code:</b> {exit_code}<br>{stopped}
<b>Summary:</b> {e(summary)}<br>
<b>Changeable without detection:</b> {e(fields)}</p>
<table><tr><th>Case</th><th>Title</th><th>Requirement</th><th>Level</th><th>Strength</th>
<th>Verdict</th><th>Detail</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""


def unwritable(out: Path) -> str | None:
    """Why reports could not be written into directory ``out``, or None if they
    can. Checked for real before a run (so a bad ``--out`` costs no verdicts):
    the directory is created and a file made in it, then both are removed."""
    if out.exists() and not out.is_dir():
        return f"{out} exists and is not a directory"
    created: list[Path] = []
    try:
        missing = []
        folder = out.absolute()
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        handle, probe = tempfile.mkstemp(dir=out, prefix=".killswitch-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    finally:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
    return None


def write_all(run: RunResult, out: Path, exit_code: int) -> dict[str, Path]:
    """Write every report file into ``out``; return their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    write_counterexamples(run, out)
    paths = {
        "json": out / "conformance.json",
        "junit": out / "junit.xml",
        "html": out / "conformance.html",
    }
    paths["json"].write_text(
        json.dumps(to_json(run, exit_code), indent=1, ensure_ascii=False) + "\n"
    )
    paths["junit"].write_bytes(junit(run))
    paths["html"].write_text(html_report(run, exit_code))
    return paths
