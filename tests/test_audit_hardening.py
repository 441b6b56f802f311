"""Hardening of the audit trail: a writer thread that survives any failure of its store,
identifiers scrubbed from free text, signed heads kept outside the store, secrets kept out of
command lines and logs, and readiness that follows the writes."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from audit_support import POLICIES, capacity_request, engine

from igengine import Engine
from igengine.audit import AuditTrail, AuditWriteError
from igengine.audit.store import CheckpointDue, open_store

__all__ = ["engine"]  # fixtures used by name below


class _StoreDown(BaseException):
    """Not an Exception: what a driver interrupted in a bad way, or a caller's store, may raise."""


class _FailingOnce:
    """A real store whose next append raises `_StoreDown` while `down` is set."""

    def __init__(self, url: str) -> None:
        self._store = open_store(url, create=True)
        self.down = False

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        if self.down:
            raise _StoreDown("the store went away")
        return self._store.append(bodies, due)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_the_library_trail_fails_closed_while_its_store_raises_and_recovers_after(
    tmp_path: Path, engine: Engine
) -> None:
    store = _FailingOnce(f"sqlite:///{tmp_path}/audit.db")
    trail = AuditTrail(store, pseudonymiser=None, signing_key=None, checkpoint_every=1000)
    audited = Engine(engine.pack, audit=trail)
    assert audited.decide(capacity_request()).permitted
    store.down = True
    refused = audited.decide(capacity_request())
    assert not refused.permitted and refused.error is not None
    assert "_StoreDown" in refused.error
    store.down = False
    again = audited.decide(capacity_request())
    assert again.permitted and again.error is None
    report = trail.verify()
    trail.close()
    assert report.ok and report.entries == 2


def test_record_async_completes_once_the_entry_is_durable_and_raises_when_it_is_not(
    tmp_path: Path, engine: Engine
) -> None:
    """The event-loop contract: awaited, the entry is already in the store (another
    connection reads it); while the store is down the await raises instead of completing."""
    store = _FailingOnce(f"sqlite:///{tmp_path}/audit.db")
    trail = AuditTrail(store, pseudonymiser=None, signing_key=None, checkpoint_every=1000)
    request, decision = engine.decide_unrecorded(capacity_request())

    async def record_twice() -> tuple[int, str]:
        await trail.record_async(request, decision)
        stored = store.last_seq()  # read on a connection of its own, the moment it completes
        store.down = True
        with pytest.raises(AuditWriteError, match="_StoreDown") as refused:
            await trail.record_async(request, decision)
        return stored, str(refused.value)

    stored, _ = asyncio.run(record_twice())
    trail.close()
    assert stored == 1
    reopened = AuditTrail.open(f"sqlite:///{tmp_path}/audit.db", create=False)
    try:
        assert [entry.decision_id for entry in reopened.query()] == [decision.decision_id]
    finally:
        reopened.close()


def test_the_store_interface_and_the_workers_side_load_no_back_end_nor_the_writer() -> None:
    """Opening a store goes through the registry of back ends; a service worker's side of the
    writer does not load the writer process's module (only the wire format they share)."""
    probe = (
        "import sys, igengine.audit.store, igengine.audit.remote; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('igengine.audit'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "igengine.audit.store" in loaded and "igengine.audit.remote" in loaded
    for kept_out in ("sqlite", "postgres", "writer"):
        assert f"igengine.audit.{kept_out}" not in loaded


def test_a_new_keys_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from service.auth import Access
    from service.run import add_key

    keys_file = tmp_path / "keys.toml"
    add_key(keys_file, "ward-ehr", Access.CALLER)
    add_key(keys_file, "ig-lead", Access.ADMIN)
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert "ig-lead" in keys_file.read_text()


def _stored_justification(subject_id: str | None, justification: str) -> str:
    """The justification as the trail would store it for a request about `subject_id`."""
    from datetime import UTC, datetime

    from igengine.audit.entry import decision_body
    from igengine.audit.keys import Pseudonymiser
    from igengine.request import parse_request

    request = parse_request(capacity_request(subject_id, justification=justification))
    decision = Engine.from_directory(POLICIES).decide(request)
    body = decision_body(request, decision, Pseudonymiser(b"k" * 32), datetime.now(UTC))
    stored: str = json.loads(body)["request"]["justification"]
    return stored


@pytest.mark.parametrize(
    "justification",
    ["urgent: 9434765919", "NHS no 943-476-5919", "re 943 476 5919.", "(943 - 476 - 5919)"],
)
def test_the_subjects_nhs_number_is_scrubbed_in_any_usual_written_form(
    justification: str,
) -> None:
    stored = _stored_justification("943 476 5919", justification)
    outside_labels = re.sub(r"\[person [0-9a-f]{12}\]", "", stored)
    assert outside_labels != stored
    assert not any(ch.isdigit() for ch in outside_labels), stored


def test_any_nhs_number_in_free_text_is_scrubbed_whoever_the_subject_is() -> None:
    stored = _stored_justification("p-1", "sibling 401 023 2137, mother 9876543210")
    assert "401 023 2137" not in stored and "9876543210" not in stored
    assert stored.count("[person ") == 2
    # Ten digits without a valid check digit are not an NHS number: left as written.
    assert _stored_justification(None, "ring 9434765918") == "ring 9434765918"


def test_a_short_identifier_is_replaced_only_as_a_whole_token() -> None:
    stored = _stored_justification("D", "seen in ED by Dr D; D's mother agrees")
    assert stored.startswith("seen in ED by Dr [person ")
    assert "'s mother agrees" in stored and stored.count("[person ") == 2


def test_heads_are_signed_on_time_while_idle_and_kept_in_a_private_witness_file(
    tmp_path: Path, engine: Engine
) -> None:
    from igengine.audit import witness

    trail = AuditTrail.open(
        f"sqlite:///{tmp_path}/audit.db",
        signing_key_path=tmp_path / "signing.key",
        checkpoint_every=1000,
        sign_every_seconds=0.2,
    )
    audited = Engine(engine.pack, audit=trail)
    assert audited.decide(capacity_request()).permitted
    heads = tmp_path / "signing.key.heads"
    # Far fewer than 1000 entries: only the clock can sign this head (waited for, not timed).
    deadline = time.monotonic() + 30
    while witness.newest_seq(heads) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert witness.newest_seq(heads) == 1
    assert stat.S_IMODE(heads.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "signing.key").stat().st_mode) == 0o600
    report = trail.verify()
    trail.close()
    assert report.ok and report.witness == str(heads) and report.uncovered == 0


