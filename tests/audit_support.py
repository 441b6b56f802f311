"""Shared set-up for the audit trail tests: stores (SQLite, and PostgreSQL when a server
answers), trails with their keys, realistic requests, and a tamperer that edits a store the way
someone with database access would."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest

from igengine import Engine
from igengine.audit import AuditTrail
from igengine.audit.entry import chain_hash
from igengine.audit.sql import Tables
from igengine.audit.url import parse_url

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
POSTGRES_ENV = "IGENGINE_TEST_POSTGRES"
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_base() -> str:
    """The PostgreSQL server for tests. With IGENGINE_TEST_POSTGRES set (as CI does) an
    unreachable server fails the tests; without it, they are skipped with the reason."""
    url = os.environ.get(POSTGRES_ENV) or POSTGRES_DEFAULT
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        if os.environ.get(POSTGRES_ENV):
            pytest.fail(f"{POSTGRES_ENV}={url} is set but PostgreSQL does not answer: {exc}")
        pytest.skip(
            f"no PostgreSQL server answers at {url} ({str(exc).strip()}); set "
            f"{POSTGRES_ENV} to a server's URL to run the PostgreSQL audit store tests"
        )
    return url


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_directory(POLICIES)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each kind (a unique PostgreSQL schema, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/audit.db"
        return
    base = postgres_base()
    schema = f"igengine_test_{uuid.uuid4().hex[:12]}"
    yield f"{base}?schema={schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def open_trail(url: str, keys: Path, **options: Any) -> AuditTrail:
    """A trail with an HMAC key and a signing key kept in `keys`."""
    options.setdefault("signing_key_path", keys / "signing.key")
    return AuditTrail.open(url, hmac_key_path=keys / "hmac.key", **options)


def capacity_request(
    person: str | None = None,
    *,
    staff: str | None = "sw-17",
    role: str = "social_worker",
    organisation: str = "NGCC",
    record_type: str = "capacity_assessment",
    care_team: bool = True,
    justification: str | None = None,
) -> dict[str, Any]:
    """Scenario 1 (permitted for the care team, denied otherwise), with optional ids."""
    subject: dict[str, Any] = {"relationship": "care_team" if care_team else "none"}
    if person is not None:
        subject["id"] = person
    requester: dict[str, Any] = {"role": role, "organisation": organisation}
    if staff is not None:
        requester["id"] = staff
    request: dict[str, Any] = {
        "requester": requester,
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": record_type,
        "subject": subject,
    }
    if justification is not None:
        request["justification"] = justification
    return request


def break_glass_request(person: str | None = None) -> dict[str, Any]:
    """A ward nurse opening a GP summary for an unconscious patient (emergency protocol)."""
    subject: dict[str, Any] = {"has_capacity": False}
    if person is not None:
        subject["id"] = person
    return {
        "requester": {"role": "ward_nurse", "organisation": "RNG", "id": "wn-3"},
        "holder": {"organisation": "NG001"},
        "purpose": "emergency_care",
        "record_type": "gp_summary",
        "subject": subject,
        "justification": "unconscious in ED, need current medication",
    }


class Tamper:
    """Edits a trail's rows directly in its database, as an insider with access might."""

    def __init__(self, url: str) -> None:
        location = parse_url(url)
        self.entries = Tables.named(location.prefix, location.schema).entries
        self._sqlite = location.kind == "sqlite"
        self._conn: Any
        if self._sqlite:
            self._conn = sqlite3.connect(location.target, isolation_level=None)
        else:
            self._conn = psycopg.connect(location.target, autocommit=True)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        sql = sql.replace("{entries}", self.entries)
        if not self._sqlite:
            sql = sql.replace("?", "%s")
        cursor = self._conn.execute(sql, params)
        with suppress(Exception):
            return list(cursor.fetchall())
        return []

    def row(self, seq: int) -> tuple[int, str, str, str]:
        found = self.execute(
            "SELECT seq, prev_hash, entry_hash, body FROM {entries} WHERE seq = ?", (seq,)
        )
        return found[0]

    def modify(self, seq: int) -> None:
        """Change who asked, leaving the hash alone."""
        self.execute(
            "UPDATE {entries} SET body = replace(body, '\"NGCC\"', '\"RNC\"') WHERE seq = ?",
            (seq,),
        )

    def delete(self, seq: int) -> None:
        self.execute("DELETE FROM {entries} WHERE seq = ?", (seq,))

    def insert(self, seq: int) -> None:
        """Make room at `seq` and insert a forged entry there, correctly hashed and linked
        to its predecessor: the most careful forgery possible without the signing key."""
        self._shift_from(seq)
        _, _, prev_hash, body = self.row(seq - 1)
        forged = body.replace('"NGCC"', '"RNC"')
        self.execute(
            "INSERT INTO {entries} (seq, prev_hash, entry_hash, body) VALUES (?, ?, ?, ?)",
            (seq, prev_hash, chain_hash(seq, prev_hash, forged), forged),
        )

    def reorder(self, seq: int) -> None:
        """Swap the entries at `seq` and `seq + 1`."""
        self.execute("UPDATE {entries} SET seq = -1 WHERE seq = ?", (seq,))
        self.execute("UPDATE {entries} SET seq = ? WHERE seq = ?", (seq, seq + 1))
        self.execute("UPDATE {entries} SET seq = ? WHERE seq = -1", (seq + 1,))

    def truncate(self, keep: int) -> None:
        self.execute("DELETE FROM {entries} WHERE seq > ?", (keep,))

    def rewrite_from(self, seq: int) -> None:
        """Modify `seq` and recompute every later hash, so the chain is consistent again."""
        self.modify(seq)
        prev = self.row(seq - 1)[2]
        rows = self.execute("SELECT seq, body FROM {entries} WHERE seq >= ? ORDER BY seq", (seq,))
        for number, body in rows:
            entry_hash = chain_hash(number, prev, body)
            self.execute(
                "UPDATE {entries} SET prev_hash = ?, entry_hash = ? WHERE seq = ?",
                (prev, entry_hash, number),
            )
            prev = entry_hash

    def _shift_from(self, seq: int) -> None:
        # Through negative numbers, so no intermediate state collides on the primary key.
        self.execute("UPDATE {entries} SET seq = -seq - 1 WHERE seq >= ?", (seq,))
        self.execute("UPDATE {entries} SET seq = -seq WHERE seq < 0")

    def close(self) -> None:
        self._conn.close()


