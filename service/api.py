"""The JSON endpoints: decisions (contract and AuthZEN shapes), policies, health, metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from igengine import Decision, RequestError
from igengine.engine import MAX_BATCH
from igengine.policy.pack import PolicyPack
from igengine.request import parse_json
from service import authzen
from service.auth import Access, Principal
from service.decisions import Decided
from service.metrics import CONTENT_TYPE
from service.reload import Outcome, reload_everywhere
from service.schemas import (
    AuthZenConfiguration,
    BatchAnswers,
    EvaluationResponse,
    EvaluationsResponse,
    Malformed,
    Problem,
    request_body,
)
from service.state import ServiceState, state_of

log = logging.getLogger("igengine.service")

router = APIRouter()


class DirectRoute(APIRoute):
    """A documented route whose endpoint takes the request alone and returns a Response. The
    endpoint is called directly, because FastAPI's per-request dependency solving, body
    handling and exit stacks have nothing to do for it and each costs a measurable part of a
    decision (`bench/route.py` prints what serving through the app still costs over the
    handler). Its exceptions reach the app's handlers through the exception middleware, as
    any route's do."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        handler: Callable[[HttpRequest], Awaitable[Response]] = endpoint

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handler(HttpRequest(scope, receive, send))
            await response(scope, receive, send)

        self.app = app


# The decision endpoints: nearly all of the traffic.
decision_router = APIRouter(route_class=DirectRoute)


def add_decision_routes(app: FastAPI) -> None:
    """Put the decision routes on `app` itself, ahead of all others: an included router is
    matched through a wrapper of its own, twice per request, and routes are tried in order."""
    app.router.routes[:0] = decision_router.routes


_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid API key or bearer token"},
    413: {"model": Problem, "description": "The body is over 1 MiB"},
    503: {"model": Problem, "description": "The audit trail could not be written: no answer"},
}


def json_body(raw: bytes) -> Any:
    """The parsed body (strictly: no repeated keys, no deep nesting), or RequestError."""
    if not raw:
        raise RequestError([("request", "is required (send a JSON object)")])
    return parse_json(raw)


# The decision routes read their bodies themselves rather than through FastAPI's Body: its
# json.loads keeps the last of repeated keys and fails with a 500 on deep nesting, and its
# messages would not name fields the way the contract's do. Their schemas are in the document
# all the same (service/schemas.py).


@decision_router.post(
    "/v1/decisions",
    summary="Decide one sharing request",
    openapi_extra=request_body("Request", "A sharing request in the decision contract's shape."),
    responses={
        200: {"model": Decision, "description": "The explained decision"},
        422: {"model": Malformed, "description": "The request is not valid"},
        **_REFUSALS,
    },
)
async def decisions(request: HttpRequest) -> Response:
    state = state_of(request)
    principal = state.authenticate(request)
    body = json_body(await request.body())
    decided = await state.decide(body, principal, "decisions", _caller_request_id(request))
    # The same JSON as Decision.to_dict(), serialised once by pydantic's compiled encoder for
    # both the audit entry and this answer.
    return Response(decided.json(), media_type="application/json")


@decision_router.post(
    "/access/v1/evaluation",
    summary="AuthZEN access evaluation",
    openapi_extra=request_body(
        "EvaluationRequest", "An OpenID AuthZEN 1.0 access evaluation (see the README)."
    ),
    responses={
        200: {"model": EvaluationResponse, "description": "The AuthZEN decision"},
        400: {"model": Malformed, "description": "The evaluation is not valid"},
        **_REFUSALS,
    },
)
async def evaluation(request: HttpRequest) -> Response:
    state = state_of(request)
    principal = state.authenticate(request)
    echo = _request_id(request)
    try:
        asked = authzen.to_request(await _authzen_body(request))
        asked_by = _caller_request_id(request)
        decision = (await state.decide(asked, principal, "authzen", asked_by)).decision
    except RequestError as exc:
        return _authzen_malformed(exc, echo)
    return JSONResponse(authzen.to_response(decision), headers=echo)


