"""Subprocess implementations that misbehave — hang, crash, print garbage — fail
their cases with the reason, and the run still completes."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from conformance.adapter import Config, ImplementationError, PolicyHints, Unresponsive
from conformance.outcome import Verdict
from conformance.runner import UNRESPONSIVE_LIMIT, RunResult, build_setup, cleanup, run_suite
from conformance.subprocess_adapter import SubprocessFactory

#: A minimal implementation that answers describe/init/state correctly and
#: misbehaves on deliveries as MODE says.
SCRIPT = textwrap.dedent(
    """
    import base64, json, sys, time
    MODE = sys.argv[1]
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg["type"]
        reply = {"type": kind + "_ok", "in_reply_to": msg["id"]}
        if kind == "describe":
            reply["capabilities"] = {"profiles": ["v1"], "features": ["pause"]}
        elif kind == "state":
            reply["state"] = "RUNNING"
        elif kind == "deliver":
            raw = base64.b64decode(msg["raw_b64"])
            if MODE == "sleep":
                time.sleep(3600)
            if MODE == "mixed" and b"TERMINATE" in raw:
                print("this is not json", flush=True)
                continue
            if MODE == "mixed" and b"PAUSE" in raw:
                sys.stderr.write("boom: cannot handle PAUSE\\n")
                sys.exit(3)
            reply.update(accepted=False, reason="MALFORMED", state="RUNNING")
        print(json.dumps(reply), flush=True)
    """
)


def script(tmp_path: Path, mode: str) -> str:
    path = tmp_path / "impl.py"
    path.write_text(SCRIPT)
    return f"{sys.executable} {path} {mode}"


def run(tmp_path: Path, mode: str, level: str, timeout: float) -> RunResult:
    setup = build_setup(
        impl=None,
        cmd=script(tmp_path, mode),
        profile=None,
        clock=None,
        seed=1,
        examples=3,
        timeout=timeout,
        work_dir=tmp_path / "work",
    )
    try:
        return run_suite(setup, level, target=mode)
    finally:
        cleanup(setup)


def test_a_hung_implementation_fails_with_the_reason_and_the_run_completes(tmp_path: Path) -> None:
    result = run(tmp_path, "sleep", "L2", timeout=0.3)
    failed = [r for r in result.results if r.verdict is Verdict.FAIL]
    assert len(failed) == len(result.results)  # every case delivers something
    hung = [r for r in failed if r.detail == "no reply to deliver within 0.3 s (hung?)"]
    assert len(hung) == UNRESPONSIVE_LIMIT
    not_run = [r for r in failed if r.detail.startswith("not run:")]
    assert len(hung) + len(not_run) == len(failed)
    assert "unresponsive in 3 cases in a row" in not_run[0].detail
    assert result.seconds < 10  # three timeouts, not one per case


def test_crashes_and_garbage_fail_their_cases_and_the_process_is_restarted(tmp_path: Path) -> None:
    result = run(tmp_path, "mixed", "L1", timeout=5.0)
    by_id = {r.case.id: r for r in result.results}
    garbage = by_id["KS-L1-KILL"]  # a TERMINATE: answered with garbage
    assert garbage.verdict is Verdict.FAIL
    assert "printed garbage on stdout" in garbage.detail and "this is not json" in garbage.detail
    crash = by_id["KS-TARGET-INSTANCE"]  # a PAUSE: the process exits
    assert crash.verdict is Verdict.FAIL
    assert "exited" in crash.detail and "exit code 3" in crash.detail
    assert "boom: cannot handle PAUSE" in crash.detail  # stderr is quoted
    # Later cases ran on a fresh process: arbitrary bytes are rejected, so this passes.
    assert by_id["KS-ROBUST-BYTES"].verdict is Verdict.PASS
    assert len(result.results) == len({r.case.id for r in result.results})


def test_a_process_that_cannot_start_is_unresponsive(tmp_path: Path) -> None:
    with pytest.raises(Unresponsive, match="could not start"):
        SubprocessFactory("/nonexistent/kill-switch-binary", work_dir=tmp_path)


def test_replies_must_match_the_request(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "import json, sys\n"
        "for line in sys.stdin:\n"
        "    msg = json.loads(line)\n"
        "    print(json.dumps({'type': 'describe_ok', 'in_reply_to': msg['id'] + 1}), flush=True)\n"
    )
    with pytest.raises(ImplementationError, match="expected a describe_ok with in_reply_to 1"):
        SubprocessFactory(f"{sys.executable} {wrong}", work_dir=tmp_path)


def test_a_well_behaved_subprocess_round_trip(tmp_path: Path) -> None:
    factory = SubprocessFactory(script(tmp_path, "ok"), timeout=5.0, work_dir=tmp_path)
    try:
        assert factory.capabilities.profiles == ("v1",)
        impl = factory()
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        impl.start(Config("a", None, (), PolicyHints(), str(state_dir), "injected", "v1", 0.0))
        observation = impl.deliver(b"\x00\xff not json", 1.0, "sse")
        assert (observation.accepted, observation.reason, observation.state) == (
            False,
            "MALFORMED",
            "RUNNING",
        )
        assert impl.state() == "RUNNING"
    finally:
        factory.close()
