"""Harness robustness: whatever the implementation under test does (exit, raise
a KeyboardInterrupt of its own, leave grandchildren behind, answer NaN) and
whatever the user gets wrong (paths, damaged counterexamples), the run ends
with its verdicts kept and a clear message, never a traceback or a hang."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from killswitch_cli.main import main

#: In-process adapters built on the reference, each with one way to misbehave.
ADAPTERS = textwrap.dedent(
    """
    import os, signal, sys

    from conformance.reference import ReferenceAdapter


    class ExitsOnTerminate(ReferenceAdapter):
        '''The seed's _execute_terminate: sys.exit(0) once a TERMINATE took effect.'''

        def deliver(self, raw, now, via, to=None):
            obs = super().deliver(raw, now, via, to)
            if obs.accepted and obs.state in ("TERMINATING", "TERMINATED"):
                sys.exit(0)
            return obs


    class InterruptsItself(ReferenceAdapter):
        '''Raises KeyboardInterrupt from its own code (no Ctrl-C was pressed).'''

        def deliver(self, raw, now, via, to=None):
            if b"TERMINATE" in raw:
                raise KeyboardInterrupt
            return super().deliver(raw, now, via, to)


    class CtrlC(ReferenceAdapter):
        '''A real SIGINT arrives while the implementation runs: the user's Ctrl-C.'''

        def deliver(self, raw, now, via, to=None):
            if b"TERMINATE" in raw:
                os.kill(os.getpid(), signal.SIGINT)
            return super().deliver(raw, now, via, to)


    class IgnoresAsset(ReferenceAdapter):
        '''Obeys commands naming another asset (fails KS-TARGET-ASSET).'''

        def deliver(self, raw, now, via, to=None):
            return super().deliver(raw.replace(b"asset-other", b"asset-billing"), now, via, to)


    class RaisesOnGarbage(ReferenceAdapter):
        def deliver(self, raw, now, via, to=None):
            import json
            json.loads(raw)
            return super().deliver(raw, now, via, to)
    """
)


def adapters(tmp_path: Path) -> Path:
    path = tmp_path / "adapters.py"
    path.write_text(ADAPTERS)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def conform(*args: str) -> tuple[int, str]:
    return invoke("conform", "--examples", "3", "-q", *args)


# -- 1. an implementation that exits or raises KeyboardInterrupt itself ------------------


def test_an_implementation_calling_sys_exit_fails_its_cases_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    impl = f"{adapters(tmp_path)}:ExitsOnTerminate"
    code, output = conform("--impl", impl, "--level", "L1", "--out", str(out))
    assert code == 1, output
    report = json.loads((out / "conformance.json").read_text())
    assert report["exit_code"] == 1 and report["interrupted"] is None
    verdicts = {c["id"]: c for c in report["cases"]}
    kill = verdicts["KS-L1-KILL"]
    assert kill["verdict"] == "FAIL"
    assert "tried to exit the process (SystemExit, exit code 0)" in kill["detail"]
    assert "sys.exit()" in kill["detail"]
    # The run went on after it: later cases have verdicts, some of them passes.
    ids = [c["id"] for c in report["cases"]]
    assert ids.index("KS-L1-KILL") < len(ids) - 1
    assert report["summary"]["PASS"] > 0
    assert "FAIL KS-L1-KILL: deliver tried to exit the process" in output


def test_a_keyboard_interrupt_the_implementation_raises_itself_is_a_failure(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    impl = f"{adapters(tmp_path)}:InterruptsItself"
    code, output = conform("--impl", impl, "--level", "L1", "--out", str(out))
    assert code == 1, output
    report = json.loads((out / "conformance.json").read_text())
    assert report["interrupted"] is None
    kill = next(c for c in report["cases"] if c["id"] == "KS-L1-KILL")
    assert kill["verdict"] == "FAIL" and "raised KeyboardInterrupt" in kill["detail"]


def test_a_real_ctrl_c_during_an_implementation_call_still_stops_the_run(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    impl = f"{adapters(tmp_path)}:CtrlC"
    code, output = conform("--impl", impl, "--level", "L1", "--out", str(out))
    assert code == 130, output
    report = json.loads((out / "conformance.json").read_text())
    assert report["interrupted"]["case"] == "KS-L1-KILL"
