"""pytest plugin: run the conformance suite inside a team's own test suite.

    pytest --killswitch-impl=mypkg.adapter:factory
    pytest --killswitch-cmd="node listener.js" --killswitch-level=L3

Every conformance case becomes one test item (``killswitch::KS-...``): FAIL
fails it, UNSUPPORTED skips it with the reason, NON-STRICT passes with a
warning. The run seed is printed in the header; ``--killswitch-seed``
reproduces a run. Hypothesis settings profiles ``ci`` (50 examples) and
``thorough`` (1000) are registered (unless the project already defines
them) and chosen with ``--killswitch-hypothesis-profile``.

Registered through the ``pytest11`` entry point, so it is loaded in every
pytest run of an environment where killswitch is installed: it only adds its
options until one of them is used, and imports the suite lazily.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest

GROUP = "killswitch"
IMPL = "--killswitch-impl"
CMD = "--killswitch-cmd"
PROFILE = "--killswitch-profile"
LEVEL = "--killswitch-level"
SEED = "--killswitch-seed"
EXAMPLES = "--killswitch-examples"
HYPOTHESIS_PROFILE = "--killswitch-hypothesis-profile"
CLOCK = "--killswitch-clock"
OUT = "--killswitch-out"

_STATE_KEY = "_killswitch_state"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "kill-switch conformance (killswitch)")
    group.addoption(IMPL, metavar="MODULE:FACTORY", help="In-process implementation to test.")
    group.addoption(CMD, metavar="COMMAND", help="Subprocess implementation to test (PROTOCOL.md).")
    group.addoption(PROFILE, metavar="seed|v1|MODULE:CLASS", help="Wire profile.")
    group.addoption(LEVEL, default="H", choices=("L1", "L2", "L3", "H"), help="Level (default H).")
    group.addoption(SEED, type=int, help="Run seed (default: random, printed).")
    group.addoption(EXAMPLES, type=int, help="Examples per property (overrides the profile).")
    group.addoption(
        HYPOTHESIS_PROFILE,
        default="ci",
        choices=("ci", "thorough"),
        help="Hypothesis settings profile for the suite (default ci).",
    )
    group.addoption(CLOCK, choices=("injected", "wall"), help="Override the clock mode.")
    group.addoption(OUT, metavar="DIR", help="Write conformance.json, junit.xml, html here.")


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption(IMPL) or config.getoption(CMD))


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    seed = config.getoption(SEED)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    setattr(
        config,
        _STATE_KEY,
        {
            "seed": seed,
            "setup": None,
            "results": [],
            # Every case up to the level, and those left after -k/-m deselection.
            "cases": [],
            "selected": None,
            # The case a Ctrl-C stopped in, if one did.
            "stopped": None,
        },
    )


def _state(config: pytest.Config) -> dict[str, Any]:
    return getattr(config, _STATE_KEY)  # type: ignore[no-any-return]


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _enabled(config):
        return None
    seed = _state(config)["seed"]
    target = config.getoption(IMPL) or config.getoption(CMD)
    return f"killswitch conformance: {target}, seed {seed} (reproduce with {SEED}={seed})"


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselection sees the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not _enabled(config):
        return
    from conformance.catalog import cases_up_to
    from conformance.hypo import register_profiles
    from conformance.runner import BadInput, build_setup

    register_profiles()
    from hypothesis import settings

    examples = config.getoption(EXAMPLES)
    profile_name = config.getoption(HYPOTHESIS_PROFILE)
    if examples is None:
        examples = settings.get_profile(profile_name).max_examples
    state = _state(config)
    out = config.getoption(OUT)
    if out:
        from conformance.report import unwritable

        problem = unwritable(Path(out))
        if problem is not None:  # found now, not after the whole run
            raise pytest.UsageError(f"killswitch: {OUT}={out}: cannot write reports: {problem}")
    try:
        setup = build_setup(
            impl=config.getoption(IMPL),
            cmd=config.getoption(CMD),
            profile=config.getoption(PROFILE),
            clock=config.getoption(CLOCK),
            seed=state["seed"],
            examples=examples,
        )
    except BadInput as exc:
        raise pytest.UsageError(f"killswitch: {exc}") from None
    setup.hypothesis_profile = profile_name
    state["setup"] = setup
    collector = ConformanceCollector.from_parent(session, name="killswitch")
    state["cases"] = cases_up_to(setup, config.getoption(LEVEL))
    for case in state["cases"]:
        items.append(ConformanceItem.from_parent(collector, name=case.id, case=case))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note which cases survived deselection (-k, -m, test ids): a run of some
    cases only claims no level."""
    if not _enabled(session.config) or _state(session.config)["setup"] is None:
        return
    chosen = [item.case for item in session.items if isinstance(item, ConformanceItem)]
    _state(session.config)["selected"] = chosen


