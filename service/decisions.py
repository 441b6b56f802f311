"""One decision for the service: the token's requester applied, the engine asked, the audit
outcome checked. Shared by the JSON API, the AuthZEN endpoint and the page.

The audit trail is the service's own edge: the engine decides without recording, and the
request then awaits `record_async` on the trail, which completes once the entry is durable.
Requests in flight share the trail's commits (the group commit in this process, or the audit
writer process under `igengine serve`) while no thread sits blocked per request. A decision
whose recording failed is withheld (503), not turned into a deny: a caller might treat a deny
it was never meant to see as final.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from igengine import Decision, Engine, Request, RequestError
from service import logs
from service.auth import AuthError, Principal
from service.metrics import Metrics

log = logging.getLogger("igengine.service")


class Trail(Protocol):
    """What the service needs of an audit trail: igengine.audit.AuditTrail in one process,
    igengine.audit.remote.RemoteTrail under `igengine serve`."""

    async def record_async(
        self, request: Request, decision: Decision, *, decision_json: str | None = None
    ) -> None:
        """Complete once the entry is durable; raise if it is not."""
        ...

    async def record_many_async(
        self,
        entries: Sequence[tuple[Request, Decision]],
        *,
        decision_jsons: Sequence[str | None] | None = None,
    ) -> None:
        """Complete once every entry is durable, all in one transaction; raise if not."""
        ...

    def writable(self) -> bool: ...

    def close(self) -> None: ...


class Withheld(Exception):
    """The decision could not be recorded, so it must not be given out."""

    def __init__(self, decision_id: str, reason: str) -> None:
        self.decision_id = decision_id
        self.reason = reason
        super().__init__(reason)


class WatchedTrail:
    """The service's audit trail, with its failures counted and logged."""

    def __init__(self, trail: Trail, metrics: Metrics) -> None:
        self._trail = trail
        self._metrics = metrics

    async def recorded(self, request: Request, decision: Decision) -> str:
        """Record the decision; return its JSON (the very text the entry holds) once the
        entry is durable. Otherwise count the failure and raise Withheld."""
        # Encoded once, for the entry and for the answer: the trail holds what the caller saw.
        text = decision.model_dump_json()
        try:
            await self._trail.record_async(request, decision, decision_json=text)
        except Exception as exc:
            raise self._withheld(decision.decision_id, exc) from exc
        return text

    async def recorded_many(self, entries: Sequence[tuple[Request, Decision]]) -> list[str]:
        """Record a batch's decisions in one transaction; return their JSON, in order, once
        all are durable. Otherwise count the failure and raise Withheld: none is given out."""
        texts = [decision.model_dump_json() for _, decision in entries]
        try:
            await self._trail.record_many_async(entries, decision_jsons=texts)
        except Exception as exc:
            raise self._withheld(entries[0][1].decision_id, exc) from exc
        return texts

    def _withheld(self, decision_id: str, exc: Exception) -> Withheld:
        reason = f"{type(exc).__name__}: {exc}"
        self._metrics.audit_failures.inc()
        log.error(
            "decision %s withheld: audit trail write failed: %s",
            decision_id,
            reason,
            extra={"event": "audit_failure", "decision_id": decision_id, "reason": reason},
        )
        return Withheld(decision_id, reason)


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
    given: list[Decided | RequestError]
    if watch is None:
        answers = engine.decide_many(bodies, until=until)
        given = [a if isinstance(a, RequestError) else Decided(a, None) for a in answers]
    else:
        made = engine.decide_many_unrecorded(bodies, until=until)
        decided = [pair for pair in made if not isinstance(pair, RequestError)]
        texts = iter(await watch.recorded_many(decided) if decided else [])
        given = [a if isinstance(a, RequestError) else Decided(a[1], next(texts)) for a in made]
    elapsed = time.perf_counter() - started
    # One request id for all of the batch's log lines.
    request_id = logs.request_id(request_id) if logs.logging_decisions() else None
    for answer in given:
        if isinstance(answer, Decided):
            _count(metrics, answer.decision, endpoint, elapsed)
            logs.decision_given(
                answer.decision, endpoint=endpoint, seconds=elapsed, request=request_id
            )
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
    if watch is None:
        decision, recorded = engine.decide(body), None
    else:
        request, decision = engine.decide_unrecorded(body)
        recorded = await watch.recorded(request, decision)
    elapsed = time.perf_counter() - started
    _count(metrics, decision, endpoint, elapsed)
    logs.decision_given(decision, endpoint=endpoint, seconds=elapsed, request=request_id)
    return Decided(decision, recorded)


def _count(metrics: Metrics, decision: Decision, endpoint: str, seconds: float) -> None:
    metrics.latency.observe(seconds)
    # A what-if answer (for another time) is counted apart: it permits nothing now.
    effect = "what_if" if decision.what_if else decision.effect.value
    metrics.decisions.labels(effect=effect, endpoint=endpoint).inc()
