"""``killswitch sim``: list, show, run and swarm scenarios.

Exit 0 ok, 1 failed, 2 bad input, 130 interrupted (what was done is kept).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from sim.schema import ScenarioError

#: The most ``--replications`` (and swarm ``--seeds``) a run may ask for: each
#: replication keeps its row in results.json and its samples in the summary
#: (10^9 ended in a MemoryError, 10^7 took 700 MB before the first run).
MAX_REPLICATIONS = 1_000_000

if TYPE_CHECKING:
    from killswitch.hierarchy import Hierarchy
    from sim.runner import RunResult
    from sim.scenario import Fault, Scenario


def _fail_input(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _load(ref: str, overrides: tuple[str, ...] = ()) -> tuple[Scenario, str]:
    """The scenario ``ref`` names (a bundled name or a TOML path, never a folder)
    with its text; exit 2 with the loader's message when it is broken."""
    from sim.scenario import load_scenario

    try:
        return load_scenario(ref, overrides)
    except ScenarioError as exc:
        _fail_input(str(exc))


def _checked_tree(scenario: Scenario, ref: str, seed: int) -> Hierarchy:
    """The tree a run of ``scenario`` with ``seed`` builds, once every fault and
    link selector and every operator target is known to name agents of it: the
    check ``run`` and ``swarm`` share, so a base scenario that ``run`` refuses
    never reaches a swarm worker as a traceback. Exit 2 naming the key."""
    from sim.runner import build_hierarchy, check_selectors

    try:
        hierarchy = build_hierarchy(scenario.topology, seed)
        check_selectors(scenario, hierarchy, ref)
    except ScenarioError as exc:
        _fail_input(str(exc))
    except ValueError as exc:  # a topology the hierarchy refuses (cycle, two parents)
        _fail_input(f"{ref}: topology: {exc}")
    return hierarchy


def default_out(name: str, ref: str) -> Path:
    """``out/<name>``, the output folder when ``--out`` gives none, for a
    ``meta.name`` that is one folder name; any other exits 2 (``/tmp/x`` or
    ``../../x`` wrote outside ``out/``). The rule is the scenario's own
    (sim.scenario), checked again where the path is made: what a run writes
    where must not hinge on how its Scenario was built."""
    from sim.scenario import check_meta_name

    try:
        check_meta_name(name)
    except ValueError as exc:  # names the key: "name: ..."
        _fail_input(f"{ref}: meta.{exc}")
    return Path("out") / name


#: ``--set KEY=VALUE`` (sim.overrides), for ``run`` and for ``swarm``'s base scenario.
_set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change one scenario key (repeatable), e.g. --set control_plane.cascade=both"
    " --set network.loss=0.1 --set faults[0].at_s=20; VALUE is TOML, a bare word a string.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def sim() -> None:
    """Simulate kill-switch scenarios deterministically in virtual time."""


@sim.command("list")
def list_scenarios() -> None:
    """List the bundled scenarios and what each teaches."""
    from sim.scenario import bundled_names, bundled_text, parse_scenario

    for name in bundled_names():
        try:
            description = parse_scenario(bundled_text(name), name).meta.description
        except ScenarioError as exc:
            description = f"(broken: {exc})"
        click.echo(f"{name:30s} {description}")


@sim.command()
@click.argument("name")
def show(name: str) -> None:
    """Print a scenario's TOML (a bundled name or a path)."""
    _scenario, text = _load(name)
    click.echo(text, nl=False)


