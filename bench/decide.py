"""Benchmark in-process decisions: latency by pack size, load time, and memory over a long run.

    .venv/bin/python bench/decide.py                 # the full run (1,000,000-decision soak)
    .venv/bin/python bench/decide.py --soak 100000   # a shorter soak

For the shipped pack and generated packs of 100, 1,000 and 10,000 rules, in each shape of
packgen (--shapes: "sampled"; "all-parties", every organisation a party to each of --agreements
agreements; "overlap", the same with rules that overlap heavily), it prints load+compile time,
the fail-safe denies (decisions with `error` set) over the timed requests, median and p99
microseconds per `Engine.decide` and decisions per second, and the same for the baseline: the
same rules asserted and retracted (`assert_fact` + `retract_fact`, which fires every matching
rule) through a plain durable-rules Host, sharded by record type only, with the ratio.
Load+compile is timed in this process, and for generated packs also in --loads fresh processes
(median): that is what a starting service pays, with none of the memory this process has
already touched, and several samples are steadier than one on a noisy machine.
Then it runs the soak and prints resident memory after 10,000 decisions and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import packgen
from durable.engine import Host, MessageNotHandledException

from igengine import Engine
from igengine.compile import compile_pack, request_facts
from igengine.request import parse_request

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "policies"
# Run in a fresh interpreter: prints the seconds `Engine.from_directory` took (imports excluded).
_FRESH_LOAD = """
import sys, time
from igengine import Engine
start = time.perf_counter()
Engine.from_directory(sys.argv[1])
print(time.perf_counter() - start)
"""


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def timed(call: Callable[[Any], Any], items: list[Any]) -> list[float]:
    """Microseconds per call, one sample per item (after a warm-up pass)."""
    for item in items[:200]:
        call(item)
    samples = []
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        call(item)
        samples.append((clock() - start) / 1000)
    return samples


def rule_derived_requests(engine: Engine, count: int, seed: int) -> list[dict[str, Any]]:
    """Requests built from the pack's own rules (so many match), mixed with random ones."""
    rng = random.Random(seed)
    pack = engine.pack
    orgs = sorted(pack.organisations)
    out = packgen.requests(count // 2, seed, orgs)

    def in_sectors(sectors: list[Any]) -> list[str]:
        # Organisations of the sectors a rule names, so that requests meet its selectors.
        return [code for code, org in pack.organisations.items() if org.sector in sectors]

    for _ in range(count - len(out)):
        rule = rng.choice(pack.rules)
        spec = rule.spec
        parties = sorted(rule.parties)
        requester = rng.choice(
            spec.requester.organisations or in_sectors(spec.requester.sectors) or parties or orgs
        )
        holder = rng.choice(
            spec.holder.organisations or in_sectors(spec.holder.sectors) or parties or orgs
        )
        when = spec.when.tested()
        subject: dict[str, Any] = {"age": 10 if when.get("age_under") else 40}
        if when.get("relationship"):
            subject["relationship"] = rng.choice(when["relationship"])
        if when.get("consent"):
            subject["consent"] = rng.choice(when["consent"])
        if when.get("objection") is not None:
            subject["objection"] = when["objection"]
        out.append(
            {
                "requester": {
                    "role": rng.choice(spec.requester.roles or ["gp"]),
                    "organisation": requester,
                },
                "holder": {"organisation": holder},
                "purpose": rng.choice(sorted(rule.purposes)),
                "record_type": rng.choice(spec.records or ["care_plan"]),
                "subject": subject,
                "justification": "urgent" if when.get("justification_given") else None,
                "at": "2026-06-01T12:00:00Z",
            }
        )
    rng.shuffle(out)
    return out


class _BaselineHost(Host):  # type: ignore[misc]
    """A plain durable-rules Host, as an application would use it, minus timer threads."""

    def _run(self) -> None:
        return None

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        return lambda _closure: None


def baseline_assert(engine: Engine) -> Callable[[dict[str, Any]], Any]:
    """A raw durable-rules `assert_fact` + `retract_fact` of the request's facts, through a
    Host of its own, into one ruleset per record type holding the same rules (their compiled
    conditions, with the purpose as one more condition)."""
    compiled = compile_pack(engine.pack)
    by_record: dict[str, dict[str, Any]] = {}
    for shard, parts in compiled.rulesets.items():
        record, purpose = shard.split(".")
        rules = by_record.setdefault(f"bench.{record}", {})
        for part in parts:
            for name, definition in part.items():
                condition = json.loads(definition)["all"][0]["m"]
                tests = condition.get("$and", [condition])
                rules[f"{name}.{purpose}"] = {
                    "all": [{"m": {"$and": [{"purpose": purpose}, *tests]}}],
                    "run": name,
                }
    host = _BaselineHost()
    host.register_rulesets(by_record)
    sectors = engine._snapshot.sectors

    def assert_and_retract(request: dict[str, Any]) -> None:
        parsed = parse_request(request)
        name = f"bench.{parsed.record_type}"
        if name not in by_record:
            return
        facts = request_facts(parsed, sectors, engine.pack.vocabulary)
        fact = {**facts, "purpose": parsed.purpose, "sid": "bench"}
        # "No rule applies" is durable-rules' normal answer, not an error.
        with contextlib.suppress(MessageNotHandledException):
            host.assert_fact(name, fact)
        host.retract_fact(name, fact)

    return assert_and_retract


def report(label: str, samples: list[float], baseline: list[float] | None = None) -> None:
    median, p99 = statistics.median(samples), percentile(samples, 0.99)
    line = (
        f"  {label:<24} p50 {median:8.1f} µs   p99 {p99:8.1f} µs   "
        f"{1e6 / statistics.mean(samples):10,.0f} decisions/s"
    )
    if baseline:
        line += f"   x{median / statistics.median(baseline):.2f} of raw (p50)"
    print(line)


def fresh_loads(directory: Path, runs: int) -> list[float]:
    """Seconds to load and compile `directory`, once in each of `runs` new processes (one
    after the other, so they do not compete for the cores)."""
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", _FRESH_LOAD, str(directory)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]


def bench_pack(label: str, directory: Path, count: int, loads: int = 0) -> float:
    gc.collect()
    start = time.perf_counter()
    engine = Engine.from_directory(directory)
    loaded = time.perf_counter() - start
    requests = rule_derived_requests(engine, count, seed=len(engine.pack.rules))
    decisions = [engine.decide(r) for r in requests]
    permits = sum(d.permitted for d in decisions)
    errors = [d.error for d in decisions if d.error is not None]
    print(
        f"{label}: {len(engine.pack.rules):,} rules in {len(engine.pack.agreements)} agreements, "
        f"load+compile {loaded:.2f} s, {permits / len(decisions):.0%} permits, "
        f"{len(errors)} fail-safe denies in {len(decisions):,} requests"
        + (f" (first: {errors[0]})" if errors else "")
    )
    if loads:
        fresh = fresh_loads(directory, loads)
        runs = ", ".join(f"{seconds:.2f}" for seconds in fresh)
        print(
            f"  load+compile in a fresh process: median {statistics.median(fresh):.2f} s ({runs})"
        )
    raw = timed(baseline_assert(engine), requests)
    decide = timed(engine.decide, requests)
    report("raw assert+retract", raw)
    report("Engine.decide", decide, raw)
    denies = [r for r, d in zip(requests, decisions, strict=True) if not d.permitted]
    permitted = [r for r, d in zip(requests, decisions, strict=True) if d.permitted]
    if permitted:
        report("  permits only", timed(engine.decide, permitted), raw)
    if denies:
        report("  denies only", timed(engine.decide, denies), raw)
    return statistics.median(decide)


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def soak(decisions: int) -> None:
    engine = Engine.from_directory(SHIPPED)
    rng = random.Random(3)
    distinct = rule_derived_requests(engine, 5000, seed=5)
    errors = 0
    after_10k = 0.0
    for i in range(decisions):
        request = dict(distinct[i % len(distinct)])
        # A distinct person every time: durable-rules would run out of states (1,024) or pile
        # up facts if the engine left anything behind.
        request["subject"] = {**request["subject"], "id": f"person-{i}", "age": rng.randint(0, 99)}
        errors += engine.decide(request).error is not None
        if i + 1 == 10_000:
            gc.collect()
            after_10k = rss_mib()
        if i + 1 in (1_025, 100_000):
            print(f"  after {i + 1:,} distinct requests: {errors} errors")
    gc.collect()
    end = rss_mib()
    print(
        f"  RSS after 10,000 decisions {after_10k:.1f} MiB; after {decisions:,}: {end:.1f} MiB "
        f"({(end - after_10k) / after_10k:+.1%}); errors {errors}; "
        f"facts left in the rules engine: {engine._snapshot.matcher.live_facts()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="timed requests per pack")
    parser.add_argument("--soak", type=int, default=1_000_000, help="decisions in the soak")
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1_000, 10_000])
    parser.add_argument(
        "--shapes", nargs="*", default=["sampled", "all-parties", "overlap"], help="packgen shapes"
    )
    parser.add_argument(
        "--agreements", type=int, default=100, help="agreements in the all-parties shapes"
    )
    parser.add_argument(
        "--loads", type=int, default=3, help="fresh-process loads per generated pack (0: none)"
    )
    args = parser.parse_args()
    bench_pack("shipped pack", SHIPPED, args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes:
            medians: dict[int, float] = {}
            for size in args.sizes:
                directory = packgen.write_pack(
                    Path(tmp) / f"{shape}-{size}",
                    size,
                    shape="sampled" if shape == "sampled" else "all-parties",
                    agreements=args.agreements,
                    overlap=shape == "overlap",
                )
                label = f"{shape} {size:,}"
                medians[size] = bench_pack(label, directory, args.requests, args.loads)
            if len(medians) > 1:
                small, large = min(medians), max(medians)
                print(
                    f"{shape}: p50 at {large:,} rules is x{medians[large] / medians[small]:.2f} "
                    f"of p50 at {small:,} rules"
                )
    if args.soak:
        print(f"soak: {args.soak:,} decisions on the shipped pack")
        soak(args.soak)


if __name__ == "__main__":
    main()
