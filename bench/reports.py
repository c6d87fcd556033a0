"""Render the full report for ``baseline`` at 100 and 1,000 replications.

Run: ``python bench/reports.py [--replications 100,1000] [--repeats 2]``.
Targets (issue 5): the full report (report.html with every plot as PNG and SVG,
summary.md, report.json, junit.xml) for 1,000 replications in under 10 s, and
memory flat in the number of replications.

The results files are made first with ``killswitch sim run baseline
--replications N --jobs 2 --no-report``. Each rendering then runs in a fresh
Python process that reports its own wall time (from before the renderer is
imported, so matplotlib's import is counted) and its peak RSS (``ru_maxrss``);
each figure is the best of ``--repeats`` processes, since other load on the
machine only adds time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0
REPO = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from reports.render import render_reports
written = render_reports([sys.argv[1]], sys.argv[2])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
scale = 2**20 if sys.platform == "darwin" else 2**10
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak / scale, "files": len(written)}))
"""


def make_results(replications: int, folder: Path) -> tuple[Path, float]:
    out = folder / f"baseline-{replications}"
    command = [sys.executable, "-m", "killswitch_cli.main", "sim", "run", "baseline",
               "--replications", str(replications), "--jobs", "2", "--no-report",
               "--out", str(out)]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return out / "results.json", time.perf_counter() - started


def render_once(results: Path, out: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(results), str(out)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", default="100,1000", help="comma-separated counts")
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per count")
    args = parser.parse_args()
    counts = [int(n) for n in args.replications.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="killswitch-bench-reports-") as tmp:
        folder = Path(tmp)
        for n in counts:
            results, sim_seconds = make_results(n, folder)
            runs = [render_once(results, folder / f"report-{n}-{i}") for i in range(args.repeats)]
            rows.append(
                {
                    "replications": n,
                    "results_kb": results.stat().st_size / 1024,
                    "sim_s": sim_seconds,
                    "render_s": min(r["seconds"] for r in runs),
                    "peak_rss_mb": min(r["peak_rss_mb"] for r in runs),
                    "files": runs[0]["files"],
                }
            )
    print(f"{'replications':>12} {'results.json':>13} {'sim run':>9} {'render':>8}"
          f" {'peak RSS':>10} {'files':>6}")  # fmt: skip
    for r in rows:
        print(
            f"{r['replications']:>12d} {r['results_kb']:>10.0f} KB {r['sim_s']:>7.1f} s"
            f" {r['render_s']:>6.2f} s {r['peak_rss_mb']:>7.1f} MB {r['files']:>6.0f}"
        )
    biggest = max(rows, key=lambda r: r["replications"])
    smallest = min(rows, key=lambda r: r["replications"])
    judged = next((r for r in rows if r["replications"] == 1000), biggest)
    verdict = "met" if judged["render_s"] < TARGET_SECONDS else "MISSED"
    print(
        f"render {judged['replications']} replications: {judged['render_s']:.2f} s"
        f" (target < {TARGET_SECONDS:g} s: {verdict})"
    )
    if biggest is not smallest:
        growth = biggest["peak_rss_mb"] - smallest["peak_rss_mb"]
        ratio = biggest["replications"] / smallest["replications"]
        print(
            f"peak RSS {smallest['peak_rss_mb']:.1f} MB -> {biggest['peak_rss_mb']:.1f} MB"
            f" ({growth:+.1f} MB) for x{ratio:g} replications"
        )


if __name__ == "__main__":
    main()
