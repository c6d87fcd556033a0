"""Real inputs for the report tests: small simulator runs (made once per test
process through the real ``killswitch sim run``) and a conformance.json in the
schema conformance/report.py writes."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from killswitch_cli.main import main

#: A failing design: one subtree is partitioned around the click (so it falls
#: back to polling and misses the SLA) and the leaves' cleanup is slow.
FAULTY_TOML = """
[meta]
name = "faulty"
description = "partition of one subtree around the click; polling fallback"
duration_s = 150
seed = 3

[topology]
kind = "balanced"
fanout = 3
depth = 2

[control_plane]
mode = "ack"
cascade = "control_plane"
profile = "v1"
algorithm = "Ed25519"

[transports]
listen = ["sse", "poll"]

[[faults]]
kind = "partition"
at_s = 25
duration_s = 20
agents = ["subtree:agent-1"]

[[faults]]
kind = "slow_cleanup"
at_s = 0
duration_s = 150
agents = ["leaves"]
cleanup_s = { dist = "uniform", low = 20, high = 70 }

[[operator]]
at_s = 30
command = "TERMINATE"
target = "root"
cascade = true
grace_s = 30

[expect]
all_halted_within_s = 5
all_terminated_within_s = 60
p99_delivery_s = 5
min_sla_compliance = 0.99
"""


@functools.cache
def workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="killswitch-report-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def run_sim(scenario: str, name: str, replications: int, *extra: str) -> Path:
    out = workdir() / name
    args = ["sim", "run", scenario, "--out", str(out), "--replications", str(replications)]
    result = CliRunner().invoke(main, [*args, *extra])
    assert result.exit_code in (0, 1), result.output
    return out / "results.json"


@functools.cache
def faulty_results() -> Path:
    toml = workdir() / "faulty.toml"
    toml.write_text(FAULTY_TOML, encoding="utf-8")
    return run_sim(str(toml), "faulty", 12, "--no-report")


@functools.cache
def baseline_results() -> Path:
    """The bundled baseline; rendered by ``sim run`` itself (its default)."""
    return run_sim("baseline", "baseline", 5)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def conformance_doc(target: str, verdicts: dict[str, str], folder: Path) -> Path:
    """A conformance.json as conformance/report.py writes it; every FAIL gets a
    counterexample file next to it."""
    cases = []
    for case_id, verdict in verdicts.items():
        counterexample = None
        if verdict == "FAIL":
            path = folder / "counterexamples" / f"{case_id}.json"
            write_json(path, {"case": case_id, "steps": [{"deliver": f"bytes for {case_id}"}]})
            counterexample = str(path)
        cases.append(
            {
                "id": case_id,
                "title": f"title of {case_id}",
                "requirements": [REQUIREMENT[case_id], "KS-999"],
                "level": "L2",
                "strength": "MUST",
                "features": [],
                "verdict": verdict,
                "limitation": "capability" if verdict == "UNSUPPORTED" else None,
                "detail": f"detail of {case_id} <{verdict}>",
                "figures": {"p99_ms": 1.5} if verdict == "INFORMATIONAL" else {},
                "duration_s": 0.01,
                "clock_change": None,
                "counterexample": counterexample,
            }
        )
    failed = "FAIL" in verdicts.values()
    doc = {
        "schema": "killswitch.conformance/1",
        "tool": {"name": "killswitch", "version": "0.1.0"},
        "implementation": {"target": target, "capabilities": {"name": ""}},
        "profile": "v1",
        "clock": {"mode": "injected"},
        "seed": 1,
        "examples": 5,
        "level": {"requested": "L3", "reached": None if failed else "L3"},
        "exit_code": 1 if failed else 0,
        "summary": {},
        "undetected_fields": [{"field": "reason", "why": "profile limitation"}] if failed else [],
        "cases": cases,
    }
    return write_json(folder / "conformance.json", doc)


REQUIREMENT = {
    "KS-SIG-WRONG-KEY": "KS-120",
    "KS-TIME-EXPIRED": "KS-101",
    "KS-REPLAY-DUPLICATE": "KS-140",
    "KS-CASCADE-PAUSE": "KS-203",
    "KS-TIMING": "KS-262",
    "KS-TARGET-INSTANCE": "KS-012",
}
