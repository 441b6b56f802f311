"""The dashboard's counts (igengine.audit.report) on SQLite and PostgreSQL trails: by purpose,
organisation and deciding rule, fail-safe denies apart from denies no agreement covers, and
only the period asked for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from audit_support import capacity_request, engine, open_trail, postgres_base, store_url

from igengine import Engine
from igengine.audit.report import Period, Tally, TrailReport
from igengine.audit.store import parse_url
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


def test_the_tally_adds_each_entry_once_however_often_and_by_whom_it_is_read(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    """Reports made one after another, and at once from several threads, each count every
    decision exactly once; and a tally thrown away is made again with the same counts."""
    today = datetime.now(UTC).date()
    report = TrailReport.open(store_url)
    with open_trail(store_url, tmp_path) as trail:
        audited = Engine(engine.pack, audit=trail)
        for round_ in range(3):
            for n in range(4):
                audited.decide(capacity_request(f"r{round_}-{n}"))
            with ThreadPoolExecutor(4) as pool:
                summaries = list(
                    pool.map(lambda _: report.summary(Period.ending(today, 1)), range(4))
                )
            assert {s.decisions for s in summaries} == {4 * (round_ + 1)}
    assert report.catch_up() == 0  # nothing new
    _forget_tally(store_url, tmp_path)
    assert report.catch_up() == 12
    assert report.summary(Period.ending(today, 1)).by_purpose == [Tally("direct_care", 12, 0)]


def _forget_tally(url: str, tmp_path: Path) -> None:
    location = parse_url(url)
    if location.kind == "sqlite":
        for made in tmp_path.glob("audit.db-report*"):
            made.unlink()
        return
    with psycopg.connect(postgres_base(), autocommit=True) as conn:
        for name in ("days", "failed", "state"):
            conn.execute(f'DROP TABLE "{location.schema}"."audit_report_{name}"'.encode())
