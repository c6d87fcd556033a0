"""``killswitch sim`` robustness: the same checks for ``run`` and ``swarm``, no
traceback for a bad base scenario, an output folder that an interrupt leaves
intact, bounded options, honest reproduce and digest lines."""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from killswitch_cli.main import main


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, ["sim", *args])


def test_top_level_help_lists_the_interrupted_exit_code() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "130 interrupted" in " ".join(result.output.split())


def test_the_reproduce_line_quotes_a_path_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "my dir"
    folder.mkdir()
    path = folder / "s p.toml"
    path.write_text(_bundled("baseline"), encoding="utf-8")
    result = invoke("run", str(path), "--out", str(tmp_path / "out"), "--no-report")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("reproduce: "))
    # The line is a shell command that gives back exactly the same arguments.
    words = shlex.split(line.removeprefix("reproduce: "))
    assert words == ["killswitch", "sim", "run", str(path), "--seed", "1"]


def _bundled(name: str) -> str:
    from sim.scenario import bundled_text

    return bundled_text(name)


def test_reproduce_command_quotes_every_argument() -> None:
    from sim.results import reproduce_command

    results = {
        "seed": 5,
        "replications": 3,
        "scenario": {"source": "a b/$x.toml", "overrides": ["meta.description=two words"]},
    }
    words = shlex.split(reproduce_command(results))
    assert words == ["killswitch", "sim", "run", "a b/$x.toml", "--seed", "5",
                     "--replications", "3", "--set", "meta.description=two words"]  # fmt: skip


# --- sim swarm checks its base scenario exactly as sim run does -------------

_OPERATOR = "[[operator]]\nat_s = 1\ncommand = 'TERMINATE'\n"
BAD_BASES = {
    "selector": _OPERATOR + "[[faults]]\nkind = 'partition'\nagents = ['subtree:x']\n",
    "cycle": _OPERATOR + "[topology]\nkind = 'explicit'\nedges = [['a', 'b'], ['b', 'a']]\n",
    "target": "[[operator]]\nat_s = 1\ncommand = 'TERMINATE'\ntarget = 'agent-999'\n",
}


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("bad", sorted(BAD_BASES))
def test_swarm_refuses_a_bad_base_as_sim_run_does(tmp_path: Path, bad: str, jobs: str) -> None:
    path = tmp_path / f"{bad}.toml"
    path.write_text(BAD_BASES[bad], encoding="utf-8")
    run = invoke("run", str(path), "--out", str(tmp_path / "out"), "--no-report")
    swarm = invoke("swarm", "--base", str(path), "--seeds", "3", "--jobs", jobs)
    assert run.exit_code == swarm.exit_code == 2, swarm.output
    assert "Traceback" not in swarm.output
    assert swarm.exception is None or isinstance(swarm.exception, SystemExit)
    assert swarm.stdout == ""  # refused before it starts
    assert swarm.stderr == run.stderr
    assert len(swarm.stderr.splitlines()) == 1


def test_swarm_refuses_a_base_broken_by_set() -> None:
    bad = ("--set", 'faults[0].agents=["subtree:zzz"]')
    run = invoke("run", "partition_heal", *bad, "--no-report")
    swarm = invoke("swarm", "--base", "partition_heal", *bad, "--seeds", "2", "--jobs", "2")
    assert run.exit_code == swarm.exit_code == 2, swarm.output
    assert swarm.stderr == run.stderr
    assert "faults[0].agents" in swarm.stderr and "subtree:zzz" in swarm.stderr


TREES = {
    "one agent": "[topology]\nkind = 'balanced'\ndepth = 0\n",
    "two agents": "[topology]\nkind = 'random'\nagents = 2\nmax_children = 1\n",
    "explicit": "[topology]\nkind = 'explicit'\nedges = [['a', 'b'], ['b', 'c']]\n",
    "baseline": "",
}


@pytest.mark.parametrize("tree", sorted(TREES))
def test_a_drawn_fault_mix_always_names_agents_of_the_tree(tree: str) -> None:
    from sim.runner import build_hierarchy, check_selectors
    from sim.scenario import parse_scenario
    from sim.swarm import swarm_scenario, swarm_seed

    base = parse_scenario(_OPERATOR + "[meta]\nduration_s = 60\n" + TREES[tree], tree)
    for index in range(200):
        seed = swarm_seed(1, index)
        drawn = swarm_scenario(seed, base)  # the scenario's own checks hold
        check_selectors(drawn, build_hierarchy(drawn.topology, seed), tree)


