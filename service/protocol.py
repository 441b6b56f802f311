"""uvicorn's httptools protocol with the limits it lacks: request headers are bounded in size,
and a request must arrive within a time limit (headers, then body), so that slow or huge
requests cannot hold a worker's memory or connections before anyone is authenticated.

`igengine serve` runs uvicorn with `http="service.protocol:GuardedHttpToolsProtocol"`.
A request that arrives whole in one read (nearly all of them) costs no timer at all: a timer
is armed only when a read ends with a request still incomplete.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.settings import Settings

# Request line and headers together; browsers send a few KiB (uvicorn's h11 server allows 16).
MAX_HEADER_BYTES = 32 * 1024


@cache
def _timeouts() -> tuple[float, float]:
    """(headers, body) deadlines in seconds, from the settings `serve` gives every worker."""
    settings = Settings.from_env()
    return float(settings.header_timeout), float(settings.body_timeout)


class _Phase(Enum):
    IDLE = "idle"  # no request begun on this connection
    HEADERS = "headers"
    BODY = "body"


def _closing_answer(status: str, text: str) -> bytes:
    body = text.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


_TIMED_OUT = _closing_answer("408 Request Timeout", "the request did not arrive in time")
_TOO_LARGE = _closing_answer(
    "431 Request Header Fields Too Large",
    f"the request line and headers are over {MAX_HEADER_BYTES >> 10} KiB",
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol plus the header size limit and the read deadlines above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _Phase.IDLE
        self._header_bytes = 0
        self._guard: asyncio.TimerHandle | None = None
        self._header_timeout, self._body_timeout = _timeouts()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a request is timed out like a slow one.
        self._arm(self._header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is not _Phase.BODY:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._phase is _Phase.HEADERS and self._header_bytes > MAX_HEADER_BYTES:
            # httptools keeps the headers it has read so far; stop before they grow further.
            self._refuse(_TOO_LARGE)
            return
        if self._phase is _Phase.IDLE:
            self._header_bytes = 0
        elif self._guard is None and not self.transport.is_closing():
            self._arm(self._header_timeout if self._phase is _Phase.HEADERS else self._body_timeout)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _Phase.HEADERS

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = _Phase.BODY
        self._header_bytes = 0
        self._disarm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = _Phase.IDLE
        self._disarm()

    def _arm(self, delay: float) -> None:
        self._guard = self.loop.call_later(delay, self._expired, self._phase is _Phase.BODY)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def _expired(self, for_body: bool) -> None:
        """The deadline armed for the headers (from connecting or from a request's first
        byte) or for the body has passed with that part still incomplete."""
        self._guard = None
        if (self._phase is _Phase.BODY) != for_body or self.transport.is_closing():
            return
        if self._phase is _Phase.IDLE:
            # Connected and sent nothing: there is no request to answer.
            self._refuse(b"")
            return
        self.logger.warning(
            "closed a connection: its request's %s came too slowly", self._phase.value
        )
        answered = for_body and self.cycle is not None and self.cycle.response_started
        self._refuse(b"" if answered else _TIMED_OUT)

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        if response:
            self.transport.write(response)
        self.transport.close()