def decide_in_this_process(url: str, keys: Path, tag: str, count: int) -> list[str]:
    """Run in a child process: `count` audited decisions from four threads on one trail;
    returns the ids of the decisions it was given (each one reported durable)."""
    trail = open_trail(url, keys)
    audited = Engine(Engine.from_directory(POLICIES).pack, audit=trail)
    given: list[str] = []

    def decide(thread: int) -> None:
        for number in range(thread, count, 4):
            decision = audited.decide(capacity_request(f"{tag}-{number}"))
            assert decision.error is None, decision.error
            given.append(decision.decision_id)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trail.close()
    return given


def delete_checkpoints_after(tamperer: Tamper, seq: int) -> None:
    checkpoints = tamperer.entries.replace("entries", "checkpoints")
    tamperer.execute(f"DELETE FROM {checkpoints} WHERE seq > ?", (seq,))


def append_forged(tamperer: Tamper, at: str) -> int:
    """Append an entry at the end, correctly hashed and linked, recorded at `at`: the most
    careful forgery possible without the signing key. Returns its sequence number."""
    [(last,)] = tamperer.execute("SELECT max(seq) FROM {entries}")
    _, _, prev_hash, body = tamperer.row(last)
    old_at = json.loads(body)["at"]
    forged = body.replace('"NGCC"', '"RNC"').replace(f'"at":"{old_at}"', f'"at":"{at}"')
    tamperer.execute(
        "INSERT INTO {entries} (seq, prev_hash, entry_hash, body) VALUES (?, ?, ?, ?)",
        (last + 1, prev_hash, chain_hash(last + 1, prev_hash, forged), forged),
    )
    return int(last) + 1
