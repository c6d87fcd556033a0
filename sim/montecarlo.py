"""Replications: one derived seed each, run serially or in worker processes.

Results are consumed in seed order (``imap``, not ``imap_unordered``), so the
aggregate is identical for any ``--jobs``; each worker returns only the small
:class:`~sim.runner.RunResult`. Workers get the scenario once, when they start,
and then only seeds: pickling the scenario with every task cost the parent, which
shares the CPUs with the workers, a tenth of a millisecond per replication.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path

from sim.rng import derive_seed
from sim.runner import RunResult, run_once
from sim.scenario import Scenario


def replication_seeds(master: int, replications: int) -> list[int]:
    """The master seed itself for a single run; derived seeds for a Monte Carlo batch."""
    if replications == 1:
        return [master]
    return [derive_seed(master, "replication", i) for i in range(replications)]


#: The scenario a worker process runs (set once per worker by the pool initializer).
_scenario: Scenario | None = None


def _init_worker(scenario: Scenario) -> None:
    global _scenario
    _scenario = scenario


def _work(seed: int) -> RunResult:
    assert _scenario is not None, "worker started without a scenario"
    return run_once(_scenario, seed, detail=False)


def run_replications(
    scenario: Scenario,
    seeds: list[int],
    jobs: int = 1,
    first_trace: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[RunResult]:
    """Yield one result per seed, in order. The first replication writes its trace
    and is the only one that keeps its rows and per-agent timeline (only the first
    run's are plotted; they were most of what a worker sends back)."""
    if not seeds:
        return
    first = run_once(scenario, seeds[0], first_trace)
    if progress:
        progress(1)
    yield first
    rest = seeds[1:]
    if jobs <= 1 or len(rest) < 2:
        for seed in rest:
            result = run_once(scenario, seed, detail=False)
            if progress:
                progress(1)
            yield result
        return
    context = multiprocessing.get_context("fork")
    # Objects the workers inherit stay in shared pages: without the freeze, the
    # first collection in each worker writes to every object's header and copies them.
    gc.freeze()
    try:
        with context.Pool(jobs, initializer=_init_worker, initargs=(scenario,)) as pool:
            chunk = max(1, min(16, len(rest) // (jobs * 8)))
            for result in pool.imap(_work, rest, chunksize=chunk):
                if progress:
                    progress(1)
                yield result
    finally:
        gc.unfreeze()
