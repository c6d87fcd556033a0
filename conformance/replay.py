"""Replaying a counterexample file (``killswitch conform ... --replay FILE``).

The file holds the configurations and every call the suite made in the
failing example, what the implementation answered then, and what the
property expected where it says. Replaying re-runs the calls on fresh state
directories against the implementation given on the command line and
reports, step by step, what it answers now and whether each expectation holds.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from conformance.adapter import Config, ImplementationError, Observation
from conformance.context import Setup
from conformance.report import COUNTEREXAMPLE_SCHEMA


class ReplayError(ValueError):
    """The file is not a counterexample this version can replay."""


def _load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise ReplayError(f"--replay {path}: cannot read: {exc}") from None
    except ValueError as exc:
        raise ReplayError(f"--replay {path}: not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != COUNTEREXAMPLE_SCHEMA:
        raise ReplayError(f"--replay {path}: not a {COUNTEREXAMPLE_SCHEMA} file")
    return document


def _check(expect: dict[str, Any], accepted: bool, state: str) -> str | None:
    if "accepted" in expect and expect["accepted"] != accepted:
        return f"expected {'acceptance' if expect['accepted'] else 'rejection'}"
    if "state" in expect and state not in expect["state"]:
        return f"expected state {' or '.join(expect['state'])}"
    return None


def replay_file(path: Path, setup: Setup) -> tuple[list[str], bool]:
    """Replay ``path``; return report lines and whether every expectation held."""
    document = _load(path)
    lines = [f"Replaying {document['case']} ({document['title']}): {document['failure']}"]
    violations = 0
    impl: Any = None
    states: dict[str | None, str] = {}
    with tempfile.TemporaryDirectory(prefix="killswitch-replay-") as scratch:
        try:
            for number, step in enumerate(document["steps"], 1):
                op = step["op"]
                expect = step.get("expect", {})
                if op == "start":
                    folder = Path(scratch) / f"start-{number}"
                    folder.mkdir()
                    config = Config.from_json(document["configs"][step["config"]], str(folder))
                    impl = setup.factory()
                    impl.start(config)
                    states = {None: "RUNNING"}
                    lines.append(
                        f"{number:>4} start {config.instance_id} ({config.profile}, {config.clock})"
                    )
                    continue
                if impl is None:
                    raise ReplayError(f"step {number}: {op} before any start")
                if op == "deliver":
                    raw = base64.b64decode(step["raw_b64"])
                    before = states.get(step.get("to"))
                    obs: Observation = impl.deliver(raw, step["now"], step["via"], step.get("to"))
                    accepted = obs.accepted if obs.accepted is not None else before != obs.state
                    states[step.get("to")] = obs.state
                    shown = step.get("text", f"<{len(raw)} bytes>")[:60]
                    outcome = f"accepted={obs.accepted} reason={obs.reason} state={obs.state}"
                    problem = _check(expect, accepted, obs.state)
                elif op == "state":
                    state = impl.state(step.get("agent"))
                    states[step.get("agent")] = state
                    shown, outcome = step.get("agent") or "", f"state={state}"
                    problem = _check(expect, False, state) if "state" in expect else None
                elif op == "restart":
                    impl.restart()
                    shown, outcome, problem = "", "", None
                elif op == "advance":
                    impl.advance(step["now"])
                    shown, outcome, problem = str(step["now"]), "", None
                else:
                    raise ReplayError(f"step {number}: unknown op {op!r}")
                recorded = step.get("observed")
                mark = f"VIOLATED: {problem}" if problem else ("ok" if expect else "")
                violations += bool(problem)
                lines.append(
                    f"{number:>4} {op} {shown} -> {outcome} (recorded {recorded}) {mark}".rstrip()
                )
        except ImplementationError as exc:
            lines.append(f"implementation error: {exc}")
            violations += 1
        finally:
            close = getattr(impl, "close", None)
            if callable(close):
                close()
    verdict = "still fails" if violations else "no longer fails"
    lines.append(f"{violations} expectation(s) violated: the counterexample {verdict}.")
    return lines, violations == 0
