"""A service worker's side of the audit writer process (see `igengine.audit.writer`).

The worker builds each entry itself (pseudonymised with the trail's key, canonical JSON) and
sends it down the writer's Unix socket; `record_async` completes when the writer answers that
the entry is durable. The connection is an asyncio transport on the worker's own event loop,
so no thread competes with the loop for the GIL. If the writer cannot be reached, or the
connection is lost before an entry was answered, that entry counts as not written: its
decision is withheld, never given out unrecorded.

Why a transport and its protocol rather than asyncio streams or `multiprocessing.connection`:
the writer answers in order, so one `data_received` settles every answer of one read without a
reader task between them, and entries made in one turn of the loop go out in one write.
`multiprocessing.connection` blocks, so it would need a thread per worker (the GIL hand-offs
the writer process exists to avoid).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from igengine.audit import wire
from igengine.audit.entry import decision_bodies, decision_body
from igengine.audit.errors import AuditWriteError
from igengine.audit.keys import Pseudonymiser
from igengine.decision import Decision
from igengine.request import Request

CONNECT_TIMEOUT = 2.0
# An entry the writer has not answered within this long is given up (with every other one on
# the connection, which is dropped): its decision gets a clear 503 rather than hanging while
# a stuck writer (a disk that stopped answering) holds it.
ANSWER_TIMEOUT = 10.0


class RemoteTrail:
    """Records decisions through the writer process listening at `path`. `record_async` is
    for one event loop at a time; `writable` may be called from any thread."""

    def __init__(
        self,
        path: Path,
        pseudonymiser: Pseudonymiser | None,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self._path = path
        self._answer_timeout = answer_timeout
        self._pseudonymiser = pseudonymiser
        self.description = f"the audit writer at {path}"
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._closed = False

    async def record_async(
        self, request: Request, decision: Decision, *, decision_json: str | None = None
    ) -> None:
        """Record one decision; completes once the writer has answered that its entry is
        durable. Raises AuditWriteError if it was not (or may not have been) written: the
        writer refused it, could not be reached, or did not answer. `decision_json`: see
        `decision_body`."""
        now = datetime.now(UTC)
        body = decision_body(request, decision, self._pseudonymiser, now, decision_json)
        connection = await self._connected()
        await connection.send(body.encode())

    async def record_many_async(
        self,
        entries: Sequence[tuple[Request, Decision]],
        *,
        decision_jsons: Sequence[str | None] | None = None,
    ) -> None:
        """Record a batch's decisions as one frame, which the writer commits in one
        transaction (all durable, or none); completes once the writer has answered that they
        are, and raises AuditWriteError as `record_async` does."""
        now = datetime.now(UTC)
        bodies = decision_bodies(entries, self._pseudonymiser, now, decision_jsons)
        connection = await self._connected()
        await connection.send(wire.batch_payload(bodies))

    def writable(self) -> bool:
        """Ask the writer, on a connection of its own, whether the store can be written."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(CONNECT_TIMEOUT)
                probe.connect(str(self._path))
                probe.sendall(wire.frame(wire.PROBE))
                return _read_frame(probe) == wire.WRITABLE
        except OSError:
            return False

    def close(self) -> None:
        self._closed = True
        if self._connection is not None:
            self._connection.lose(AuditWriteError("the audit trail is closed"))

    async def _connected(self) -> _Connection:
        """The open connection on this event loop, made (once, however many ask) if needed."""
        if self._closed:
            raise AuditWriteError("the audit trail is closed")
        loop = asyncio.get_running_loop()
        connection = self._connection
        if connection is not None and connection.open and connection.loop is loop:
            return connection
        if self._connecting is None or self._connecting.get_loop() is not loop:
            self._connecting = asyncio.ensure_future(self._connect(loop))
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        try:
            # A Unix socket connects at once or not at all; the timeout only bounds a writer
            # whose backlog is full.
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, connection = await loop.create_unix_connection(
                    lambda: _Connection(loop, self._answer_timeout), str(self._path)
                )
        except (OSError, TimeoutError) as exc:
            reason = exc if str(exc) else type(exc).__name__
            raise AuditWriteError(
                f"cannot reach the audit writer at {self._path}: {reason}"
            ) from exc
        self._connection = connection
        return connection


