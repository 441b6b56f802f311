"""What an IG lead reads off a trail: decisions over a period by purpose, by requesting
organisation and by effect, the rules behind denies, and the fail-safe denies.

Counted in the database from a **daily tally** the report keeps beside the trail: decisions
per UTC day and (purpose, organisation, effect, deciding rule, fail-safe or not), and the
sequence numbers of fail-safe denies. Before each report, entries appended since the last one
are added to it in one INSERT ... SELECT ... GROUP BY (entries are never changed or removed,
so adding each entry once keeps the tally exact), and the report sums the period's days. So
a year's dashboard over a trail of a million entries reads a few thousand tally rows, and
appending a decision costs nothing more: the tally is made when someone reads it, not on
the write path. The first report over a long trail counts it all once.

Where the tally lives: for SQLite, in its own file beside the trail (`<trail>-report`), so
bringing it up to date never holds the trail's write lock; for PostgreSQL, in tables beside
the trail's (`<prefix>report_days`, ...). It is derived data: deleting it only means the next
report counts the whole trail again. `verify` neither reads nor needs it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from igengine.audit.entry import AuditEntry, ChainRow
from igengine.audit.errors import AuditError
from igengine.audit.sql import Tables
from igengine.audit.url import Location, parse_url

# The fail-safe denies listed on the page (all are counted).
FAILED_LISTED = 50
# A decision lists its deciding rule first (igengine/combine.py), so this is the rule that
# settled it; '' when none did (no agreement covered the request, or a fail-safe deny).
_DAYS_COLUMNS = "day, purpose, organisation, effect, rule, failed"


@dataclass(frozen=True)
class Period:
    """The days `first` to `last`, both included, in UTC."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, days: int) -> Period:
        """The `days` days up to and including `last`."""
        return cls(last - timedelta(days=days - 1), last)

    def day_range(self) -> tuple[str, str]:
        """The first and last day as ISO dates, which compare as text."""
        return self.first.isoformat(), self.last.isoformat()

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class Tally:
    """Decisions with one value (a purpose, an organisation, a rule), by effect."""

    value: str | None
    permit: int
    deny: int

    @property
    def total(self) -> int:
        return self.permit + self.deny


@dataclass(frozen=True)
class Summary:
    """A period's decisions. Tallies are largest first; `deny_rules` counts denies only, by
    deciding rule (None: no rule decided)."""

    period: Period
    by_purpose: list[Tally]
    by_organisation: list[Tally]
    deny_rules: list[Tally]
    failed_count: int
    # The newest fail-safe denies (at most FAILED_LISTED), newest first.
    failed: list[AuditEntry]

    @property
    def permits(self) -> int:
        return sum(t.permit for t in self.by_purpose)

    @property
    def denies(self) -> int:
        return sum(t.deny for t in self.by_purpose)

    @property
    def decisions(self) -> int:
        return self.permits + self.denies

    @property
    def no_agreement(self) -> int:
        """Denies no rule decided: no agreement covered the request (fail-safe denies apart)."""
        unruled = sum(t.deny for t in self.deny_rules if t.value is None)
        return unruled - self.failed_count


class _Tally(Protocol):
    """One back end's daily tally: brought up to date, then read."""

    def catch_up(self) -> int:
        """Add the entries appended since the last call; return how many were added."""
        ...

    def counts(self, period: Period) -> list[tuple[str, str, str, str, bool, int]]:
        """(purpose, organisation, effect, rule, failed, decisions) over the period."""
        ...

    def failed(self, period: Period, limit: int) -> list[ChainRow]: ...


