"""Timing: how long a delivery takes, against the SLA for signature
verification (SPEC.md: < 10 ms target, 50 ms maximum). Informational: the
figure includes the adapter's round trip (for a subprocess, the pipe)."""

from __future__ import annotations

import statistics
import time

from conformance.catalog import case
from conformance.context import Context
from conformance.outcome import Info

TARGET_MS = 10.0
MAX_MS = 50.0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@case(
    "KS-TIMING",
    "Verification latency p50/p99 against the SLA (10 ms target, 50 ms max)",
    level="L2",
    informational=True,
)
def latency(ctx: Context) -> Info:
    count = max(50, min(400, 4 * ctx.setup.examples))
    inst = ctx.open()
    if ctx.setup.has("pause"):
        raws = [ctx.sign("PAUSE" if i % 2 == 0 else "RESUME") for i in range(count)]
        label = "alternating valid PAUSE/RESUME"
    else:
        forger = ctx.setup.keyring.attacker(ctx.setup.keyring.primary.algorithm)
        raws = [ctx.sign("TERMINATE", key=forger) for _ in range(count)]
        label = "TERMINATEs with a wrong signature (fully verified, rejected)"
    samples = []
    for raw in raws:
        start = time.perf_counter()
        inst.deliver(raw)
        samples.append((time.perf_counter() - start) * 1000.0)
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    verdict = "within" if p99 <= MAX_MS else "over"
    target = "meets" if p50 <= TARGET_MS else "misses"
    return Info(
        f"{count} deliveries ({label}): p50 {p50:.3f} ms ({target} the {TARGET_MS:g} ms target),"
        f" p99 {p99:.3f} ms ({verdict} the {MAX_MS:g} ms maximum)",
        {"deliveries": float(count), "p50_ms": round(p50, 4), "p99_ms": round(p99, 4)},
    )