async def _authzen_body(request: HttpRequest) -> dict[str, Any]:
    body = json_body(await request.body())
    if not isinstance(body, dict):
        raise RequestError([("request", "expected a JSON object")])
    return body


def _authzen_malformed(exc: RequestError, echo: dict[str, str]) -> JSONResponse:
    # AuthZEN answers a malformed request with 400, naming the fields the caller sent.
    errors = authzen.authzen_errors(exc.errors)
    return JSONResponse(malformed_body(errors), status_code=400, headers=echo)


@decision_router.post(
    "/v1/decisions/batch",
    summary="Decide a batch of sharing requests, answered in order",
    openapi_extra=request_body(
        "Batch", f"A list of up to {MAX_BATCH} sharing requests in the contract's shape."
    ),
    responses={
        200: {
            "model": BatchAnswers,
            "description": "Each request's decision, or what is wrong with it, in its place",
        },
        422: {"model": Malformed, "description": "The body is not a list, or is too long"},
        **_REFUSALS,
    },
)
async def decision_batch(request: HttpRequest) -> Response:
    state = state_of(request)
    principal = state.authenticate(request)
    body = json_body(await request.body())
    answers = await state.decide_many(
        body, principal, "batch", request_id=_caller_request_id(request)
    )
    # Each decision as the very text its audit entry holds, as for a single decision.
    return Response(
        "[" + ",".join(_batch_item(answer) for answer in answers) + "]",
        media_type="application/json",
    )


def _batch_item(answer: Decided | RequestError) -> str:
    if isinstance(answer, RequestError):
        return json.dumps(malformed_body(answer.errors))
    return answer.json()


@decision_router.post(
    "/access/v1/evaluations",
    summary="AuthZEN batch: several access evaluations, answered in order",
    openapi_extra=request_body(
        "EvaluationsRequest",
        "Defaults (subject, action, resource, context) and up to "
        f"{MAX_BATCH} evaluations; see the README.",
    ),
    responses={
        200: {"model": EvaluationsResponse, "description": "The evaluations' answers in order"},
        400: {"model": Malformed, "description": "The batch itself is not valid"},
        **_REFUSALS,
    },
)
async def evaluations(request: HttpRequest) -> Response:
    state = state_of(request)
    principal = state.authenticate(request)
    echo = _request_id(request)
    try:
        batch = authzen.to_batch(await _authzen_body(request))
        answers = await _evaluated(state, batch, principal, _caller_request_id(request))
    except RequestError as exc:
        return _authzen_malformed(exc, echo)
    return JSONResponse({"evaluations": [authzen.batch_answer(a) for a in answers]}, headers=echo)


async def _evaluated(
    state: ServiceState, batch: authzen.Batch, principal: Principal, request_id: str | None
) -> list[Decision | RequestError]:
    """The batch's answers in order, ending where its semantic stops it: an evaluation that
    was already not valid is answered in its place, and later ones are not decided."""
    stops = batch.stops
    items = batch.items
    if stops is not None:
        # A malformed evaluation answers false: it may end the batch before anything after it.
        cut = next(
            (n for n, item in enumerate(items) if isinstance(item, RequestError) and stops(False)),
            None,
        )
        items = items if cut is None else items[: cut + 1]
    until = None if stops is None else _until(stops)
    valid = [item for item in items if not isinstance(item, RequestError)]
    decided = iter(
        await state.decide_many(
            valid, principal, "authzen_batch", until=until, request_id=request_id
        )
    )
    answers: list[Decision | RequestError] = []
    for item in items:
        answer = item if isinstance(item, RequestError) else _decision(next(decided, None))
        if answer is None:
            break  # the decisions stopped early
        answers.append(answer)
    return answers


def _until(stops: Callable[[bool], bool]) -> Callable[[Decision | RequestError], bool]:
    return lambda answer: stops(isinstance(answer, Decision) and answer.permits_now)


def _decision(answer: Decided | RequestError | None) -> Decision | RequestError | None:
    return answer.decision if isinstance(answer, Decided) else answer


@router.get(
    "/.well-known/authzen-configuration",
    summary="AuthZEN discovery: where this PDP's evaluation endpoints are",
    response_model=AuthZenConfiguration,
)
async def authzen_configuration(request: HttpRequest) -> dict[str, str]:
    return authzen.configuration(str(request.base_url))


