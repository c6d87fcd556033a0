"""Ctrl-C during a Monte Carlo run keeps the replications already finished."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import sim.montecarlo
from killswitch_cli.main import main
from sim.montecarlo import Interrupted, _no_interrupt, replication_seeds, run_replications
from sim.scenario import load_scenario


def _interrupt_after(runs: int) -> Any:
    """A progress callback that presses Ctrl-C once ``runs`` replications are done."""
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] >= runs:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_interrupt_keeps_the_finished_replications_in_seed_order(jobs: int) -> None:
    scenario, _ = load_scenario("baseline")
    seeds = replication_seeds(7, 60)
    with pytest.raises(Interrupted) as caught:
        run_replications(scenario, seeds, jobs, progress=_interrupt_after(5))
    summary = caught.value.summary
    assert 5 <= summary.runs < 60
    assert caught.value.first.seed == seeds[0]
    # Exactly what running the finished prefix alone gives.
    _, expected = run_replications(scenario, seeds[: summary.runs], 1)
    assert summary.to_json() == expected.to_json()


def _swallowed_ctrl_c_after(runs: int) -> Any:
    """A progress callback during which a real SIGINT arrives and its
    KeyboardInterrupt is swallowed, as Python does for one raised in a finaliser
    or a fork hook ("Exception ignored in ...")."""
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] >= runs and done[0] - n < runs:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
            except KeyboardInterrupt:
                pass  # swallowed

    return progress


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_swallowed_ctrl_c_still_stops_the_run(jobs: int) -> None:
    scenario, _ = load_scenario("baseline")
    seeds = replication_seeds(7, 400)
    with pytest.raises(Interrupted) as caught:
        run_replications(scenario, seeds, jobs, progress=_swallowed_ctrl_c_after(5))
    assert 5 <= caught.value.summary.runs < 400


def test_ctrl_c_is_held_back_while_the_summary_changes() -> None:
    reached_end_of_block = False
    with pytest.raises(KeyboardInterrupt), _no_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # a handler would run here, were the signal not blocked
        reached_end_of_block = True
    assert reached_end_of_block


def test_cli_writes_the_partial_results_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sim.montecarlo.run_once
    calls = [0]

    def run_once(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 5:  # Ctrl-C during the fifth replication
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.montecarlo, "run_once", run_once)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["sim", "run", "baseline", "--replications", "10", "--out", str(out), "--no-report"]
    )
    assert result.exit_code == 130, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["interrupted"] == {"requested": 10, "done": 4}
    assert results["replications"] == 4 == results["summary"]["runs"]
    assert "interrupted: 4 of 10 replications done" in result.stderr
    assert "reproduce: killswitch sim run baseline --seed 1 --replications 4" in result.output


def test_cli_interrupted_during_the_first_replication_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run_once(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.montecarlo, "run_once", run_once)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["sim", "run", "baseline", "--replications", "3", "--out", str(out)]
    )
    assert result.exit_code == 130
    assert "nothing written" in result.stderr
    assert not (out / "results.json").exists()


def test_an_interrupted_run_is_torn_down_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A run interrupted half-way still cuts its reference cycles, so the process
    # exits at once instead of waiting for the collector to find them.
    import sim.runner

    torn: list[int] = []
    tear_down = sim.runner._tear_down

    def recording(world: Any) -> None:
        agents = list(world.agents.values())
        tear_down(world)
        torn.append(len(agents))
        assert all(agent.parent is None and not agent.children for agent in agents)

    def interrupt(now: float) -> None:
        if now >= 30:
            raise KeyboardInterrupt

    monkeypatch.setattr(sim.runner, "_tear_down", recording)
    scenario, _ = load_scenario("baseline")
    with pytest.raises(KeyboardInterrupt):
        sim.runner.run_once(scenario, 1, clock=interrupt)
    assert torn == [21]