def test_the_database_password_is_not_on_the_writers_command_line_nor_in_the_log(
    tmp_path: Path,
) -> None:
    from audit_support import postgres_base

    from service.run import AuditWriter, startup_line
    from service.settings import Settings

    base = postgres_base()  # trust authentication: the password is accepted and ignored
    url = base.replace("postgres@", "postgres:s3cret-pw@", 1) + "?schema=igengine_test_pw"
    settings = Settings(
        policies=POLICIES,
        audit_url=url,
        hmac_key=tmp_path / "hmac.key",
        signing_key=tmp_path / "signing.key",
    )
    with AuditWriter.started(settings) as writer:
        command_line = Path(f"/proc/{writer._process.pid}/cmdline").read_bytes()
    assert b"s3cret-pw" not in command_line
    line = startup_line(settings, "127.0.0.1", 8000)
    assert "s3cret-pw" not in line and "postgres:***@" in line
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute('DROP SCHEMA IF EXISTS "igengine_test_pw" CASCADE')


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw@db:5432/audit", "postgresql://app:***@db:5432/audit"),
        (
            "postgresql://db/audit?password=pw&schema=a",
            "postgresql://db/audit?password=***&schema=a",
        ),
        ("sqlite:///audit/igengine.db", "sqlite:///audit/igengine.db"),
    ],
)
def test_store_urls_are_printed_without_their_password(url: str, shown: str) -> None:
    from igengine.audit.url import redact_url

    assert redact_url(url) == shown


class _DiskFull:
    """A real store on a disk that filled up: appends and committed writes fail, while a
    rolled-back insert (which never reaches the disk) still goes through."""

    def __init__(self, url: str) -> None:
        self._store = open_store(url, create=True)
        self.full = False

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return self._store.append(bodies, due)

    def probe(self, *, durable: bool = False) -> None:
        if self.full and durable:
            raise sqlite3.OperationalError("database or disk is full")
        self._store.probe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_readiness_follows_the_last_writes_outcome_when_the_disk_is_full(
    tmp_path: Path, engine: Engine
) -> None:
    store = _DiskFull(f"sqlite:///{tmp_path}/audit.db")
    trail = AuditTrail(store, pseudonymiser=None, signing_key=None, checkpoint_every=1000)
    audited = Engine(engine.pack, audit=trail)
    store.full = True
    assert trail.writable()  # nothing has failed yet, and the probe alone cannot tell
    assert not audited.decide(capacity_request()).permitted
    assert not trail.writable()
    store.full = False  # space freed: a committed probe succeeds, so ready again
    assert trail.writable()
    assert audited.decide(capacity_request()).permitted
    trail.close()


def test_readiness_fails_while_a_trigger_rejects_every_entry(
    tmp_path: Path, engine: Engine
) -> None:
    from audit_support import Tamper, open_trail, postgres_base
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.auth import digest
    from service.settings import Settings

    schema = "igengine_test_refusing"
    url = f"{postgres_base()}?schema={schema}"
    trail = open_trail(url, tmp_path)
    tamperer = Tamper(url)
    tamperer.execute(
        f'CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS '
        "$$ BEGIN RAISE EXCEPTION 'entries refused'; END $$"
    )
    tamperer.execute(
        f"CREATE TRIGGER refuse BEFORE INSERT ON {tamperer.entries} "
        f'FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()'
    )
    try:
        settings = Settings(policies=POLICIES, extra_admin_hashes=(digest("k" * 32),))
        with TestClient(create_app(settings, trail=trail)) as client:
            ready = client.get("/readyz")
            answer = client.post(
                "/v1/decisions", json=capacity_request(), headers={"X-API-Key": "k" * 32}
            )
        assert answer.status_code == 503
        assert ready.status_code == 503, ready.json()
    finally:
        tamperer.execute(f'DROP SCHEMA "{schema}" CASCADE')
        tamperer.close()


def test_the_one_off_admin_key_is_kept_out_of_a_logged_start_up_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.auth import digest
    from service.run import prepare
    from service.settings import Settings

    settings = prepare(Settings(policies=POLICIES, audit_url=None))
    logged = capsys.readouterr().err
    [where] = re.findall(r"read it from (\S+),", logged)
    key = Path(where).read_text().strip()
    assert key and key not in logged
    assert settings.extra_admin_hashes == (digest(key),)
    assert stat.S_IMODE(Path(where).stat().st_mode) == 0o600
    assert "--keys-file" in logged
