"""`AuditTrail`: the engine's audit sink and the auditors' view of what was decided.

It wires the pieces together: bodies are built (and people pseudonymised) in the caller's
thread, appended through group commit, chained and stored by the store, checkpoints signed
with the trail's key, and the whole chain checked by `verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from igengine.audit import checkpoint as signing
from igengine.audit import keys, witness
from igengine.audit.checkpoint import Checkpoint
from igengine.audit.commit import GroupCommit
from igengine.audit.entry import (
    AuditEntry,
    decision_bodies,
    decision_body,
    review_body,
    timestamp,
)
from igengine.audit.errors import AuditError, AuditWriteError
from igengine.audit.parallel import parallel_walk, workers_for
from igengine.audit.store import Filter, Store, open_store
from igengine.audit.verify import (
    VerifyReport,
    Walk,
    Walker,
    Witnessed,
    seq_and_time,
    unsigned_tail,
    verify,
    walk,
)
from igengine.decision import Decision
from igengine.request import Request

DEFAULT_QUERY_LIMIT = 1000
# While entries arrive, none waits longer than this for a signed head to cover it.
DEFAULT_SIGN_EVERY_SECONDS = 5.0
# How recent an entry after the newest signed head must be to pass verification as one the
# writer has not signed yet (a running writer signs within DEFAULT_SIGN_EVERY_SECONDS).
DEFAULT_TAIL_GRACE_SECONDS = 60.0


class AuditTrail:
    """A hash-chained, append-only record of decisions. Thread-safe; open with `open`."""

    def __init__(
        self,
        store: Store,
        *,
        pseudonymiser: keys.Pseudonymiser | None,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int,
        url: str | None = None,
        witness_path: Path | None = None,
        sign_every_seconds: float = DEFAULT_SIGN_EVERY_SECONDS,
    ) -> None:
        if checkpoint_every < 1:
            raise AuditError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
        if sign_every_seconds <= 0:
            raise AuditError(f"sign_every_seconds must be positive, not {sign_every_seconds}")
        self._store = store
        # Lets verify open the store again in other processes.
        self._url = url
        self._pseudonymiser = pseudonymiser
        self._signing_key = signing_key
        self._every = checkpoint_every
        self._sign_every = sign_every_seconds
        # Where each signed head is also written (None: nowhere; no key, nothing signed).
        self._witness_path = witness_path if signing_key is not None else None
        self._witnessed = witness.newest_seq(self._witness_path) if self._witness_path else 0
        # The hash of the chain's entry 1, which names the chain in the witness file (read
        # once the chain has one).
        self._chain: str | None = None
        # When the oldest entry not yet covered by a signed head was committed (monotonic),
        # and the head signed for the batch being appended, written out once it commits.
        self._unsigned_since: float | None = None
        self._signed: Checkpoint | None = None
        # Whether the last append failed: readiness follows the writes, not only the probe.
        self._write_failed = False
        # Held by whoever uses the store's write connection: the writer, probes, checkpoints.
        self._store_lock = threading.Lock()
        self._closed = False
        # Hands `record_async`'s outcomes to its event loop (made on the loop's thread).
        self._inbox: _Inbox | None = None
        self._commit = GroupCommit(
            self._append_signed,
            self._store_lock,
            lambda: self.description,
            idle=self.sign_if_due if signing_key is not None else None,
            idle_seconds=min(1.0, sign_every_seconds),
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        hmac_key_path: Path | None = None,
        signing_key_path: Path | None = None,
        checkpoint_every: int = 1000,
        create: bool = True,
        witness_path: Path | None = None,
        sign_every_seconds: float = DEFAULT_SIGN_EVERY_SECONDS,
    ) -> AuditTrail:
        """Open (with `create`, first making) the trail at `url`. Keys are created if their
        files are missing. Without `hmac_key_path` no request naming a person can be
        recorded; without `signing_key_path` no heads are signed. A head is signed every
        `checkpoint_every` entries and, while entries arrive, at least every
        `sign_every_seconds`; each is also appended to the witness file at `witness_path`
        (default: beside the signing key, see `igengine.audit.witness`)."""
        if checkpoint_every < 1:
            raise AuditError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
        store = open_store(url, create=create)
        try:
            pseudonymiser = None
            if hmac_key_path is not None:
                pseudonymiser = keys.pseudonymiser(hmac_key_path)
                _check_pseudonym_key(store, pseudonymiser, hmac_key_path)
            key = keys.signing_key(signing_key_path) if signing_key_path else None
            if witness_path is None and signing_key_path is not None:
                witness_path = witness.default_path(signing_key_path)
            trail = cls(
                store,
                pseudonymiser=pseudonymiser,
                signing_key=key,
                checkpoint_every=checkpoint_every,
                url=url,
                witness_path=witness_path,
                sign_every_seconds=sign_every_seconds,
            )
        except BaseException:
            store.close()
            raise
        if key is not None:
            try:
                trail._refuse_another_chains_witness()
            except BaseException:
                store.close()
                raise
            # Entries left unsigned by a process that stopped before signing them (or a head
            # signed but not yet witnessed) are covered now, not at the next batch.
            with trail._store_lock:
                trail._checkpoint_now()
        return trail

    @property
    def description(self) -> str:
        return self._store.description

    def record(self, request: Request, decision: Decision) -> None:
        """Append one decision; returns only once it is durably committed. Raises
        AuditWriteError if it could not be (the engine then withholds the decision)."""
        body = decision_body(request, decision, self._pseudonymiser, datetime.now(UTC))
        self._append(body)

    def record_many(self, entries: Sequence[tuple[Request, Decision]]) -> None:
        """Append many decisions, each its own entry, in one durable transaction; returns once
        all are committed. Raises AuditWriteError if they could not be (then none was)."""
        self.append_many(decision_bodies(entries, self._pseudonymiser, datetime.now(UTC)))

    async def record_async(
        self, request: Request, decision: Decision, *, decision_json: str | None = None
    ) -> None:
        """Record one decision from an event loop without blocking it; completes only once
        the entry is durably committed (it shares the group commit with every other caller).
        Raises AuditWriteError if it could not be (the caller must then withhold the
        decision). `decision_json`: see `decision_body`."""
        now = datetime.now(UTC)
        body = decision_body(request, decision, self._pseudonymiser, now, decision_json)
        loop = asyncio.get_running_loop()
        if self._inbox is None or self._inbox.loop is not loop:
            self._inbox = _Inbox(loop)
        inbox = self._inbox
        committed: asyncio.Future[None] = loop.create_future()
        failure = self._commit.failure

        def written(seq: int | None, error: BaseException | None) -> None:
            inbox.deliver(committed, None if seq is not None else failure(error))

        self._commit.submit_soon(body, written)
        await committed

    async def record_many_async(
        self,
        entries: Sequence[tuple[Request, Decision]],
        *,
        decision_jsons: Sequence[str | None] | None = None,
    ) -> None:
        """Record a batch's decisions from an event loop, each its own entry, in one
        transaction (all durable, or none); completes once they are committed. Raises
        AuditWriteError if they could not be (then none was). `decision_jsons`: see
        `decision_body`."""
        now = datetime.now(UTC)
        bodies = decision_bodies(entries, self._pseudonymiser, now, decision_jsons)
        # A batch is one transaction of its own, outside the group commit of single entries,
        # written on a worker thread so the caller's event loop stays free meanwhile.
        await asyncio.to_thread(self.append_many, bodies)

    def append_many(self, bodies: Sequence[str]) -> list[int]:
        """Append bodies built elsewhere in one durable transaction, from this thread; returns
        their sequence numbers once committed. Not a way of recording of its own: it is the
        audit writer process's half of `RemoteTrail.record_async` (the workers build the
        bodies with `decision_body` and the writer batches them itself)."""
        if self._closed:
            raise AuditWriteError(f"the audit trail ({self.description}) is closed")
        with self._store_lock:
            try:
                return self._append_signed(bodies)
            except Exception as exc:
                raise self._commit.failure(exc) from exc

    def _append(self, body: str) -> int:
        return self._commit.submit(body)

    def _append_signed(self, bodies: Sequence[str]) -> list[int]:
        """Append (the store lock held), then write out the head signed with the batch, if
        one was: only once it is committed, so the witness never holds a head the store
        could still roll back."""
        self._signed = None
        try:
            seqs = self._store.append(bodies, self._due)
        except BaseException:
            self._write_failed = True
            raise
        self._write_failed = False
        signed, self._signed = self._signed, None
        if signed is not None:
            self._witness(signed)
        elif self._signing_key is not None and self._unsigned_since is None:
            self._unsigned_since = time.monotonic()
        return seqs

    def _due(self, old_head: int, new_head: int, head_hash: str) -> Checkpoint | None:
        # Every time the chain passes a multiple of `checkpoint_every`, or once entries have
        # waited `sign_every_seconds` for a signed head, whichever process wrote that batch
        # signs the new head (in the batch's transaction).
        if self._signing_key is None:
            return None
        crossed = new_head // self._every != old_head // self._every
        since = self._unsigned_since
        overdue = since is not None and time.monotonic() - since >= self._sign_every
        if not (crossed or overdue):
            return None
        self._signed = self._sign(new_head, head_hash)
        return self._signed

    def _sign(self, seq: int, head_hash: str) -> Checkpoint:
        assert self._signing_key is not None
        return signing.sign(self._signing_key, seq, head_hash, datetime.now(UTC))

    def _first_hash(self) -> str | None:
        """The hash of the chain's entry 1 (None while the chain is empty)."""
        if self._chain is None:
            self._chain = self._stored_first_hash()
        return self._chain

    def _stored_first_hash(self) -> str | None:
        """The hash of entry 1 as the store holds it now (never cached, for verify)."""
        first = list(self._store.rows(1, 1))
        return first[0][2] if first else None

    def _refuse_another_chains_witness(self) -> None:
        """Raise AuditError if the witness file holds heads signed for another chain: this
        trail's heads would then not be written there (the other's are further along) and
        verify would take the other's heads for this chain's."""
        if self._witness_path is None:
            return
        problem = _another_chains_witness(self._witness_path, self._first_hash(), self.description)
        if problem is not None:
            raise AuditError(f"{problem}; the trail was not opened")

    def _witness(self, head: Checkpoint) -> None:
        """Write a committed signed head to the witness file (once per head)."""
        self._unsigned_since = None
        if self._witness_path is None or head.seq <= self._witnessed:
            return
        try:
            # Read from the store the first time only; a store that fails just after the
            # commit is handled as a witness file that cannot be written.
            chain = self._first_hash()
            if chain is None:
                raise OSError(f"the store holds no entry 1 for a head at entry {head.seq}")
            witness.append(self._witness_path, head, chain)
        except Exception as exc:
            # Entries up to the head are committed; the callers are told they were not
            # (their decisions are withheld) and the head is written with the next one.
            self._unsigned_since = time.monotonic()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise AuditWriteError(
                f"the signed head could not be written to the witness file "
                f"{self._witness_path}: {reason}"
            ) from exc
        self._witnessed = head.seq

    def sign_if_due(self) -> Checkpoint | None:
        """Sign the head if entries have waited `sign_every_seconds` for one (called when the
        trail is idle, so a quiet trail's last entries are covered too)."""
        since = self._unsigned_since
        if since is None or self._closed or time.monotonic() - since < self._sign_every:
            return None
        with self._store_lock:
            return self._checkpoint_now()

    def _checkpoint_now(self) -> Checkpoint | None:
        """Sign and store the current head, and witness it (the store lock held)."""
        head = self._store.checkpoint_head(self._sign)
        if head is None:
            self._unsigned_since = None
            return None
        self._witness(head)
        return head

    def writable(self) -> bool:
        """Whether an entry could be written right now (for readiness checks): after a write
        that failed, not until the store takes a committed write again."""
        if self._closed:
            return False
        with self._store_lock:
            try:
                # After a failed write, only a committed probe shows the store is back (a
                # full disk lets a rolled-back insert through).
                self._store.probe(durable=self._write_failed)
            except Exception:
                return False
        return True

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now; None if the trail is empty."""
        if self._signing_key is None:
            raise AuditError("this trail was opened without a signing key, so it cannot sign")
        with self._store_lock:
            return self._checkpoint_now()

    def verify(
        self,
        public_key_path: Path | None = None,
        *,
        workers: int | None = None,
        witness_path: Path | None = None,
        require_witness: bool = False,
        use_witness: bool = True,
        tail_grace: float = DEFAULT_TAIL_GRACE_SECONDS,
    ) -> VerifyReport:
        """Check every entry, signed checkpoint and witnessed head. Signatures are checked
        against the given public key, else this trail's own signing key, else the keys stored
        with them (which shows consistency, not origin; so instances sharing a trail should
        share a signing key). With a key, the witness file at `witness_path` (default: beside
        the key) is checked too, unless `use_witness` is False; if there is none,
        `require_witness` fails the check. Entries
        after the newest witnessed head pass only if recorded within `tail_grace` seconds.
        A long chain is walked by `workers` processes (default: one per core for 200,000
        entries or more)."""
        trusted: Ed25519PublicKey | None = None
        if public_key_path is not None:
            trusted = keys.public_key(public_key_path)
        elif self._signing_key is not None:
            trusted = self._signing_key.public_key()
        location = None
        if use_witness:
            location = self._witness_location(public_key_path, witness_path, trusted)
        notes: list[str] = []
        witnessed: Witnessed | None = None
        try:
            if location is not None and location.exists():
                first = self._stored_first_hash()
                foreign = _another_chains_witness(location, first, self.description)
                if foreign is not None:
                    return _failed(foreign, trusted)
                witnessed = Witnessed(str(location), witness.read(location))
            elif location is not None and require_witness:
                return _failed(_no_witness(location), trusted)
            elif location is not None:
                notes.append(f"{_no_witness(location)} (not checked)")
        except AuditError as exc:
            return _failed(str(exc), trusted)
        checkpoints = self._store.checkpoints()
        walker: Walker = functools.partial(self._walk, workers=workers)
        report = verify(walker, checkpoints, trusted, witnessed)
        if report.ok and witnessed is not None and report.uncovered:
            report = self._check_tail(report, tail_grace)
        return report.model_copy(update={"warnings": [*notes, *report.warnings]})

    def _witness_location(
        self, public_key_path: Path | None, given: Path | None, trusted: Ed25519PublicKey | None
    ) -> Path | None:
        if trusted is None:
            if given is not None:
                raise AuditError(
                    "a witness file is checked against the public key that signed it; give "
                    "the public key too"
                )
            return None
        if given is not None:
            return given
        if public_key_path is not None:
            return witness.default_path(public_key_path)
        return self._witness_path

    def _check_tail(self, report: VerifyReport, grace: float) -> VerifyReport:
        """Fail the report if an entry after the newest signed head is not a recent one."""
        first = report.entries - report.uncovered + 1
        tail = (seq_and_time(seq, body) for seq, _, _, body in self._store.rows(first))
        broken = unsigned_tail(tail, datetime.now(UTC), grace)
        if broken is None:
            return report
        update = {"ok": False, "first_bad": broken.first_bad, "problem": broken.problem}
        return report.model_copy(update={**update, "uncovered": 0, "warnings": []})

    def _walk(self, pinned: dict[int, str], workers: int | None) -> Walk:
        count = self._store.last_seq()
        workers = workers_for(count) if workers is None else workers
        if workers > 1 and self._url is not None:
            walked = parallel_walk(self._url, count, pinned, workers)
            if walked is not None:
                return walked
        return walk(self._store.rows(), pinned)

    def query(
        self,
        *,
        person: str | None = None,
        requester: str | None = None,
        record_type: str | None = None,
        effect: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_QUERY_LIMIT,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, oldest first, at most the newest `limit`.
        `person` is a raw identifier (it is pseudonymised with this trail's key before the
        search); `requester` matches a staff id or an organisation code; times are when the
        entry was recorded (naive times are taken as UTC)."""
        where = Filter(
            person=self.pseudonym(person) if person is not None else None,
            requester=requester,
            record_type=record_type,
            effect=effect,
            since=timestamp(_utc(since)) if since else None,
            until=timestamp(_utc(until)) if until else None,
        )
        rows = self._store.select(where, limit)
        return [AuditEntry.from_row(row) for row in reversed(rows)]

    def pending_reviews(self) -> list[AuditEntry]:
        """Break-glass decisions (obligation retrospective_review) not yet reviewed."""
        return [AuditEntry.from_row(row) for row in self._store.pending_reviews()]

    def mark_reviewed(self, decision_id: str, reviewer: str, note: str) -> AuditEntry:
        """Record the retrospective review of a break-glass decision as a new entry."""
        if not reviewer.strip():
            raise AuditError("a review must name its reviewer")
        entries = [AuditEntry.from_row(row) for row in self._store.by_decision(decision_id)]
        decision = next((entry for entry in entries if entry.kind == "decision"), None)
        if decision is None:
            # Only to word the refusal: this search may read the whole trail.
            if self._store.by_decision(decision_id, reviewable=False):
                raise AuditError(f"decision {decision_id} was not a break-glass decision")
            raise AuditError(f"no decision {decision_id} is in the audit trail")
        done = next((entry for entry in entries if entry.review is not None), None)
        if done is not None and done.review is not None:
            raise AuditError(
                f"decision {decision_id} was already reviewed by {done.review.reviewer} "
                f"(entry {done.seq})"
            )
        seq = self._append(review_body(decision, reviewer, note, datetime.now(UTC)))
        return next(e for e in self._entries(decision_id) if e.seq == seq)

    def _entries(self, decision_id: str) -> Iterator[AuditEntry]:
        return (AuditEntry.from_row(row) for row in self._store.by_decision(decision_id))

    def pseudonym(self, identifier: str) -> str:
        """The pseudonym stored for a person with this identifier (keyed HMAC-SHA256, hex)."""
        if self._pseudonymiser is None:
            raise AuditError("this trail was opened without a pseudonymisation (HMAC) key")
        return self._pseudonymiser(identifier)

    def close(self) -> None:
        """Sign a final checkpoint (if there is a signing key and anything new) and close.
        Entries are committed as they are recorded, so closing loses nothing."""
        if self._closed:
            return
        self._closed = True
        self._commit.stop()
        with self._store_lock:
            try:
                if self._signing_key is not None:
                    self._checkpoint_now()
            finally:
                self._store.close()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Inbox:
    """Outcomes from the group-commit thread, handed to one event loop a commit at a time: one
    wake-up of the loop per commit, not per entry. Each wake-up is a socket write that lets go
    of the GIL, and the writer thread can then wait milliseconds to get it back from the busy
    loop, once per entry."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._outcomes: deque[tuple[asyncio.Future[None], AuditWriteError | None]] = deque()
        self._wake_due = False

    def deliver(self, committed: asyncio.Future[None], error: AuditWriteError | None) -> None:
        """Called from the group-commit thread."""
        # Appended before the flag is read, and `_settle_all` clears the flag before it
        # drains: an outcome is never left behind.
        self._outcomes.append((committed, error))
        if self._wake_due:
            return
        self._wake_due = True
        # A loop already closed (shutdown) has nobody left waiting for the answer.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._settle_all)

    def _settle_all(self) -> None:
        self._wake_due = False
        while self._outcomes:
            committed, error = self._outcomes.popleft()
            if committed.done():  # its caller was cancelled
                continue
            if error is None:
                committed.set_result(None)
            else:
                committed.set_exception(error)


def _check_pseudonym_key(store: Store, pseudonymiser: keys.Pseudonymiser, path: Path) -> None:
    check = pseudonymiser.key_check()
    if store.keep_meta("pseudonym_key_check", check) != check:
        raise AuditError(
            f"{path} is not the pseudonymisation key this trail was written with, so searches "
            "by person would find nothing; use the original key file"
        )


def _failed(problem: str, trusted: Ed25519PublicKey | None) -> VerifyReport:
    trusted_id = keys.key_id(trusted) if trusted is not None else None
    return VerifyReport(ok=False, entries=0, problem=problem, trusted_key=trusted_id)


def _another_chains_witness(location: Path, chain: str | None, description: str) -> str | None:
    """Why the witness file at `location` cannot be this chain's (its entry 1 hashing to
    `chain`), or None if nothing in it says so."""
    found = witness.other_chain(location, chain)
    if found is None:
        return None
    head, label = found
    first = f"whose entry 1 has hash {chain}" if chain else "which is empty"
    return (
        f"the witness file {location} holds signed heads of another chain: its head for entry "
        f"{head.seq} was signed for the chain whose entry 1 has hash {label}, not for this "
        f"trail ({description}), {first}. Either two trails share one signing key and so one "
        "witness file (give each trail its own signing key or witness file), or this trail's "
        "entry 1 was rewritten or the trail replaced"
    )


def _no_witness(location: Path) -> str:
    return (
        f"there is no witness file at {location}: without the signed heads kept there, a "
        "trail cut short or rewritten with its checkpoints deleted cannot be told from an "
        "intact one (give its path with --witness)"
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