class TrailReport:
    """Reads a trail's report (see the module docstring); a connection per report."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self._tables = Tables.named(location.prefix, location.schema)

    @classmethod
    def open(cls, url: str) -> TrailReport:
        """The report over the trail at `url` (an audit store URL); the trail is only read."""
        return cls(parse_url(url))

    def catch_up(self) -> int:
        """Bring the daily tally up to date; return how many entries were added to it."""
        with self._tally() as tally:
            return tally.catch_up()

    def summary(self, period: Period) -> Summary:
        """The period's decisions, counted (the tally brought up to date first)."""
        with self._tally() as tally:
            tally.catch_up()
            counts = tally.counts(period)
            failed = tally.failed(period, FAILED_LISTED)
        return Summary(
            period=period,
            by_purpose=_tallies(counts, lambda row: row[0]),
            by_organisation=_tallies(counts, lambda row: row[1]),
            deny_rules=_tallies([row for row in counts if row[2] == "deny"], lambda r: r[3]),
            failed_count=sum(row[5] for row in counts if row[4]),
            failed=[AuditEntry.from_row(row) for row in failed],
        )

    @contextmanager
    def _tally(self) -> Iterator[_Tally]:
        if self._location.kind == "postgresql":
            with _postgres_tally(self._location, self._tables) as tally:
                yield tally
        else:
            with _sqlite_tally(self._location, self._tables) as sqlite_tally:
                yield sqlite_tally


Row = tuple[str, str, str, str, bool, int]


def _tallies(rows: Sequence[Row], key: Any) -> list[Tally]:
    """The rows' decisions added up by `key` ('' read as None) and effect, largest first."""
    sums: dict[str, list[int]] = {}
    for row in rows:
        counted = sums.setdefault(key(row), [0, 0])
        counted[0 if row[2] == "permit" else 1] += row[5]
    found = [Tally(value or None, permit, deny) for value, (permit, deny) in sums.items()]
    return sorted(found, key=lambda t: (-t.total, t.value or ""))


def _failed_total(conn: Any, days: str) -> int:
    """Fail-safe denies counted in the tally so far (it is small: a row per day and kind)."""
    row = conn.execute(f"SELECT coalesce(sum(decisions), 0) FROM {days} WHERE failed").fetchone()
    return int(row[0])


def _unreadable(exc: Exception) -> AuditError:
    return AuditError(f"the audit trail's decisions could not be counted: {exc}")


# --- SQLite: the tally in its own file, the trail attached to read ---------------------------