def test_swarm_on_a_one_agent_base_runs_every_seed() -> None:
    # depth:1 selects nobody in a one-agent tree: a mix must not draw it there.
    from sim.scenario import parse_scenario
    from sim.swarm import draw_faults, swarm_seed

    base = parse_scenario(_OPERATOR + TREES["one agent"], "one")
    seeds = [swarm_seed(1, i) for i in range(40)]
    assert any("root" in f.agents for s in seeds for f in draw_faults(s, base))
    assert all(f.agents != ["depth:1"] for s in seeds for f in draw_faults(s, base))


def test_the_fault_mix_of_a_deep_tree_is_unchanged() -> None:
    # Swarm seeds found before stay reproducible: same draws for trees with a depth:1.
    from sim.scenario import load_scenario
    from sim.swarm import draw_faults, swarm_seed

    base, _ = load_scenario("baseline")
    selectors = [f.agents for i in range(40) for f in draw_faults(swarm_seed(1, i), base)]
    assert ["depth:1"] in selectors


def test_swarm_refuses_up_front_a_seed_whose_mix_the_base_cannot_take(tmp_path: Path) -> None:
    # A base just within its event budget: a drawn SSE outage adds the refused
    # reconnects and tips it over. Refused before anything runs, naming the seed.
    from sim.scenario import parse_scenario
    from sim.swarm import draw_faults, swarm_scenario, swarm_seed

    def base(budget: float) -> str:
        return _OPERATOR + f"[meta]\nduration_s = 60\nmax_events = {budget!r}\n"

    low, high = 1.0, 1e8  # the smallest budget the base itself fits in
    for _ in range(60):
        middle = (low + high) / 2
        try:
            parse_scenario(base(middle))
            high = middle
        except ValueError:
            low = middle
    tight = parse_scenario(base(high))
    seed = next(
        s
        for s in (swarm_seed(1, i) for i in range(200))
        if any(f.kind == "transport_outage" and f.transport == "sse" for f in draw_faults(s, tight))
    )
    with pytest.raises(ValueError, match="max_events"):
        swarm_scenario(seed, tight)
    path = tmp_path / "tight.toml"
    path.write_text(base(high), encoding="utf-8")
    result = invoke("swarm", "--base", str(path), "--replay", str(seed))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"swarm seed {seed} draws faults it cannot take" in result.stderr
    assert "max_events" in result.stderr


# --- a folder is never taken for the scenario file ----------------------------


def test_a_folder_named_like_a_bundled_scenario_does_not_hide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # e.g. left behind by an earlier `sim run baseline --out ./baseline`
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline").mkdir()
    result = invoke("run", "baseline", "--out", "out", "--no-report")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["scenario"]["name"] == "baseline"
    show = invoke("show", "baseline")
    assert show.exit_code == 0 and show.output == _bundled("baseline")
    swarm = invoke("swarm", "--base", "baseline", "--seeds", "1")
    assert swarm.exit_code == 0, swarm.output


@pytest.mark.parametrize("command", [["run"], ["show"], ["swarm", "--base"]])
def test_a_folder_is_not_a_scenario_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    result = invoke(*command, "results")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: results")
    assert result.stderr.endswith(" is a directory, not a scenario file\n")
    assert len(result.stderr.splitlines()) == 1


# --- meta.name as the default output folder --------------------------------


@pytest.mark.parametrize(
    "name", ["/tmp/x/absname", "../../escaped", "a/b", "a\\b", "..", ".", "", "C:x", "a\0b"]
)
def test_a_name_that_is_no_plain_folder_name_cannot_be_the_default_out(name: str) -> None:
    from sim.cli import default_out

    with pytest.raises(SystemExit) as stopped:
        default_out(name, "s.toml")
    assert stopped.value.code == 2


def test_a_plain_name_is_the_default_out() -> None:
    from sim.cli import default_out

    assert default_out("baseline+swarm7..x", "s.toml") == Path("out") / "baseline+swarm7..x"


