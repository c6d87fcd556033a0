"""Harness robustness: whatever the implementation under test does (exit, raise
a KeyboardInterrupt of its own, leave grandchildren behind, answer NaN) and
whatever the user gets wrong (paths, damaged counterexamples), the run ends
with its verdicts kept and a clear message, never a traceback or a hang."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from conformance.adapter import Config, ImplementationError, PolicyHints, Unresponsive
from conformance.subprocess_adapter import SubprocessFactory
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


    class SwallowsCtrlC(ReferenceAdapter):
        '''A real SIGINT arrives, and its KeyboardInterrupt is swallowed where it lands
        (as Python does in a gc callback: "Exception ignored in ...").'''

        def deliver(self, raw, now, via, to=None):
            if b"TERMINATE" in raw:
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                except KeyboardInterrupt:
                    pass
            return super().deliver(raw, now, via, to)


    class IgnoresAsset(ReferenceAdapter):
        '''Obeys commands naming another asset (fails KS-TARGET-ASSET).'''

        def deliver(self, raw, now, via, to=None):
            return super().deliver(raw.replace(b"asset-other", b"asset-billing"), now, via, to)


    class BreaksOnFourthDelivery(ReferenceAdapter):
        '''Works, then raises on every delivery from the fourth on (per instance).'''

        def deliver(self, raw, now, via, to=None):
            self.count = getattr(self, "count", 0) + 1
            if self.count >= 4:
                raise RuntimeError("disk full on delivery 4")
            return super().deliver(raw, now, via, to)


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


def test_a_ctrl_c_whose_keyboard_interrupt_was_swallowed_still_stops_the_run(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    impl = f"{adapters(tmp_path)}:SwallowsCtrlC"
    code, output = conform("--impl", impl, "--level", "L1", "--out", str(out))
    assert code == 130, output
    report = json.loads((out / "conformance.json").read_text())
    assert report["exit_code"] == 130 and report["level"]["reached"] is None
    # Stopped in the case the Ctrl-C arrived in, which counts as not run.
    assert report["interrupted"]["case"] == "KS-L1-KILL"
    assert report["interrupted"]["by"] == "Ctrl-C"
    assert "KS-L1-KILL" not in [c["id"] for c in report["cases"]]
    assert "Interrupted (Ctrl-C) in KS-L1-KILL" in output


def test_a_ctrl_c_recorded_between_examples_stops_the_case_at_the_next_example(
    tmp_path: Path,
) -> None:
    from conformance import adapter
    from conformance.context import Context
    from conformance.runner import build_setup, cleanup, run_suite

    setup = build_setup(
        impl="conformance.reference:factory", cmd=None, profile=None, clock=None,
        seed=0, examples=50, work_dir=tmp_path / "work",
    )  # fmt: skip
    per_case: dict[str, int] = {}
    begin = Context.begin_example

    def counting(self: Context) -> None:
        per_case[self.case_id] = per_case.get(self.case_id, 0) + 1
        if per_case[self.case_id] == 2:
            adapter.note_stop("Ctrl-C")  # recorded, its KeyboardInterrupt lost
        begin(self)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Context, "begin_example", counting)
            result = run_suite(setup, "L1", target="reference")
    finally:
        cleanup(setup)
    assert result.interrupted is not None and result.interrupted.how == "Ctrl-C"
    assert result.interrupted.exit_code == 130
    stopped = result.interrupted.case
    assert per_case == {stopped: 2}  # not the other 48 examples, nor any later case
    assert result.interrupted.pending[0].id == stopped
    assert stopped not in [r.case.id for r in result.results]
    assert result.level_reached is None


def test_sigterm_stops_the_run_like_ctrl_c_writes_the_reports_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    # A real process: SIGTERM must not reach the test runner itself.
    import subprocess

    listener = tmp_path / "slow.py"
    listener.write_text(SUBPROCESS)
    out, work = tmp_path / "out", tmp_path / "work"
    proc = subprocess.Popen(
        [
            sys.executable, "-c", "from killswitch_cli.main import main; main()",
            "conform", "--cmd", f"{sys.executable} {listener} slow {tmp_path}",
            "--examples", "20", "--out", str(out), "--work-dir", str(work),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        verdicts = 0
        while verdicts < 3:  # a few verdicts, then CI cancels the job
            line = proc.stderr.readline()
            assert line, "conform ended before any verdict"
            verdicts += " KS-" in line
        listener_pid = int((tmp_path / "pids").read_text().split()[0])
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stdout + stderr
    report = json.loads((out / "conformance.json").read_text())
    assert report["exit_code"] == 143 and report["interrupted"]["by"] == "SIGTERM"
    assert report["cases"], "the verdicts reached before SIGTERM are kept"
    assert "Interrupted (SIGTERM) in" in stdout
    assert list(work.iterdir()) == [], "the scratch directory is removed"
    deadline = time.monotonic() + 5
    while not _gone(listener_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(listener_pid), "the implementation outlived the run"


# -- 2. --case runs a subset: no level is claimed ----------------------------------------

NAIVE = f"{Path(__file__).resolve().parent.parent / 'examples' / 'naive_adapter.py'}:factory"


def test_a_case_subset_claims_no_level_and_exits_on_the_selected_cases_only(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    code, output = conform(
        "--impl", NAIVE, "--level", "L2", "--case", "KS-L1-KILL", "--out", str(out)
    )  # fmt: skip
    assert code == 0, output  # the one selected case passes
    assert "Highest level reached: none (requested L2)" in output
    assert "Only 1 of" in output and "no level is claimed" in output
    report = json.loads((out / "conformance.json").read_text())
    assert report["level"] == {"requested": "L2", "reached": None}
    assert report["selection"]["how"] == "--case KS-L1-KILL"
    assert report["selection"]["selected"] == 1 and report["selection"]["of"] > 1
    assert "only 1 of" in (out / "summary.md").read_text()
    # A selected case that fails fails the run.
    code, output = conform("--impl", NAIVE, "--case", "KS-TARGET-ASSET", "--out", str(out))
    assert code == 1, output
    # Patterns that select every case are a full run: the level is claimed.
    code, output = conform(
        "--impl", "conformance.reference:factory", "--level", "L1", "--case", "KS-*",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0 and "Highest level reached: L1 (requested L1)" in output
    assert json.loads((out / "conformance.json").read_text())["selection"] is None


# -- 3. and 9. interrupted runs: junit.xml is not green, compare sees regressions -------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """conformance.json of a full L1 run of the reference, of the same run
    interrupted (Ctrl-C) in its fourth case, and of a --case subset."""
    import conformance.runner

    folder = tmp_path_factory.mktemp("runs")
    ref = ("--impl", "conformance.reference:factory", "--level", "L1", "--seed", "3")
    paths = {name: folder / name for name in ("full", "interrupted", "subset")}
    assert conform(*ref, "--out", str(paths["full"]))[0] == 0
    assert conform(*ref, "--case", "KS-L1-*", "--out", str(paths["subset"]))[0] == 0
    real = conformance.runner.run_case
    started: list[str] = []

    def run_case(setup: object, case: conformance.runner.Case) -> object:
        started.append(case.id)
        if len(started) == 4:
            raise KeyboardInterrupt
        return real(setup, case)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conformance.runner, "run_case", run_case)
        assert conform(*ref, "--out", str(paths["interrupted"]))[0] == 130
    return paths


def test_an_interrupted_run_s_junit_xml_shows_the_interruption_and_the_cases_not_run(
    runs: dict[str, Path],
) -> None:
    full = json.loads((runs["full"] / "conformance.json").read_text())
    report = json.loads((runs["interrupted"] / "conformance.json").read_text())
    stop = report["interrupted"]
    every = [c["id"] for c in full["cases"]]
    assert stop["not_run_cases"] == every[3:] and stop["not_run"] == len(every) - 3
    suite = ET.parse(runs["interrupted"] / "junit.xml").getroot()
    assert suite.get("tests") == str(len(every)) and suite.get("errors") == "1"
    assert suite.get("skipped") == str(len(every) - 4) and suite.get("failures") == "0"
    cases = {c.get("name", "").split()[0]: c for c in suite.findall("testcase")}
    assert list(cases) == every
    error = cases[stop["case"]].find("error")
    assert error is not None and "Interrupted (Ctrl-C)" in error.get("message", "")
    skipped = cases[every[-1]].find("skipped")
    assert skipped is not None and "interrupted" in skipped.get("message", "")
    # The shared renderer's junit.xml (killswitch report) says the same.
    out = runs["interrupted"].parent / "rendered"
    code, output = invoke(
        "report", str(runs["interrupted"] / "conformance.json"), "--format", "junit",
        "--out", str(out),
    )  # fmt: skip
    assert code == 1, output  # an interrupted run did not pass
    shared = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert shared is not None
    assert shared.get("errors") == "1" and shared.get("skipped") == str(len(every) - 4)
    assert int(shared.get("tests", "0")) == len(every)


def test_compare_reports_an_interrupted_subset_or_lower_level_run_as_a_regression(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    full = str(runs["full"] / "conformance.json")
    code, output = invoke("report", "compare", full, full)
    assert code == 0 and "no regression" in output, output
    code, output = invoke("report", "compare", full, str(runs["interrupted"] / "conformance.json"))
    assert code == 1, output
    assert re.search(r"level reached +L1 +none \(interrupted in \S+\) .*REGRESSION", output)
    assert re.search(r"run +complete +interrupted in \S+, \d+ not run .*REGRESSION", output)
    assert re.search(r"case KS-\S+ +PASS +not run .*REGRESSION", output)
    # Back from an interrupted run to a complete one is not a regression.
    code, output = invoke("report", "compare", str(runs["interrupted"] / "conformance.json"), full)
    assert code == 0 and "fixed" in output, output
    code, output = invoke("report", "compare", full, str(runs["subset"] / "conformance.json"))
    assert code == 1 and re.search(r"case KS-\S+ +PASS +missing .*REGRESSION", output), output
    # A lower level reached, every case the same: a regression.
    lower = json.loads(Path(full).read_text())
    lower["level"] = {"requested": "L1", "reached": None}
    (tmp_path / "lower.json").write_text(json.dumps(lower))
    code, output = invoke("report", "compare", full, str(tmp_path / "lower.json"))
    assert code == 1 and re.search(r"level reached +L1 +none .*REGRESSION", output), output


# -- subprocess implementations ----------------------------------------------------------

#: A subprocess implementation that misbehaves as MODE says.
SUBPROCESS = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    MODE, SCRATCH = sys.argv[1], sys.argv[2]
    MODE, _, ARG = MODE.partition(":")
    sys.stderr.write(f"started {os.getpid()}\\n")
    sys.stderr.flush()
    with open(os.path.join(SCRATCH, "pids"), "a") as f:
        f.write(f"{os.getpid()}\\n")
    for line in sys.stdin:
        msg = json.loads(line)
        kind = msg["type"]
        reply = {"type": kind + "_ok", "in_reply_to": msg["id"]}
        if kind == "describe":
            if MODE == "describe-dies":
                sys.stderr.write("fatal: cannot read /etc/agent/keys.pem\\n")
                sys.exit(4)
            if MODE == "describe-hangs":
                sys.stderr.write("waiting for the control plane\\n")
                sys.stderr.flush()
                time.sleep(3600)
            reply["capabilities"] = {"profiles": ["v1"]}
        elif kind == "init" and MODE == "daemon" and os.fork() == 0:
            os.setsid()  # detached: its own session and process group
            if os.fork() == 0:
                with open(os.path.join(SCRATCH, "daemon.pid"), "w") as f:
                    f.write(str(os.getpid()))
                for fd in (0, 1, 2):
                    os.close(fd)
                time.sleep(3600)
            os._exit(0)
        elif kind == "init" and MODE == "grandchild":
            worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            with open(os.path.join(SCRATCH, "worker.pid"), "w") as f:
                f.write(str(worker.pid))
        elif kind == "deliver":
            if MODE == "grandchild":
                time.sleep(3600)
            if MODE == "crash":
                sys.stderr.write(f"crashing {os.getpid()}\\n")
                sys.exit(3)
            if MODE == "slow":
                time.sleep(0.002)
            reply.update(accepted=False, reason=None, state="RUNNING")
            if MODE == "big":
                reply["pad"] = "x" * int(ARG)
            if MODE == "nan":
                print(json.dumps(reply)[:-1] + ', "hard_kill_at": NaN}', flush=True)
                continue
        elif kind == "state":
            reply["state"] = "RUNNING"
        print(json.dumps(reply), flush=True)
    """
)


