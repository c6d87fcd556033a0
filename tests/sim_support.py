"""Helpers of the model tests: small handmade scenarios run in-process, and
readers of their rows, timelines and traces."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

import pytest

from sim.runner import RunResult, run_once
from sim.scenario import Scenario, parse_scenario
from sim.schema import ScenarioError

#: One agent, constant latency and cleanup: times in a run can be worked out by hand.
#: Scenario texts are templates: ``$agents`` takes extra [agents] keys, other
#: ``$names`` are filled in by each test.
LATENCY_S = 0.05
_ONE_AGENT = f"""
[topology]
kind = "balanced"
depth = 0

[network]
latency = {{ dist = "constant", value = {LATENCY_S} }}

[agents]
cleanup_s = {{ dist = "constant", value = 2 }}
$agents
"""


def one_agent(body: str) -> str:
    return _ONE_AGENT + body


#: The root of a balanced tree (a single agent when depth = 0).
ROOT = "agent-0"


def scenario(text: str, **values: object) -> Scenario:
    return parse_scenario(Template(text).substitute({"agents": "", **values}), "test.toml")


def run(text: str, seed: int = 1, trace: Path | None = None, **values: object) -> RunResult:
    return run_once(scenario(text, **values), seed, trace)


def only_row(result: RunResult, op: str = "op0") -> dict[str, Any]:
    (row,) = [r for r in result.rows if r["op"] == op]
    return row


def states(result: RunResult, agent: str = ROOT) -> list[str]:
    """The agent's state after each transition, in order."""
    return [to for _t, _from, to, _cause in result.timeline.get(agent, [])]


def trace_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


#: The smallest valid scenario: one click, everything else at its default (a
#: balanced tree of depth 2).
MINIMAL = """
[[operator]]
at_s = 10
command = "TERMINATE"
"""


def error_for(text: str) -> ScenarioError:
    """The error a broken scenario text gets; it names the file it came from."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "broken.toml")
    assert caught.value.source == "broken.toml"
    return caught.value