@sim.command()
@click.argument("scenario_ref", metavar="SCENARIO")
@click.option("--seed", type=int, default=None, help="Master seed (default: the scenario's).")
@click.option(
    "--replications",
    type=click.IntRange(min=1, max=MAX_REPLICATIONS),
    default=1,
    show_default=True,
    help=f"Runs, each with its own seed derived from --seed (at most {MAX_REPLICATIONS:,}).",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes."
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: out/<scenario>).")  # fmt: skip
@click.option(
    "--check-determinism", is_flag=True, help="Run the first replication twice and compare."
)
@click.option(
    "--report/--no-report", default=True, show_default=True, help="Render the report too."
)
@_set_option
def run(
    scenario_ref: str,
    seed: int | None,
    replications: int,
    jobs: int,
    out: Path | None,
    check_determinism: bool,
    report: bool,
    overrides: tuple[str, ...],
) -> None:
    """Run SCENARIO (a bundled name or a TOML path) and judge its expectations.

    Writes OUT/results.json and OUT/trace.jsonl (the first replication's trace)
    and prints a summary. Exit 0 when every expectation holds, 1 otherwise.
    Ctrl-C stops a Monte Carlo run and writes the results of the replications
    finished so far (marked as interrupted; exit 130).
    """
    from sim.expect import evaluate
    from sim.montecarlo import Interrupted, _no_interrupt, replication_seeds, run_replications
    from sim.results import TREE_LIMIT, build_results, reproduce_command, write_results
    from sim.runner import run_once

    scenario, text = _load(scenario_ref, overrides)
    master = scenario.meta.seed if seed is None else seed
    seeds = replication_seeds(master, replications)
    # The first replication's tree (a random topology depends on the seed):
    # results.json shows that run's rows and timeline.
    hierarchy = _checked_tree(scenario, scenario_ref, seeds[0])
    small = len(hierarchy) <= TREE_LIMIT
    edges = [(parent, child) for parent, child in hierarchy.graph.edges] if small else None
    del hierarchy  # each run builds its own; a million-agent graph is worth freeing
    out = out or default_out(scenario.meta.name, scenario_ref)
    trace = out / "trace.jsonl"
    staged = click.get_current_context().with_resource(_staged(trace))
    click.echo(
        f"seed={master} scenario={scenario.meta.name} replications={replications} jobs={jobs}"
    )
    started = time.perf_counter()
    interrupted = False
    try:
        if replications == 1:
            with _clock_bar(scenario.meta.duration_s) as clock:
                first, summary = run_replications(scenario, seeds, jobs, staged, clock=clock)
        else:
            with _progress(replications) as advance:
                first, summary = run_replications(scenario, seeds, jobs, staged, advance)
    except Interrupted as stop:
        first, summary, interrupted = stop.first, stop.summary, True
    except KeyboardInterrupt:
        click.echo("interrupted before the first replication finished: nothing written", err=True)
        sys.exit(130)
    wall = time.perf_counter() - started
    try:
        outcomes = evaluate(scenario.expect, summary)
        if check_determinism and not interrupted:
            again = run_once(scenario, seeds[0])
            same = again.digest == first.digest
            from sim.expect import Outcome

            outcomes.append(Outcome("determinism", first.digest, again.digest, same))
        done = seeds[: summary.runs]  # replications finish in seed order
        results = build_results(
            scenario, scenario_ref, text, master, done, summary, outcomes, first, edges, overrides
        )
        results["wall_s"] = round(wall, 3)
        if interrupted:
            results["interrupted"] = {"requested": replications, "done": summary.runs}
        _print_summary(results, wall, first.virtual_s * len(done))
    except KeyboardInterrupt:  # a second Ctrl-C, or one during --check-determinism
        click.echo("interrupted before the results were written: nothing written", err=True)
        sys.exit(130)
    # Results and trace replace the folder's previous pair together: Ctrl-C is
    # held back until both are in place.
    with _no_interrupt():
        try:
            path = write_results(results, out)
            staged.replace(trace)
        except OSError as exc:  # e.g. the disk filled up during the run
            click.echo(f"error: results not written: {exc}", err=True)
            sys.exit(2)
    click.echo(f"results: {path}  trace: {trace}")
    if interrupted:
        click.echo(
            f"interrupted: {summary.runs} of {replications} replications done;"
            " the results above are theirs",
            err=True,
        )
    if report:
        _render_report(path, out)
    elif (out / "report.html").exists():
        # Left by an earlier run into the same folder: not these results.
        click.echo(
            f"note: {out / 'report.html'} is an earlier run's report (--no-report);"
            f" render this one with: killswitch report {path} --out {out}",
            err=True,
        )
    click.echo(f"reproduce: {reproduce_command(results)}")
    sys.exit(130 if interrupted else 0 if results["passed"] else 1)


@contextlib.contextmanager
def _staged(trace: Path) -> Iterator[Path]:
    """The file a run writes its trace to instead of ``trace``: ``trace.jsonl.tmp``
    in the same folder, which the run moves into place (``replace``) only once
    its results.json is written. Whatever is left of it at the end is removed,
    and so is the folder if this run made it and left it empty: an interrupted
    or failed run leaves the folder as it was (it used to leave a partial trace
    beside the previous run's results). Exit 2 if the folder cannot be written,
    before the run rather than after it."""
    out = trace.parent
    made = not out.exists()
    staged = trace.with_name(trace.name + ".tmp")
    try:
        out.mkdir(parents=True, exist_ok=True)
        staged.open("w").close()
    except OSError as exc:
        _fail_input(f"--out {out}: cannot write there: {exc.strerror or exc}")
    try:
        yield staged
    finally:
        staged.unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):  # not empty: something was written
                out.rmdir()


