"""What an IG lead reads off a trail: decisions over a period by purpose, by requesting
organisation and by effect, the rules behind denies, and the fail-safe denies.

Counted in the database, from indexes alone, so a page over a trail of a million entries loads
in a fraction of a second. Each index leads with the value counted (purpose, organisation,
deciding rule), then the effect, then the time, so "how many denies for direct care in March"
is one index range; SQLite (before 3.41) reads the table row for any column it is asked to
*return* from a virtual column's index, but not for one it only *compares*, so every number is
a `count(*)` over an equality on each value, never a GROUP BY. The distinct values are found by
skipping through the same index (a loose index scan), so values from older packs are counted
too.

Both back ends create these indexes, on new trails and on opening an existing one for writing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

from igengine.audit.entry import AuditEntry, ChainRow
from igengine.audit.errors import AuditError
from igengine.audit.store import Location, Tables, parse_url

# name suffix → (columns, the partial index's condition or ""). Each leads with the value
# counted, so appends land on a handful of hot index pages rather than random ones.
REPORT_INDEXES: dict[str, tuple[tuple[str, ...], str]] = {
    "by_purpose": (("purpose", "effect", "at"), ""),
    "by_organisation": (("organisation", "effect", "at"), ""),
    # Only denies are counted by rule, so only they are indexed by it.
    "deny_by_rule": (("rule", "at"), "effect = 'deny'"),
    "failed": (("at",), "error IS NOT NULL"),
}
EFFECTS = ("permit", "deny")
# The fail-safe denies listed on the page (all are counted).
FAILED_LISTED = 50


def report_index_sql(tables: Tables, prefix: str) -> list[str]:
    """CREATE INDEX IF NOT EXISTS statements for the report's indexes (both back ends)."""
    statements = []
    for name, (columns, condition) in REPORT_INDEXES.items():
        where = f" WHERE {condition}" if condition else ""
        statements.append(
            f'CREATE INDEX IF NOT EXISTS "{prefix}entries_{name}" '
            f"ON {tables.entries} ({', '.join(columns)}){where}"
        )
    return statements


@dataclass(frozen=True)
class Period:
    """The days `first` to `last`, both included, in UTC."""

    first: date
    last: date

    @classmethod
    def ending(cls, last: date, days: int) -> Period:
        """The `days` days up to and including `last`."""
        return cls(last - timedelta(days=days - 1), last)

    def bounds(self) -> tuple[str, str]:
        """[start, end) as stored times (see `entry.timestamp`), which compare as text."""
        end = self.last + timedelta(days=1)
        return f"{self.first.isoformat()}T00:00:00.000000Z", f"{end.isoformat()}T00:00:00.000000Z"

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
    """A period's decisions. Tallies are largest first; `rules` counts denies only."""

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


class _Reader(Protocol):
    mark: str

    def scalar(self, sql: str, params: Sequence[Any]) -> Any: ...

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...


class TrailReport:
    """Reads a trail's report (see the module docstring); opens a connection per report."""

    def __init__(self, location: Location) -> None:
        self._location = location
        self._tables = Tables.named(location.prefix, location.schema)

    @classmethod
    def open(cls, url: str) -> TrailReport:
        """The report over the trail at `url` (an audit store URL; nothing is written)."""
        return cls(parse_url(url))

    def summary(self, period: Period) -> Summary:
        """The period's decisions, counted."""
        with self._reader() as reader:
            counts = _Counts(reader, self._tables.entries, period)
            failed_rows = reader.rows(
                f"SELECT seq, prev_hash, entry_hash, body FROM {self._tables.entries} "
                f"WHERE error IS NOT NULL AND at >= {reader.mark} AND at < {reader.mark} "
                f"ORDER BY at DESC LIMIT {FAILED_LISTED}",
                period.bounds(),
            )
            return Summary(
                period=period,
                by_purpose=counts.tallies("purpose"),
                by_organisation=counts.tallies("organisation"),
                deny_rules=counts.tallies("rule", effects=("deny",)),
                failed_count=counts.failed(),
                failed=[AuditEntry.from_row(ChainRow(*row)) for row in failed_rows],
            )

    @contextmanager
    def _reader(self) -> Iterator[_Reader]:
        if self._location.kind == "postgresql":
            with _postgres_reader(self._location) as reader:
                yield reader
        else:
            with _sqlite_reader(self._location) as sqlite_reader:
                yield sqlite_reader


