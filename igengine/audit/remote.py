"""A service worker's side of the audit writer process (see `igengine.audit.writer`).

The worker builds each entry itself (pseudonymised with the trail's key, canonical JSON) and
sends it down the writer's socket without waiting; the writer's answer arrives on the event
loop and settles the entry's callback. No thread is involved, so nothing competes with the
event loop for the GIL. If the writer cannot be reached, or the connection is lost before an
entry was answered, that entry counts as not written: its decision is withheld, never given
out unrecorded.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from igengine.audit.entry import decision_body
from igengine.audit.errors import AuditWriteError
from igengine.audit.keys import Pseudonymiser
from igengine.audit.writer import batch_payload, frame, frames
from igengine.decision import Decision
from igengine.request import Request

# Called with None once the entry is durable, or with the AuditWriteError saying why not.
Done = Callable[[Exception | None], None]

CONNECT_TIMEOUT = 2.0
# An entry the writer has not answered within this long is given up (with every other one on
# the connection, which is dropped): its decision gets a clear 503 rather than hanging while
# a stuck writer (a disk that stopped answering) holds it.
ANSWER_TIMEOUT = 10.0


class RemoteTrail:
    """Records decisions through the writer process listening at `path`. `record_soon` is
    for one event loop's thread; `writable` may be called from any thread."""

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
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unread = bytearray()
        self._unsent = bytearray()
        self._flush_due = False
        self._waiting_for_room = False
        # The entries sent and not yet answered, oldest first (answers come in the order the
        # entries were sent): when each was sent, and its callback.
        self._waiting: deque[tuple[float, Done]] = deque()
        self._overdue_check: asyncio.TimerHandle | None = None
        self._closed = False

    def record_soon(
        self, request: Request, decision: Decision, done: Done, *, decision_json: str | None = None
    ) -> None:
        """Send one decision's entry; `done` is called on the event loop once the writer has
        answered. Raises AuditWriteError at once if it cannot even be sent. `decision_json`:
        see `decision_body`."""
        now = datetime.now(UTC)
        body = decision_body(request, decision, self._pseudonymiser, now, decision_json)
        self._connected()
        assert self._loop is not None
        self._waiting.append((self._loop.time(), done))
        if self._overdue_check is None:
            self._overdue_check = self._loop.call_later(self._answer_timeout, self._check_overdue)
        self._send(frame(body.encode()))

    def record_many_soon(
        self,
        entries: Sequence[tuple[Request, Decision]],
        done: Done,
        *,
        decision_jsons: Sequence[str | None] | None = None,
    ) -> None:
        """Send a batch's entries as one frame, which the writer commits in one transaction
        (all durable, or none); `done` is called once for the whole batch."""
        now = datetime.now(UTC)
        jsons = decision_jsons or [None] * len(entries)
        bodies = [
            decision_body(req, dec, self._pseudonymiser, now, text)
            for (req, dec), text in zip(entries, jsons, strict=True)
        ]
        self._connected()
        assert self._loop is not None
        self._waiting.append((self._loop.time(), done))
        if self._overdue_check is None:
            self._overdue_check = self._loop.call_later(self._answer_timeout, self._check_overdue)
        self._send(frame(batch_payload(bodies)))

    def writable(self) -> bool:
        """Ask the writer, on a connection of its own, whether the store can be written."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(CONNECT_TIMEOUT)
                probe.connect(str(self._path))
                probe.sendall(frame(b""))
                return _read_frame(probe) == b"+0"
        except OSError:
            return False

    def close(self) -> None:
        self._closed = True
        self._lost(AuditWriteError("the audit trail is closed"))

    def _connected(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if self._closed:
            raise AuditWriteError("the audit trail is closed")
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # A Unix socket connects at once or not at all; the timeout only bounds a writer
            # whose backlog is full.
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(str(self._path))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise AuditWriteError(f"cannot reach the audit writer at {self._path}: {exc}") from exc
        loop.add_reader(sock.fileno(), self._on_readable)
        self._sock, self._loop = sock, loop
        return sock

    def _send(self, data: bytes) -> None:
        # Entries made in one turn of the event loop go out in one write, after it: one
        # system call (and one wake-up of the writer) for all of them.
        self._unsent += data
        if not self._flush_due and self._loop is not None:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        sock = self._sock
        if sock is None or not self._unsent:
            return
        try:
            sent = sock.send(self._unsent)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lost(exc)
            return
        del self._unsent[:sent]
        assert self._loop is not None
        if self._unsent and not self._waiting_for_room:
            self._loop.add_writer(sock.fileno(), self._flush)
            self._waiting_for_room = True
        elif not self._unsent and self._waiting_for_room:
            self._loop.remove_writer(sock.fileno())
            self._waiting_for_room = False

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(exc)
            return
        if not data:
            self._lost(ConnectionError("the audit writer closed the connection"))
            return
        self._unread += data
        for answer in frames(self._unread):
            _, done = self._waiting.popleft()
            if answer.startswith(b"+"):
                done(None)
            else:
                done(AuditWriteError(answer[1:].decode(errors="replace")))

    def _check_overdue(self) -> None:
        self._overdue_check = None
        if not self._waiting or self._loop is None:
            return
        waited = self._loop.time() - self._waiting[0][0]
        if waited >= self._answer_timeout:
            self._lost(TimeoutError(f"no answer within {self._answer_timeout:g} s"))
            return
        self._overdue_check = self._loop.call_later(
            self._answer_timeout - waited, self._check_overdue
        )

    def _lost(self, error: Exception) -> None:
        """Drop the connection; every entry not yet answered counts as not written (it may
        have been, but its decision was never given out, which is the safe side)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
                self._loop.remove_writer(sock.fileno())
            sock.close()
        self._unread.clear()
        self._unsent.clear()
        self._waiting_for_room = False
        waiting, self._waiting = self._waiting, deque()
        reason = error if isinstance(error, AuditWriteError) else None
        if self._overdue_check is not None:
            self._overdue_check.cancel()
            self._overdue_check = None
        for _, done in waiting:
            done(reason or AuditWriteError(f"lost the audit writer before it answered: {error}"))


def _read_frame(sock: socket.socket) -> bytes:
    """The next frame from a blocking socket."""
    unread = bytearray()
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the audit writer closed the connection")
        unread += chunk
        for answer in frames(unread):
            return answer