class _SqliteTally:
    def __init__(self, conn: sqlite3.Connection, entries: str) -> None:
        self._conn = conn
        self._entries = f"trail.{entries}"

    def catch_up(self) -> int:
        conn = self._conn
        conn.execute("BEGIN")
        try:
            done = int(conn.execute("SELECT counted_to FROM report_state").fetchone()[0])
            head = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {self._entries}").fetchone()
            last = int(head[0])
            if last > done:
                bounds = (done, last)
                failed_before = _failed_total(conn, "report_days")
                conn.execute(_SQLITE_ADD_DAYS.format(entries=self._entries), bounds)
                # Fail-safe denies are rare: the entries are read again only when some came.
                if _failed_total(conn, "report_days") > failed_before:
                    conn.execute(_SQLITE_ADD_FAILED.format(entries=self._entries), bounds)
                conn.execute("UPDATE report_state SET counted_to = ?", (last,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return last - done if last > done else 0

    def counts(self, period: Period) -> list[Row]:
        found = self._conn.execute(
            _COUNTS_SQL.format(days="report_days", mark="?"), period.day_range()
        )
        return [(p, o, e, r, bool(f), int(n)) for p, o, e, r, f, n in found.fetchall()]

    def failed(self, period: Period, limit: int) -> list[ChainRow]:
        found = self._conn.execute(
            f"SELECT e.seq, e.prev_hash, e.entry_hash, e.body FROM report_failed AS f "
            f"JOIN {self._entries} AS e ON e.seq = f.seq WHERE f.day >= ? AND f.day <= ? "
            "ORDER BY f.seq DESC LIMIT ?",
            (*period.day_range(), limit),
        )
        return [ChainRow(*row) for row in found.fetchall()]


def _json(path: str) -> str:
    return f"json_extract(body, '{path}')"


# Entries seq in (?, ?]; the trail's own generated columns give the time, organisation, kind
# and effect; purpose, deciding rule and error are read from the body here.
_SQLITE_ADD_DAYS = (
    f"INSERT INTO report_days ({_DAYS_COLUMNS}, decisions) "
    f"SELECT substr(at, 1, 10), coalesce({_json('$.request.purpose')}, ''), "
    f"coalesce(organisation, ''), effect, coalesce({_json('$.decision.rules[0].id')}, ''), "
    f"{_json('$.decision.error')} IS NOT NULL, count(*) "
    "FROM {entries} WHERE seq > ? AND seq <= ? AND kind = 'decision' "
    "GROUP BY 1, 2, 3, 4, 5, 6 "
    f"ON CONFLICT ({_DAYS_COLUMNS}) DO UPDATE SET decisions = decisions + excluded.decisions"
)
_SQLITE_ADD_FAILED = (
    "INSERT OR IGNORE INTO report_failed (seq, day) SELECT seq, substr(at, 1, 10) "
    f"FROM {{entries}} WHERE seq > ? AND seq <= ? AND kind = 'decision' "
    f"AND {_json('$.decision.error')} IS NOT NULL"
)
_COUNTS_SQL = (
    "SELECT purpose, organisation, effect, rule, failed, sum(decisions) FROM {days} "
    "WHERE day >= {mark} AND day <= {mark} GROUP BY purpose, organisation, effect, rule, failed"
)
_TALLY_SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS {{days}} (day TEXT NOT NULL, purpose TEXT NOT NULL, "
    "organisation TEXT NOT NULL, effect TEXT NOT NULL, rule TEXT NOT NULL, "
    f"failed BOOLEAN NOT NULL, decisions BIGINT NOT NULL, PRIMARY KEY ({_DAYS_COLUMNS}))",
    "CREATE TABLE IF NOT EXISTS {failed} (seq BIGINT PRIMARY KEY, day TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {state} (counted_to BIGINT NOT NULL)",
]


_SQLITE_NAMES = {"days": "report_days", "failed": "report_failed", "state": "report_state"}


@contextmanager
def _sqlite_tally(location: Location, tables: Tables) -> Iterator[_SqliteTally]:
    trail = Path(location.target)
    if not trail.exists():
        raise AuditError(f"there is no audit trail at {trail}")
    path = Path(f"{trail}-report")
    # One report brings the tally up to date at a time (other workers wait for it here), so
    # no entry is added twice.
    lock = os.open(f"{path}-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = sqlite3.connect(path, timeout=location.timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in _TALLY_SCHEMA:
                conn.execute(
                    statement.format(
                        days="report_days", failed="report_failed", state="report_state"
                    )
                )
            conn.execute(
                "INSERT INTO report_state SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM report_state)"
            )
            # Only read: a deferred transaction takes the trail's read snapshot, never its
            # write lock, so the trail's writers are not held up.
            conn.execute("ATTACH DATABASE ? AS trail", (str(trail),))
            conn.execute(f"PRAGMA trail.mmap_size={2**31}")
            yield _SqliteTally(conn, tables.entries)
        except sqlite3.Error as exc:
            raise _unreadable(exc) from exc
        finally:
            conn.close()
    finally:
        os.close(lock)


# --- PostgreSQL: the tally in tables beside the trail's ---------------------------------------


class _PostgresTally:
    def __init__(self, conn: Any, tables: Tables, names: dict[str, str], lock_key: int) -> None:
        self._conn = conn
        self._entries = tables.entries
        self._names = names
        self._lock_key = lock_key

    def catch_up(self) -> int:
        conn, n = self._conn, self._names
        with conn.transaction():
            # One report brings the tally up to date at a time, so no entry is added twice.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            done = int(conn.execute(f"SELECT counted_to FROM {n['state']}".encode()).fetchone()[0])
            head = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {self._entries}".encode())
            last = int(head.fetchone()[0])
            if last <= done:
                return 0
            bounds = (done, last)
            failed_before = _failed_total(conn, n["days"])
            conn.execute(_POSTGRES_ADD_DAYS.format(entries=self._entries, **n).encode(), bounds)
            # Fail-safe denies are rare: the entries are read again only when some came.
            if _failed_total(conn, n["days"]) > failed_before:
                sql = _POSTGRES_ADD_FAILED.format(entries=self._entries, **n)
                conn.execute(sql.encode(), bounds)
            conn.execute(f"UPDATE {n['state']} SET counted_to = %s".encode(), (last,))
        return last - done

    def counts(self, period: Period) -> list[Row]:
        sql = _COUNTS_SQL.format(days=self._names["days"], mark="%s")
        found = self._conn.execute(sql.encode(), period.day_range()).fetchall()
        return [(p, o, e, r, bool(f), int(c)) for p, o, e, r, f, c in found]

    def failed(self, period: Period, limit: int) -> list[ChainRow]:
        found = self._conn.execute(
            f"SELECT e.seq, e.prev_hash, e.entry_hash, e.body FROM {self._names['failed']} AS f "
            f"JOIN {self._entries} AS e ON e.seq = f.seq WHERE f.day >= %s AND f.day <= %s "
            "ORDER BY f.seq DESC LIMIT %s".encode(),
            (*period.day_range(), limit),
        ).fetchall()
        return [ChainRow(*row) for row in found]


_POSTGRES_ADD_DAYS = (
    f"INSERT INTO {{days}} ({_DAYS_COLUMNS}, decisions) "
    "SELECT left(at, 10), coalesce(j #>> '{{request,purpose}}', ''), coalesce(organisation, ''), "
    "effect, coalesce(j #>> '{{decision,rules,0,id}}', ''), "
    "(j #>> '{{decision,error}}') IS NOT NULL, count(*) "
    "FROM (SELECT at, organisation, effect, body::jsonb AS j FROM {entries} "
    "WHERE seq > %s AND seq <= %s AND kind = 'decision') AS added "
    "GROUP BY 1, 2, 3, 4, 5, 6 "
    f"ON CONFLICT ({_DAYS_COLUMNS}) DO UPDATE SET decisions = {{days}}.decisions + "
    "excluded.decisions"
)
_POSTGRES_ADD_FAILED = (
    "INSERT INTO {failed} (seq, day) SELECT seq, left(at, 10) FROM {entries} "
    "WHERE seq > %s AND seq <= %s AND kind = 'decision' "
    "AND (body::jsonb #>> '{{decision,error}}') IS NOT NULL ON CONFLICT (seq) DO NOTHING"
)


@contextmanager
def _postgres_tally(location: Location, tables: Tables) -> Iterator[_PostgresTally]:
    import hashlib

    import psycopg

    qualify = f'"{location.schema}".' if location.schema else ""
    names = {
        name: f'{qualify}"{location.prefix}report_{name}"' for name in ("days", "failed", "state")
    }
    scope = f"{location.schema or 'public'}.{location.prefix}"
    digest = hashlib.sha256(f"igengine report {scope}".encode()).digest()
    lock_key = int.from_bytes(digest[:8], "big", signed=True)
    try:
        conn = psycopg.connect(
            location.target, autocommit=True, connect_timeout=max(1, round(location.timeout))
        )
    except psycopg.Error as exc:
        raise _unreadable(exc) from None
    try:
        found = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (tables.entries,)).fetchone()
        if not (found and found[0]):
            raise AuditError("the PostgreSQL database holds no igengine audit trail")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
            for statement in _TALLY_SCHEMA:
                conn.execute(statement.format(**names).encode())
            conn.execute(
                f"INSERT INTO {names['state']} SELECT 0 WHERE NOT EXISTS "
                f"(SELECT 1 FROM {names['state']})".encode()
            )
        yield _PostgresTally(conn, tables, names, lock_key)
    except psycopg.Error as exc:
        raise _unreadable(exc) from exc
    finally:
        conn.close()