@pytest.mark.parametrize("name", ["ABS", "../../escaped"])
def test_run_never_writes_outside_out_for_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    name = str(tmp_path / "x" / "absname") if name == "ABS" else name
    result = invoke("run", "baseline", "--no-report", "--set", f"meta.name={json.dumps(name)}")
    assert result.exit_code == 2, result.output
    assert "meta.name" in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert list(work.iterdir()) == []


# --- an interrupted run leaves the output folder as it was --------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _interrupt_the_first_replication_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C half-way through the first replication, once it wrote part of its trace."""
    import sim.montecarlo

    real = sim.montecarlo.run_once

    def run_once(*args: Any, **kwargs: Any) -> Any:
        def clock(now: float) -> None:
            if now >= 30:
                raise KeyboardInterrupt

        return real(*args, **{**kwargs, "clock": clock})

    monkeypatch.setattr(sim.montecarlo, "run_once", run_once)


@pytest.mark.parametrize("replications", ["1", "3"])
def test_an_interrupted_rerun_leaves_the_previous_results_and_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replications: str
) -> None:
    out = tmp_path / "out"
    first = invoke("run", "baseline", "--out", str(out), "--no-report")
    assert first.exit_code == 0, first.output
    before = _files(out)
    assert set(before) == {"results.json", "trace.jsonl"}
    _interrupt_the_first_replication_half_way(monkeypatch)
    again = invoke("run", "baseline", "--seed", "2", "--replications", replications,
                   "--out", str(out), "--no-report")  # fmt: skip
    assert again.exit_code == 130, again.output
    assert "nothing written" in again.stderr
    assert _files(out) == before  # no partial trace, no temporary file


def test_an_interrupt_in_the_first_replication_leaves_no_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interrupt_the_first_replication_half_way(monkeypatch)
    result = invoke("run", "baseline", "--out", str(tmp_path / "new"), "--no-report")
    assert result.exit_code == 130
    assert "nothing written" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_monte_carlo_run_writes_a_trace_matching_its_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.montecarlo

    out = tmp_path / "out"
    assert invoke("run", "baseline", "--seed", "9", "--out", str(out), "--no-report").exit_code == 0
    real = sim.montecarlo.run_once
    calls = [0]

    def run_once(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3:  # Ctrl-C during the third replication
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.montecarlo, "run_once", run_once)
    result = invoke("run", "baseline", "--replications", "5", "--out", str(out), "--no-report")
    assert result.exit_code == 130, result.output
    assert set(_files(out)) == {"results.json", "trace.jsonl"}
    results = json.loads((out / "results.json").read_text())
    assert results["interrupted"] == {"requested": 5, "done": 2}
    trace = (out / "trace.jsonl").read_bytes()
    assert hashlib.sha256(trace).hexdigest() == results["first_run"]["digest"]


def test_results_that_cannot_be_written_leave_the_previous_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.results

    out = tmp_path / "out"
    assert invoke("run", "baseline", "--out", str(out), "--no-report").exit_code == 0
    before = _files(out)

    def full_disk(results: Any, folder: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim.results, "write_results", full_disk)
    result = invoke("run", "baseline", "--seed", "3", "--out", str(out), "--no-report")
    assert result.exit_code == 2
    assert "results not written" in result.stderr
    assert _files(out) == before