def subprocess_command(tmp_path: Path, mode: str) -> str:
    path = tmp_path / "listener.py"
    path.write_text(SUBPROCESS)
    return f"{sys.executable} {path} {mode} {tmp_path}"


def started_instance(tmp_path: Path, mode: str, timeout: float = 5.0) -> tuple[Any, Any]:
    factory = SubprocessFactory(
        subprocess_command(tmp_path, mode), timeout=timeout, work_dir=tmp_path / "work"
    )
    impl = factory()
    state_dir = tmp_path / f"state-{factory.process.generation}"
    state_dir.mkdir(exist_ok=True)
    impl.start(Config("a", None, (), PolicyHints(), str(state_dir), "injected", "v1", 0.0))
    return factory, impl


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\\nState:\\tZ" in status  # a zombie (not reaped by init here) has exited


# -- 6. a killed subprocess takes its own children with it -------------------------------


def test_a_hung_subprocess_is_killed_with_the_processes_it_started(tmp_path: Path) -> None:
    factory, impl = started_instance(tmp_path, "grandchild", timeout=0.5)
    try:
        worker = int((tmp_path / "worker.pid").read_text())
        assert not _gone(worker)
        with pytest.raises(Unresponsive, match="no reply to deliver"):
            impl.deliver(b"{}", 1.0, "sse")
        deadline = time.monotonic() + 5
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(worker), "the implementation's own child outlived the kill"
    finally:
        factory.close()
        with contextlib.suppress(OSError):
            os.kill(int((tmp_path / "worker.pid").read_text()), signal.SIGKILL)


