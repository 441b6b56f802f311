"""Service benchmark: decisions per second and p50/p99 latency over HTTP on 127.0.0.1.

Starts the real service (`igengine serve`) in a child process, audit off and then audit on
(SQLite), and drives it from this process with a light keep-alive HTTP/1.1 load generator at
1, 16 and 64 concurrent clients. `GET /healthz` at the same concurrency is the baseline: the
ratio shows what a decision costs over the bare HTTP stack. Then the same decisions sent in
batches of --batch to `POST /v1/decisions/batch`: its rate counts decisions, not calls, and its
ratio is against single decisions. Bounded: each measurement stops after --requests requests
or --seconds seconds, whichever comes first.

    .venv/bin/python bench/service.py                 # both modes, 2 workers
    .venv/bin/python bench/service.py --workers 1 --requests 5000 --modes sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and its name would hide the
# `service` package; put the project root there instead.
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
KEY = "igk_bench_key_not_secret_0000000000"

# A mix a ward would send: permits, a deny that searches for what would permit it, a
# safeguarding override, a break-glass request.
REQUESTS = [
    {
        "requester": {"role": "social_worker", "organisation": "NGCC"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "capacity_assessment",
        "subject": {"id": "9434765919", "relationship": "care_team", "has_capacity": False},
    },
    {
        "requester": {"role": "social_worker", "organisation": "NGCC"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "capacity_assessment",
        "subject": {"id": "9434765919", "relationship": "none"},
    },
    {
        "requester": {"role": "gp", "organisation": "NG001"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "discharge_summary",
        "subject": {"id": "4010232137", "relationship": "care_team"},
    },
    {
        "requester": {"role": "safeguarding_lead", "organisation": "NGCC"},
        "holder": {"organisation": "NG001"},
        "purpose": "safeguarding",
        "record_type": "gp_summary",
        "subject": {"id": "4010232137", "objection": True, "risk_of_serious_harm": True},
        "justification": "Disclosure of harm at home visit",
    },
]


@dataclass
class Result:
    label: str
    clients: int
    done: int
    errors: int
    seconds: float
    latencies: list[float]
    # CPU seconds the service's processes used during the measurement (None: not on Linux),
    # and how much of it was the audit writer process's.
    cpu: float | None = None
    writer_cpu: float | None = None
    # Decisions per request: more than one for a batch.
    per_request: int = 1

    @property
    def cpu_per_request(self) -> str:
        """Service CPU µs per request: unlike rates, barely moved by other work on the
        machine, so it shows what a change costs even when the cores are shared."""
        if self.cpu is None or not self.done:
            return "-"
        return f"{self.cpu / (self.done * self.per_request) * 1e6:.0f}"

    @property
    def writer_cpu_per_request(self) -> str:
        if self.writer_cpu is None or not self.done:
            return "-"
        return f"{self.writer_cpu / (self.done * self.per_request) * 1e6:.0f}"

    @property
    def rate(self) -> float:
        """Decisions (or health checks) per second."""
        return self.done * self.per_request / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _post(body: bytes, path: bytes = b"/v1/decisions") -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


DECISIONS = [_post(json.dumps(r).encode()) for r in REQUESTS]


def batches(size: int) -> list[bytes]:
    """The same mix of requests, `size` to a call of POST /v1/decisions/batch."""
    mix = itertools.islice(itertools.cycle(REQUESTS), size * len(REQUESTS))
    requests = list(mix)
    return [
        _post(json.dumps(requests[start : start + size]).encode(), b"/v1/decisions/batch")
        for start in range(0, len(requests), size)
    ]


HEALTH = [b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"]


class _Client(asyncio.Protocol):
    """One keep-alive connection sending the next request as soon as the last is answered."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.buffer = b""
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        payload = self.run.next_request()
        if payload is None:
            self.transport.close()
            return
        self.sent = time.perf_counter()
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        self.buffer = self.buffer[end + 4 + length :]
        self.run.answered(time.perf_counter() - self.sent, head.startswith(b"HTTP/1.1 200"))
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.run.closed()


class _Run:
    """Shared budget and results of one measurement."""

    def __init__(self, payloads: list[bytes], limit: int, seconds: float, clients: int) -> None:
        self.payloads = itertools.cycle(payloads)
        self.limit = limit
        self.deadline = time.perf_counter() + seconds
        self.issued = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.open = clients
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def next_request(self) -> bytes | None:
        if self.issued >= self.limit or time.perf_counter() > self.deadline:
            return None
        self.issued += 1
        return next(self.payloads)

    def answered(self, latency: float, ok: bool) -> None:
        self.latencies.append(latency)
        if not ok:
            self.errors += 1

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.finished.done():
            self.finished.set_result(None)


