"""What one running service holds: the engine, the audit trail, keys, token verifier, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request as HttpRequest

from igengine import Decision, Engine, RequestError
from service.auth import Access, AuthError, KeyStore, Principal, Sessions, TokenVerifier
from service.decisions import (
    Decided,
    Trail,
    WatchedTrail,
    decide,
    decide_many,
    with_token_requester,
)
from service.metrics import Metrics
from service.settings import Settings


class Forbidden(Exception):
    """Authenticated, but the key's role does not allow this (a caller key asking to reload)."""


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    trail: Trail | None
    watch: WatchedTrail | None
    keys: KeyStore
    verifier: TokenVerifier | None
    sessions: Sessions
    metrics: Metrics

    def authenticate(self, request: HttpRequest, need: Access = Access.CALLER) -> Principal:
        """The caller of an API request, or AuthError (401) / Forbidden (403)."""
        presented = request.headers.get("x-api-key")
        token = _bearer(request.headers.get("authorization"))
        key = self.keys.authenticate(presented) if presented else None
        if presented and key is None:
            raise AuthError("the X-API-Key is not one this service accepts")
        requester = None
        if token is not None:
            if self.verifier is None:
                raise AuthError("bearer tokens are not accepted: no token issuer key is configured")
            requester = self.verifier.verify(token)
        if key is None and requester is None:
            raise AuthError("send an API key in the X-API-Key header (or a bearer token)")
        access = key.access if key is not None else Access.CALLER
        if need is Access.ADMIN and access is not Access.ADMIN:
            raise Forbidden("this needs an admin key")
        name = key.name if key is not None else f"token:{requester.id if requester else ''}"
        return Principal(name=name, access=access, requester=requester)

    async def decide(
        self, body: object, principal: Principal, endpoint: str, request_id: str | None = None
    ) -> Decided:
        """Decide one request for an endpoint (`request_id`: the caller's, for the log)."""
        request = with_token_requester(body, principal, required=self.settings.jwt_required)
        # A decision is a tenth of a millisecond of CPU, cheaper to compute here than to hand
        # to a thread and back; only the wait for its audit entry is asynchronous.
        return await decide(self.engine, self.watch, self.metrics, request, endpoint, request_id)

    async def decide_many(
        self,
        bodies: object,
        principal: Principal,
        endpoint: str,
        until: Callable[[Decision | RequestError], bool] | None = None,
        request_id: str | None = None,
    ) -> list[Decided | RequestError]:
        """Decide a batch for an endpoint (see `service.decisions.decide_many`)."""
        if not isinstance(bodies, list):
            found = type(bodies).__name__
            raise RequestError([("requests", f"expected a list of requests, got {found}")])
        required = self.settings.jwt_required
        # Checked once for the batch: a call without the token it needs is refused whole.
        with_token_requester({}, principal, required=required)
        requests = [
            with_token_requester(body, principal, required=required)
            if isinstance(body, dict)
            else body  # the engine names what is wrong with it, in its place
            for body in bodies
        ]
        return await decide_many(
            self.engine,
            self.watch,
            self.metrics,
            requests,
            endpoint,
            until=until,
            request_id=request_id,
        )


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def state_of(request: HttpRequest) -> ServiceState:
    state: ServiceState = request.app.state.igengine
    return state
