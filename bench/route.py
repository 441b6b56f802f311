"""What the HTTP framework costs a decision: `POST /v1/decisions` through the service's whole
ASGI stack (middleware, routing, the route) against its route handler called alone, in this
process, audit off, no sockets. The baseline is the handler alone: the ratio and the
difference are what serving through the one documented route costs over the decision itself.

The two are measured in alternating rounds in one process, so that other work on the machine
falls on both alike. Each call's CPU time (this process's) is kept.

    .venv/bin/python bench/route.py
    .venv/bin/python bench/route.py --rounds 40 --calls 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

from fastapi import FastAPI  # noqa: E402
from starlette.requests import Request as HttpRequest  # noqa: E402
from starlette.types import Message, Scope  # noqa: E402

from service import Settings, create_app  # noqa: E402
from service.api import decisions  # noqa: E402
from service.auth import Access, digest, key_entry  # noqa: E402

KEY = "igk_bench_key_not_secret_0000000000"
REQUEST = {
    "requester": {"role": "social_worker", "organisation": "NGCC"},
    "holder": {"organisation": "RNG"},
    "purpose": "direct_care",
    "record_type": "capacity_assessment",
    "subject": {"id": "9434765919", "relationship": "care_team"},
}

Call = Callable[[], Awaitable[None]]


def _app(work: Path) -> FastAPI:
    keys = work / "keys.toml"
    keys.write_text(key_entry("bench", Access.CALLER, digest(KEY)))
    return create_app(
        Settings(policies=ROOT / "policies", audit_url=None, keys_file=keys, session_secret="x")
    )


def _calls(app: FastAPI) -> tuple[Call, Call]:
    """(through the whole app, the route handler alone), each checking it got a 200."""
    body = json.dumps(REQUEST).encode()
    scope: Scope = {
        "type": "http", "method": "POST", "path": "/v1/decisions",
        "raw_path": b"/v1/decisions", "root_path": "", "scheme": "http", "query_string": b"",
        "headers": [(b"x-api-key", KEY.encode()), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "http_version": "1.1",
        "app": app, "state": {},
    }  # fmt: skip

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def whole() -> None:
        await app(dict(scope), receive, send)
        assert statuses.pop() == 200

    async def handler() -> None:
        one = dict(scope)
        response = await decisions(HttpRequest(one, receive, send))
        await response(one, receive, send)
        assert statuses.pop() == 200

    return whole, handler


async def _timed(call: Call, calls: int, into: list[float]) -> None:
    for _ in range(calls):
        started = time.process_time_ns()
        await call()
        into.append((time.process_time_ns() - started) / 1000)


async def _measure(app: FastAPI, rounds: int, calls: int) -> tuple[list[float], list[float]]:
    whole, handler = _calls(app)
    through: list[float] = []
    alone: list[float] = []
    async with app.router.lifespan_context(app):
        await _timed(whole, calls, [])  # warm-up
        await _timed(handler, calls, [])
        for _ in range(rounds):
            await _timed(whole, calls, through)
            await _timed(handler, calls, alone)
    return through, alone


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="alternating rounds")
    parser.add_argument("--calls", type=int, default=300, help="calls per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="igengine-bench-") as work:
        app = _app(Path(work))
        through, alone = asyncio.run(_measure(app, args.rounds, args.calls))
    whole, bare = statistics.median(through), statistics.median(alone)
    print(f"{'POST /v1/decisions, audit off':<34} {'calls':>7} {'median µs':>10} {'p99 µs':>8}")
    for label, times, median in (
        ("route handler alone (baseline)", alone, bare),
        ("through the whole app", through, whole),
    ):
        print(f"{label:<34} {len(times):>7} {median:>10.1f} {_p99(times):>8.1f}")
    print(
        f"ratio {whole / bare:.2f}; the framework (middleware, routing, the route) costs "
        f"{whole - bare:.1f} µs of CPU per decision (medians, this process's CPU time)"
    )


if __name__ == "__main__":
    main()