async def _measure(
    port: int, payloads: list[bytes], clients: int, limit: int, seconds: float
) -> tuple[int, int, float, list[float]]:
    loop = asyncio.get_running_loop()
    run = _Run(payloads, limit, seconds, clients)
    started = time.perf_counter()
    for _ in range(clients):
        await loop.create_connection(lambda: _Client(run), "127.0.0.1", port)
    await asyncio.wait_for(run.finished, timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    return len(run.latencies), run.errors, elapsed, run.latencies


def measure(
    server: tuple[int, int],
    label: str,
    payloads: list[bytes],
    clients: int,
    limit: int,
    seconds: float,
    per_request: int = 1,
) -> Result:
    port, pid = server
    # A short warm-up on the same connections count, so first-request costs are not counted.
    _run(_measure(port, payloads, clients, max(clients * 20, 200), 2.0))
    before, writer_before = _tree_cpu(pid), _tree_cpu(pid, only=WRITER)
    done, errors, elapsed, latencies = _run(_measure(port, payloads, clients, limit, seconds))
    after, writer_after = _tree_cpu(pid), _tree_cpu(pid, only=WRITER)
    cpu = after - before if after is not None and before is not None else None
    writer = None
    if writer_after is not None and writer_before is not None:
        writer = writer_after - writer_before
    return Result(label, clients, done, errors, elapsed, latencies, cpu, writer, per_request)


# The command line of `igengine serve`'s audit writer process.
WRITER = b"igengine.audit.writer"


def _tree_cpu(pid: int, only: bytes | None = None) -> float | None:
    """User + system CPU seconds of `pid` and its descendants, from /proc (None elsewhere);
    with `only`, just of the processes whose command line holds it."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        total, pending = 0, [pid]
        while pending:
            current = pending.pop()
            counted = only is None or only in Path(f"/proc/{current}/cmdline").read_bytes()
            for thread in Path(f"/proc/{current}/task").iterdir():
                fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
                if counted:
                    total += int(fields[11]) + int(fields[12])  # utime, stime
                pending += [int(child) for child in (thread / "children").read_text().split()]
        return total / ticks
    except (OSError, ValueError):
        return None


def _run(coroutine: object) -> tuple[int, int, float, list[float]]:
    try:
        import uvloop

        return uvloop.run(coroutine)  # type: ignore[arg-type,no-any-return]
    except ImportError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def service(audit_url: str | None, workers: int, work: Path) -> Iterator[tuple[int, int]]:
    """`igengine serve` in a child process, with a keys file holding the bench key."""
    from service.auth import Access, digest, key_entry

    keys = work / "keys.toml"
    keys.write_text(key_entry("bench", Access.CALLER, digest(KEY)))
    port = _free_port()
    command = [
        sys.executable, "-m", "igengine.cli", "serve", "--policies", str(ROOT / "policies"),
        "--port", str(port), "--workers", str(workers), "--keys-file", str(keys),
        "--log-level", "warning",
        *(["--audit", audit_url, "--audit-hmac-key", str(work / "hmac.key"),
           "--audit-signing-key", str(work / "signing.key")] if audit_url else ["--no-audit"]),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGENGINE_")}
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_up(port, process)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(HEALTH[0])
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the service did not start within 60 s")


def _print(result: Result, baseline: Result | None) -> None:
    ratio = f"{result.rate / baseline.rate:6.2f}" if baseline and baseline.rate else "     -"
    print(
        f"{result.label:<22} {result.clients:>7} {result.done:>8} {result.rate:>10.0f} "
        f"{result.percentile(0.50):>8.2f} {result.percentile(0.99):>8.2f} {ratio} "
        f"{result.errors:>7} {result.cpu_per_request:>8} {result.writer_cpu_per_request:>8}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--clients", default="1,16,64", help="concurrency levels")
    parser.add_argument("--requests", type=int, default=20000, help="cap per measurement")
    parser.add_argument("--seconds", type=float, default=8.0, help="time cap per measurement")
    parser.add_argument("--modes", default="off,sqlite", help="audit modes: off, sqlite")
    parser.add_argument("--batch", type=int, default=20, help="requests per batch call")
    args = parser.parse_args()
    levels = [int(level) for level in args.clients.split(",")]
    print(f"load average at the start (1 min): {os.getloadavg()[0]:.2f}")
    print(
        f"igengine service benchmark: {args.workers} worker(s), {os.cpu_count()} CPU(s), "
        f"load generator in this process (pid {os.getpid()}), "
        f"cap {args.requests} requests or {args.seconds:.0f} s per row"
    )
    print(
        f"{'endpoint / audit':<22} {'clients':>7} {'requests':>8} {'per second':>10} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'errors':>7} {'cpu µs':>8} {'writer':>8}"
    )
    for mode in args.modes.split(","):
        work = Path(tempfile.mkdtemp(prefix="igengine-bench-"))
        audit = f"sqlite:///{work / 'audit.db'}" if mode == "sqlite" else None
        try:
            with service(audit, args.workers, work) as server:
                for clients in levels:
                    base = measure(server, "GET /healthz", HEALTH, clients, args.requests,
                                   args.seconds)  # fmt: skip
                    _print(base, None)
                    label = f"decisions, audit {mode}"
                    result = measure(server, label, DECISIONS, clients, args.requests, args.seconds)
                    _print(result, base)
                    label = f"batches of {args.batch}, {mode}"
                    calls = max(1, args.requests // args.batch)
                    payloads = batches(args.batch)
                    batched = measure(
                        server, label, payloads, clients, calls, args.seconds, args.batch
                    )
                    _print(batched, result)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(
        "ratio = decisions per second / GET /healthz per second at the same concurrency (for "
        "batches: / single decisions per second); requests counts calls, per second decisions; "
        "latency is per call, as the client saw it; cpu µs = the service's CPU time per "
        "decision (all its processes), writer = the part of it spent in the audit writer process"
    )
    # Other work on the machine shares the same cores: say how busy it was.
    print(
        "load average at the end (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    main()