def _render_report(results_path: Path, out: Path) -> None:
    try:
        from reports.render import render_reports
    except ImportError:
        return  # the report renderer is optional until installed
    try:
        written = render_reports([results_path], out)
        click.echo(f"report: {written[0] if written else out}")
    except KeyboardInterrupt:
        click.echo(f"interrupted: report not rendered; results and trace are in {out}", err=True)
        if (out / "report.html").exists():
            click.echo(
                f"note: report files in {out} may be an earlier run's; render this one with:"
                f" killswitch report {results_path} --out {out}",
                err=True,
            )
        sys.exit(130)
    except Exception as exc:  # a report problem must not lose computed results
        click.echo(f"warning: report not rendered: {exc}", err=True)


class _progress:
    """A progress bar over replications that shows only on runs longer than a
    couple of seconds (and only on a terminal)."""

    unit = "run"
    bar_format: str | None = None  # tqdm's own

    def __init__(self, total: float) -> None:
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if self.total > 1 and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                delay=2.0,
                unit=self.unit,
                bar_format=self.bar_format,
                file=sys.stderr,
            )
            return self.advance
        return None

    def advance(self, n: float) -> None:
        self.bar.update(n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


class _clock_bar(_progress):
    """The same over the virtual seconds of a single run (a 10^6-agent run takes
    minutes): told the virtual time reached."""

    unit = "virtual s"
    bar_format = "{l_bar}{bar}| {n:.0f}/{total:.0f} virtual s [{elapsed}<{remaining}, {rate_fmt}]"

    def advance(self, now: float) -> None:
        self.bar.update(now - self.bar.n)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_summary(results: dict[str, Any], wall: float, virtual: float) -> None:
    s = results["summary"]
    sc = results["scenario"]
    click.echo(
        f"scenario {sc['name']}  agents {s['agents']}  profile {sc['profile']}"
        f"  transports {','.join(sc['transports'])}  runs {s['runs']}"
    )
    # Per link, the phases a slow or lossy link shows in: delivery and total.
    # The pairs that never had a phase count against its "in SLA" share (over
    # all runs; per link they are not counted separately).
    missing = s.get("missing", {})
    rows = [(phase, d, missing.get(phase, 0)) for phase, d in s["phases"].items()]
    for link, phases in s.get("by_link", {}).items():
        rows += [(f"{link}: {p}", phases[p], 0) for p in ("delivery", "total") if p in phases]
    width = max([14, *(len(label) + 2 for label, _, _ in rows)])
    header = (
        f"{'phase':{width}s}{'n':>8s}{'p50':>10s}{'p99':>10s}{'max':>10s}"
        f"{'target':>9s}{'max SLA':>9s}{'in SLA':>14s}"
    )
    click.echo(header)
    for label, d, lost in rows:
        within = f"{d['within_max']}/{d['n'] + lost}" if "within_max" in d else ""
        click.echo(
            f"{label:{width}s}{d['n']:>8d}{_fmt(d.get('p50')):>10s}{_fmt(d.get('p99')):>10s}"
            f"{_fmt(d.get('max')):>10s}{_fmt(d.get('target')):>9s}"
            f"{_fmt(d.get('maximum')):>9s}{within:>14s}"
        )
    if missing or s.get("moot"):
        from sim.samples import MISSING

        parts = [f"{n} {MISSING.get(p, p)}" for p, n in sorted(missing.items())]
        if s.get("moot"):
            parts.append(f"{s['moot']} moot (already in effect: no SLA sample)")
        click.echo(f"(command, agent) pairs: {', '.join(parts)}")
    c = s["compliance"]
    lo, hi = c["wilson95"]
    click.echo(
        f"SLA compliance (total <= {c['threshold_s']:g} s):"
        f" {c['met']}/{c['n']} = {100 * c['rate']:.2f}%"
        f" (95% CI {100 * lo:.2f}-{100 * hi:.2f}%)"
    )
    spend = s["spend"]
    click.echo(
        f"actions after click: {spend['actions_after_click']}"
        f"  spend: {spend['spend_after_click']:.2f}"
        f"  final states: {s['final_states']}"
    )
    for o in results["expectations"]:
        mark = "PASS" if o["passed"] else "FAIL"
        expected = f"expected {o['expected']}"
        click.echo(f"  {mark} {o['name']:34s} {expected:38s} got {o['actual']}")
    first = results["first_run"]
    digest = f"sha256:{first['digest']} ({first['trace_lines']} lines)"
    if first["seed"] == results["seed"]:  # a single run: the master seed is its seed
        whose = f"digest {digest}  seed {results['seed']}"
    else:  # replication 0 ran with a seed derived from the master seed
        whose = (
            f"digest of replication 0 (seed {first['seed']}) {digest}"
            f"  master seed {results['seed']}"
        )
    speed = virtual / wall if wall > 0 else float("inf")
    click.echo(f"{whose}  wall {wall:.2f} s  virtual/wall {speed:.0f}x")
    click.echo("PASSED" if results["passed"] else "FAILED")


@sim.command()
@click.option(
    "--seeds",
    "count",
    type=click.IntRange(min=1, max=MAX_REPLICATIONS),
    default=20,
    show_default=True,
    help=f"Fault mixes to try, one per seed (at most {MAX_REPLICATIONS:,}).",
)
@click.option("--seed", "master", type=int, default=1, show_default=True, help="Master seed.")
@click.option("--base", default="baseline", show_default=True, help="Base scenario.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--replay", type=int, default=None, help="Run exactly this swarm seed and show its faults."
)
@_set_option
def swarm(
    count: int, master: int, base: str, jobs: int, replay: int | None, overrides: tuple[str, ...]
) -> None:
    """Random fault mixes (one per seed) against the invariants; prints failing seeds."""
    from sim.overrides import set_options
    from sim.results import quoted
    from sim.swarm import swarm_scenario, swarm_seed

    scenario, _text = _load(base, overrides)
    # The base as a failing seed's reproduce line repeats it (with its overrides).
    base_args = f"{quoted(base)} {set_options(overrides)}".rstrip()
    seeds = [replay] if replay is not None else [swarm_seed(master, i) for i in range(count)]
    # Checked as `sim run` checks it, before anything runs: against the first
    # seed's tree (a random tree is redrawn per seed, with the same agent ids).
    _checked_tree(scenario, base, seeds[0])  # each run builds its own tree
    try:
        for seed in seeds:
            # A drawn mix names only agents every tree has, but the scenario's own
            # checks see base and mix together (the event budget, the forgeries).
            # About 50 us a seed.
            try:
                swarm_scenario(seed, scenario)
            except ValueError as exc:
                _fail_input(f"{base}: swarm seed {seed} draws faults it cannot take: {exc}")
    except KeyboardInterrupt:
        click.echo("interrupted before the first seed ran", err=True)
        sys.exit(130)
    click.echo(f"swarm master seed={master} seeds={len(seeds)} base={base_args}")
    # The base's documented weaknesses ([expect] violations) fail in every seed:
    # they are known, not findings.
    known = frozenset(scenario.expect.violations)
    if known:
        click.echo(f"not counted (the base expects them to fail): {', '.join(sorted(known))}")
    failures = done = 0
    try:
        for seed, result, faults in _swarm_outcomes([(s, scenario) for s in seeds], jobs):
            done += 1
            failures += _print_swarm_outcome(
                seed, result, faults, base_args, replay is not None, known
            )
    except KeyboardInterrupt:
        # Every failing seed found so far is already printed with its reproducer.
        click.echo(f"interrupted after {done} of {len(seeds)} seeds", err=True)
        click.echo(f"{done - failures}/{done} seeds kept every invariant")
        sys.exit(130)
    click.echo(f"{len(seeds) - failures}/{len(seeds)} seeds kept every invariant")
    sys.exit(1 if failures else 0)


def _swarm_outcomes(
    items: list[tuple[int, Scenario]], jobs: int
) -> Iterator[tuple[int, RunResult, list[Fault]]]:
    """(seed, result, faults) per seed, in seed order, as they finish."""
    from sim.swarm import run_swarm_seed

    if jobs > 1 and len(items) > 1:
        import multiprocessing

        from sim.montecarlo import ignore_interrupts

        context = multiprocessing.get_context("fork")
        with context.Pool(jobs, initializer=ignore_interrupts) as pool:
            yield from pool.imap(run_swarm_seed, items)
    else:
        for item in items:
            yield run_swarm_seed(item)


def _print_swarm_outcome(
    seed: int,
    result: RunResult,
    faults: list[Fault],
    base_args: str,
    replaying: bool,
    known: frozenset[str] = frozenset(),
) -> int:
    """Print one seed's outcome; 1 if it broke an invariant, else 0. ``base_args``:
    the base scenario as --base takes it, with its --set overrides; ``known``: the
    checkers the base expects to fail."""
    failed = [c for c in result.checks if not c.passed and c.name not in known]
    kinds = ",".join(f.kind for f in faults) or "none"
    if replaying:
        for fault in faults:
            click.echo(f"  fault {fault}")
    if failed:
        for check in failed:
            click.echo(f"FAIL seed {seed} [{kinds}] {check.name}: {check.detail}")
        click.echo(f"  reproduce: killswitch sim swarm --base {base_args} --replay {seed}")
        return 1
    if replaying:
        click.echo(f"PASS seed {seed} [{kinds}] digest {result.digest}")
    return 0
