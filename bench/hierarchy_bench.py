"""Hierarchy build + cascade plan at scale: 10^4, 10^5, 10^6 agents (balanced, fanout 10).

Run: ``python bench/hierarchy_bench.py`` (``bench/core.py`` also prints these lines).
Target (issue 2): 10^6 agents built and planned in under 15 s in total, growing
linearly (about x10 time and memory per x10 agents).

Each measurement runs in a fresh Python process, so one size's garbage cannot
slow the next and its memory figure is its own; each figure is the best of a
few such processes, since load from elsewhere on the machine only adds time.
Memory is the growth of peak RSS (``ru_maxrss``) across build + plan, i.e. the
graph and the plan both alive; tracemalloc is not used because it slows
allocation several times over.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

FANOUT = 10
DEPTHS = (4, 5, 6)  # 11,111 / 111,111 / 1,111,111 agents
#: Fresh processes per size; each figure is the best of them (other load only adds time).
REPEATS = {4: 5, 5: 3, 6: 2}
TARGET_SECONDS = 15.0
REPO = Path(__file__).resolve().parent.parent


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not on Unix: no portable peak-RSS figure
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def measure(depth: int) -> dict[str, float]:
    """Build a balanced tree of ``depth`` levels and plan a TERMINATE from its root."""
    from killswitch import Command, CommandType, Hierarchy, cascade_plan

    issued = datetime(2026, 1, 1, tzinfo=UTC)
    command = Command(
        command_id="bench",
        command_type=CommandType.TERMINATE,
        target_instance_id="agent-0",
        issued_by="bench",
        issued_at=issued,
        expires_at=issued + timedelta(minutes=5),
        nonce="bench",
    )
    before = _peak_rss_mb()
    start = time.perf_counter()
    hierarchy = Hierarchy.balanced(FANOUT, depth)
    built = time.perf_counter()
    plan = cascade_plan(hierarchy, "agent-0", command)
    planned = time.perf_counter()
    after = _peak_rss_mb()
    assert len(plan) == len(hierarchy) and plan[-1].agent_id == "agent-0"
    return {
        "agents": len(hierarchy),
        "build_s": built - start,
        "plan_s": planned - built,
        "rss_mb": -1.0 if before is None or after is None else after - before,
    }


def _measure_in_child(depth: int) -> dict[str, float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(depth)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring depth {depth} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _ratio(new: float, old: float) -> str:
    return f"x{new / old:.1f}" if old > 0 else "x?"


def run() -> list[str]:
    """Measure every size; return printable lines (one per size, growth, target)."""
    results = []
    for depth in DEPTHS:
        runs = [_measure_in_child(depth) for _ in range(REPEATS[depth])]
        results.append({key: min(run[key] for run in runs) for key in runs[0]})
    lines = []
    for r in results:
        total = r["build_s"] + r["plan_s"]
        memory = "n/a" if r["rss_mb"] < 0 else f"{r['rss_mb']:.0f}"
        lines.append(
            f"hierarchy agents={int(r['agents'])} build_s={r['build_s']:.3f}"
            f" plan_s={r['plan_s']:.3f} total_s={total:.3f}"
            f" us_per_agent={total / r['agents'] * 1e6:.2f} peak_rss_delta_mb={memory}"
        )
    for old, new in itertools.pairwise(results):
        lines.append(
            f"hierarchy growth {int(old['agents'])}->{int(new['agents'])} agents"
            f" ({_ratio(new['agents'], old['agents'])}):"
            f" build {_ratio(new['build_s'], old['build_s'])}"
            f" plan {_ratio(new['plan_s'], old['plan_s'])}"
            f" memory {_ratio(new['rss_mb'], old['rss_mb'])}"
        )
    largest = results[-1]
    total = largest["build_s"] + largest["plan_s"]
    verdict = "met" if total < TARGET_SECONDS else "TARGET MISSED"
    lines.append(
        f"hierarchy target {int(largest['agents'])} agents build+plan < {TARGET_SECONDS:g} s:"
        f" {verdict} ({total:.1f} s)"
    )
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        for line in run():
            print(line)
