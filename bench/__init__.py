"""Benchmark scripts, run as files (``python bench/NAME.py``). A package only so that
bench/reports.py and bench/sim.py do not clash with the packages they measure
(mypy names them bench.reports and bench.sim)."""
