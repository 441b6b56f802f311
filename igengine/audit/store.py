"""Where a trail lives: the store interface both back ends implement, the URL that names a
store, and the SQL they share.

The stored row is (seq, prev_hash, entry_hash, body). Every queryable column (person, requester,
effect, ...) is computed by the database itself from the hashed body (a generated column in
SQLite, a trigger in PostgreSQL), so it cannot be changed on its own to hide an entry from a
query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.entry import ChainRow
from igengine.audit.errors import AuditError
from igengine.audit.verify import StoredRow

# (head seq before the batch, head seq after it, head hash after it) → a checkpoint to store
# in the same transaction, or None.
CheckpointDue = Callable[[int, int, str], Checkpoint | None]
Signer = Callable[[int, str], Checkpoint]

# The query columns the database derives from each body: name → (type, JSON paths tried in
# turn). Decisions hold them in their request and decision; reviews in their review.
QUERY_COLUMNS: dict[str, tuple[Literal["text", "bool"], tuple[tuple[str, ...], ...]]] = {
    "at": ("text", (("at",),)),
    "kind": ("text", (("kind",),)),
    "decision_id": ("text", (("decision", "decision_id"), ("review", "decision_id"))),
    "person": ("text", (("request", "subject", "id"), ("review", "person"))),
    "requester": ("text", (("request", "requester", "id"),)),
    "organisation": ("text", (("request", "requester", "organisation"),)),
    "record_type": ("text", (("request", "record_type"),)),
    "effect": ("text", (("decision", "effect"),)),
    "break_glass": ("bool", (("break_glass",),)),
}
INDEXED = ("person", "decision_id", "requester")
# The entries a retrospective review looks up by decision id; `{true}` is the driver's true.
REVIEWABLE = "(break_glass = {true} OR kind = 'review')"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")


class Store(Protocol):
    """A durable, append-only home for one hash chain."""

    description: str

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        """Chain `bodies` onto the stored head in one transaction, committed durably before
        returning their sequence numbers; appends from other processes are serialised."""
        ...

    def checkpoint_head(self, sign: Signer) -> Checkpoint | None:
        """Sign and store the current head (or return the checkpoint already there)."""
        ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def rows(self, first: int = 1, last: int | None = None) -> Iterator[StoredRow]:
        """The entries numbered `first` to `last` (default: every one) in sequence order,
        streamed on a connection of their own; each body as its UTF-8 bytes."""
        ...

    def last_seq(self) -> int:
        """The highest sequence number stored (0 when empty)."""
        ...

    def select(self, where: Filter, limit: int) -> list[ChainRow]: ...

    def pending_reviews(self) -> list[ChainRow]: ...

    def by_decision(self, decision_id: str, *, reviewable: bool = True) -> list[ChainRow]:
        """The entries about one decision, oldest first. With `reviewable` (the default) only
        a break-glass decision and its reviews, which an index finds fast; without, any
        entry, which may mean reading the whole trail."""
        ...

    def keep_meta(self, name: str, value: str) -> str:
        """Store `value` under `name` unless a value is there; return the stored value."""
        ...

    def probe(self, *, durable: bool = False) -> None:
        """Raise unless an entry could be written now: an entry is inserted (so constraints
        and triggers run) and rolled back. With `durable`, a row is also committed to the
        meta table, so a full disk shows too; the chain is never touched."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Filter:
    """What `query` asks for; `person` is already a pseudonym, times are `timestamp()` text."""

    person: str | None = None
    requester: str | None = None
    record_type: str | None = None
    effect: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class Tables:
    """The (possibly schema-qualified, quoted) names of a trail's three tables."""

    entries: str
    checkpoints: str
    meta: str

    @classmethod
    def named(cls, prefix: str, schema: str | None = None) -> Tables:
        qualify = f'"{schema}".' if schema else ""
        return cls(
            entries=f'{qualify}"{prefix}entries"',
            checkpoints=f'{qualify}"{prefix}checkpoints"',
            meta=f'{qualify}"{prefix}meta"',
        )


@dataclass(frozen=True)
class Location:
    """A parsed store URL. `target` is the SQLite file, or the libpq URL without our options."""

    kind: Literal["sqlite", "postgresql"]
    target: str
    prefix: str
    schema: str | None
    timeout: float


def parse_url(url: str) -> Location:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, a plain file path, or
    `postgresql://user@host:port/db`. Options in the query string: `table_prefix` (both),
    `schema` (PostgreSQL), `timeout` (seconds to wait for a lock; default 5)."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    prefix = _identifier(options.pop("table_prefix", "audit_"), "table_prefix", url)
    schema = options.pop("schema", None)
    timeout = _seconds(options.pop("timeout", "5"), url)
    if parts.scheme in ("postgresql", "postgres"):
        target = urlunsplit(parts._replace(query=urlencode(options)))
        checked = _identifier(schema, "schema", url) if schema is not None else None
        return Location("postgresql", target, prefix, checked, timeout)
    if parts.scheme == "sqlite" or (parts.scheme == "" and parts.path):
        return Location("sqlite", _sqlite_path(url, parts.scheme, options), prefix, None, timeout)
    raise AuditError(
        f"'{url}' is not an audit store URL; use sqlite:///path/to/audit.db or "
        "postgresql://user@host:5432/database"
    )


