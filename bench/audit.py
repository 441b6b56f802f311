"""Audit trail benchmark: appends per second (with per-append median and p99) and verify
speed, on SQLite and (when a server answers) PostgreSQL, for 1,000,000 entries by default.

Each append is a real `AuditTrail.record` of a real decision from the shipped pack (subject
pseudonymised, canonical JSON, hash-chained, durably committed), made from --threads threads
at once as a service would. Baselines in the same process: building and hash-chaining the
same entries with no store (appends), and hashing the chain from memory in one process
(verify); the ratios show what the store costs. Verify is timed in one process and with one
process per core (what `igengine audit verify` does for a long chain).

    .venv/bin/python bench/audit.py                       # 1,000,000 entries, both stores
    .venv/bin/python bench/audit.py --entries 20000 --stores sqlite

A second append row has --processes processes (as service workers) appending to the one trail
at once, each from --threads threads, all started together; it shows how they take turns. A
third has --tasks tasks on one event loop awaiting `AuditTrail.record_async` (a service worker
with the trail in its own process): the loop builds the entries while the group-commit thread
chains and commits them, so the two share one GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

from igengine import Decision, Engine, Request  # noqa: E402
from igengine.audit import AuditTrail  # noqa: E402
from igengine.audit.entry import GENESIS, chain_hash, decision_body  # noqa: E402
from igengine.audit.keys import Pseudonymiser  # noqa: E402
from igengine.request import parse_request  # noqa: E402

POSTGRES_DEFAULT = os.environ.get(
    "IGENGINE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)

# What a ward sends: permits, a deny, a break-glass request; with and without a person's id.
REQUESTS = [
    {
        "requester": {"role": "social_worker", "organisation": "NGCC", "id": "sw-17"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "capacity_assessment",
        "subject": {"relationship": "care_team", "id": "9434765919"},
    },
    {
        "requester": {"role": "gp", "organisation": "NG001"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "discharge_summary",
        "subject": {"relationship": "care_team", "id": "4010232137"},
    },
    {
        "requester": {"role": "social_worker", "organisation": "NGCC"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "capacity_assessment",
        "subject": {"relationship": "none"},
    },
    {
        "requester": {"role": "ward_nurse", "organisation": "RNG", "id": "wn-3"},
        "holder": {"organisation": "NG001"},
        "purpose": "emergency_care",
        "record_type": "gp_summary",
        "subject": {"has_capacity": False, "id": "6541237890"},
        "justification": "unconscious in ED, need current medication",
    },
]


@dataclass
class Appended:
    seconds: float
    latencies: list[float]


def samples() -> list[tuple[Request, Decision]]:
    engine = Engine.from_directory(ROOT / "policies")
    parsed = [parse_request(request) for request in REQUESTS]
    return [(request, engine.decide(request)) for request in parsed]


def append(trail: AuditTrail, entries: int, threads: int) -> Appended:
    """`entries` records from `threads` threads; each latency is one `record` call."""
    mix = samples()
    per_thread = [entries // threads + (1 if n < entries % threads else 0) for n in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def work(worker: int) -> None:
        timings = latencies[worker]
        for number in range(per_thread[worker]):
            request, decision = mix[number % len(mix)]
            # A fresh decision id per entry, as the engine gives (outside the timing).
            decision = decision.model_copy(update={"decision_id": uuid.uuid4().hex})
            started = time.perf_counter()
            trail.record(request, decision)
            timings.append(time.perf_counter() - started)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return Appended(time.perf_counter() - started, [t for part in latencies for t in part])


def append_on_a_loop(trail: AuditTrail, entries: int, tasks: int) -> Appended:
    """`entries` records from `tasks` tasks on one event loop; each latency is one awaited
    `record_async`."""
    mix = samples()
    latencies: list[float] = []

    async def work(share: int) -> None:
        for number in range(share):
            request, decision = mix[number % len(mix)]
            decision = decision.model_copy(update={"decision_id": uuid.uuid4().hex})
            started = time.perf_counter()
            await trail.record_async(request, decision)
            latencies.append(time.perf_counter() - started)

    async def all_tasks() -> None:
        shares = [entries // tasks + (1 if n < entries % tasks else 0) for n in range(tasks)]
        await asyncio.gather(*(work(share) for share in shares))

    started = time.perf_counter()
    asyncio.run(all_tasks())
    return Appended(time.perf_counter() - started, latencies)


def append_in_processes(
    url: str, keys: Path, entries: int, threads: int, processes: int
) -> Appended:
    """`entries` records split over `processes` processes, each with its own trail on `url`
    and `threads` threads; timed from the moment all of them are ready."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    results: multiprocessing.Queue[Appended] = context.Queue()
    shares = [
        entries // processes + (1 if n < entries % processes else 0) for n in range(processes)
    ]
    workers = [
        context.Process(target=_append_process, args=(url, keys, share, threads, ready, results))
        for share in shares
    ]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    parts = [results.get(timeout=600) for _ in workers]
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return Appended(seconds, [t for part in parts for t in part.latencies])


def _append_process(
    url: str,
    keys: Path,
    entries: int,
    threads: int,
    ready: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue[Appended],
) -> None:
    trail = AuditTrail.open(
        url, hmac_key_path=keys / "hmac.key", signing_key_path=keys / "signing.key"
    )
    try:
        ready.wait()
        results.put(append(trail, entries, threads))
    finally:
        trail.close()


def baseline_appends(entries: int) -> float:
    """Entries per second built and chained in memory: the same work minus the store."""
    mix = samples()
    pseudonym = Pseudonymiser(b"k" * 32)
    count = min(entries, 50_000)
    prev = GENESIS
    started = time.perf_counter()
    for number in range(count):
        request, decision = mix[number % len(mix)]
        body = decision_body(request, decision, pseudonym, datetime.now(UTC))
        prev = chain_hash(number + 1, prev, body)
    return count / (time.perf_counter() - started)