class ConformanceCollector(pytest.Collector):
    """Parent of the conformance items (they are created, not collected from files)."""

    def collect(self) -> list[pytest.Item]:
        return []


class ConformanceItem(pytest.Item):
    def __init__(self, *, case: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.user_properties.append(("requirements", ",".join(case.requirements)))

    def runtest(self) -> None:
        from conformance.outcome import Verdict
        from conformance.runner import run_case

        state = _state(self.config)
        try:
            # Only the user's Ctrl-C gets through: an implementation's sys.exit()
            # or failure is the case's FAIL, recorded below like any verdict.
            result = run_case(state["setup"], self.case)
        except KeyboardInterrupt:
            state["stopped"] = self.case.id
            raise
        state["results"].append(result)
        if result.verdict is Verdict.FAIL:
            raise ConformanceFailure(result)
        if result.verdict is Verdict.UNSUPPORTED:
            pytest.skip(f"UNSUPPORTED ({result.limitation}): {result.detail}")
        if result.verdict is Verdict.NON_STRICT:
            warnings.warn(f"{self.case.id} NON-STRICT: {result.detail}", stacklevel=1)
        if result.verdict is Verdict.INFORMATIONAL:
            self.add_report_section("call", "killswitch", result.detail)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ConformanceFailure):
            r = excinfo.value.result
            text = f"{r.case.id} ({', '.join(r.case.requirements)}) FAILED: {r.detail}"
            if r.counterexample_file:
                text += f"\ncounterexample: {r.counterexample_file}"
            return text
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return "killswitch", None, f"{self.case.id} {self.case.title}"


class ConformanceFailure(Exception):
    def __init__(self, result: Any) -> None:
        super().__init__(result.detail)
        self.result = result


def _run_result(config: pytest.Config, exitstatus: int) -> tuple[Any, int]:
    """The session's conformance run as the CLI would report it, and its exit code."""
    from conformance.outcome import Verdict
    from conformance.runner import CaseResult, Interruption, RunResult, Selection

    state = _state(config)
    setup = state["setup"]
    every = state["cases"]
    selected = every if state["selected"] is None else state["selected"]
    results = list(state["results"])
    done = {r.case.id for r in results}
    pending = [case for case in selected if case.id not in done]
    interrupted = None
    if pending and (state["stopped"] or exitstatus == pytest.ExitCode.INTERRUPTED):
        stopped = next((c for c in pending if c.id == state["stopped"]), pending[0])
        pending.remove(stopped)
        pending.insert(0, stopped)
        interrupted = Interruption(stopped.id, len(pending), tuple(pending))
    else:  # -x, --maxfail, an error in another test: these cases never ran
        results += [
            CaseResult(case, Verdict.FAIL, "not run: pytest stopped before this case")
            for case in pending
        ]
    selection = None
    if len(selected) < len(every):
        selection = Selection("pytest's -k/-m/test-id selection", len(selected), len(every))
    run = RunResult(
        setup=setup,
        target=config.getoption(IMPL) or config.getoption(CMD),
        level_requested=config.getoption(LEVEL),
        results=results,
        seconds=sum(r.seconds for r in results),
        clock_declared=setup.capabilities.clock,
        interrupted=interrupted,
        selection=selection,
    )
    return run, 130 if interrupted else 0 if run.ok else 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _enabled(config) or _state(config)["setup"] is None:
        return
    state = _state(config)
    run, exit_code = _run_result(config, exitstatus)
    out = config.getoption(OUT)
    if out:
        from conformance.report import write_all

        try:
            write_all(run, Path(out), exit_code)
        except OSError as exc:
            terminalreporter.write_line(
                f"killswitch: cannot write reports to {out}: {exc}", red=True
            )
    terminalreporter.write_line(
        f"killswitch conformance: level reached {run.level_claimed or 'none'}"
        f" (requested {run.level_requested}), seed {state['seed']}"
        f" (reproduce with {SEED}={state['seed']})"
    )
    if run.selection is not None:
        terminalreporter.write_line(run.selection.describe())
    if run.interrupted is not None:
        terminalreporter.write_line(run.interrupted.describe(len(run.results)))


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _enabled(config) or getattr(config, _STATE_KEY, None) is None:
        return
    setup = _state(config)["setup"]
    if setup is not None:
        from conformance.runner import cleanup

        cleanup(setup)
