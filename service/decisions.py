"""One decision for the service: the token's requester applied, the engine asked, the audit
outcome checked. Shared by the JSON API, the AuthZEN endpoint and the page.

The engine turns an audit failure into a fail-safe deny; the service must go further and not
answer at all (503), because a caller might treat a deny it was never meant to see as final.
So the audit trail is wrapped, and a decision whose recording failed is withheld.

Decisions run on the event loop and their entries are queued, not waited for by a thread: the
request awaits its entry's durable commit, so all requests in flight share the trail's group
commit while no thread sits blocked per request (threads cost more in GIL hand-offs than a
decision costs to make).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

from igengine import Decision, Engine, Request, RequestError
from service.auth import AuthError, Principal
from service.metrics import Metrics

# Called, from any thread, with None once an entry is durable, or with why it is not.
Written = Callable[[Exception | None], None]


class Trail(Protocol):
    """What the service needs of an audit trail (igengine.audit.AuditTrail provides it)."""

    def record_soon(self, request: Request, decision: Decision, done: Written) -> None: ...

    def writable(self) -> bool: ...

    def close(self) -> None: ...


class Withheld(Exception):
    """The decision could not be recorded, so it must not be given out."""

    def __init__(self, decision_id: str, reason: str) -> None:
        self.decision_id = decision_id
        self.reason = reason
        super().__init__(reason)


class WatchedTrail:
    """The engine's audit sink. `record` (called by the engine on the event loop) queues the
    entry; `durable` then waits for its commit and raises Withheld unless it was written."""

    def __init__(self, trail: Trail, metrics: Metrics) -> None:
        self._trail = trail
        self._metrics = metrics
        # decision id → the entry's outcome: None once durable, else why it failed. Only
        # touched on the event loop's thread; the writer thread reaches it via the loop.
        self._waiting: dict[str, asyncio.Future[str | None]] = {}

    def record(self, request: Request, decision: Decision) -> None:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[str | None] = loop.create_future()
        self._waiting[decision.decision_id] = outcome
        try:
            self._trail.record_soon(request, decision, _settler(loop, outcome))
        except Exception as exc:
            outcome.set_result(_reason(exc))
            raise

    async def durable(self, decision_id: str) -> None:
        """Return once the decision's entry is durable; else count the failure and raise
        Withheld (also when no entry was queued at all: unrecorded means withheld)."""
        outcome = self._waiting.pop(decision_id, None)
        reason = "no audit entry was made for it" if outcome is None else await outcome
        if reason is not None:
            self._metrics.audit_failures.inc()
            raise Withheld(decision_id, reason)


def _settler(loop: asyncio.AbstractEventLoop, outcome: asyncio.Future[str | None]) -> Written:
    def settle(error: Exception | None) -> None:
        # A loop already closed (shutdown) has nobody left waiting for the answer.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, outcome, None if error is None else _reason(error))

    return settle


def _settle(outcome: asyncio.Future[str | None], reason: str | None) -> None:
    if not outcome.done():
        outcome.set_result(reason)


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def with_token_requester(body: Any, principal: Principal, *, required: bool) -> Any:
    """The request with the requester the verified token names, replacing the body's claim."""
    token = principal.requester
    if token is None:
        if required:
            raise AuthError(
                "this service takes the requester's role and organisation from a bearer token; "
                "send Authorization: Bearer <token from your identity provider>"
            )
        return body
    if not isinstance(body, dict):
        raise RequestError([("request", f"expected a JSON object, got {type(body).__name__}")])
    requester: dict[str, Any] = {"role": token.role, "organisation": token.organisation}
    if token.id is not None:
        requester["id"] = token.id
    return {**body, "requester": requester}


async def decide(
    engine: Engine,
    watch: WatchedTrail | None,
    metrics: Metrics,
    body: Any,
    endpoint: str,
) -> Decision:
    """Decide and record one request; returns once its audit entry is durable.

    Raises RequestError for a malformed request and Withheld if recording failed."""
    started = time.perf_counter()
    decision = engine.decide(body)
    if watch is not None:
        await watch.durable(decision.decision_id)
    metrics.latency.observe(time.perf_counter() - started)
    metrics.decisions.labels(effect=decision.effect.value, endpoint=endpoint).inc()
    return decision
