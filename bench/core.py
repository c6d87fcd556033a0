"""Core figures: Listener.receive cost vs the raw signature check, SQLite store cost,
and hierarchy build + cascade plan at scale.

Run: ``python bench/core.py [--n 2000]``. Prints one line per algorithm exactly as
``ES256 receive_us=81.2 verify_us=72.5 ratio=1.12``; targets: ratio <= 1.25 for
ES256 and Ed25519, <= 1.6 for RS256. Both columns are measured in the same run
on the same signatures, best of several repeats, so machine noise cancels.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

from killswitch import (
    Algorithm,
    Command,
    CommandType,
    Listener,
    MemoryStore,
    SqliteStore,
    TrustStore,
    derive_signing_key,
    get_profile,
)
from killswitch.profiles.v1 import raw_low_s_to_der

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = (START + timedelta(seconds=1)).timestamp()
PROFILE = get_profile("v1")


def commands(n: int, key_id: str) -> list[Command]:
    return [
        Command(
            command_id=f"c{i}",
            command_type=CommandType.PAUSE,
            target_instance_id="agent-1",
            issued_by="ops",
            issued_at=START,
            expires_at=START + timedelta(minutes=5),
            nonce=f"n{i}",
            reason="bench",
            key_id=key_id,
            sequence=i + 1,
        )
        for i in range(n)
    ]


def best_of(repeats: int, run: object) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def bench_algorithm(algorithm: Algorithm, n: int, repeats: int) -> tuple[float, float]:
    key = derive_signing_key(7, algorithm, "k1")
    trust = TrustStore([key.verifying_key()])
    raws = [PROFILE.encode(c, key) for c in commands(n, key.key_id)]
    envelopes = [PROFILE.decode(r) for r in raws]
    public = key.verifying_key().public_key
    sigs = [
        raw_low_s_to_der(e.signature) if algorithm is Algorithm.ES256 else e.signature
        for e in envelopes
    ]
    msgs = [e.signed_bytes for e in envelopes]

    def verify_all() -> None:
        if isinstance(public, ed25519.Ed25519PublicKey):
            for s, m in zip(sigs, msgs, strict=True):
                public.verify(s, m)  # type: ignore[arg-type]
        elif isinstance(public, ec.EllipticCurvePublicKey):
            algo = ec.ECDSA(hashes.SHA256())
            for s, m in zip(sigs, msgs, strict=True):
                public.verify(s, m, algo)  # type: ignore[arg-type]
        else:
            pad, sha = padding.PKCS1v15(), hashes.SHA256()
            for s, m in zip(sigs, msgs, strict=True):
                public.verify(s, m, pad, sha)  # type: ignore[arg-type]

    def receive_all() -> None:
        # A fresh listener per repeat: every command is new to it (no replays).
        listener = Listener("agent-1", None, trust, store=MemoryStore(), profile=PROFILE)
        for raw in raws:
            if not listener.receive(raw, now=NOW).accepted:
                raise SystemExit(f"bench bug: {algorithm.value} command rejected")

    # Interleave so drift in machine load hits both columns alike.
    verify_s = receive_s = float("inf")
    for _ in range(repeats):
        verify_s = min(verify_s, best_of(1, verify_all))
        receive_s = min(receive_s, best_of(1, receive_all))
    return receive_s / n * 1e6, verify_s / n * 1e6


def bench_sqlite(n: int) -> tuple[float, float]:
    key = derive_signing_key(7, Algorithm.ED25519, "k1")
    trust = TrustStore([key.verifying_key()])
    raws = [PROFILE.encode(c, key) for c in commands(n, key.key_id)]

    def run(store_factory: object) -> float:
        listener = Listener("agent-1", None, trust, store=store_factory(), profile=PROFILE)  # type: ignore[operator]
        t0 = time.perf_counter()
        for raw in raws:
            listener.receive(raw, now=NOW)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(1_000_000))
        durable = min(
            run(lambda: SqliteStore(Path(tmp) / f"s{next(counter)}.db")) for _ in range(3)
        )
    memory = min(run(MemoryStore) for _ in range(3))
    return memory / n * 1e6, durable / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="commands per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-hierarchy", action="store_true")
    args = parser.parse_args()
    targets = {Algorithm.ES256: 1.25, Algorithm.ED25519: 1.25, Algorithm.RS256: 1.6}
    failed = []
    for algorithm in (Algorithm.ES256, Algorithm.ED25519, Algorithm.RS256):
        receive_us, verify_us = bench_algorithm(algorithm, args.n, args.repeats)
        ratio = receive_us / verify_us
        figures = f"receive_us={receive_us:.1f} verify_us={verify_us:.1f} ratio={ratio:.2f}"
        print(f"{algorithm.value} {figures}")
        if ratio > targets[algorithm]:
            failed.append(f"{algorithm.value} ratio {ratio:.2f} > {targets[algorithm]}")
    memory_us, durable_us = bench_sqlite(min(args.n, 1000))
    print(
        f"sqlite_store receive_us={durable_us:.1f} memory_store_receive_us={memory_us:.1f}"
        f" added_us_per_accepted={durable_us - memory_us:.1f}"
    )
    if not args.skip_hierarchy:
        sys.path.insert(0, str(Path(__file__).parent))
        from hierarchy_bench import run as hierarchy_run

        for line in hierarchy_run():
            print(line)
    if failed:
        print("TARGET MISSED: " + "; ".join(failed))


if __name__ == "__main__":
    main()
