"""Group commit: one writer thread turns many callers' appends into few durable transactions.

Callers queue their entry and wait (or, with `submit_soon`, are called back); the writer takes
everything queued, writes it in one transaction (one flush to disk), then wakes each caller
with its sequence number or the error.
Under load from many threads, hundreds of flushes become a few, yet no caller returns before
its own entry is durable, and none is left waiting behind another caller's bad luck.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

from igengine.audit.errors import AuditWriteError

# Bounds one transaction, so a burst after a stall is written in steps, not one huge commit.
MAX_BATCH = 1000

# Called from the writer thread once an entry is durable (its sequence number, None) or could
# not be written (None, the error). It must be quick and must not raise.
Done = Callable[[int | None, BaseException | None], None]


class _Pending:
    """One caller's queued entry; the writer sets `seq` or `error`, then calls `finish`.

    A blocking caller's `finish` releases a plain lock taken at creation, which the caller is
    blocked acquiring again. That is one C call on each side, where an Event costs a Condition,
    a waiter lock and several Python calls per entry (in the writer, under the GIL)."""

    __slots__ = ("body", "error", "finish", "seq")

    def __init__(self, body: str, finish: Callable[[], object]) -> None:
        self.body = body
        self.finish = finish
        self.seq: int | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Appends through `append` (a store's append with its checkpoint rule) from any number of
    threads. `store_lock` is held while writing, so other users of the store's connection
    (checkpoints, probes) can take turns with it. When nothing has arrived for
    `idle_seconds`, `idle` is called from the writer thread (without the lock)."""

    def __init__(
        self,
        append: Callable[[Sequence[str]], list[int]],
        store_lock: threading.Lock,
        describe: Callable[[], str],
        *,
        idle: Callable[[], object] | None = None,
        idle_seconds: float = 1.0,
    ) -> None:
        self._append = append
        self._store_lock = store_lock
        self._describe = describe
        self._idle = idle
        self._idle_seconds = idle_seconds if idle is not None else None
        self._queue: list[_Pending] = []
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="igengine-audit-writer", daemon=True)
        self._thread.start()

    def submit(self, body: str) -> int:
        """Append one canonical body; returns its sequence number once it is durable."""
        done = threading.Lock()
        done.acquire()
        pending = _Pending(body, done.release)
        self._enqueue(pending)
        done.acquire()
        if pending.seq is None:
            raise self.failure(pending.error)
        return pending.seq

    def submit_soon(self, body: str, done: Done) -> None:
        """Queue one canonical body without waiting; `done` is called from the writer thread
        once it is durable or has failed. Raises AuditWriteError at once if the writer has
        stopped. For callers that must not block a thread (an event loop)."""
        pending = _Pending(body, lambda: done(pending.seq, pending.error))
        self._enqueue(pending)

    def failure(self, error: BaseException | None) -> AuditWriteError:
        """The error a caller sees for an entry that was not written."""
        failed = AuditWriteError(
            f"the entry could not be written to {self._describe()}: {type(error).__name__}: {error}"
        )
        failed.__cause__ = error
        return failed

    def _enqueue(self, pending: _Pending) -> None:
        with self._ready:
            if self._stopping:
                raise AuditWriteError(f"the audit trail ({self._describe()}) is closed")
            self._queue.append(pending)
            self._ready.notify()

    def stop(self) -> None:
        """Write whatever is queued, then stop the writer. Later submits are refused."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                if batch:
                    self._write(batch)
                elif self._idle is not None:
                    self._when_idle(self._idle)
        finally:
            # Only reached on stop, or if the thread itself dies: never leave a caller hanging.
            with self._ready:
                self._stopping = True
                stranded, self._queue = self._queue, []
            self._fail(stranded, AuditWriteError("the audit writer stopped"))

    def _next_batch(self) -> list[_Pending] | None:
        """The next batch; empty when `idle_seconds` passed with nothing queued; None once
        stopping with nothing left to write."""
        with self._ready:
            if not self._queue and not self._stopping:
                self._ready.wait(self._idle_seconds)
            if not self._queue:
                return None if self._stopping else []
            batch = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
            return batch

    @staticmethod
    def _when_idle(idle: Callable[[], object]) -> None:
        # Idle work (signing the head) is retried at the next idle moment if it fails; the
        # store being down is reported to callers by their own appends, not from here.
        with contextlib.suppress(BaseException):
            idle()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self._store_lock:
                seqs = self._append([pending.body for pending in batch])
        except BaseException as exc:
            # Whatever the store raised (a BaseException from a driver or a store of the
            # caller's own included), this batch fails and the thread carries on: while the
            # store is down each batch fails closed, and once it is back entries are written.
            self._fail(batch, exc)
            return
        for pending, seq in zip(batch, seqs, strict=True):
            pending.seq = seq
            pending.finish()

    @staticmethod
    def _fail(batch: list[_Pending], error: BaseException) -> None:
        for pending in batch:
            pending.error = error
            pending.finish()
