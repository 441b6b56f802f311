"""The FastAPI app: `create_app(settings)` wires the engine, audit trail, keys and routes.

Fails closed at start: a broken pack, an unreadable keys file or an audit trail that cannot be
opened stops the service from starting rather than serving unrecorded or unauthenticated answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi import Request as HttpRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from igengine import Engine, RequestError, packsign
from service import api, dashboard, heap, logs, page, reload, subject_access
from service.auth import AuthError, KeyStore, Sessions, TokenVerifier
from service.bodylimit import BodyLimit, BodyTooLarge, too_large
from service.decisions import Trail, WatchedTrail, Withheld
from service.metrics import Metrics
from service.schemas import add_request_schemas, with_pack_vocabulary
from service.settings import Settings, SettingsError
from service.state import Forbidden, ServiceState, state_of

log = logging.getLogger("igengine.service")


def create_app(settings: Settings, *, trail: Trail | None = None) -> FastAPI:
    """The service for `settings`. `trail` replaces the one `settings.audit_url` would open
    (tests use it to make the audit store fail)."""
    metrics = Metrics()
    verifier = _verifier(settings)
    keys = KeyStore.load(settings.keys_file, settings.extra_admin_hashes)
    if len(keys) == 0 and verifier is None:
        raise SettingsError(
            "no API keys and no token issuer are configured, so nobody could call the service; "
            "give --keys-file (see `igengine api-key`) or --jwt-public-key"
        )
    if trail is None and settings.audit_url is not None:
        trail = open_trail(settings)
    if trail is None:
        log.warning("the audit trail is OFF: decisions are not recorded")
    watch = WatchedTrail(trail, metrics) if trail is not None else None
    engine = Engine.from_directory(settings.policies)
    if settings.pack_public_key is not None:
        packsign.verify(settings.policies, settings.pack_public_key, engine.pack.version)
    metrics.rules_loaded.set(len(engine.pack.rules))
    state = ServiceState(
        settings=settings,
        engine=engine,
        trail=trail,
        watch=watch,
        keys=keys,
        verifier=verifier,
        sessions=Sessions(settings.session_secret, settings.session_store),
        metrics=metrics,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        heap.settle()
        # Under `igengine serve`, join the other workers before serving, so that every
        # policy reload reaches this one too.
        following = await reload.joined_coordinator(state)
        dashboard.count_ahead(state.settings)
        yield
        if following is not None:
            following.cancel()
        if state.trail is not None:
            # Closing writes the final signed checkpoint.
            state.trail.close()

    # FastAPIOffline is FastAPI with /docs and /redoc served from assets in its package (FastAPI's
    # own pages load their scripts from a CDN, so they are blank without internet).
    app = FastAPIOffline(
        title="igengine",
        summary="Can I share this? Explained, recorded answers from data-sharing agreements.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry hooks look for configured providers on every request
        # (a few per cent of a decision's time); the service reports through /metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.igengine = state
    api.add_decision_routes(app)
    app.include_router(api.router)
    app.include_router(page.router)
    app.include_router(dashboard.router)
    app.include_router(subject_access.router)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit)
    _document_request_bodies(app)
    return app


def _document_request_bodies(app: FastAPI) -> None:
    """Put the request body models the decision routes name into the OpenAPI document."""
    build = app.openapi
    # The document with the codes and facts of one pack version (a reload may change them).
    made: dict[str, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_request_schemas(build())
        pack = app.state.igengine.engine.pack
        if pack.version not in made:
            made.clear()
            made[pack.version] = with_pack_vocabulary(app.openapi_schema, pack.vocabulary)
        return made[pack.version]

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> FastAPI:
    """The uvicorn factory `igengine serve` runs in each worker (settings from IGENGINE_*)."""
    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings)


def open_trail(settings: Settings) -> Trail:
    # Imported here so that a service with the audit off never touches the audit package.
    from igengine.audit import AuditTrail
    from igengine.audit.keys import pseudonymiser
    from igengine.audit.remote import RemoteTrail

    assert settings.audit_url is not None
    if settings.audit_writer is not None:
        # `igengine serve` runs one writer process for all its workers (see service/run.py).
        return RemoteTrail(settings.audit_writer, pseudonymiser(settings.hmac_key))
    trail: Trail = AuditTrail.open(
        settings.audit_url,
        hmac_key_path=settings.hmac_key,
        signing_key_path=settings.signing_key,
        checkpoint_every=settings.checkpoint_every,
        witness_path=settings.audit_witness,
        sign_every_seconds=settings.sign_every,
    )
    return trail


def _verifier(settings: Settings) -> TokenVerifier | None:
    if settings.jwt_public_key is None:
        if settings.jwt_required:
            raise SettingsError("jwt_required needs a token issuer key (--jwt-public-key)")
        return None
    return TokenVerifier.from_path(
        settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthError, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(RequestError, _malformed)
    app.add_exception_handler(RequestValidationError, _framework_malformed)
    app.add_exception_handler(Withheld, _withheld)
    app.add_exception_handler(BodyTooLarge, _too_large)


async def _too_large(_request: HttpRequest, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return too_large(exc.limit)


async def _unauthenticated(request: HttpRequest, exc: Exception) -> JSONResponse:
    state_of(request).metrics.rejected.labels(status="401").inc()
    return JSONResponse(
        {"error": f"not authenticated: {exc}"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="igengine", ApiKey header="X-API-Key"'},
    )


async def _forbidden(request: HttpRequest, exc: Exception) -> JSONResponse:
    state_of(request).metrics.rejected.labels(status="403").inc()
    return JSONResponse({"error": f"not allowed: {exc}"}, status_code=403)


async def _malformed(request: HttpRequest, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestError)
    return _malformed_response(request, exc.errors)


async def _framework_malformed(request: HttpRequest, exc: Exception) -> JSONResponse:
    """FastAPI's own body checks (not JSON, not an object) in the same shape as ours."""
    assert isinstance(exc, RequestValidationError)
    return _malformed_response(request, [_framework_error(err) for err in exc.errors()])


def _framework_error(err: Any) -> tuple[str, str]:
    # FastAPI locates errors as ("body", ...); the caller thinks of the body as "request".
    loc = [str(part) for part in err.get("loc", ()) if part != "body"]
    kind = err.get("type", "")
    if kind == "json_invalid":
        detail = err.get("ctx", {}).get("error", "")
        return "request", f"is not valid JSON ({detail})" if detail else "is not valid JSON"
    if kind == "dict_type":
        return ".".join(loc) or "request", "expected a JSON object"
    if kind == "missing":
        return ".".join(loc) or "request", "is required (send a JSON object)"
    return ".".join(loc) or "request", str(err.get("msg", "is not valid"))


def _malformed_response(request: HttpRequest, errors: list[tuple[str, str]]) -> JSONResponse:
    # AuthZEN's binding answers malformed requests with 400; our own API uses 422.
    status = 400 if request.url.path.startswith("/access/") else 422
    state_of(request).metrics.rejected.labels(status=str(status)).inc()
    return JSONResponse(api.malformed_body(errors), status_code=status)


async def _withheld(request: HttpRequest, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Withheld)
    # Logged where the write failed (WatchedTrail.durable), for every endpoint and the page.
    return JSONResponse(
        {
            "error": "the audit trail could not be written, so no decision is given: do not "
            "share on the strength of this call; try again shortly, and tell your IG lead or "
            "system administrator if it keeps happening",
            "decision_id": exc.decision_id,
        },
        status_code=503,
        headers={"Retry-After": "5"},
    )
