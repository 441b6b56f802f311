"""The request body's size limit, on every route, before authentication: 413 over 1 MiB,
whether the body declares its length or comes in chunks.

An ASGI middleware rather than a check in each route, because a route reads its body only
after its dependencies have run, and a body this large must be refused before anything
(authentication included) looks at the request.
"""

from __future__ import annotations

from contextlib import suppress

from fastapi import Request as HttpRequest
from fastapi import Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A sharing request is a few hundred bytes (a batch of a hundred, a few hundred KiB); a body
# over this size is neither, and must not be read into memory whole.
MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(Exception):
    """A request body over MAX_BODY_BYTES, or a smaller limit of one route (answered 413)."""

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(limit)
        self.limit = limit


class BodyLimit:
    """Refuses a request whose declared length is over MAX_BODY_BYTES unread, and cuts off a
    body sent in chunks once what has arrived passes it. Both answer 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            await too_large()(scope, receive, send)
            return
        if declared is not None:
            # The server delivers no more than the declared length (more would be the next
            # request on the connection), so only a body without one needs counting.
            with suppress(ClientDisconnect):  # gone before its body arrived: nobody to answer
                await self.app(scope, receive, send)
            return
        await _limited_app(self.app, scope, receive, send)


async def _limited_app(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
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
        await too_large(exc.limit)(scope, receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length the request declares; None when it declares none (chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def limited_body(request: HttpRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read in pieces and abandoned past `limit` (raises BodyTooLarge)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int = MAX_BODY_BYTES) -> Response:
    """The 413 answer for a body over `limit`."""
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"
    return JSONResponse(
        {"error": f"the request body is over {size}; a sharing request is a few hundred bytes"},
        status_code=413,
    )