class _Connection(asyncio.Protocol):
    """One connection to the writer. Answers come in the order entries were sent, so each
    settles the oldest entry still waiting."""

    def __init__(self, loop: asyncio.AbstractEventLoop, answer_timeout: float) -> None:
        self.loop = loop
        self.open = False
        self._answer_timeout = answer_timeout
        self._transport: asyncio.Transport | None = None
        self._unread = bytearray()
        self._unsent = bytearray()
        # The entries sent and not yet answered, oldest first: when each was sent, and the
        # future its caller awaits.
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._overdue_check: asyncio.TimerHandle | None = None
        self._lost: AuditWriteError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike.
        self._transport = cast(asyncio.Transport, transport)
        self.open = True

    def send(self, payload: bytes) -> asyncio.Future[None]:
        """Send one entry; the future completes when the writer says it is durable, or fails
        with AuditWriteError."""
        answered: asyncio.Future[None] = self.loop.create_future()
        if self._lost is not None:
            answered.set_exception(self._lost)
            return answered
        self._waiting.append((self.loop.time(), answered))
        if self._overdue_check is None:
            self._overdue_check = self.loop.call_later(self._answer_timeout, self._check_overdue)
        # Entries made in one turn of the event loop go out in one write, after it: one system
        # call (and one wake-up of the writer) for all of them.
        if not self._unsent:
            self.loop.call_soon(self._flush)
        self._unsent += wire.frame(payload)
        return answered

    def _flush(self) -> None:
        if self._transport is not None and self._unsent and self._lost is None:
            self._transport.write(bytes(self._unsent))
        self._unsent.clear()

    def data_received(self, data: bytes) -> None:
        self._unread += data
        for answer in wire.frames(self._unread):
            if not self._waiting:
                self.lose(AuditWriteError("the audit writer answered an entry never sent"))
                return
            _, answered = self._waiting.popleft()
            if answered.done():  # its caller was cancelled
                continue
            reason = wire.refusal(answer)
            if reason is None:
                answered.set_result(None)
            else:
                answered.set_exception(AuditWriteError(reason))

    def connection_lost(self, exc: Exception | None) -> None:
        cause = exc or ConnectionError("the audit writer closed the connection")
        self.lose(AuditWriteError(f"lost the audit writer before it answered: {cause}"))

    def lose(self, error: AuditWriteError) -> None:
        """Drop the connection; every entry not yet answered counts as not written (it may
        have been, but its decision is never given out, which is the safe side)."""
        self.open = False
        if self._lost is None:
            self._lost = error
        if self._overdue_check is not None:
            self._overdue_check.cancel()
            self._overdue_check = None
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.abort()
        waiting, self._waiting = self._waiting, deque()
        for _, answered in waiting:
            if not answered.done():
                answered.set_exception(self._lost)

    def _check_overdue(self) -> None:
        self._overdue_check = None
        if not self._waiting:
            return
        waited = self.loop.time() - self._waiting[0][0]
        if waited >= self._answer_timeout:
            stuck = TimeoutError(f"no answer within {self._answer_timeout:g} s")
            self.lose(AuditWriteError(f"lost the audit writer before it answered: {stuck}"))
            return
        self._overdue_check = self.loop.call_later(
            self._answer_timeout - waited, self._check_overdue
        )


def _read_frame(sock: socket.socket) -> bytes:
    """The next frame from a blocking socket."""
    unread = bytearray()
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the audit writer closed the connection")
        unread += chunk
        for answer in wire.frames(unread):
            return answer
