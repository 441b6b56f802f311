"""The shared store: PostgreSQL, for several service instances writing one trail.

Appends from every instance are serialised by a transaction-scoped advisory lock: the head is
read, the batch chained and inserted, and the lock released by COMMIT, so the chain never forks
(and the primary key on `seq` would refuse a fork even if it tried). `synchronous_commit` is
forced on, so COMMIT returns only once the entries are on disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import psycopg

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.entry import ChainRow, Head, link
from igengine.audit.errors import AuditError
from igengine.audit.sql import (
    CHECKPOINT_COLUMNS,
    HEAD_SQL,
    INDEXED,
    LAST_SQL,
    PROBE_ENTRY_SQL,
    QUERY_COLUMNS,
    ROWS_SQL,
    Tables,
    by_decision_sql,
    checkpoint_from,
    checkpoint_values,
    pending_sql,
    select_sql,
)
from igengine.audit.store import CheckpointDue, Filter, Signer
from igengine.audit.url import Location
from igengine.audit.verify import StoredRow

Connection = psycopg.Connection[tuple[Any, ...]]


class PostgresStore:
    def __init__(self, location: Location, *, create: bool) -> None:
        self._location = location
        self._tables = Tables.named(location.prefix, location.schema)
        scope = f"{location.schema or 'public'}.{location.prefix}"
        digest = hashlib.sha256(f"igengine audit {scope}".encode()).digest()
        self._lock_key = int.from_bytes(digest[:8], "big", signed=True)
        self.description = f"PostgreSQL {_without_password(location.target)} ({scope}entries)"
        self._conn = self._connect()
        if create:
            self._create_schema()
        elif not self._has_schema():
            raise AuditError(f"{self.description} holds no igengine audit trail")

    def _connect(self, *, autocommit: bool = True) -> Connection:
        try:
            conn = psycopg.connect(
                self._location.target,
                autocommit=autocommit,
                connect_timeout=max(1, round(self._location.timeout)),
            )
        except psycopg.Error as exc:
            raise AuditError(f"cannot connect to {self.description}: {exc}") from None
        # Durability must not depend on the server's defaults; lock waits are bounded so a
        # stuck store fails the decision (closed) rather than hanging it.
        conn.execute("SELECT set_config('synchronous_commit', 'on', false)")
        timeout = f"{round(self._location.timeout * 1000)}ms"
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (timeout,))
        return conn

    def _writer(self) -> Connection:
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _create_schema(self) -> None:
        t, prefix, schema = self._tables, self._location.prefix, self._location.schema
        function = f'"{schema}".' if schema else ""
        function += f'"{prefix}entries_columns"'
        columns = ", ".join(
            f"{name} {'boolean' if kind == 'bool' else 'text'}"
            for name, (kind, _) in QUERY_COLUMNS.items()
        )
        assignments = " ".join(
            f"NEW.{name} := ({_extract(paths)}){'::boolean' if kind == 'bool' else ''};"
            for name, (kind, paths) in QUERY_COLUMNS.items()
        )
        statements = [
            f'CREATE SCHEMA IF NOT EXISTS "{schema}"' if schema else "",
            # Rows up to a page are stored as they are: compressing each body costs more
            # than it saves, and makes every read of the chain decompress it again.
            f"CREATE TABLE IF NOT EXISTS {t.entries} (seq bigint PRIMARY KEY, "
            f"prev_hash text NOT NULL, entry_hash text NOT NULL, body text NOT NULL, {columns}) "
            "WITH (toast_tuple_target = 8160)",
            # The query columns are always recomputed from the hashed body, on insert and on
            # any update, so none can be changed on its own to hide an entry from a query.
            # (One trigger parses the body once; generated columns would parse it per column.)
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"DECLARE j jsonb := NEW.body::jsonb; BEGIN {assignments} RETURN NEW; END $$",
            f'CREATE OR REPLACE TRIGGER "{prefix}entries_columns" BEFORE INSERT OR UPDATE '
            f"ON {t.entries} FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"CREATE TABLE IF NOT EXISTS {t.checkpoints} (seq bigint PRIMARY KEY, "
            "head_hash text NOT NULL, at text NOT NULL, key_id text NOT NULL, "
            "public_key text NOT NULL, signature text NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {t.meta} (name text PRIMARY KEY, value text NOT NULL)",
            *(
                f'CREATE INDEX IF NOT EXISTS "{prefix}entries_{column}" ON {t.entries} ({column})'
                for column in INDEXED
            ),
            f'CREATE INDEX IF NOT EXISTS "{prefix}entries_break_glass" '
            f"ON {t.entries} (decision_id) WHERE break_glass",
        ]
        conn = self._writer()
        # Several instances may start together; the lock keeps their DDL from racing.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            for statement in filter(None, statements):
                conn.execute(statement.encode())

    def _has_schema(self) -> bool:
        row = (
            self._writer()
            .execute("SELECT to_regclass(%s) IS NOT NULL", (self._tables.entries,))
            .fetchone()
        )
        return bool(row and row[0])

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        try:
            return self._append_once(bodies, due)
        except _StaleConnection:
            # The connection died while idle (e.g. a server restart) before anything was
            # sent, so one retry on a fresh connection cannot duplicate an entry.
            return self._append_once(bodies, due)

    def _append_once(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        conn = self._writer()
        t = self._tables
        locked = False
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                locked = True
                head = self._head(conn)
                rows = link(head, bodies)
                # One multi-row statement: one round trip for the whole batch.
                values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
                conn.execute(
                    f"INSERT INTO {t.entries} (seq, prev_hash, entry_hash, body) "
                    f"VALUES {values}".encode(),
                    [f for r in rows for f in (r.seq, r.prev_hash, r.entry_hash, r.body)],
                )
                checkpoint = due(head.seq, rows[-1].seq, rows[-1].entry_hash)
                if checkpoint is not None:
                    self._insert_checkpoint(conn, checkpoint)
        except psycopg.OperationalError as exc:
            if not locked and conn.broken:
                raise _StaleConnection from exc
            raise
        return [row.seq for row in rows]

    def checkpoint_head(self, sign: Signer) -> Checkpoint | None:
        conn = self._writer()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            head = self._head(conn)
            if head.seq == 0:
                return None
            existing = conn.execute(
                f"SELECT {CHECKPOINT_COLUMNS} FROM {self._tables.checkpoints} "
                "WHERE seq = %s".encode(),
                (head.seq,),
            ).fetchone()
            if existing is not None:
                return checkpoint_from(existing)
            checkpoint = sign(head.seq, head.entry_hash)
            self._insert_checkpoint(conn, checkpoint)
            return checkpoint

    def _insert_checkpoint(self, conn: Connection, checkpoint: Checkpoint) -> None:
        conn.execute(
            f"INSERT INTO {self._tables.checkpoints} ({CHECKPOINT_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (seq) DO NOTHING".encode(),
            checkpoint_values(checkpoint),
        )

    def _head(self, conn: Connection) -> Head:
        row = conn.execute(HEAD_SQL.format(entries=self._tables.entries).encode()).fetchone()
        return Head(int(row[0]), str(row[1])) if row else Head()

    def checkpoints(self) -> list[Checkpoint]:
        with self._reader() as conn:
            found = conn.execute(
                f"SELECT {CHECKPOINT_COLUMNS} FROM {self._tables.checkpoints} ORDER BY seq".encode()
            ).fetchall()
        return [checkpoint_from(row) for row in found]

    def rows(self, first: int = 1, last: int | None = None) -> Iterator[StoredRow]:
        body = "convert_to(body, 'UTF8')"
        sql = ROWS_SQL.format(entries=self._tables.entries, mark="%s", body=body)
        with self._reader() as conn, conn.cursor(name="igengine_audit_rows") as cursor:
            # A server-side cursor: the chain streams in batches, never all in memory.
            cursor.itersize = 5000
            cursor.execute(sql.encode(), (first, last if last is not None else 2**63 - 1))
            yield from cast(Iterator[StoredRow], cursor)

    def last_seq(self) -> int:
        with self._reader() as conn:
            row = conn.execute(LAST_SQL.format(entries=self._tables.entries).encode()).fetchone()
        return int(row[0]) if row else 0

    def select(self, where: Filter, limit: int) -> list[ChainRow]:
        sql, params = select_sql(self._tables, where, "%s")
        return self._fetch(sql, [*params, limit])

    def pending_reviews(self) -> list[ChainRow]:
        return self._fetch(pending_sql(self._tables, "true"), [])

    def by_decision(self, decision_id: str, *, reviewable: bool = True) -> list[ChainRow]:
        sql = by_decision_sql(self._tables, "%s", "true", reviewable)
        return self._fetch(sql, [decision_id])

    def _fetch(self, sql: str, params: list[object]) -> list[ChainRow]:
        with self._reader() as conn:
            return [ChainRow(*row) for row in conn.execute(sql.encode(), params).fetchall()]

    def keep_meta(self, name: str, value: str) -> str:
        conn = self._writer()
        with conn.transaction():
            conn.execute(
                f"INSERT INTO {self._tables.meta} (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING".encode(),
                (name, value),
            )
            row = conn.execute(
                f"SELECT value FROM {self._tables.meta} WHERE name = %s".encode(), (name,)
            ).fetchone()
        return str(row[0]) if row else value

    def probe(self, *, durable: bool = False) -> None:
        conn = self._writer()
        # Insert an entry, then roll back: proves the connection, permissions, locks and any
        # trigger on the table all let an entry in, without adding anything.
        with conn.transaction(force_rollback=True):
            conn.execute(PROBE_ENTRY_SQL.format(entries=self._tables.entries).encode())
        if durable:
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO {self._tables.meta} (name, value) VALUES ('probe', now()::text) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value".encode()
                )

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        """A connection of its own for reads, so a long verify never holds up appends."""
        conn = self._connect(autocommit=False)
        try:
            yield conn
        finally:
            conn.close()


def _extract(paths: tuple[tuple[str, ...], ...]) -> str:
    found = [f"j #>> '{{{','.join(path)}}}'" for path in paths]
    return found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"


class _StaleConnection(Exception):
    """The writer's connection was found dead before the append sent anything."""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