def _caller_request_id(request: HttpRequest) -> str | None:
    return request.headers.get("x-request-id")


def _request_id(request: HttpRequest) -> dict[str, str]:
    # AuthZEN: a PDP echoes the caller's X-Request-ID.
    value = request.headers.get("x-request-id")
    return {"X-Request-ID": value} if value else {}


def malformed_body(errors: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "error": "the request is not valid",
        "errors": [{"field": field, "message": message} for field, message in errors],
    }


@router.get("/v1/policies", summary="The loaded policy pack")
async def policies(request: HttpRequest) -> dict[str, Any]:
    state = state_of(request)
    state.authenticate(request)
    return describe_pack(state.engine.pack)


def describe_pack(pack: PolicyPack) -> dict[str, Any]:
    return {
        "version": pack.version,
        "rules": len(pack.rules),
        "organisations": [
            {"code": org.code, "name": org.name, "sector": org.sector}
            for org in pack.organisations.values()
        ],
        "agreements": [
            {
                "id": agreement.id,
                "title": agreement.title,
                "owner": agreement.owner,
                "start_date": agreement.start_date.isoformat(),
                "end_date": agreement.end_date.isoformat(),
                "review_date": agreement.review_date.isoformat(),
                "rules": len(agreement.rules),
            }
            for agreement in pack.agreements
        ],
        "obligations": pack.obligations,
    }


@router.post("/v1/policies/reload", summary="Reload the policy pack in every worker (admin)")
async def reload(request: HttpRequest) -> Response:
    state = state_of(request)
    state.authenticate(request, Access.ADMIN)
    previous = state.engine.pack.version
    outcome = await reload_everywhere(state)
    _log_reload(outcome, previous)
    if outcome.problems is not None:
        state.metrics.reloads.labels(result="failed").inc()
        body = {
            "error": "the policy pack has problems, so it was not loaded; the previous pack "
            "is still in use",
            "policy_version": outcome.version,
            "problems": outcome.problems,
        }
        return JSONResponse(body, status_code=422)
    if outcome.error is not None:
        state.metrics.reloads.labels(result="failed").inc()
        body = {
            "error": f"the policies were not reloaded: {outcome.error}",
            "policy_version": outcome.version,
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    state.metrics.reloads.labels(result="ok").inc()
    return JSONResponse(
        {
            "policy_version": outcome.version,
            "previous_version": previous,
            "changed": outcome.version != previous,
            "workers": outcome.changed_workers,
        }
    )


def _log_reload(outcome: Outcome, previous: str) -> None:
    fields = {
        "event": "reload",
        "trigger": "api",
        "result": "failed" if outcome.problems is not None or outcome.error else "ok",
        "policy_version": outcome.version,
        "previous_version": previous,
        "workers": outcome.changed_workers,
        "problem_count": len(outcome.problems or []),
        "error": outcome.error,
    }
    if fields["result"] == "ok":
        log.info("policies reloaded: version %s", outcome.version, extra=fields)
        return
    reason = f"{len(outcome.problems)} problem(s)" if outcome.problems else outcome.error
    log.error(
        "policies not reloaded (%s); version %s is still in use",
        reason,
        outcome.version,
        extra=fields,
    )


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Policies loaded and the audit trail writable")
async def readyz(request: HttpRequest) -> JSONResponse:
    state = state_of(request)
    checks = {"policies": f"loaded ({state.engine.pack.version})"}
    ready = True
    if state.trail is None:
        checks["audit"] = "off (decisions are not recorded)"
    else:
        writable = await run_in_threadpool(_writable, state.trail)
        checks["audit"] = "writable" if writable else "NOT writable: decisions will get 503"
        ready = writable
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def _writable(trail: Any) -> bool:
    # Any failure to answer counts as not writable: readiness must fail closed too.
    try:
        return bool(trail.writable())
    except Exception:
        return False


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: HttpRequest) -> Response:
    return Response(state_of(request).metrics.render(), media_type=CONTENT_TYPE)
