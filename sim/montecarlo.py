"""Replications: one derived seed each, run serially or in worker processes.

Each worker aggregates a batch of replications into a partial
:class:`~sim.aggregate.Summary` and sends back only that; the parent merges
the parts in seed order, so the summary is identical for any ``--jobs``
(:meth:`Summary.merge` is exactly adding the runs one by one). The parent
shares the CPUs with the workers: sending a result per replication (and
unpickling and adding it there) cost a tenth of the machine's time on the
baseline. For the same reason workers get the scenario once, when they start,
and then only seeds (a range of them). A batch is about BATCH_S of work,
judged by the first replication: a fast scenario sends few messages, a slow
one reports each replication as it finishes.

An interrupt (Ctrl-C) keeps what is done: :class:`Interrupted` carries the
first result and the summary of the replications finished so far, always a
prefix of the seeds (batches are merged in order). Workers ignore SIGINT,
so only the parent handles it and then stops the pool.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import overload

from sim.aggregate import Summary
from sim.rng import derive_seed
from sim.runner import RunResult, run_once
from sim.scenario import Scenario


class Seeds(Sequence[int]):
    """Replication seeds ``derive_seed(master, "replication", i)`` for ``i`` in
    ``indices``, derived when read: a list of them all cost 40 bytes a seed
    before anything ran (700 MB for 10^7, with its copies), and a worker's batch
    is sent as a range, not as a list. A slice is again a Seeds; equal to any
    sequence of the same seeds."""

    def __init__(self, master: int, indices: range) -> None:
        self.master = master
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Seeds: ...
    def __getitem__(self, index: int | slice) -> int | Seeds:
        if isinstance(index, slice):
            return Seeds(self.master, self.indices[index])
        return derive_seed(self.master, "replication", self.indices[index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Seeds) and other.master == self.master:
            return other.indices == self.indices
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which have none

    def __repr__(self) -> str:
        return f"Seeds({self.master}, {self.indices})"


def replication_seeds(master: int, replications: int) -> Sequence[int]:
    """The master seed itself for a single run; derived seeds for a Monte Carlo batch."""
    if replications == 1:
        return [master]
    return Seeds(master, range(replications))


#: The scenario a worker process runs (set once per worker by the pool initializer).
_scenario: Scenario | None = None


def ignore_interrupts() -> None:
    """In a worker process: Ctrl-C reaches the whole process group, and the
    parent decides what happens (it keeps what is done and stops the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _init_worker(scenario: Scenario) -> None:
    global _scenario
    _scenario = scenario
    ignore_interrupts()


class Interrupted(Exception):
    """Replications were interrupted; ``summary`` holds the ones that finished
    (the first ``summary.runs`` seeds), ``first`` the first replication."""

    def __init__(self, first: RunResult, summary: Summary) -> None:
        super().__init__(f"interrupted after {summary.runs} replications")
        self.first = first
        self.summary = summary


def _summarize(scenario: Scenario, seeds: Sequence[int]) -> Summary:
    """The summary of replications after the first (no rows, no timeline: nothing
    reads them)."""
    summary = Summary(scenario.sla)
    for seed in seeds:
        summary.add(run_once(scenario, seed, detail=False))
    return summary


def _work(seeds: Sequence[int]) -> Summary:
    assert _scenario is not None, "worker started without a scenario"
    return _summarize(_scenario, seeds)


#: The most replications in one batch (the progress bar moves once per batch).
MAX_BATCH = 64
#: About this much work, in seconds, goes into one batch. A worker reports a
#: batch only whole, so Ctrl-C loses up to about this much per worker (batches
#: of 64 slow replications lost all but one of 36 finished ones after 12 s); and
#: the parent's cost per batch (~0.3 ms: a message, unpickling, merging) stays
#: well under 1% of it.
BATCH_S = 0.1


def batch_limit(replication_s: float) -> int:
    """The most replications in one batch when one takes ``replication_s``
    seconds: about BATCH_S of work, at least one, at most MAX_BATCH."""
    if not replication_s > 0:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, int(BATCH_S / replication_s)))


