"""The audit trail as the engine and auditors use it: pseudonymised, fail-closed, safe under
concurrency, searchable, with break-glass reviews; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import multiprocessing
import sqlite3
import stat
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from audit_support import (
    Tamper,
    break_glass_request,
    capacity_request,
    decide_in_this_process,
    engine,
    open_trail,
    postgres_base,
    store_url,
)
from typer.testing import CliRunner

from igengine import Engine
from igengine.audit import AuditError, AuditTrail
from igengine.audit.entry import timestamp
from igengine.audit.sql import QUERY_COLUMNS
from igengine.audit.sqlite import _extract
from igengine.audit.url import parse_url
from igengine.cli import app

__all__ = ["engine", "store_url"]  # fixtures used by name below

NHS_NUMBER = "9434765919"


def _audited(engine: Engine, trail: AuditTrail) -> Engine:
    return Engine(engine.pack, audit=trail)


def _stored_text(url: str, tmp_path: Path) -> bytes:
    """Every byte the store holds: the SQLite files, or every PostgreSQL row as text."""
    location = parse_url(url)
    if location.kind == "sqlite":
        return b"".join(path.read_bytes() for path in tmp_path.glob("audit.db*"))
    tamperer = Tamper(url)
    tables = [tamperer.entries.replace("entries", name) for name in ("entries", "checkpoints")]
    text = "".join(
        str(row[0])
        for table in tables
        for row in tamperer.execute(f"SELECT t::text FROM {table} t")
    )
    tamperer.close()
    return text.encode()


def test_subject_identifiers_are_stored_only_as_keyed_pseudonyms(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    trail = open_trail(store_url, tmp_path)
    decision = _audited(engine, trail).decide(
        capacity_request(
            NHS_NUMBER, justification=f"NHS {NHS_NUMBER} needs a best interests meeting"
        )
    )
    assert decision.error is None and decision.permitted
    key = (tmp_path / "hmac.key").read_bytes()
    expected = hmac.new(key, NHS_NUMBER.encode(), hashlib.sha256).hexdigest()

    assert trail.pseudonym(NHS_NUMBER) == expected
    [entry] = trail.query(person="943 476 5919")  # spacing is formatting, not identity
    assert entry.person == expected
    assert entry.request is not None and entry.request["subject"]["id"] == expected
    assert NHS_NUMBER not in entry.request["justification"]
    assert entry.requester == "sw-17"  # staff are named: auditors must know who asked
    trail.close()

    stored = _stored_text(store_url, tmp_path)
    assert expected.encode() in stored
    assert NHS_NUMBER.encode() not in stored


def test_pseudonymisation_key_is_private_and_a_different_key_is_refused(
    store_url: str, tmp_path: Path
) -> None:
    open_trail(store_url, tmp_path).close()
    for name in ("hmac.key", "signing.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert (tmp_path / "signing.key.pub").read_text().startswith("-----BEGIN PUBLIC KEY")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(AuditError, match="not the pseudonymisation key"):
        AuditTrail.open(store_url, hmac_key_path=other / "hmac.key")


def test_a_person_cannot_be_recorded_without_a_pseudonymisation_key(
    tmp_path: Path, engine: Engine
) -> None:
    trail = AuditTrail.open(f"sqlite:///{tmp_path}/audit.db")
    decision = _audited(engine, trail).decide(capacity_request(NHS_NUMBER))
    assert not decision.permitted
    assert decision.error is not None and "pseudonymisation key" in decision.error
    assert trail.verify().entries == 0
    trail.close()


def _block_writes(url: str) -> sqlite3.Connection | psycopg.Connection[tuple[object, ...]]:
    """Another session takes the store's write lock and holds it until rolled back."""
    location = parse_url(url)
    if location.kind == "sqlite":
        conn = sqlite3.connect(location.target, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        return conn
    tamperer = Tamper(url)
    pg = psycopg.connect(location.target)
    pg.execute(f"LOCK TABLE {tamperer.entries} IN ACCESS EXCLUSIVE MODE".encode())
    tamperer.close()
    return pg


def test_when_the_store_cannot_be_written_decide_fails_closed(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    url = f"{store_url}{'&' if '?' in store_url else '?'}timeout=0.2"
    trail = open_trail(url, tmp_path)
    audited = _audited(engine, trail)
    assert audited.decide(capacity_request("p-1")).permitted
    assert trail.writable()

    blocker = _block_writes(url)
    try:
        refused = audited.decide(capacity_request("p-2"))
        writable_while_blocked = trail.writable()
    finally:
        blocker.rollback()
        blocker.close()
    assert refused.effect == "deny" and not refused.permitted
    assert refused.error is not None and "audit trail could not be written" in refused.error
    assert not writable_while_blocked

    assert audited.decide(capacity_request("p-4")).permitted
    assert trail.writable()
    report = trail.verify()
    assert report.ok and report.entries == 2  # nothing recorded was lost; nothing half-written
    assert [e.person for e in trail.query()] == [trail.pseudonym("p-1"), trail.pseudonym("p-4")]
    trail.close()


def test_an_unreachable_postgresql_store_is_reported_when_opened(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="cannot connect"):
        AuditTrail.open("postgresql://postgres@127.0.0.1:1/test?timeout=1")


def test_concurrent_appends_from_eight_threads_keep_one_valid_chain(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    trail = open_trail(store_url, tmp_path, checkpoint_every=25)
    audited = _audited(engine, trail)
    errors: list[str] = []

    def decide_many(worker: int) -> None:
        for number in range(40):
            decision = audited.decide(capacity_request(f"w{worker}-{number}"))
            if decision.error:
                errors.append(decision.error)

    threads = [threading.Thread(target=decide_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trail.close()
    assert errors == []
    with AuditTrail.open(store_url, create=False) as reopened:
        report = reopened.verify(public_key_path=tmp_path / "signing.key.pub")
        people = {entry.person for entry in reopened.query(limit=1000)}
    assert report.ok, report.problem
    assert report.entries == 320 and report.checkpoints >= 12
    assert len(people) == 320


def test_two_trails_on_one_store_never_fork_the_chain(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    """Two service instances (here two trails, each with its own connection) append at once."""
    first, second = open_trail(store_url, tmp_path), open_trail(store_url, tmp_path)

    def decide_many(trail: AuditTrail, tag: str) -> None:
        audited = _audited(engine, trail)
        for number in range(60):
            assert audited.decide(capacity_request(f"{tag}-{number}")).error is None

    threads = [
        threading.Thread(target=decide_many, args=(trail, f"{name}{n}"))
        for n in range(3)
        for name, trail in (("a", first), ("b", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first.close()
    second.close()
    with AuditTrail.open(store_url, create=False) as trail:
        report = trail.verify(public_key_path=tmp_path / "signing.key.pub")
    assert report.ok, report.problem
    assert report.entries == 360


def test_two_processes_appending_to_one_sqlite_trail_keep_one_chain_and_every_entry(
    tmp_path: Path,
) -> None:
    """Two service workers on one SQLite file: they take turns through its lock file, and
    every decision either was given is in one unbroken chain."""
    url = f"sqlite:///{tmp_path}/audit.db"
    open_trail(url, tmp_path).close()  # make the trail and its keys before both start
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        runs = [pool.submit(decide_in_this_process, url, tmp_path, tag, 150) for tag in "ab"]
        given = [decision_id for run in runs for decision_id in run.result(timeout=300)]
    with AuditTrail.open(url, create=False) as trail:
        report = trail.verify(public_key_path=tmp_path / "signing.key.pub")
        recorded = [entry.decision_id for entry in trail.query(limit=1000)]
    assert report.ok, report.problem
    assert report.entries == 300 == len(given)
    assert sorted(recorded) == sorted(given)


def test_query_filters_by_person_requester_record_effect_and_time(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    trail = open_trail(store_url, tmp_path)
    audited = _audited(engine, trail)
    audited.decide(capacity_request("A", staff="sw-1"))
    audited.decide(capacity_request("B", staff="sw-2", care_team=False))
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    audited.decide(
        capacity_request(
            "A",
            staff="gp-1",
            role="gp",
            organisation="NG001",
            record_type="best_interests_decision",
        )
    )
    audited.decide(capacity_request(None, staff=None))

    def seqs(**filters: object) -> list[int]:
        return [entry.seq for entry in trail.query(**filters)]  # type: ignore[arg-type]

    assert seqs() == [1, 2, 3, 4]
    assert seqs(person="A") == [1, 3]
    assert seqs(requester="sw-2") == [2]
    assert seqs(requester="NG001") == [3]
    assert seqs(requester="NGCC") == [1, 2, 4]
    assert seqs(record_type="best_interests_decision") == [3]
    assert seqs(effect="deny") == [2]
    assert seqs(person="A", effect="permit") == [1, 3]
    assert seqs(since=middle) == [3, 4]
    assert seqs(until=middle) == [1, 2]
    assert seqs(since=middle.replace(tzinfo=None)) == [3, 4]  # naive times are UTC
    assert seqs(limit=2) == [3, 4]
    assert seqs(person="nobody") == []

    result = CliRunner().invoke(
        app,
        [
            "audit",
            "query",
            "--store",
            store_url,
            "--person",
            "A",
            "--hmac-key",
            str(tmp_path / "hmac.key"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"seq": 1' in result.output and '"seq": 3' in result.output
    assert '"seq": 2' not in result.output
    table = CliRunner().invoke(app, ["audit", "query", "--store", store_url, "--effect", "deny"])
    assert table.exit_code == 0 and "1 entries" in table.output
    trail.close()


def test_break_glass_decisions_wait_for_review_until_marked(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    trail = open_trail(store_url, tmp_path)
    audited = _audited(engine, trail)
    emergency = audited.decide(break_glass_request("P-9"))
    assert emergency.permitted and "retrospective_review" in emergency.obligations
    routine = audited.decide(capacity_request("P-8"))

    [pending] = trail.pending_reviews()
    assert pending.decision_id == emergency.decision_id and pending.break_glass
    listed = CliRunner().invoke(app, ["audit", "review", "--store", store_url, "--json"])
    assert listed.exit_code == 0 and emergency.decision_id in listed.output

    review = trail.mark_reviewed(emergency.decision_id, "Caldicott Guardian", "justified")
    assert review.kind == "review" and review.seq == 3
    assert review.review is not None and review.review.reviewed_seq == 1
    assert review.person == trail.pseudonym("P-9")
    assert trail.pending_reviews() == []
    with pytest.raises(AuditError, match="already reviewed"):
        trail.mark_reviewed(emergency.decision_id, "someone else", "")
    with pytest.raises(AuditError, match="not a break-glass decision"):
        trail.mark_reviewed(routine.decision_id, "Caldicott Guardian", "")
    with pytest.raises(AuditError, match="no decision"):
        trail.mark_reviewed("does-not-exist", "Caldicott Guardian", "")
    assert trail.verify().ok and trail.verify().entries == 3
    trail.close()


def _make_earlier_version_trail(path: Path) -> None:
    """An empty SQLite trail laid out as igengine made them before the index set was trimmed:
    an index on person, decision_id and requester each, and one on break-glass decisions."""
    columns = ", ".join(
        f"{name} {'INTEGER' if kind == 'bool' else 'TEXT'} GENERATED ALWAYS AS "
        f"({_extract(paths)}) VIRTUAL"
        for name, (kind, paths) in QUERY_COLUMNS.items()
    )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    for statement in [
        "CREATE TABLE audit_entries (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, "
        f"entry_hash TEXT NOT NULL, body TEXT NOT NULL, {columns})",
        "CREATE TABLE audit_checkpoints (seq INTEGER PRIMARY KEY, head_hash TEXT NOT NULL, "
        "at TEXT NOT NULL, key_id TEXT NOT NULL, public_key TEXT NOT NULL, "
        "signature TEXT NOT NULL)",
        "CREATE TABLE audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE INDEX audit_entries_person ON audit_entries (person)",
        "CREATE INDEX audit_entries_decision_id ON audit_entries (decision_id)",
        "CREATE INDEX audit_entries_requester ON audit_entries (requester)",
        "CREATE INDEX audit_entries_break_glass ON audit_entries (decision_id) "
        "WHERE break_glass = 1",
    ]:
        conn.execute(statement)
    conn.close()


def test_a_sqlite_trail_from_an_earlier_version_keeps_working(
    tmp_path: Path, engine: Engine
) -> None:
    """New SQLite trails get fewer indexes (appends are cheaper); one made earlier keeps its
    own, and recording, searching, reviewing and verifying all still work on it."""
    path = tmp_path / "audit.db"
    _make_earlier_version_trail(path)
    url = f"sqlite:///{path}"
    trail = open_trail(url, tmp_path)
    audited = _audited(engine, trail)
    emergency = audited.decide(break_glass_request("P-9"))
    routine = audited.decide(capacity_request("P-8"))
    assert [entry.decision_id for entry in trail.pending_reviews()] == [emergency.decision_id]
    trail.mark_reviewed(emergency.decision_id, "Caldicott Guardian", "justified")
    with pytest.raises(AuditError, match="not a break-glass decision"):
        trail.mark_reviewed(routine.decision_id, "Caldicott Guardian", "")
    assert [entry.decision_id for entry in trail.query(person="P-8")] == [routine.decision_id]
    report = trail.verify()
    trail.close()
    assert report.ok and report.entries == 3
    indexes = {
        row[0]
        for row in sqlite3.connect(path).execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    assert indexes == {
        "audit_entries_person",
        "audit_entries_decision_id",
        "audit_entries_requester",
        "audit_entries_break_glass",
    }


def test_reviews_can_be_recorded_from_the_command_line(
    store_url: str, tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Away from any audit/signing.key the checkout holds (`serve`'s default, which --mark uses).
    monkeypatch.chdir(tmp_path)
    with open_trail(store_url, tmp_path) as trail:
        emergency = _audited(engine, trail).decide(break_glass_request())
    runner = CliRunner()
    marked = runner.invoke(
        app,
        [
            "audit",
            "review",
            "--store",
            store_url,
            "--mark",
            emergency.decision_id,
            "--reviewer",
            "IG lead",
            "--note",
            "proportionate",
        ],
    )
    assert marked.exit_code == 0, marked.output
    listed = runner.invoke(app, ["audit", "review", "--store", store_url])
    assert "0 break-glass decisions awaiting review" in listed.output


def test_close_signs_a_final_checkpoint(store_url: str, tmp_path: Path, engine: Engine) -> None:
    trail = open_trail(store_url, tmp_path, checkpoint_every=1000)
    audited = _audited(engine, trail)
    for number in range(5):
        audited.decide(capacity_request(f"p{number}"))
    assert trail.verify().checkpoints == 0
    assert trail.verify().warnings  # nothing pins the newest entries yet
    trail.close()
    late = audited.decide(capacity_request("late"))
    assert not late.permitted and late.error is not None and "closed" in late.error
    with AuditTrail.open(store_url, create=False) as reopened:
        report = reopened.verify(public_key_path=tmp_path / "signing.key.pub")
    assert report.ok and report.checkpoints == 1 and report.warnings == []


@pytest.mark.parametrize(
    ("url", "kind", "target"),
    [
        ("sqlite:///audit/igengine.db", "sqlite", "audit/igengine.db"),
        ("sqlite:////var/lib/igengine/audit.db", "sqlite", "/var/lib/igengine/audit.db"),
        ("audit.db", "sqlite", "audit.db"),
        (
            "postgresql://u@h:5432/db?schema=s&sslmode=require",
            "postgresql",
            "postgresql://u@h:5432/db?sslmode=require",
        ),
    ],
)
def test_store_urls(url: str, kind: str, target: str) -> None:
    location = parse_url(url)
    assert (location.kind, location.target) == (kind, target)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://x/y", "not an audit store URL"),
        ("sqlite://audit.db", "sqlite:///relative"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite:///a.db?table_prefix=Bad-Name", "table_prefix"),
        ("sqlite:///a.db?timeout=soon", "timeout"),
        ("postgresql://h/db?schema=x;drop", "schema"),
    ],
)
def test_bad_store_urls_are_explained(url: str, words: str) -> None:
    with pytest.raises(AuditError, match=words):
        parse_url(url)


def test_query_and_verify_do_not_create_a_missing_trail(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path}/nothing-here.db"
    result = CliRunner().invoke(app, ["audit", "verify", "--store", missing])
    assert result.exit_code == 1 and "no audit trail" in result.output
    assert not (tmp_path / "nothing-here.db").exists()


def test_a_postgresql_connection_lost_while_idle_is_replaced(
    tmp_path: Path, engine: Engine
) -> None:
    """After a server restart or a dropped connection, the next decision is still recorded:
    nothing had been sent on the dead connection, so retrying once cannot duplicate it."""
    base = postgres_base()
    url = f"{base}?schema=igengine_test_{uuid.uuid4().hex[:12]}"
    trail = open_trail(url, tmp_path)
    try:
        audited = _audited(engine, trail)
        assert audited.decide(capacity_request("p-1")).error is None
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(%s)",
                (trail._store._conn.info.backend_pid,),  # type: ignore[attr-defined]
            )
        time.sleep(0.1)
        assert audited.decide(capacity_request("p-2")).error is None
        assert trail.verify().entries == 2
    finally:
        trail.close()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{parse_url(url).schema}" CASCADE'.encode())


def test_timestamps_are_fixed_width_utc_text_whatever_the_zone() -> None:
    moments = [
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ]
    assert [timestamp(m) for m in moments] == [
        "2026-01-02T03:04:05.000006Z",
        "2026-01-02T01:04:05.000000Z",
        "2027-01-01T04:59:59.999999Z",
    ]