def test_ctrl_c_during_the_determinism_check_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.montecarlo  # imported first: it keeps its own reference to the real run
    import sim.runner

    def run_once(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # the determinism check, after the replication itself

    monkeypatch.setattr(sim.runner, "run_once", run_once)
    out = tmp_path / "out"
    result = invoke("run", "baseline", "--check-determinism", "--out", str(out), "--no-report")
    assert result.exit_code == 130, result.output
    assert "nothing written" in result.stderr
    assert not out.exists()


# --- --replications is bounded, and its seeds are not built up front ----------


@pytest.mark.parametrize("count", ["1000001", "10000000", str(10**9)])
def test_too_many_replications_is_a_usage_error(count: str) -> None:
    result = invoke("run", "baseline", "--replications", count, "--no-report")
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "--replications" in result.output and "1000000" in result.output


def test_too_many_swarm_seeds_is_a_usage_error() -> None:
    result = invoke("swarm", "--seeds", str(10**9))
    assert result.exit_code == 2
    assert "--seeds" in result.output and "1000000" in result.output


def test_replication_seeds_are_derived_on_demand() -> None:
    import tracemalloc

    from sim.cli import MAX_REPLICATIONS
    from sim.montecarlo import replication_seeds
    from sim.rng import derive_seed

    tracemalloc.start()
    seeds = replication_seeds(3, MAX_REPLICATIONS)
    rest = seeds[1:]
    done = seeds[:500_000]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100_000  # bytes: no list of a million seeds
    assert len(seeds) == MAX_REPLICATIONS and len(rest) == MAX_REPLICATIONS - 1
    assert len(done) == 500_000
    assert seeds[-1] == rest[-1] == derive_seed(3, "replication", MAX_REPLICATIONS - 1)
    assert list(rest[:3]) == [derive_seed(3, "replication", i) for i in (1, 2, 3)]
    assert seeds[:4] == list(seeds[:4]) and seeds[:4] != seeds[1:5]


# --- Ctrl-C keeps nearly every finished replication ----------------------------


def test_slow_replications_are_reported_one_by_one_with_two_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker reports a batch only whole, and Ctrl-C loses what it has not
    # reported: when one replication takes longer than a batch should (BATCH_S),
    # each batch is a single replication. The workers fork after the patch.
    import sim.montecarlo
    from sim.montecarlo import replication_seeds, run_replications
    from sim.scenario import load_scenario

    real = sim.montecarlo.run_once

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.02)
        return real(*args, **kwargs)

    monkeypatch.setattr(sim.montecarlo, "run_once", slow)
    monkeypatch.setattr(sim.montecarlo, "BATCH_S", 0.01)
    scenario, _ = load_scenario("baseline")
    seeds = replication_seeds(4, 30)
    reported: list[int] = []
    _, summary = run_replications(scenario, seeds, 2, progress=reported.append)
    assert reported == [1] * 30
    _, alone = run_replications(scenario, seeds, 1)
    assert summary.to_json() == alone.to_json() and summary.run_rows == alone.run_rows


@pytest.mark.parametrize(
    ("replication_s", "expected"), [(10.0, 1), (0.06, 1), (0.03, 3), (0.001, 64), (0.0, 64)]
)
def test_a_batch_is_about_batch_s_of_work(replication_s: float, expected: int) -> None:
    from sim.montecarlo import BATCH_S, batch_limit

    assert BATCH_S == 0.1
    assert batch_limit(replication_s) == expected


def test_batches_never_exceed_their_limit() -> None:
    from sim.montecarlo import batches

    seeds = list(range(1000))
    parts = batches(seeds, 2, most=3)
    assert [s for part in parts for s in part] == seeds
    assert max(len(part) for part in parts) == 3


# --- the digest line names the run it belongs to --------------------------------


def test_a_monte_carlo_digest_names_replication_0_and_its_seed(tmp_path: Path) -> None:
    from sim.rng import derive_seed

    out = tmp_path / "mc"
    result = invoke("run", "baseline", "--seed", "5", "--replications", "3", "--out", str(out),
                    "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    first = results["first_run"]
    derived = derive_seed(5, "replication", 0)
    assert first["seed"] == derived == results["runs"][0]["seed"] and results["seed"] == 5
    assert first["digest"] == results["runs"][0]["digest"]
    line = next(x for x in result.output.splitlines() if "sha256:" in x)
    assert line.startswith(
        f"digest of replication 0 (seed {derived}) sha256:{first['digest']}"
        f" ({first['trace_lines']} lines)  master seed 5  "
    )
    assert " seed 5 " not in line.replace("master seed 5", "")
    trace = (out / "trace.jsonl").read_bytes()
    assert hashlib.sha256(trace).hexdigest() == first["digest"]
    # That seed alone gives that digest.
    alone = invoke("run", "baseline", "--seed", str(derived), "--out", str(tmp_path / "one"),
                   "--no-report")  # fmt: skip
    assert f"digest sha256:{first['digest']} " in alone.output
    assert f"seed {derived}  wall" in alone.output


def test_ctrl_c_while_swarm_checks_its_seeds_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.swarm

    def interrupted(seed: int, base: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.swarm, "swarm_scenario", interrupted)
    result = invoke("swarm", "--seeds", "5")
    assert result.exit_code == 130
    assert result.stderr == "interrupted before the first seed ran\n"


def test_results_that_fail_to_land_leave_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.results import write_results

    def refuse(self: Path, target: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(OSError):
        write_results({"schema": "x"}, tmp_path)
    assert list(tmp_path.iterdir()) == []