def baseline_verify(entries: int) -> float:
    """Entries per second hashed from bodies already in memory (raw hashlib chain)."""
    mix = samples()
    pseudonym = Pseudonymiser(b"k" * 32)
    now = datetime.now(UTC)
    bodies = [decision_body(request, decision, pseudonym, now) for request, decision in mix]
    count = min(entries, 500_000)
    prev = GENESIS
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for number in range(1, count + 1):
        body = bodies[number % len(bodies)]
        prev = sha256(f'{{"body":{body},"prev_hash":"{prev}","seq":{number}}}'.encode()).hexdigest()
    return count / (time.perf_counter() - started)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(name: str, url: str, keys: Path, args: argparse.Namespace) -> dict[str, float]:
    trail = AuditTrail.open(
        url, hmac_key_path=keys / "hmac.key", signing_key_path=keys / "signing.key"
    )
    try:
        single = append(trail, min(args.entries, args.single), 1)
        rest = args.entries - len(single.latencies)
        bulk = append(trail, rest, args.threads) if rest > 0 else single
        shared = append_in_processes(url, keys, args.process_entries, args.threads, args.processes)
        looped = append_on_a_loop(trail, args.loop_entries, args.tasks)
        sequential = trail.verify(workers=1)
        report = trail.verify()  # one process per core for a long chain
    finally:
        trail.close()
    for checked in (sequential, report):
        if not checked.ok:
            raise SystemExit(f"{name}: the trail did not verify: {checked.problem}")
    result = {
        "single": len(single.latencies) / single.seconds,
        "appends": len(bulk.latencies) / bulk.seconds,
        "median_ms": statistics.median(bulk.latencies) * 1000,
        "shared": len(shared.latencies) / shared.seconds,
        "shared_median_ms": statistics.median(shared.latencies) * 1000,
        "shared_p99_ms": percentile(shared.latencies, 0.99) * 1000,
        "loop": len(looped.latencies) / looped.seconds,
        "loop_median_ms": statistics.median(looped.latencies) * 1000,
        "loop_p99_ms": percentile(looped.latencies, 0.99) * 1000,
        "p99_ms": percentile(bulk.latencies, 0.99) * 1000,
        "verify": report.entries / report.seconds,
        "verify_1": sequential.entries / sequential.seconds,
        "entries": float(report.entries),
    }
    print(
        f"{name:<11} {result['entries']:>10,.0f} entries | "
        f"1 thread {result['single']:>7,.0f}/s | {args.threads} threads "
        f"{result['appends']:>7,.0f}/s, median {result['median_ms']:.2f} ms, "
        f"p99 {result['p99_ms']:.2f} ms | verify {result['verify']:>9,.0f} entries/s "
        f"({result['verify_1']:,.0f}/s in one process)",
        flush=True,
    )
    print(
        f"{name:<11} {len(shared.latencies):>10,} more from {args.processes} processes x "
        f"{args.threads} threads at once: {result['shared']:>7,.0f}/s, median "
        f"{result['shared_median_ms']:.2f} ms, p99 {result['shared_p99_ms']:.2f} ms",
        flush=True,
    )
    print(
        f"{name:<11} {len(looped.latencies):>10,} more from {args.tasks} tasks on one event "
        f"loop (record_async): {result['loop']:>7,.0f}/s, median "
        f"{result['loop_median_ms']:.2f} ms, p99 {result['loop_p99_ms']:.2f} ms",
        flush=True,
    )
    return result


def postgres_reachable(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"postgresql  skipped: no server answers at {url} ({str(exc).strip()})")
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries per store")
    parser.add_argument("--threads", type=int, default=16, help="concurrent appending threads")
    parser.add_argument(
        "--single", type=int, default=2000, help="of the entries, how many one thread appends first"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="processes appending at once (second row)"
    )
    parser.add_argument(
        "--process-entries", type=int, default=50_000, help="entries the processes append"
    )
    parser.add_argument("--tasks", type=int, default=64, help="tasks on one event loop")
    parser.add_argument(
        "--loop-entries", type=int, default=20_000, help="entries the event loop's tasks append"
    )
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--postgres", default=POSTGRES_DEFAULT, help="PostgreSQL server URL")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.entries:,} entries")
    base_appends, base_verify = baseline_appends(args.entries), baseline_verify(args.entries)
    print(
        f"baseline    build+chain in memory {base_appends:,.0f}/s | "
        f"raw hashlib chain {base_verify:,.0f} entries/s"
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="igengine-audit-bench-") as directory:
        # Each store is a trail of its own, so each has its own keys and with them its own
        # witness file of signed heads (one file holding two chains' heads is refused).
        stores = args.stores.split(",")
        if "sqlite" in stores:
            keys = Path(directory) / "sqlite"
            keys.mkdir()
            results["sqlite"] = run("sqlite", f"sqlite:///{keys}/audit.db", keys, args)
        if "postgresql" in stores and postgres_reachable(args.postgres):
            keys = Path(directory) / "postgresql"
            keys.mkdir()
            schema = f"igengine_bench_{uuid.uuid4().hex[:8]}"
            try:
                url = f"{args.postgres}?schema={schema}"
                results["postgresql"] = run("postgresql", url, keys, args)
            finally:
                drop_schema(args.postgres, schema)
    for name, result in results.items():
        print(
            f"ratio       {name}: appends {result['appends'] / base_appends:.2f}x of build+chain, "
            f"verify {result['verify'] / base_verify:.2f}x "
            f"({result['verify_1'] / base_verify:.2f}x in one process) of raw hashlib chain"
        )


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


if __name__ == "__main__":
    main()
