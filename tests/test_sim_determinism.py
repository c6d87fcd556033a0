"""Determinism: the same scenario and seed give the same trace, byte for byte, in any process."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from killswitch_cli.main import main
from sim.montecarlo import replication_seeds, run_replications
from sim.rng import derive_seed
from sim.runner import run_once
from sim.scenario import Scenario, load_scenario, parse_scenario

#: Randomness everywhere: lognormal latency, loss, duplication, reordering,
#: random stream drops, polling jitter, random topology and a fault mix.
CHAOTIC = """
[meta]
name = "chaotic"
duration_s = 150

[topology]
kind = "random"
agents = 30
max_children = 3

[transports]
listen = ["sse", "poll"]
sse = { drops_per_hour = 120, jitter = 0.5 }
poll = { interval_s = 10, jitter_s = 3 }

[network]
latency = { dist = "lognormal", median = 0.08, sigma = 0.8 }
loss = 0.1
duplicate = 0.05
reorder = 0.1
reorder_delay = { dist = "exponential", mean = 0.5 }

[[operator]]
at_s = 20
command = "PAUSE"

[[operator]]
at_s = 40
command = "RESUME"

[[operator]]
at_s = 60
command = "TERMINATE"

[[faults]]
kind = "partition"
at_s = 50
duration_s = 30
agents = ["leaves"]

