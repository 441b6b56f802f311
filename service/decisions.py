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
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from igengine import Decision, Engine, Request, RequestError
from service import logs
from service.auth import AuthError, Principal
from service.metrics import Metrics

log = logging.getLogger("igengine.service")

# Called, from any thread, with None once an entry is durable, or with why it is not.
Written = Callable[[Exception | None], None]


class Trail(Protocol):
    """What the service needs of an audit trail (igengine.audit.AuditTrail provides it)."""

    def record_soon(
        self, request: Request, decision: Decision, done: Written, *, decision_json: str | None
    ) -> None: ...

    def record_many_soon(
        self,
        entries: Sequence[tuple[Request, Decision]],
        done: Written,
        *,
        decision_jsons: Sequence[str | None] | None,
    ) -> None: ...

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
        # decision id → the entry's outcome (None once durable, else why it failed) and the
        # decision's JSON, which the entry holds and the answer repeats. Only touched on the
        # event loop's thread.
        self._waiting: dict[str, tuple[asyncio.Future[str | None], str]] = {}
        self._inbox: _Inbox | None = None

    def record(self, request: Request, decision: Decision) -> None:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[str | None] = loop.create_future()
        # Encoded once, for the entry and for the answer: the trail holds what the caller saw.
        text = decision.model_dump_json()
        self._waiting[decision.decision_id] = (outcome, text)
        inbox = self._inbox_for(loop)
        try:
            self._trail.record_soon(
                request, decision, lambda error: inbox.deliver(outcome, error), decision_json=text
            )
        except Exception as exc:
            outcome.set_result(_reason(exc))
            raise

    def record_many(self, entries: Sequence[tuple[Request, Decision]]) -> None:
        """Queue a batch's entries to be written in one transaction (the engine's
        `decide_many` calls this); `durable` then waits for each as for `record`."""
        if not entries:
            return
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[str | None] = loop.create_future()
        texts = [decision.model_dump_json() for _, decision in entries]
        for (_, decision), text in zip(entries, texts, strict=True):
            self._waiting[decision.decision_id] = (outcome, text)
        inbox = self._inbox_for(loop)
        try:
            self._trail.record_many_soon(
                entries, lambda error: inbox.deliver(outcome, error), decision_jsons=texts
            )
        except Exception as exc:
            outcome.set_result(_reason(exc))
            raise

    def _inbox_for(self, loop: asyncio.AbstractEventLoop) -> _Inbox:
        if self._inbox is None or self._inbox.loop is not loop:
            self._inbox = _Inbox(loop)
        return self._inbox

    async def durable(self, decision_id: str) -> str:
        """Return the decision's JSON once its entry is durable; else count the failure and
        raise Withheld (also when no entry was queued at all: unrecorded means withheld)."""
        waiting = self._waiting.pop(decision_id, None)
        if waiting is None:
            reason: str | None = "no audit entry was made for it"
        else:
            outcome, text = waiting
            reason = await outcome
        if reason is not None:
            self._metrics.audit_failures.inc()
            log.error(
                "decision %s withheld: audit trail write failed: %s",
                decision_id,
                reason,
                extra={"event": "audit_failure", "decision_id": decision_id, "reason": reason},
            )
            raise Withheld(decision_id, reason)
        return text

    def forget(self, decision_ids: list[str]) -> None:
        """Stop waiting for these decisions' entries (those not already awaited)."""
        for decision_id in decision_ids:
            self._waiting.pop(decision_id, None)


class _Inbox:
    """Outcomes reported by the writer thread, handed to one event loop a batch at a time:
    one wake-up of the loop per commit rather than per entry, because each wake-up is a socket
    write that lets go of the GIL, and the writer can then wait milliseconds to get it back
    from the busy loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # Made on the loop's own thread (see WatchedTrail.record).
        self._loop_thread = threading.get_ident()
        self._outcomes: deque[tuple[asyncio.Future[str | None], str | None]] = deque()
        self._wake_scheduled = False

    def deliver(self, outcome: asyncio.Future[str | None], error: Exception | None) -> None:
        """Called from any thread."""
        reason = None if error is None else _reason(error)
        if threading.get_ident() == self._loop_thread:
            # Already on the loop (the writer process's answers arrive there): settle now,
            # not a turn of the loop later; under load each turn is milliseconds long.
            if not outcome.done():
                outcome.set_result(reason)
            return
        # Appended before the flag is read, and `_settle_all` clears the flag before it
        # drains: an outcome is never left behind.
        self._outcomes.append((outcome, reason))
        if self._wake_scheduled:
            return
        self._wake_scheduled = True
        # A loop already closed (shutdown) has nobody left waiting for the answer.
        with suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._settle_all)

    def _settle_all(self) -> None:
        self._wake_scheduled = False
        while self._outcomes:
            outcome, reason = self._outcomes.popleft()
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


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision given out, with its JSON as the audit entry holds it (None: audit off)."""

    decision: Decision
    recorded_json: str | None

    def json(self) -> str:
        """The decision in the contract's JSON shape: the very text the trail holds."""
        if self.recorded_json is not None:
            return self.recorded_json
        return self.decision.model_dump_json()


async def decide_many(
    engine: Engine,
    watch: WatchedTrail | None,
    metrics: Metrics,
    bodies: list[Any],
    endpoint: str,
    until: Callable[[Decision | RequestError], bool] | None = None,
    request_id: str | None = None,
) -> list[Decided | RequestError]:
    """Decide and record a batch (see `Engine.decide_many`), each answer in its place; returns
    once every entry is durable, all in one transaction.

    Raises RequestError if the batch is not a list or is too long, and Withheld if recording
    failed (then none of the batch is given out)."""
    started = time.perf_counter()
    answers = engine.decide_many(bodies, until=until)
    given: list[Decided | RequestError] = []
    try:
        for answer in answers:
            if isinstance(answer, RequestError):
                given.append(answer)
                continue
            recorded = await watch.durable(answer.decision_id) if watch is not None else None
            given.append(Decided(answer, recorded))
    finally:
        if watch is not None:
            # One failed write withholds the whole batch: the others wait no longer.
            watch.forget([a.decision_id for a in answers if isinstance(a, Decision)])
    elapsed = time.perf_counter() - started
    # One request id for all of the batch's log lines.
    request_id = logs.request_id(request_id) if logs.logging_decisions() else None
    for decided in given:
        if isinstance(decided, Decided):
            metrics.latency.observe(elapsed)
            made = decided.decision
            effect = "what_if" if made.what_if else made.effect.value
            metrics.decisions.labels(effect=effect, endpoint=endpoint).inc()
            logs.decision_given(made, endpoint=endpoint, seconds=elapsed, request=request_id)
    return given


async def decide(
    engine: Engine,
    watch: WatchedTrail | None,
    metrics: Metrics,
    body: Any,
    endpoint: str,
    request_id: str | None = None,
) -> Decided:
    """Decide and record one request; returns once its audit entry is durable.

    Raises RequestError for a malformed request and Withheld if recording failed."""
    started = time.perf_counter()
    decision = engine.decide(body)
    recorded = await watch.durable(decision.decision_id) if watch is not None else None
    elapsed = time.perf_counter() - started
    metrics.latency.observe(elapsed)
    # A what-if answer (for another time) is counted apart: it permits nothing now.
    effect = "what_if" if decision.what_if else decision.effect.value
    metrics.decisions.labels(effect=effect, endpoint=endpoint).inc()
    logs.decision_given(decision, endpoint=endpoint, seconds=elapsed, request=request_id)
    return Decided(decision, recorded)