def _sqlite_path(url: str, scheme: str, leftover: dict[str, str]) -> str:
    if leftover:
        raise AuditError(f"'{url}': unknown SQLite option(s) {', '.join(sorted(leftover))}")
    path = url.split("?", 1)[0]
    if scheme == "sqlite":
        if not path.startswith("sqlite:///"):
            raise AuditError(
                f"'{url}': write sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        path = path.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        raise AuditError(f"'{url}': an audit trail needs a file, not an in-memory database")
    return str(Path(path))


def _identifier(value: str, option: str, url: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise AuditError(
            f"'{url}': {option} '{value}' must be lower-case letters, digits and underscores"
        )
    return value


def _seconds(value: str, url: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise AuditError(f"'{url}': timeout '{value}' must be a number of seconds")
    return seconds


def redact_url(url: str) -> str:
    """`url` fit to print: a password in it (user:password@host, or ?password=...) is
    replaced by ***."""
    parts = urlsplit(url)
    options = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and all(name != "password" for name, _ in options):
        return url  # nothing to hide (and a sqlite:/// URL is kept exactly as written)
    netloc = parts.netloc
    if parts.password is not None:
        host = netloc.rsplit("@", 1)[-1]
        netloc = f"{parts.username or ''}:***@{host}"
    query = urlencode([(k, "***" if k == "password" else v) for k, v in options], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def open_store(url: str, *, create: bool) -> Store:
    """The store a URL names; with `create`, missing files, schemas and tables are made."""
    location = parse_url(url)
    if location.kind == "postgresql":
        from igengine.audit.postgres import PostgresStore

        return PostgresStore(location, create=create)
    from igengine.audit.sqlite import SqliteStore

    return SqliteStore(location, create=create)


def select_sql(tables: Tables, where: Filter, mark: str) -> tuple[str, list[Any]]:
    """The newest matching entries first; `mark` is the driver's placeholder."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("person", where.person),
        ("record_type", where.record_type),
        ("effect", where.effect),
    ):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if where.requester is not None:
        # A requester is named by staff id or by organisation code.
        clauses.append(f"(requester = {mark} OR organisation = {mark})")
        params += [where.requester, where.requester]
    if where.since is not None:
        clauses.append(f"at >= {mark}")
        params.append(where.since)
    if where.until is not None:
        clauses.append(f"at <= {mark}")
        params.append(where.until)
    condition = " AND ".join(clauses) or "1 = 1"
    sql = (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} "
        f"WHERE {condition} ORDER BY seq DESC LIMIT {mark}"
    )
    return sql, params


def pending_sql(tables: Tables, true: str) -> str:
    return (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} AS d "
        f"WHERE d.break_glass = {true} AND d.kind = 'decision' AND NOT EXISTS ("
        f"SELECT 1 FROM {tables.entries} AS r "
        "WHERE r.decision_id = d.decision_id AND r.kind = 'review') ORDER BY d.seq"
    )


def by_decision_sql(tables: Tables, mark: str, true: str, reviewable: bool) -> str:
    # The reviewable condition is written exactly as the SQLite index's, so it is used.
    only = f" AND {REVIEWABLE.format(true=true)}" if reviewable else ""
    return (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} "
        f"WHERE decision_id = {mark}{only} ORDER BY seq"
    )


HEAD_SQL = "SELECT seq, entry_hash FROM {entries} ORDER BY seq DESC LIMIT 1"
# The chain for verification, bodies as UTF-8 bytes (`{body}` is the store's expression for
# that): hashed as they come, with no text decoded and encoded again.
ROWS_SQL = (
    "SELECT seq, prev_hash, entry_hash, {body} FROM {entries} "
    "WHERE seq >= {mark} AND seq <= {mark} ORDER BY seq"
)
LAST_SQL = "SELECT coalesce(max(seq), 0) FROM {entries}"
CHECKPOINT_COLUMNS = "seq, head_hash, at, key_id, public_key, signature"
# The entry a probe inserts and rolls back: below every real sequence number.
PROBE_ENTRY_SQL = (
    "INSERT INTO {entries} (seq, prev_hash, entry_hash, body) VALUES (-1, '', '', '{{}}')"
)


def checkpoint_values(checkpoint: Checkpoint) -> tuple[int, str, str, str, str, str]:
    from igengine.audit.entry import timestamp

    return (
        checkpoint.seq,
        checkpoint.head_hash,
        timestamp(checkpoint.at),
        checkpoint.key_id,
        checkpoint.public_key,
        checkpoint.signature,
    )


def checkpoint_from(row: Sequence[Any]) -> Checkpoint:
    seq, head_hash, at, signer, public_key, signature = row
    return Checkpoint(
        seq=seq,
        head_hash=head_hash,
        at=at,
        key_id=signer,
        public_key=public_key,
        signature=signature,
    )