def batches(seeds: Sequence[int], jobs: int, most: int = MAX_BATCH) -> list[Sequence[int]]:
    """Guided scheduling: large batches first (few messages for the parent),
    smaller and smaller ones towards the end (no worker waits long for the last
    one to finish): each batch is a ``2 * jobs``-th of what is left, at most
    ``most``."""
    out = []
    start = 0
    while start < len(seeds):
        left = len(seeds) - start
        size = min(most, -(-left // (2 * jobs)))  # rounded up: at least 1
        out.append(seeds[start : start + size])
        start += size
    return out


def run_replications(
    scenario: Scenario,
    seeds: Sequence[int],
    jobs: int = 1,
    first_trace: Path | None = None,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[float], None] | None = None,
) -> tuple[RunResult, Summary]:
    """Run one replication per seed and aggregate them: the first replication's
    result (it alone writes its trace and keeps its rows and per-agent timeline,
    for the plots) and the summary of all. ``progress`` is told how many
    replications finished, as they finish; ``clock`` the virtual time the first
    replication has reached, as it runs. A KeyboardInterrupt after the first
    replication becomes :class:`Interrupted`, with what is done."""
    if not seeds:
        raise ValueError("no seeds to run")
    summary = Summary(scenario.sla)
    started = time.perf_counter()
    first = run_once(scenario, seeds[0], first_trace, clock=clock)
    # The first replication also writes its trace and warms caches: the others
    # take less, so batches sized from it err towards small.
    most = batch_limit(time.perf_counter() - started)
    summary.add(first)
    if progress:
        progress(1)
    try:
        with _remembered_interrupts() as seen:
            _run_rest(scenario, seeds[1:], jobs, most, summary, progress, seen)
    except KeyboardInterrupt:
        raise Interrupted(first, summary) from None
    return first, summary


class _Seen:
    """Whether Ctrl-C was pressed (see _remembered_interrupts)."""

    interrupted = False

    def check(self) -> None:
        if self.interrupted:
            raise KeyboardInterrupt


@contextlib.contextmanager
def _remembered_interrupts() -> Iterator[_Seen]:
    """SIGINT raises KeyboardInterrupt as usual and is also remembered: raised
    inside a finaliser or a fork hook (worker pools start with both), Python
    prints it as "Exception ignored in ..." and goes on, and the run would
    finish as if Ctrl-C had never been pressed. The loops check what is seen."""
    seen = _Seen()
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield seen  # somebody else's handler (or none): leave it alone
        return

    def remember(signum: int, frame: object) -> None:
        seen.interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, remember)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back while the summary changes: a KeyboardInterrupt in the
    middle of adding a run would leave it half-added. The signal is delivered
    (and raised) as soon as the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _run_rest(
    scenario: Scenario,
    rest: Sequence[int],
    jobs: int,
    most: int,
    summary: Summary,
    progress: Callable[[int], None] | None,
    seen: _Seen,
) -> None:
    """Add the replications of ``rest`` to ``summary``, in seed order, in worker
    batches of at most ``most``; stop at a Ctrl-C ``seen`` even if swallowed."""
    if jobs <= 1 or len(rest) < 2:
        for seed in rest:
            seen.check()
            result = run_once(scenario, seed, detail=False)
            with _no_interrupt():
                summary.add(result)
            if progress:
                progress(1)
        return
    context = multiprocessing.get_context("fork")
    # Objects the workers inherit stay in shared pages: without the freeze, the
    # first collection in each worker writes to every object's header and copies them.
    gc.freeze()
    try:
        with context.Pool(jobs, initializer=_init_worker, initargs=(scenario,)) as pool:
            for part in pool.imap(_work, batches(rest, jobs, most)):
                with _no_interrupt():
                    summary.merge(part)
                if progress:
                    progress(part.runs)
                seen.check()  # after the merge: a finished batch is kept
    finally:
        gc.unfreeze()