# -- 10. crash messages quote only the crashed process's stderr --------------------------


def test_a_crash_message_quotes_only_the_current_process_s_stderr(tmp_path: Path) -> None:
    factory, impl = started_instance(tmp_path, "crash")
    try:
        messages = []
        for _ in range(2):  # two processes, one after the other, on one log
            with pytest.raises(ImplementationError) as caught:
                impl.deliver(b"{}", 1.0, "sse")
            messages.append(str(caught.value))
            impl = factory()
            impl.start(Config("a", None, (), PolicyHints(), str(tmp_path), "injected", "v1", 0))
        for message in messages:
            pids = set(re.findall(r"(?:started|crashing) (\d+)", message))
            assert len(pids) == 1 and "exit code 3" in message, message
        assert messages[0] != messages[1]
        log = (tmp_path / "work" / "implementation.stderr.log").read_text()
        assert log.count("crashing") == 2  # the log itself keeps everything
    finally:
        factory.close()


# -- 11. NaN is not JSON -----------------------------------------------------------------


def test_a_nan_in_a_reply_is_a_protocol_error(tmp_path: Path) -> None:
    factory, impl = started_instance(tmp_path, "nan")
    try:
        with pytest.raises(ImplementationError, match=r"NaN is not JSON \(RFC 8259\)"):
            impl.deliver(b"{}", 1.0, "sse")
    finally:
        factory.close()


