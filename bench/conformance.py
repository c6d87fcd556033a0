"""Conformance-suite figures.

1. The whole suite (level H, default profile v1, default 100 examples per
   property) against the in-process reference listener: wall time (target
   < 60 s) and Hypothesis examples per second.
2. The subprocess adapter's throughput with the Node.js example listener:
   deliveries per second over stdin/stdout (target >= 2,000/s), for accepted
   commands (each one journaled) and for forged ones (each one fully verified
   and rejected).

Run: ``python bench/conformance.py [--examples 100] [--deliveries 5000]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, and this file
# (bench/conformance.py) would shadow the ``conformance`` package it measures.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conformance.adapter import Config, PolicyHints  # noqa: E402
from conformance.clock import ANCHOR  # noqa: E402
from conformance.driver import ProfileDriver  # noqa: E402
from conformance.keyring import Keyring  # noqa: E402
from conformance.profiles import resolve_profile  # noqa: E402
from conformance.runner import build_setup, cleanup, run_suite, scratch_dir  # noqa: E402
from conformance.subprocess_adapter import SubprocessFactory  # noqa: E402
from killswitch import Command, CommandType, from_posix  # noqa: E402

NODE_EXAMPLE = ROOT / "examples" / "node-v1" / "listener.js"


def whole_suite(examples: int) -> None:
    target = "conformance.reference:factory"
    setup = build_setup(impl=target, cmd=None, profile=None, clock=None, seed=0, examples=examples)
    try:
        started = time.perf_counter()
        result = run_suite(setup, "H", target=target)
        seconds = time.perf_counter() - started
    finally:
        cleanup(setup)
    verdict = "meets" if seconds < 60 else "misses"
    print(
        f"suite reference profile={setup.profile_name} level=H cases={len(result.results)}"
        f" examples_per_property={examples} reached={result.level_reached}"
    )
    print(
        f"suite seconds={seconds:.1f} ({verdict} the 60 s target)"
        f" examples={setup.examples_run} examples_per_s={setup.examples_run / seconds:.0f}"
        f" deliveries={setup.deliveries} deliveries_per_s={setup.deliveries / seconds:.0f}"
    )


def _commands(driver: ProfileDriver, keyring: Keyring, n: int, forged: bool) -> list[bytes]:
    key = keyring.attacker(keyring.primary.algorithm) if forged else keyring.primary
    raws = []
    for i in range(n):
        issued = from_posix(ANCHOR - 60 + i * 0.001)
        command = Command(
            command_id=f"bench-{i}",
            command_type=CommandType.PAUSE if i % 2 == 0 else CommandType.RESUME,
            target_instance_id="bench-agent",
            issued_by="ops@example.com",
            issued_at=issued,
            expires_at=from_posix(ANCHOR + 200),
            nonce=f"bench-nonce-{i}",
            key_id=key.key_id,
            sequence=i + 1,
        )
        raws.append(driver.encode(command, key))
    return raws


def subprocess_throughput(n: int) -> None:
    if shutil.which("node") is None:
        print("subprocess skipped: `node` is not on PATH")
        return
    driver = ProfileDriver(resolve_profile("v1"), "v1")
    keyring = Keyring(0, driver.algorithms)
    work = scratch_dir()
    factory = SubprocessFactory(f"node {NODE_EXAMPLE}", work_dir=work)
    try:
        for label, forged in (("accepted", False), ("forged", True)):
            raws = _commands(driver, keyring, n, forged)
            state_dir = work / label
            state_dir.mkdir()
            impl = factory()
            impl.start(
                Config(
                    "bench-agent", None, keyring.trusted(), PolicyHints(),
                    str(state_dir), "injected", "v1", ANCHOR,
                )
            )  # fmt: skip
            started = time.perf_counter()
            accepted = sum(bool(impl.deliver(raw, ANCHOR, "sse").accepted) for raw in raws)
            seconds = time.perf_counter() - started
            rate = n / seconds
            verdict = "meets" if rate >= 2000 else "misses"
            print(
                f"subprocess node-v1 {label}: deliveries={n} accepted={accepted}"
                f" seconds={seconds:.2f} deliveries_per_s={rate:.0f} ({verdict} the 2000/s target)"
            )
    finally:
        factory.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--skip-suite", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_suite:
        whole_suite(args.examples)
    subprocess_throughput(args.deliveries)


if __name__ == "__main__":
    main(sys.argv[1:])
