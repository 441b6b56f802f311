"""The dashboard's counts (igengine.audit.report) on SQLite and PostgreSQL trails: by purpose,
organisation and deciding rule, fail-safe denies apart from denies no agreement covers, and
only the period asked for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from audit_support import capacity_request, engine, open_trail, postgres_base, store_url

from igengine import Engine
from igengine.audit.report import Period, Tally, TrailReport
from igengine.request import parse_request
from igengine.vocabulary import Effect

__all__ = ["engine", "store_url"]  # the fixtures, used by name below

UNCOVERED: dict[str, Any] = {
    "requester": {"role": "receptionist", "organisation": "NGCC"},
    "holder": {"organisation": "RNG"},
    "purpose": "service_planning",
    "record_type": "capacity_assessment",
    "subject": {"relationship": "none"},
}


def test_a_periods_decisions_are_counted_by_value_and_effect(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    with open_trail(store_url, tmp_path) as trail:
        audited = Engine(engine.pack, audit=trail)
        permits = [audited.decide(capacity_request(f"p{n}")) for n in range(3)]
        denied = audited.decide(capacity_request("p9", care_team=False))
        uncovered = audited.decide(UNCOVERED)
        # A decision the engine could not make: recorded as a deny with its error.
        request = parse_request(capacity_request("p8"))
        broken = engine.decide(request).model_copy(
            update={"effect": Effect.DENY, "error": "RuntimeError: rules engine fault", "rules": []}
        )
        trail.record(request, broken)
    assert all(d.permitted for d in permits) and not denied.permitted and not uncovered.rules
    today = datetime.now(UTC).date()
    summary = TrailReport.open(store_url).summary(Period.ending(today, 7))
    assert summary.by_purpose == [
        Tally("direct_care", 3, 2),
        Tally("service_planning", 0, 1),
    ]
    assert summary.by_organisation == [Tally("NGCC", 3, 3)]
    assert summary.deny_rules == [Tally(None, 0, 2), Tally(denied.rules[0].id, 0, 1)]
    assert (summary.decisions, summary.permits, summary.denies) == (6, 3, 3)
    assert summary.failed_count == 1 and summary.no_agreement == 1
    [failed] = summary.failed
    assert failed.decision_id == broken.decision_id
    assert failed.decision is not None and failed.decision["error"].startswith("RuntimeError")
    earlier = TrailReport.open(store_url).summary(Period.ending(today - timedelta(days=1), 30))
    assert earlier.decisions == 0 and earlier.by_purpose == [] and earlier.failed == []


def test_a_postgresql_trail_from_an_earlier_version_gains_the_columns_and_indexes(
    tmp_path: Path, engine: Engine
) -> None:
    """A trail made before the dashboard's columns existed: opening it for writing adds them,
    fills them in from every stored body (the hashes untouched), and indexes them."""
    base = postgres_base()
    schema = f"igengine_test_{uuid.uuid4().hex[:12]}"
    url = f"{base}?schema={schema}"
    try:
        with open_trail(url, tmp_path) as trail:
            Engine(engine.pack, audit=trail).decide(capacity_request("p1"))
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(
                f'ALTER TABLE "{schema}".audit_entries DROP COLUMN purpose, '
                f"DROP COLUMN rule, DROP COLUMN error".encode()
            )
        with open_trail(url, tmp_path) as trail:
            assert trail.verify().ok
        today = datetime.now(UTC).date()
        summary = TrailReport.open(url).summary(Period.ending(today, 1))
        assert summary.by_purpose == [Tally("direct_care", 1, 0)]
        with psycopg.connect(base) as conn:
            indexes = {
                row[0]
                for row in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,)
                )
            }
        assert {"audit_entries_by_purpose", "audit_entries_deny_by_rule"} <= indexes
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())
