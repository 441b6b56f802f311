"""The embedded store: one SQLite file in WAL mode with synchronous=FULL, so an acknowledged
entry survives a crash or kill -9.

Several processes may append to one file (`igengine serve`'s writer process and
`igengine audit review --mark`, or programs embedding the library). They take turns through a
lock file beside the database (`<file>-lock`, flock): a process waiting for it is woken the
moment it is released, where SQLite's own busy handler would sleep in steps of 1, 2, 5, 10, 15, 20,
25 ... ms, and meanwhile its group commit gathers a bigger batch. As a second line, the primary
key on `seq` refuses a batch chained onto a head that another writer (one not taking the lock)
has since moved, and that batch is re-chained (see `append`). For several busy instances,
PostgreSQL is the better store.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.entry import ChainRow, Head, link
from igengine.audit.errors import AuditError, AuditWriteError
from igengine.audit.sql import (
    CHECKPOINT_COLUMNS,
    HEAD_SQL,
    LAST_SQL,
    PROBE_ENTRY_SQL,
    QUERY_COLUMNS,
    REVIEWABLE,
    ROWS_SQL,
    Tables,
    by_decision_sql,
    checkpoint_from,
    checkpoint_values,
    select_sql,
)
from igengine.audit.store import CheckpointDue, Filter, Signer
from igengine.audit.url import Location
from igengine.audit.verify import StoredRow

MAX_RETRIES = 100
MMAP_BYTES = 2**31


class SqliteStore:
    def __init__(self, location: Location, *, create: bool) -> None:
        self._path = Path(location.target)
        self._timeout = location.timeout
        self._tables = Tables.named(location.prefix)
        self._prefix = location.prefix
        self.description = f"SQLite {self._path}"
        if not create and not self._path.exists():
            raise AuditError(f"there is no audit trail at {self._path}")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._connect()
        # 16 KiB pages hold four entries each instead of one in 4 KiB with the rest wasted: the
        # file is a fifth smaller and verify reads it that much faster. (Only takes effect
        # when the file is new.)
        self._conn.execute("PRAGMA page_size=16384")
        self._conn.execute("PRAGMA journal_mode=WAL")
        # Opened at the first append, so reading a trail never needs to write beside it.
        self._lock_fd: int | None = None
        if create:
            self._create_schema()
        elif not self._has_schema():
            raise AuditError(f"{self._path} holds no igengine audit trail")

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are begun and committed explicitly below.
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _create_schema(self) -> None:
        t = self._tables
        generated = ", ".join(
            f"{name} {'INTEGER' if kind == 'bool' else 'TEXT'} "
            f"GENERATED ALWAYS AS ({_extract(paths)}) VIRTUAL"
            for name, (kind, paths) in QUERY_COLUMNS.items()
        )
        statements = [
            f"CREATE TABLE IF NOT EXISTS {t.entries} (seq INTEGER PRIMARY KEY, "
            f"prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL, body TEXT NOT NULL, {generated})",
            f"CREATE TABLE IF NOT EXISTS {t.checkpoints} (seq INTEGER PRIMARY KEY, "
            "head_hash TEXT NOT NULL, at TEXT NOT NULL, key_id TEXT NOT NULL, "
            "public_key TEXT NOT NULL, signature TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t.meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            # Every index costs each append a B-tree insert, and a random key (a pseudonym, a
            # decision id) rewrites a whole 16 KiB page per entry at commit. So only searches
            # that need one get one: by person, and by decision id among the entries reviews
            # look up (break-glass decisions and reviews). Searches by requester compare two
            # columns and scan newest first whatever is indexed.
            f'CREATE INDEX IF NOT EXISTS "{self._prefix}entries_person" ON {t.entries} (person)',
            f'CREATE INDEX IF NOT EXISTS "{self._prefix}entries_reviewable" '
            f"ON {t.entries} (decision_id) WHERE {REVIEWABLE.format(true='1')}",
        ]
        with _transaction(self._conn):
            # A trail made by an earlier version keeps the indexes it has (more of them);
            # every query works with either set.
            if self._has_schema():
                return
            for statement in statements:
                self._conn.execute(statement)

    def _has_schema(self) -> bool:
        found = self._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            (f"{self._prefix}entries",),
        ).fetchone()
        return bool(found and found[0])

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        with self._writer_lock():
            return self._append(bodies, due)

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """Hold the lock file that serialises appending processes. The kernel releases it if
        its holder dies, so a killed worker never leaves the others locked out."""
        if self._lock_fd is None:
            try:
                self._lock_fd = os.open(f"{self._path}-lock", os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                message = f"{self.description}: cannot open its lock file: {exc}"
                raise AuditWriteError(message) from exc
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        # Under the lock file the stored head cannot move, so read it and insert in one
        # statement (its own durable transaction). A writer that ignores the lock file can
        # still move it: then the sequence numbers collide, nothing is written, and the batch
        # is re-chained on the new head.
        for _ in range(MAX_RETRIES):
            try:
                return [row.seq for row in self._insert(self._read_head(), bodies, due)]
            except sqlite3.IntegrityError:
                continue
        raise AuditWriteError(f"{self.description}: other writers kept the head moving")

    def _insert(self, head: Head, bodies: Sequence[str], due: CheckpointDue) -> list[ChainRow]:
        rows = link(head, bodies)
        # One multi-row statement: one call into SQLite (one release of the GIL, whose
        # re-acquisition is slow when many threads are busy) per batch, not one per entry.
        values = ", ".join(["(?, ?, ?, ?)"] * len(rows))
        insert = f"INSERT INTO {self._tables.entries} (seq, prev_hash, entry_hash, body) VALUES "
        params = [f for r in rows for f in (r.seq, r.prev_hash, r.entry_hash, r.body)]
        checkpoint = due(head.seq, rows[-1].seq, rows[-1].entry_hash)
        if checkpoint is None:
            self._conn.execute(insert + values, params)
        else:
            with _transaction(self._conn):
                self._conn.execute(insert + values, params)
                self._insert_checkpoint(checkpoint)
        return rows

    def _read_head(self) -> Head:
        row = self._conn.execute(HEAD_SQL.format(entries=self._tables.entries)).fetchone()
        return Head(row[0], row[1]) if row else Head()

    def checkpoint_head(self, sign: Signer) -> Checkpoint | None:
        with _transaction(self._conn):
            head = self._read_head()
            if head.seq == 0:
                return None
            existing = self._conn.execute(
                f"SELECT {CHECKPOINT_COLUMNS} FROM {self._tables.checkpoints} WHERE seq = ?",
                (head.seq,),
            ).fetchone()
            if existing is not None:
                return checkpoint_from(existing)
            checkpoint = sign(head.seq, head.entry_hash)
            self._insert_checkpoint(checkpoint)
            return checkpoint

    def _insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._conn.execute(
            f"INSERT OR IGNORE INTO {self._tables.checkpoints} ({CHECKPOINT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            checkpoint_values(checkpoint),
        )

    def checkpoints(self) -> list[Checkpoint]:
        with self._reader() as conn:
            found = conn.execute(
                f"SELECT {CHECKPOINT_COLUMNS} FROM {self._tables.checkpoints} ORDER BY seq"
            ).fetchall()
        return [checkpoint_from(row) for row in found]

    def rows(self, first: int = 1, last: int | None = None) -> Iterator[StoredRow]:
        sql = ROWS_SQL.format(entries=self._tables.entries, mark="?", body="CAST(body AS BLOB)")
        with self._reader() as conn:
            cursor = conn.execute(sql, (first, last if last is not None else 2**63 - 1))
            cursor.arraysize = 4096
            while batch := cursor.fetchmany():
                yield from batch

    def last_seq(self) -> int:
        with self._reader() as conn:
            row = conn.execute(LAST_SQL.format(entries=self._tables.entries)).fetchone()
        return int(row[0])

    def select(self, where: Filter, limit: int) -> list[ChainRow]:
        sql, params = select_sql(self._tables, where, "?")
        return self._fetch(sql, [*params, limit])

    def pending_reviews(self) -> list[ChainRow]:
        return self._fetch(_pending_sql(self._tables), [])

    def by_decision(self, decision_id: str, *, reviewable: bool = True) -> list[ChainRow]:
        return self._fetch(by_decision_sql(self._tables, "?", "1", reviewable), [decision_id])

    def _fetch(self, sql: str, params: list[object]) -> list[ChainRow]:
        with self._reader() as conn:
            return [ChainRow(*row) for row in conn.execute(sql, params).fetchall()]

    def keep_meta(self, name: str, value: str) -> str:
        with _transaction(self._conn):
            self._conn.execute(
                f"INSERT OR IGNORE INTO {self._tables.meta} (name, value) VALUES (?, ?)",
                (name, value),
            )
            row = self._conn.execute(
                f"SELECT value FROM {self._tables.meta} WHERE name = ?", (name,)
            ).fetchone()
        return str(row[0])

    def probe(self, *, durable: bool = False) -> None:
        # Take the write lock and insert an entry, then roll back: proves the file, directory,
        # lock and table are all usable without adding anything to the trail.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute(PROBE_ENTRY_SQL.format(entries=self._tables.entries))
        finally:
            self._conn.execute("ROLLBACK")
        if durable:
            # A rolled-back insert never reaches the disk; a committed one shows a full disk.
            with _transaction(self._conn):
                self._conn.execute(
                    f"INSERT OR REPLACE INTO {self._tables.meta} (name, value) VALUES ('probe', ?)",
                    (str(time.time()),),
                )

    def close(self) -> None:
        self._conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _reader(self) -> AbstractContextManager[sqlite3.Connection]:
        return _reader(self._path, self._timeout)


def _extract(paths: tuple[tuple[str, ...], ...]) -> str:
    found = [f"json_extract(body, '$.{'.'.join(path)}')" for path in paths]
    return found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"


def _pending_sql(tables: Tables) -> str:
    """Break-glass decisions with no review, found through the reviewable-entries index alone:
    a decision is pending when it is the only reviewable entry with its id. (The shared
    NOT EXISTS form makes SQLite read every entry: ten seconds on a million.)"""
    reviewable = REVIEWABLE.format(true="1")
    return (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} "
        f"WHERE decision_id IN (SELECT decision_id FROM {tables.entries} WHERE {reviewable} "
        "GROUP BY decision_id HAVING count(*) = 1) "
        "AND break_glass = 1 AND kind = 'decision' ORDER BY seq"
    )


@contextmanager
def _reader(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """A short-lived connection for reads, so queries never wait behind the writer; one read
    transaction, so the rows seen are one consistent snapshot."""
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        # Reading through a memory map avoids a system call per page: verify reads them all.
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (a failed COMMIT included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