[[faults]]
kind = "agent_crash"
at_s = 62
duration_s = 5
agents = ["depth:1"]
"""


@pytest.fixture(scope="module")
def chaotic() -> Scenario:
    return parse_scenario(CHAOTIC, "chaotic.toml")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_trace_bytes(chaotic: Scenario, tmp_path: Path) -> None:
    first = run_once(chaotic, 7, tmp_path / "a.jsonl")
    second = run_once(chaotic, 7, tmp_path / "b.jsonl")
    a, b = (tmp_path / "a.jsonl").read_bytes(), (tmp_path / "b.jsonl").read_bytes()
    assert a == b
    assert first.digest == second.digest == sha256(tmp_path / "a.jsonl")
    assert first.trace_lines == len(a.splitlines()) > 50
    assert first.rows == second.rows
    assert first.counters == second.counters


def test_trace_without_a_file_has_the_same_digest(chaotic: Scenario, tmp_path: Path) -> None:
    with_file = run_once(chaotic, 3, tmp_path / "t.jsonl")
    assert run_once(chaotic, 3).digest == with_file.digest


def test_trace_is_json_lines_in_time_order(chaotic: Scenario, tmp_path: Path) -> None:
    run_once(chaotic, 11, tmp_path / "t.jsonl")
    events = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    times = [e["t"] for e in events]
    assert times == sorted(times)
    assert events[0]["ev"] == "start" and events[0]["seed"] == 11
    assert events[-1]["ev"] == "end"


def test_different_seeds_give_different_digests(chaotic: Scenario) -> None:
    digests = {run_once(chaotic, seed).digest for seed in range(6)}
    assert len(digests) == 6


def test_the_seed_drives_the_baseline_too() -> None:
    baseline, _ = load_scenario("baseline")
    assert run_once(baseline, 1).digest == run_once(baseline, 1).digest
    assert run_once(baseline, 1).digest != run_once(baseline, 2).digest


def test_replication_seeds_follow_the_documented_derivation() -> None:
    # sim/rng.py: SHA-256 of "master\0label\0index", first 8 bytes big-endian, shifted to 63 bits.
    def by_hand(master: int, index: int) -> int:
        digest = hashlib.sha256(f"{master}\x00replication\x00{index}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    seeds = replication_seeds(42, 5)
    assert seeds == [by_hand(42, i) for i in range(5)]
    assert all(0 <= s < 2**63 for s in seeds)
    assert len(set(seeds)) == 5
    # Replication i does not depend on how many replications there are.
    assert replication_seeds(42, 12)[:5] == seeds
    # A single run uses the master seed itself (so `--seed N` reproduces it directly).
    assert replication_seeds(42, 1) == [42]
    assert derive_seed(42, "replication", 0) == seeds[0]
    assert derive_seed(43, "replication", 0) != seeds[0]


def summary_json(scenario: Scenario, seeds: list[int], jobs: int) -> str:
    _first, summary = run_replications(scenario, seeds, jobs)
    return json.dumps([summary.to_json(), summary.run_rows], sort_keys=True)


def test_monte_carlo_summary_is_the_same_for_any_jobs(chaotic: Scenario) -> None:
    seeds = replication_seeds(5, 8)
    assert summary_json(chaotic, seeds, 1) == summary_json(chaotic, seeds, 2)


@pytest.mark.parametrize(("count", "jobs"), [(999, 2), (9, 2), (2, 2), (1, 4), (100, 3)])
def test_batches_hand_out_every_seed_once_and_shrink_towards_the_end(count: int, jobs: int) -> None:
    from sim.montecarlo import MAX_BATCH, batches

    seeds = list(range(100, 100 + count))
    parts = batches(seeds, jobs)
    assert [s for part in parts for s in part] == seeds  # in order, each once
    sizes = [len(part) for part in parts]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1
    assert sizes[0] == min(MAX_BATCH, -(-count // (2 * jobs)))  # a 2*jobs-th at most
    # Few messages for the parent: far fewer batches than seeds once there are many.
    assert len(parts) <= min(count, count // MAX_BATCH + 4 * jobs * max(1, count.bit_length()))


def test_cli_results_are_the_same_for_one_and_two_jobs(tmp_path: Path) -> None:
    runner = CliRunner()
    outputs = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        args = ["sim", "run", "baseline", "--replications", "6", "--jobs", str(jobs)]
        result = runner.invoke(main, [*args, "--out", str(out), "--no-report"])
        assert result.exit_code == 0, result.output
        results = json.loads((out / "results.json").read_text())
        del results["wall_s"]  # the only field that may differ
        outputs.append(results)
        assert len(results["runs"]) == 6
    assert outputs[0] == outputs[1]


def test_check_determinism_flag_passes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["sim", "run", "baseline", "--check-determinism", "--out", str(tmp_path), "--no-report"],
    )
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results.json").read_text())
    (check,) = [o for o in results["expectations"] if o["name"] == "determinism"]
    assert check["passed"]
    assert check["expected"] == check["actual"] == results["first_run"]["digest"]


#: Everything on whole seconds (zero latency, signing and verification, 1 s
#: cleanup, clicks on the second): many events fall exactly where a run that
#: reports its progress stops (every duration / 100 = 1 s) and resumes.
ON_THE_SECOND = """
[meta]
duration_s = 100

[topology]
kind = "balanced"
fanout = 3
depth = 2

[control_plane]
signing_s = {dist = "constant", value = 0}

[transports]
listen = ["sse", "poll"]
poll = {interval_s = 1, jitter_s = 0}

[network]
latency = {dist = "constant", value = 0}

[agents]
verify_s = {dist = "constant", value = 0}
cleanup_s = {dist = "constant", value = 1}

[[operator]]
at_s = 30
command = "PAUSE"

[[operator]]
at_s = 30
command = "RESUME"

[[operator]]
at_s = 50
command = "TERMINATE"
"""


@pytest.mark.parametrize("name", ["chaotic", "on_the_second"])
def test_a_run_that_reports_its_progress_is_the_same_run(chaotic: Scenario, name: str) -> None:
    scenario = chaotic if name == "chaotic" else parse_scenario(ON_THE_SECOND, "second.toml")
    for seed in (1, 2, 3):
        seen: list[float] = []
        told = run_once(scenario, seed, clock=seen.append)
        plain = run_once(scenario, seed)
        assert told.digest == plain.digest
        assert told.rows == plain.rows
        duration = scenario.meta.duration_s
        assert len(seen) == 100
        assert seen == sorted(seen) and seen[-1] == duration
        assert seen[0] == pytest.approx(duration / 100)
