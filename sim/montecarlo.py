"""Replications: one derived seed each, run serially or in worker processes.

Results are consumed in seed order (``imap``, not ``imap_unordered``), so the
aggregate is identical for any ``--jobs``; each worker returns only the small
:class:`~sim.runner.RunResult`.
"""

from __future__ import annotations

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


def _work(args: tuple[Scenario, int]) -> RunResult:
    scenario, seed = args
    return run_once(scenario, seed)


def run_replications(
    scenario: Scenario,
    seeds: list[int],
    jobs: int = 1,
    first_trace: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[RunResult]:
    """Yield one result per seed, in order. The first replication writes its trace."""
    if not seeds:
        return
    first = run_once(scenario, seeds[0], first_trace)
    if progress:
        progress(1)
    yield first
    rest = [(scenario, s) for s in seeds[1:]]
    if jobs <= 1 or len(rest) < 2:
        for item in rest:
            result = _work(item)
            if progress:
                progress(1)
            yield result
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs) as pool:
        chunk = max(1, min(16, len(rest) // (jobs * 8)))
        for result in pool.imap(_work, rest, chunksize=chunk):
            if progress:
                progress(1)
            yield result