def test_a_long_reply_line_is_read_in_linear_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.subprocess_adapter as subprocess_adapter

    monkeypatch.setattr(subprocess_adapter, "MAX_LINE", 64 << 20, raising=False)
    # 40 MB took 8.6 s when the buffer was copied on every 64 KiB read.
    factory, impl = started_instance(tmp_path, f"big:{40 << 20}", timeout=5.0)
    try:
        started = time.monotonic()
        observed = impl.deliver(b"{}", 1.0, "sse")
        assert observed.state == "RUNNING"
        assert time.monotonic() - started < 4
    finally:
        factory.close()


def test_a_reply_line_over_the_limit_is_a_protocol_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.subprocess_adapter as subprocess_adapter

    assert subprocess_adapter.MAX_LINE == 16 << 20
    monkeypatch.setattr(subprocess_adapter, "MAX_LINE", 1 << 20)
    factory, impl = started_instance(tmp_path, f"big:{2 << 20}")
    try:
        with pytest.raises(ImplementationError, match=r"longer than 1048576 bytes") as caught:
            impl.deliver(b"{}", 1.0, "sse")
        assert not isinstance(caught.value, Unresponsive)
        assert factory.process.proc is None  # killed: its stdout is mid-line
    finally:
        factory.close()


def test_a_daemon_that_detached_with_setsid_does_not_outlive_the_run(tmp_path: Path) -> None:
    factory, _ = started_instance(tmp_path, "daemon")
    pid_file = tmp_path / "daemon.pid"
    try:
        deadline = time.monotonic() + 5
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.02)
        daemon = int(pid_file.read_text())
        assert os.getpgid(daemon) != factory.process.proc.pid  # left the process group
    finally:
        factory.close()
    try:
        deadline = time.monotonic() + 5
        while not _gone(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(daemon), "the detached daemon outlived the run"
    finally:
        with contextlib.suppress(OSError):
            os.kill(daemon, signal.SIGKILL)


# -- 8. nothing left behind on bad input; a failed describe quotes stderr ----------------


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("describe-dies", "fatal: cannot read /etc/agent/keys.pem"),
        ("describe-hangs", "waiting for the control plane"),
    ],
)
def test_a_failed_describe_quotes_stderr_and_leaves_no_scratch_directory(
    tmp_path: Path, mode: str, said: str
) -> None:
    work = tmp_path / "work"
    code, output = conform(
        "--cmd", subprocess_command(tmp_path, mode), "--timeout", "0.5",
        "--work-dir", str(work), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2, output
    assert "describe failed" in output and "stderr: started" in output and said in output
    assert list(work.iterdir()) == []  # the scratch directory was removed


@pytest.mark.parametrize(
    "args",
    [
        ["--impl", "conformance.reference:nope"],
        ["--impl", "conformance.reference:factory", "--profile", "seed-v9"],
        ["--impl", NAIVE, "--profile", "v1"],
        ["--impl", "conformance.reference:factory", "--case", "NOPE-*"],
        ["--impl", "conformance.reference:factory", "--replay", "/no/such/file.json"],
    ],
)
def test_bad_input_leaves_no_scratch_directory(tmp_path: Path, args: list[str]) -> None:
    work = tmp_path / "work"
    code, output = conform(*args, "--work-dir", str(work), "--out", str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in output, output
    assert list(work.iterdir()) == []


# -- 7. bad output paths are found before the run ---------------------------------------


def test_unusable_work_dir_and_out_are_bad_input_before_the_run(tmp_path: Path) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("")
    code, output = conform(
        "--impl", "conformance.reference:factory", "--work-dir", str(regular / "work"),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2 and "Traceback" not in output, output
    assert f"--work-dir {regular / 'work'}: cannot make a scratch directory there" in output
    out = regular / "out"
    code, output = conform(
        "--impl", "conformance.reference:factory", "--out", str(out),
        "--work-dir", str(tmp_path / "work"),
    )  # fmt: skip
    assert code == 2 and "Traceback" not in output, output
    assert f"--out {out}: cannot write reports there: Not a directory" in output
    assert not (tmp_path / "work").exists()  # refused before the run, not after it


def test_reports_that_cannot_be_written_after_the_run_still_show_the_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.report

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(conformance.report, "write_all", full_disk)
    code, output = conform(
        "--impl", "conformance.reference:factory", "--level", "L1", "--out", str(tmp_path / "o")
    )  # fmt: skip
    assert code == 2 and "Traceback" not in output, output
    assert "No space left on device" in output and "the verdicts are in the table above" in output
    assert "Highest level reached: L1 (requested L1)" in output


# -- 4. and 5. --replay: time, damaged files, implementations that raise ----------------


@pytest.fixture(scope="module")
def naive_counterexample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """KS-TARGET-ASSET's counterexample for the naive listener (wall clock, seed)."""
    out = tmp_path_factory.mktemp("naive")
    code, output = conform("--impl", NAIVE, "--case", "KS-TARGET-ASSET", "--out", str(out))
    assert code == 1, output
    return out / "counterexamples" / "KS-TARGET-ASSET.json"


def test_a_wall_clock_replay_after_the_commands_expired_is_inconclusive(
    naive_counterexample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, tzinfo

    code, output = invoke("conform", "--impl", NAIVE, "--replay", str(naive_counterexample))
    assert code == 1 and "still fails" in output, output  # replayed at once: conclusive
    # An hour later, for the harness and for the naive listener's own clock.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)

    class AnHourLater(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> AnHourLater:
            return cls.fromtimestamp(time.time(), tz)

    monkeypatch.setattr(sys.modules["naive_listener"], "datetime", AnHourLater)
    code, output = invoke("conform", "--impl", NAIVE, "--replay", str(naive_counterexample))
    assert code == 1, output
    assert "no longer fails" not in output and "the replay is inconclusive" in output
    assert "was valid when recorded and is expired now" in output
    # An implementation that takes the time it is given is replayed at the recorded
    # times: an hour later the reference still shows the counterexample is not its flaw.
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--profile", "seed",
        "--replay", str(naive_counterexample),
    )  # fmt: skip
    assert code == 0 and "clock injected" in output and "no longer fails" in output, output


def _damaged(source: Path, folder: Path, change: Any) -> Path:
    document = json.loads(source.read_text())
    change(document)
    path = folder / "damaged.json"
    path.write_text(json.dumps(document))
    return path


def _set(where: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        *parents, last = where.split(".")
        target: Any = document
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("steps.1.raw_b64", "not*base64"), "steps[1].raw_b64: not valid base64"),
        (_set("steps.0.config", 7), "steps[0].config: 7 is out of range"),
        (_set("configs.0.policy.bogus", 1), "configs[0].policy.bogus: unknown policy member"),
        (_set("configs.0.policy.max_grace_s", "60"), "configs[0].policy.max_grace_s: has the"),
        (_set("steps.1.now", "soon"), "steps[1].now: must be a finite number, got 'soon'"),
        (_set("steps.1.now", float("nan")), "steps[1].now: must be a finite number, got nan"),
        (_set("steps.1.op", "explode"), "steps[1].op: must be one of"),
        (_set("steps", []), "steps: must be a non-empty list"),
        (_set("configs.0.trusted_keys", "all"), "configs[0].trusted_keys: must be a list"),
        (_set("steps.1.expect", {"accepted": "no"}), "steps[1].expect.accepted: must be true"),
        (lambda d: d["steps"].pop(0), "steps[0]: deliver before any start"),
        (lambda d: d["configs"][0].pop("instance_id"), "configs[0].instance_id: must be a string"),
    ],
)
def test_a_damaged_counterexample_is_bad_input_naming_the_field(
    naive_counterexample: Path, tmp_path: Path, change: Any, message: str
) -> None:
    path = _damaged(naive_counterexample, tmp_path, change)
    code, output = invoke(
        "conform", "--impl", "conformance.reference:factory", "--replay", str(path)
    )
    assert code == 2 and "Traceback" not in output, output
    assert f"--replay {path}: {message}" in output


def test_an_implementation_that_raises_during_a_replay_is_a_reported_failure(
    naive_counterexample: Path, tmp_path: Path
) -> None:
    def garbage_first(document: dict[str, Any]) -> None:
        step = dict(document["steps"][1], raw_b64="bm90IGpzb24=", text="not json")
        step["expect"] = {"accepted": False}
        document["steps"].insert(1, step)

    path = _damaged(naive_counterexample, tmp_path, garbage_first)
    code, output = invoke(
        "conform", "--impl", f"{adapters(tmp_path)}:RaisesOnGarbage", "--profile", "seed",
        "--replay", str(path),
    )  # fmt: skip
    assert code == 1 and "Traceback" not in output, output
    assert "step 2: implementation error: deliver raised JSONDecodeError" in output
    assert "the counterexample still fails" in output


def test_an_implementation_that_exits_during_a_replay_is_a_reported_failure(
    tmp_path: Path,
) -> None:
    impl = f"{adapters(tmp_path)}:ExitsOnTerminate"
    out = tmp_path / "out"
    assert conform("--impl", impl, "--case", "KS-L1-KILL", "--out", str(out))[0] == 1
    code, output = invoke(
        "conform", "--impl", impl, "--replay", str(out / "counterexamples" / "KS-L1-KILL.json")
    )
    assert code == 1 and "Traceback" not in output, output
    assert "implementation error: deliver tried to exit the process" in output


def test_an_error_inside_the_state_machine_case_is_reported_as_itself(tmp_path: Path) -> None:
    # Once the implementation raised, every later example raises at once, which
    # Hypothesis calls inconsistent data generation: the report must still say
    # what the implementation did, not "not deterministic".
    path = adapters(tmp_path)
    code, out = conform(
        "--impl",
        f"{path}:BreaksOnFourthDelivery",
        "--case",
        "KS-STATE-MACHINE",
        "--examples",
        "10",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 1
    assert "disk full on delivery 4" in out
    assert "not deterministic" not in out
