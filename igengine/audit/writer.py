"""One writer process per service: the only process that appends to the trail.

The service's workers each used to append through a writer thread of their own. Two costs came
with that: the thread fought the worker's busy event loop for the GIL at every hand-off (each
commit waited milliseconds to get it back, several times over), and the workers took turns at
the store's lock, each idle while the other committed. Here the workers only build the entry's
body (pseudonymised, encoded) and send it down a Unix socket; this process chains and commits
whatever has arrived from all of them in one transaction, then answers each entry with its
sequence number. A worker still gives out a decision only once that answer has come back.

The frames on the socket are described in `igengine.audit.wire`.

Started by `igengine serve` (service/run.py), which owns the socket and stops this process
after its workers; it exits by itself if the service dies.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from igengine.audit import wire
from igengine.audit.commit import MAX_BATCH
from igengine.audit.errors import AuditError, AuditWriteError
from igengine.audit.trail import DEFAULT_SIGN_EVERY_SECONDS, AuditTrail

# A socket's answers must be read within this long, or it is dropped (its entries are already
# durable; only the worker that stopped reading loses its answers, and gives out nothing).
SEND_TIMEOUT = 5.0
# How often the loop looks up from waiting to see whether its parent (the service) is gone.
PARENT_CHECK_SECONDS = 1.0
READY = b"igengine audit writer ready\n"
# The environment variable the store URL arrives in.
URL_VARIABLE = "IGENGINE_AUDIT_URL"


@dataclass(eq=False)  # compared and hashed by identity: a closed socket's number is reused
class _Connection:
    sock: socket.socket
    unread: bytearray = field(default_factory=bytearray)


class Writer:
    """Serves appends for `trail` on the listening Unix socket `listener`, until stopped."""

    def __init__(self, trail: AuditTrail, listener: socket.socket) -> None:
        self._trail = trail
        self._listener = listener
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ)
        self._connections: dict[int, _Connection] = {}
        self.stopping = False

    def run(self, parent: int | None = None) -> None:
        """Serve until `stop` (or SIGTERM), or until the process `parent` is gone."""
        while not self.stopping:
            # No waiting for company before committing: entries that arrive during a commit
            # (a flush to disk) queue on the sockets and make up the next one. A gathering
            # window of up to 2 ms, tried before, cut the number of commits by a third but
            # lengthened every wait; p99 latency at 64 clients was lower without it.
            self.answer(self.gather(PARENT_CHECK_SECONDS))
            self._sign_if_due()
            if parent is not None and os.getppid() != parent:
                return

    def _sign_if_due(self) -> None:
        # A quiet trail's last entries get their signed head within `sign_every` seconds.
        try:
            self._trail.sign_if_due()
        except Exception as exc:
            print(f"igengine audit writer: could not sign the head: {exc}", file=sys.stderr)

    def stop(self) -> None:
        self.stopping = True

    def gather(self, timeout: float) -> list[tuple[_Connection, bytes]]:
        """Wait up to `timeout` for frames, then take everything already sent, in order."""
        arrived: list[tuple[_Connection, bytes]] = []
        for key, _ in self._selector.select(timeout):
            if key.fileobj is self._listener:
                self._accept()
                continue
            connection = self._connections.get(key.fd)
            if connection is not None:
                arrived.extend((connection, body) for body in self._read(connection))
        return arrived

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.settimeout(SEND_TIMEOUT)
        self._connections[sock.fileno()] = _Connection(sock)
        self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, connection: _Connection) -> list[bytes]:
        try:
            data = connection.sock.recv(1 << 20)
        except OSError:
            data = b""
        if not data:
            self._drop(connection)
            return []
        connection.unread += data
        return list(wire.frames(connection.unread))

    def _drop(self, connection: _Connection) -> None:
        fd = connection.sock.fileno()
        if self._connections.pop(fd, None) is not None:
            self._selector.unregister(connection.sock)
            connection.sock.close()

    def answer(self, arrived: list[tuple[_Connection, bytes]]) -> None:
        """Commit the entries among `arrived` (in batches), then answer every frame in order.
        A batch frame is never split between transactions."""
        replies: dict[_Connection, list[bytes]] = {}
        for start in range(0, len(arrived), MAX_BATCH):
            batch = arrived[start : start + MAX_BATCH]
            carried = [wire.entries(body) if body else [] for _, body in batch]
            outcomes = self._commit([entry for entries in carried for entry in entries])
            probe = self._probe() if any(not body for _, body in batch) else b""
            for (connection, body), carried_entries in zip(batch, carried, strict=True):
                outcome = wire.joined([next(outcomes) for _ in carried_entries]) if body else probe
                replies.setdefault(connection, []).append(wire.frame(outcome))
        for connection, answers in replies.items():
            if self._connections.get(connection.sock.fileno()) is not connection:
                continue  # gone: its worker withholds those decisions
            try:
                connection.sock.sendall(b"".join(answers))
            except OSError:
                self._drop(connection)

    def _commit(self, bodies: list[str]) -> Iterator[bytes]:
        if not bodies:
            return iter(())
        try:
            seqs = self._trail.append_many(bodies)
        except Exception as exc:
            # append_many words its own failures; anything else is named by its type.
            worded = isinstance(exc, AuditWriteError)
            reason = str(exc) if worded else f"{type(exc).__name__}: {exc}"
            return iter([wire.refused(reason)] * len(bodies))
        return (wire.written(seq) for seq in seqs)

    def _probe(self) -> bytes:
        if self._trail.writable():
            return wire.WRITABLE
        return wire.refused("the audit store cannot be written")

    def close(self) -> None:
        for connection in list(self._connections.values()):
            self._drop(connection)
        self._selector.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the writer process. The listening socket arrives as an inherited file
    descriptor, already bound, so workers can connect before this process is up."""
    parser = argparse.ArgumentParser(prog="python -m igengine.audit.writer")
    parser.add_argument("--fd", type=int, required=True, help="the listening Unix socket")
    parser.add_argument("--hmac-key", type=Path, help="checked against the trail's own")
    parser.add_argument("--signing-key", type=Path, help="signs the heads")
    parser.add_argument("--witness", type=Path, help="where signed heads are also kept")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--sign-every", type=float, default=DEFAULT_SIGN_EVERY_SECONDS)
    args = parser.parse_args(argv)
    # The store URL may hold a password, so it comes from the environment, which (unlike
    # the command line) other users cannot read.
    url = os.environ.get(URL_VARIABLE)
    if not url:
        print(f"igengine audit writer: {URL_VARIABLE} is not set", file=sys.stderr)
        return 2
    listener = socket.socket(fileno=args.fd)
    listener.setblocking(False)
    parent = os.getppid()
    try:
        trail = AuditTrail.open(
            url,
            hmac_key_path=args.hmac_key,
            signing_key_path=args.signing_key,
            checkpoint_every=args.checkpoint_every,
            witness_path=args.witness,
            sign_every_seconds=args.sign_every,
        )
    except AuditError as exc:
        print(f"igengine audit writer: {exc}", file=sys.stderr)
        return 1
    writer = Writer(trail, listener)
    signal.signal(signal.SIGTERM, lambda *_: writer.stop())
    # Ctrl-C reaches the whole process group; the service stops this process itself, after
    # its workers, so that their last entries are written.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()
        writer.run(parent)
    finally:
        writer.close()
        trail.close()  # signs the final checkpoint
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
