"""One decision for the service: the token's requester applied, the engine asked, the audit
outcome checked. Shared by the JSON API, the AuthZEN endpoint and the page.

The engine turns an audit failure into a fail-safe deny; the service must go further and not
answer at all (503), because a caller might treat a deny it was never meant to see as final.
So the audit trail is wrapped, and a decision whose recording failed is withheld.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from igengine import Decision, Engine, Request, RequestError
from service.auth import AuthError, Principal
from service.metrics import Metrics


class Trail(Protocol):
    """What the service needs of an audit trail (igengine.audit.AuditTrail provides it)."""

    def record(self, request: Request, decision: Decision) -> None: ...

    def writable(self) -> bool: ...

    def close(self) -> None: ...


class Withheld(Exception):
    """The decision could not be recorded, so it must not be given out."""

    def __init__(self, decision_id: str, reason: str) -> None:
        self.decision_id = decision_id
        self.reason = reason
        super().__init__(reason)


class WatchedTrail:
    """The engine's audit sink: records through the real trail and remembers which decisions
    failed to record, so the service can withhold exactly those."""

    def __init__(self, trail: Trail, metrics: Metrics) -> None:
        self._trail = trail
        self._metrics = metrics
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, request: Request, decision: Decision) -> None:
        try:
            self._trail.record(request, decision)
        except Exception as exc:
            with self._lock:
                self._failed[decision.decision_id] = f"{type(exc).__name__}: {exc}"
            self._metrics.audit_failures.inc()
            raise

    def failure(self, decision_id: str) -> str | None:
        with self._lock:
            return self._failed.pop(decision_id, None)


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


def decide(
    engine: Engine,
    watch: WatchedTrail | None,
    metrics: Metrics,
    body: Any,
    endpoint: str,
) -> Decision:
    """Decide and record one request (blocking: run it off the event loop).

    Raises RequestError for a malformed request and Withheld if recording failed."""
    started = time.perf_counter()
    decision = engine.decide(body)
    reason = watch.failure(decision.decision_id) if watch is not None else None
    if reason is not None:
        raise Withheld(decision.decision_id, reason)
    metrics.latency.observe(time.perf_counter() - started)
    metrics.decisions.labels(effect=decision.effect.value, endpoint=endpoint).inc()
    return decision
