"""The JSON endpoints: decisions (contract and AuthZEN shapes), policies, health, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from igengine import RequestError
from igengine.policy.pack import PolicyPack
from igengine.request import parse_json
from service import authzen
from service.auth import Access, Principal
from service.metrics import CONTENT_TYPE
from service.reload import reload_everywhere
from service.state import state_of

router = APIRouter()

_REQUEST_DOC = "A sharing request in the shape of the decision contract (see the README)."
_AUTHZEN_DOC = "An OpenID AuthZEN 1.0 access evaluation request (see the README for the mapping)."


def json_body(raw: bytes) -> Any:
    """The parsed body (strictly: no repeated keys, no deep nesting), or RequestError."""
    if not raw:
        raise RequestError([("request", "is required (send a JSON object)")])
    return parse_json(raw)


def _json_body_doc(description: str) -> dict[str, Any]:
    """The OpenAPI entry for a JSON body the route parses itself (see json_body)."""
    content = {"application/json": {"schema": {"type": "object"}}}
    return {"requestBody": {"description": description, "required": True, "content": content}}


@router.post(
    "/v1/decisions",
    summary="Decide one sharing request",
    openapi_extra=_json_body_doc(_REQUEST_DOC),
)
async def decisions(request: HttpRequest) -> Response:
    # The body is parsed here, as the fast lane parses it, not by FastAPI's Body: its
    # json.loads keeps the last of repeated keys and fails with a 500 on deep nesting.
    principal = state_of(request).authenticate(request)
    return await decision_response(request, principal, json_body(await request.body()))


async def decision_response(request: HttpRequest, principal: Principal, body: Any) -> Response:
    decided = await state_of(request).decide(body, principal, "decisions")
    # The same JSON as Decision.to_dict(), serialised once by pydantic's compiled encoder for
    # both the audit entry and this answer.
    return Response(decided.json(), media_type="application/json")


@router.post(
    "/access/v1/evaluation",
    summary="AuthZEN access evaluation",
    openapi_extra=_json_body_doc(_AUTHZEN_DOC),
)
async def evaluation(request: HttpRequest) -> Response:
    principal = state_of(request).authenticate(request)
    return await evaluation_response(request, principal, json_body(await request.body()))


async def evaluation_response(request: HttpRequest, principal: Principal, body: Any) -> Response:
    echo = _request_id(request)
    try:
        if not isinstance(body, dict):
            raise RequestError([("request", "expected a JSON object")])
        asked = authzen.to_request(body)
        decision = (await state_of(request).decide(asked, principal, "authzen")).decision
    except RequestError as exc:
        # AuthZEN answers a malformed request with 400, naming the fields the caller sent.
        errors = authzen.authzen_errors(exc.errors)
        return JSONResponse(malformed_body(errors), status_code=400, headers=echo)
    return JSONResponse(authzen.to_response(decision), headers=echo)


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