class _Counts:
    """The `count(*)`s of one period, each answered from an index alone."""

    def __init__(self, reader: _Reader, entries: str, period: Period) -> None:
        self._reader = reader
        self._entries = entries
        self._bounds = period.bounds()

    def tallies(self, column: str, effects: Sequence[str] = EFFECTS) -> list[Tally]:
        """One tally per value of `column` with any decision in the period, largest first;
        a value of None (no rule decided) is kept when it has any."""
        found = []
        for value in [*self._values(column, effects), None]:
            counted = {effect: self._count(column, value, effect) for effect in effects}
            tally = Tally(value, counted.get("permit", 0), counted.get("deny", 0))
            if tally.total:
                found.append(tally)
        return sorted(found, key=lambda t: (-t.total, t.value or ""))

    def failed(self) -> int:
        mark = self._reader.mark
        sql = (
            f"SELECT count(*) FROM {self._entries} "
            f"WHERE error IS NOT NULL AND at >= {mark} AND at < {mark}"
        )
        return int(self._reader.scalar(sql, self._bounds))

    def _values(self, column: str, effects: Sequence[str]) -> Iterator[str]:
        """Every value `column` takes in the whole trail (among entries with one of
        `effects`), by skipping through its index."""
        mark = self._reader.mark
        among = _effect_test(effects)
        value = self._reader.scalar(f"SELECT min({column}) FROM {self._entries} WHERE {among}", ())
        while value is not None:
            yield str(value)
            value = self._reader.scalar(
                f"SELECT min({column}) FROM {self._entries} WHERE {among} AND {column} > {mark}",
                (value,),
            )

    def _count(self, column: str, value: str | None, effect: str) -> int:
        mark = self._reader.mark
        test = f"{column} IS NULL" if value is None else f"{column} = {mark}"
        # The effect is written into the SQL, not passed as a parameter, so that the
        # denies-only index (whose condition is `effect = 'deny'`) can answer it.
        sql = (
            f"SELECT count(*) FROM {self._entries} WHERE {test} AND {_effect_test([effect])} "
            f"AND at >= {mark} AND at < {mark}"
        )
        params = [*([] if value is None else [value]), *self._bounds]
        return int(self._reader.scalar(sql, params))


def _effect_test(effects: Sequence[str]) -> str:
    """`effect = 'deny'` (as a partial index's condition is written), or, for both effects,
    no test at all: only decisions have an effect, and the values counted."""
    if set(effects) == set(EFFECTS):
        return "1 = 1"
    [effect] = effects
    assert effect in EFFECTS  # written into SQL: only the two codes
    return f"effect = '{effect}'"


class _SqliteReader:
    mark = "?"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def scalar(self, sql: str, params: Sequence[Any]) -> Any:
        row = self._conn.execute(sql, tuple(params)).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql, tuple(params)).fetchall())


@contextmanager
def _sqlite_reader(location: Location) -> Iterator[_SqliteReader]:
    if not Path(location.target).exists():
        raise AuditError(f"there is no audit trail at {location.target}")
    conn = sqlite3.connect(location.target, timeout=location.timeout, isolation_level=None)
    try:
        conn.execute("PRAGMA mmap_size=2147483648")
        # One snapshot for every count of the report.
        conn.execute("BEGIN")
        yield _SqliteReader(conn)
    except sqlite3.Error as exc:
        raise _unreadable(exc) from exc
    finally:
        conn.close()


def _unreadable(exc: Exception) -> AuditError:
    return AuditError(
        f"the audit trail could not be counted ({exc}); if it was made by an earlier "
        "version, start the service (or open it for writing) once to add what the "
        "dashboard needs"
    )


class _PostgresReader:
    mark = "%s"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def scalar(self, sql: str, params: Sequence[Any]) -> Any:
        row = self._conn.execute(sql.encode(), list(params)).fetchone()
        return row[0] if row else None

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql.encode(), list(params)).fetchall())


@contextmanager
def _postgres_reader(location: Location) -> Iterator[_PostgresReader]:
    import psycopg

    try:
        conn = psycopg.connect(location.target, connect_timeout=max(1, round(location.timeout)))
    except psycopg.Error as exc:
        raise AuditError(f"cannot read the audit trail: {exc}") from None
    try:
        # One snapshot for every count of the report.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield _PostgresReader(conn)
    except psycopg.Error as exc:
        raise _unreadable(exc) from exc
    finally:
        conn.close()
