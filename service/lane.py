"""A fast lane for the two decision endpoints, which carry nearly all of the traffic.

FastAPI's per-request routing, dependency solving and body validation cost about as much as
a decision itself (bench/service.py measures it), so this ASGI middleware answers
`POST /v1/decisions` and `POST /access/v1/evaluation` with the very same handler functions
the FastAPI routes use, minus that machinery. Errors go to the app's own exception handlers,
so status codes and bodies are identical either way (tests run both).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request as HttpRequest
from fastapi import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from igengine import RequestError
from service import api
from service.auth import Principal
from service.state import state_of

Handler = Callable[[HttpRequest, Principal, Any], Awaitable[Response]]

_HANDLERS: dict[str, Handler] = {
    "/v1/decisions": api.decision_response,
    "/access/v1/evaluation": api.evaluation_response,
}


class DecisionLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = _HANDLERS.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = HttpRequest(scope, receive)
        try:
            principal = state_of(request).authenticate(request)
            response = await handler(request, principal, json_body(await request.body()))
        except Exception as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)


def json_body(raw: bytes) -> Any:
    """The parsed body, or RequestError worded like the framework's own body errors."""
    if not raw:
        raise RequestError([("request", "is required (send a JSON object)")])
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise RequestError([("request", f"is not valid JSON ({detail})")]) from None


async def _handled(request: HttpRequest, exc: Exception) -> Response:
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind in handlers:
            response: Response = await handlers[kind](request, exc)
            return response
    raise exc
