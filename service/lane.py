"""A fast lane for the two decision endpoints, which carry nearly all of the traffic.

FastAPI's per-request routing, dependency solving and body validation cost about as much as
a decision itself (bench/service.py measures it), so this ASGI middleware answers
`POST /v1/decisions` and `POST /access/v1/evaluation` with the very same handler functions
the FastAPI routes use, minus that machinery. Errors go to the app's own exception handlers,
so status codes and bodies are identical either way (tests run both). It is also where every
request body's size is limited on every route, before authentication (413 over 1 MiB, whether
the body declares its length or comes in chunks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request as HttpRequest
from fastapi import Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import api
from service.auth import Principal
from service.state import state_of

Handler = Callable[[HttpRequest, Principal, Any], Awaitable[Response]]

_HANDLERS: dict[str, Handler] = {
    "/v1/decisions": api.decision_response,
    "/access/v1/evaluation": api.evaluation_response,
}


# A sharing request is a few hundred bytes; a body near this size is not one, and must not be
# read into memory whole.
MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(Exception):
    """A request body over MAX_BODY_BYTES, or a smaller limit of one route (answered 413)."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(limit)
        self.limit = limit


class DecisionLane:
    """Answers the decision endpoints itself (unless `answer` is off: tests compare it with
    FastAPI's routes), and refuses any request whose body is over MAX_BODY_BYTES. The limit is
    here, not FastAPI's own, because FastAPI's wraps every request in a limiter costing about
    6% of a decision; here it is one look at the declared length."""

    def __init__(self, app: ASGIApp, answer: bool = True) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > MAX_BODY_BYTES:
            await _too_large()(scope, receive, send)
            return
        handler = _HANDLERS.get(scope["path"]) if self.answer else None
        if handler is None or scope["method"] != "POST":
            await _limited_app(self.app, scope, receive, send)
            return
        request = HttpRequest(scope, receive)
        try:
            principal = state_of(request).authenticate(request)
            response = await handler(request, principal, api.json_body(await limited_body(request)))
        except BodyTooLarge:
            response = _too_large()
        except ClientDisconnect:
            return  # gone before its body arrived (or timed out): nobody to answer
        except Exception as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)


async def _limited_app(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run `app` with its body cut off past MAX_BODY_BYTES, answering 413 instead: a body
    sent in chunks declares no length, and a route reading it whole must not get it all."""
    received = 0
    answering = False

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise BodyTooLarge()
        return message

    async def watched_send(message: Message) -> None:
        nonlocal answering
        answering = answering or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, limited_receive, watched_send)
    except ClientDisconnect:
        return  # gone before its body arrived (or timed out): nobody to answer
    except BodyTooLarge as exc:
        if answering:
            raise
        await _too_large(exc.limit)(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def limited_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read in pieces and abandoned past `limit` (a body sent in chunks declares
    no length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int = MAX_BODY_BYTES) -> Response:
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"
    return JSONResponse(
        {"error": f"the request body is over {size}; a sharing request is a few hundred bytes"},
        status_code=413,
    )


async def _handled(request: HttpRequest, exc: Exception) -> Response:
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind in handlers:
            response: Response = await handlers[kind](request, exc)
            return response
    raise exc
