"""``results.json``: the versioned, documented output of ``killswitch sim run``.

Schema ``killswitch.sim/1`` (documented in scenarios/README.md, "Results"):

* ``schema``, ``scenario`` (name, description, source, sha256 of the TOML,
  the ``--set`` overrides),
  ``seed`` (master), ``replications``, ``sla`` (the thresholds used);
* ``summary``: phases and per-transport / per-depth percentiles (n, p50, p90,
  p99, p999, max, mean; within_target/within_max counts for SLA phases;
  ``cdf``: at most ~120 points ``x`` (s) and ``p`` (fraction <= x), see
  sim.aggregate.cdf_points),
  ``compliance`` (met, n, rate, wilson95), ``checks``, ``final_states``,
  ``counters``, ``spend``;
* ``expectations``: name, expected, actual, passed; ``passed`` overall;
* ``runs``: seed, trace digest and failed checkers of every replication;
* ``first_run``: the first replication's seed (in a Monte Carlo run derived
  from the master ``seed``: replication 0's), trace digest and line count (of
  trace.jsonl), and for small trees its per-agent timeline, the tree's edges
  and the faults, for plots;
* ``interrupted`` (only when Ctrl-C stopped the run): replications ``requested``
  and ``done`` (everything else covers the ``done`` ones).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sim.aggregate import Summary
from sim.expect import Outcome
from sim.overrides import set_options
from sim.runner import ROWS_LIMIT, RunResult
from sim.scenario import Scenario

SCHEMA = "killswitch.sim/1"
#: Trees up to this size carry their edges and per-agent times for the tree plot.
TREE_LIMIT = ROWS_LIMIT


def quoted(*words: str) -> str:
    """``words`` as shell words: each quoted where the shell would split or expand
    it (a scenario path with a space must come back as one argument)."""
    return " ".join(shlex.quote(word) for word in words)


def reproduce_options(results: dict[str, Any]) -> str:
    """``killswitch sim run`` options that repeat exactly the runs in ``results``:
    derived seeds do not depend on how many are asked for, so the first N of a
    batch are ``--replications N``; a single run is its own seed (the master
    seed, unless an interrupt left one replication of a batch: a derived seed),
    and the same ``--set`` overrides."""
    if results["replications"] > 1:
        words = ["--seed", str(results.get("seed")), "--replications", str(results["replications"])]
    else:
        words = ["--seed", str(results.get("first_run", {}).get("seed", results.get("seed")))]
    options = quoted(*words)
    overrides = results.get("scenario", {}).get("overrides", ())
    return f"{options} {set_options(overrides)}" if overrides else options


def reproduce_command(results: dict[str, Any]) -> str:
    """The whole ``killswitch sim run`` command line that repeats ``results``,
    ready to paste into a shell."""
    scenario = results.get("scenario", {})
    source = str(scenario.get("source", scenario.get("name", "")))
    return f"killswitch sim run {quoted(source)} {reproduce_options(results)}"


def build_results(
    scenario: Scenario,
    source: str,
    text: str,
    master_seed: int,
    seeds: Sequence[int],
    summary: Summary,
    outcomes: list[Outcome],
    first: RunResult,
    edges: list[tuple[str, str]] | None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """The results document. ``edges`` are the first run's tree (parent, child),
    given for trees up to TREE_LIMIT agents only (None otherwise); ``overrides``
    the ``--set`` items the scenario was run with (``sha256`` is the file's)."""
    first_run: dict[str, Any] = {
        "seed": first.seed,
        "digest": first.digest,
        "trace_lines": first.trace_lines,
        "faults": [asdict(f) for f in scenario.faults],
        "operator": [asdict(o) for o in scenario.operator],
    }
    if edges is not None:
        first_run["edges"] = [list(e) for e in edges]
        first_run["rows"] = first.rows
    if first.timeline:
        first_run["timeline"] = {a: [list(t) for t in ts] for a, ts in first.timeline.items()}
    return {
        "schema": SCHEMA,
        "scenario": {
            "name": scenario.meta.name,
            "description": scenario.meta.description,
            "source": source,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "overrides": list(overrides),
            "duration_s": scenario.meta.duration_s,
            "profile": scenario.control_plane.profile,
            "transports": list(scenario.transports.listen),
        },
        "seed": master_seed,
        "replications": len(seeds),
        "sla": asdict(scenario.sla),
        "summary": summary.to_json(),
        "expectations": [o.to_json() for o in outcomes],
        "passed": all(o.passed for o in outcomes),
        "runs": summary.run_rows,
        "first_run": first_run,
    }


def write_results(results: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    tmp = path.with_suffix(".json.tmp")
    try:
        tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)  # never leave a half-written results file behind
    except BaseException:
        tmp.unlink(missing_ok=True)  # nor half of one beside it (a full disk)
        raise
    return path
