"""The IG lead's pages through the service: the dashboard (counts, periods, the review form)
and "who has asked about me?" (on screen, CSV, letter), on SQLite and PostgreSQL trails."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from audit_support import break_glass_request, capacity_request, engine, open_trail, store_url
from fastapi.testclient import TestClient
from service_support import ADMIN_KEY, CALLER_KEY, settings
from typer.testing import CliRunner

from igengine import Engine
from igengine.audit import AuditTrail
from igengine.cli import app as cli
from service import create_app
from service.subject_access import CSV_COLUMNS

__all__ = ["engine", "store_url"]  # the fixtures, used by name below


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    configured = settings(
        tmp_path,
        audit_url=store_url,
        hmac_key=tmp_path / "hmac.key",
        signing_key=tmp_path / "signing.key",
    )
    with TestClient(create_app(configured)) as client:
        yield client


def _decide(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/v1/decisions", json=body, headers={"X-API-Key": CALLER_KEY})
    assert answer.status_code == 200, answer.text
    decided: dict[str, Any] = answer.json()
    return decided


@pytest.fixture
def decided(client: TestClient) -> dict[str, str]:
    """Two permits and a deny for direct care (P-1, P-1, P-2) and a break-glass access (P-1)."""
    first = _decide(client, capacity_request("943 476 5919"))
    second = _decide(client, capacity_request("9434765919", staff="sw-22"))
    denied = _decide(client, capacity_request("P-2", care_team=False))
    emergency = _decide(client, break_glass_request("9434765919"))
    assert [first["effect"], second["effect"], denied["effect"]] == ["permit", "permit", "deny"]
    assert emergency["effect"] == "permit"
    return {"emergency": emergency["decision_id"], "denied_rule": denied["rules"][0]["id"]}


def _sign_in(client: TestClient, key: str, next_page: str = "/dashboard") -> Any:
    form = client.get(f"/login?next={next_page}").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    data = {"key": key, "csrf": token.group(1), "next": next_page}
    return client.post("/login", data=data, follow_redirects=False)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _rows(page: str, table: str) -> list[list[str]]:
    """The body rows of the table with this id, as cell texts."""
    found = re.search(rf'<table[^>]*id="{table}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert found is not None, f"no table {table}"
    return [
        [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(
            r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]  # fmt: skip


def test_the_dashboard_needs_sign_in_and_an_admin_key(client: TestClient) -> None:
    first = client.get("/dashboard", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/dashboard"
    assert _sign_in(client, CALLER_KEY).headers["location"] == "/dashboard"
    refused = client.get("/dashboard")
    assert refused.status_code == 403 and "not an admin key" in refused.text
    assert 'href="/subject-access"' not in refused.text  # no links to pages it cannot open
    assert client.get("/subject-access").status_code == 403
    csrf = _csrf(refused.text)
    asked = client.post("/subject-access", data={"csrf": csrf, "person": "9434765919"})
    assert asked.status_code == 403 and "9434765919" not in asked.text
    assert client.post("/subject-access/csv", data={"csrf": csrf, "person": "x"}).status_code == 403


def test_sign_in_never_leads_off_the_service(client: TestClient) -> None:
    assert _sign_in(client, ADMIN_KEY, "https://evil.example/").headers["location"] == "/"


def test_the_dashboard_counts_the_periods_decisions(
    client: TestClient, decided: dict[str, str]
) -> None:
    _sign_in(client, ADMIN_KEY)
    page = client.get("/dashboard").text
    assert _rows(page, "purpose-table") == [
        ["direct care", "2", "1", "3"],
        ["emergency care (break glass)", "1", "0", "1"],
    ]
    assert _rows(page, "sector-table") == [
        ["social care", "2", "1", "3"],
        ["acute hospital", "1", "0", "1"],
    ]
    assert _rows(page, "effect-table") == [
        ["Permitted", "3"],
        ["Denied", "1"],
        ["of which fail-safe denies", "0"],
    ]
    [reason] = _rows(page, "denies-table")
    assert reason[0] == decided["denied_rule"] and reason[2] == "1"
    assert reason[1]  # the agreement's title, from the pack
    assert "Break-glass decisions awaiting review (1)" in page
    assert decided["emergency"] in page
    assert '<svg class="chart" aria-hidden="true"' in page


def test_a_period_before_the_decisions_counts_none(
    client: TestClient, decided: dict[str, str]
) -> None:
    _sign_in(client, ADMIN_KEY)
    last_week = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    page = client.get(f"/dashboard?from={last_week}&to={last_week}").text
    assert _rows(page, "purpose-table") == [["No decisions in this period."]]
    assert "(1 day, UTC)" in page
    month = client.get("/dashboard?days=30").text
    assert _rows(month, "purpose-table")[0] == ["direct care", "2", "1", "3"]


def test_a_bad_period_is_named(client: TestClient) -> None:
    _sign_in(client, ADMIN_KEY)
    page = unescape(client.get("/dashboard?from=2026-02-30").text)
    assert "From: '2026-02-30' is not a date; write it as 2026-03-31" in page
    page = unescape(client.get("/dashboard?from=2026-03-02&to=2026-03-01").text)
    assert "The From date must be on or before the To date" in page


def test_a_review_recorded_on_the_dashboard_is_a_chained_entry_that_verifies(
    client: TestClient, decided: dict[str, str], store_url: str, tmp_path: Path
) -> None:
    _sign_in(client, ADMIN_KEY)
    csrf = _csrf(client.get("/dashboard").text)
    form = {"csrf": csrf, "decision_id": decided["emergency"], "reviewer": "A. Patel, IG lead"}
    unnamed = client.post("/dashboard/review", data={**form, "reviewer": " "})
    assert unnamed.status_code == 422 and "Enter your name as the reviewer" in unnamed.text
    stale = client.post("/dashboard/review", data={**form, "csrf": "x"})
    assert stale.status_code == 403
    recorded = client.post(
        "/dashboard/review", data={**form, "note": "justified"}, follow_redirects=False
    )
    assert recorded.status_code == 303
    page = client.get(recorded.headers["location"]).text
    assert "Break-glass decisions awaiting review (0)" in page
    assert "The review was recorded as audit entry 5." in page
    with AuditTrail.open(store_url, create=False) as trail:
        [review] = [e for e in trail.query() if e.kind == "review"]
    assert review.seq == 5 and review.review is not None
    assert (review.review.reviewer, review.review.note) == ("A. Patel, IG lead", "justified")
    assert review.decision_id == decided["emergency"]
    public_key = str(tmp_path / "signing.key.pub")
    verified = CliRunner().invoke(
        cli, ["audit", "verify", "--store", store_url, "--public-key", public_key]
    )
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.output and "5 entries" in verified.output
    again = client.post("/dashboard/review", data={**form, "csrf": _csrf(page)})
    assert again.status_code == 422 and "already reviewed by A. Patel, IG lead" in unescape(
        again.text
    )


def test_subject_access_finds_exactly_that_persons_decisions(
    client: TestClient, decided: dict[str, str]
) -> None:
    _sign_in(client, ADMIN_KEY, "/subject-access")
    csrf = _csrf(client.get("/subject-access").text)
    page = client.post("/subject-access", data={"csrf": csrf, "person": "943 476 5919"}).text
    assert "3 decisions about this person" in page
    rows = _rows(page, "decisions-table")
    assert [row[1:] for row in rows] == [
        ["social worker (sw-17)", _org(page, 0), "direct care", "capacity assessment",
         "Permitted"],
        ["social worker (sw-22)", _org(page, 1), "direct care", "capacity assessment",
         "Permitted"],
        ["ward nurse (wn-3)", _org(page, 2), "emergency care (break glass)", "GP summary",
         "Permitted (emergency access)"],
    ]  # fmt: skip
    other = client.post("/subject-access", data={"csrf": csrf, "person": "P-2"}).text
    assert "1 decision about this person" in other
    assert [row[-1] for row in _rows(other, "decisions-table")] == ["Denied"]
    nobody = client.post("/subject-access", data={"csrf": csrf, "person": "P-3"}).text
    assert "0 decisions about this person" in nobody
    empty = client.post("/subject-access", data={"csrf": csrf, "person": ""})
    assert empty.status_code == 422 and "Enter the person&#39;s identifier" in empty.text


def _org(page: str, row: int) -> str:
    return _rows(page, "decisions-table")[row][2]


def test_subject_access_exports_csv_and_a_letter(
    client: TestClient, decided: dict[str, str]
) -> None:
    _sign_in(client, ADMIN_KEY, "/subject-access")
    csrf = _csrf(client.get("/subject-access").text)
    exported = client.post("/subject-access/csv", data={"csrf": csrf, "person": "9434765919"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(exported.text)))
    assert tuple(table[0]) == CSV_COLUMNS
    assert [(r[2], r[3], r[4], r[6], r[7], r[8], r[9]) for r in table[1:]] == [
        ("sw-17", "social_worker", "NGCC", "direct_care", "capacity_assessment", "permit", "no"),
        ("sw-22", "social_worker", "NGCC", "direct_care", "capacity_assessment", "permit", "no"),
        ("wn-3", "ward_nurse", "RNG", "emergency_care", "gp_summary", "permit", "yes"),
    ]
    assert decided["emergency"] == table[3][1]
    letter = client.post("/subject-access/letter", data={"csrf": csrf, "person": "9434765919"})
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", letter.text)))
    assert "staff asked about your information 3 times" in text
    assert "a social worker (sw-17) at" in text and "asked for your capacity assessment" in text
    assert "They were told they could have it." in text
    assert 'emergency ("break-glass") access' in text


def test_a_csv_cell_that_looks_like_a_formula_stays_text(client: TestClient) -> None:
    _decide(client, capacity_request("P-9", staff="=HYPERLINK(1)"))
    _sign_in(client, ADMIN_KEY, "/subject-access")
    csrf = _csrf(client.get("/subject-access").text)
    exported = client.post("/subject-access/csv", data={"csrf": csrf, "person": "P-9"}).text
    assert list(csv.reader(io.StringIO(exported)))[1][2] == "'=HYPERLINK(1)"


def test_a_trail_that_cannot_be_read_is_said_plainly(tmp_path: Path) -> None:
    configured = settings(
        tmp_path, audit_url=f"sqlite:///{tmp_path / 'audit.db'}", hmac_key=tmp_path / "hmac.key"
    )
    with TestClient(create_app(configured)) as client:
        _sign_in(client, ADMIN_KEY)
        for made in tmp_path.glob("audit.db*"):
            made.unlink()
        page = client.get("/dashboard")
    assert page.status_code == 503
    # The service's own trail may open (and so re-create) its file again meanwhile (a signing
    # timer under load): then the empty file is what cannot be counted. Either is said plainly.
    said = ("there is no audit trail at", "decisions could not be counted")
    assert any(words in page.text for words in said) and "could not be read" in page.text
    assert "Agreements past or near their review date" in page.text  # from the pack still


def test_at_start_the_service_counts_an_existing_trail_for_the_dashboard(
    tmp_path: Path, engine: Engine
) -> None:
    """A trail with entries made before the service started is counted into the dashboard's
    tally in the background at start, so its first load need not count it."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with open_trail(url, tmp_path) as trail:
        for n in range(3):
            Engine(engine.pack, audit=trail).decide(capacity_request(f"early-{n}"))
    configured = settings(tmp_path, audit_url=url, hmac_key=tmp_path / "hmac.key", signing_key=None)
    with TestClient(create_app(configured)):
        deadline = time.monotonic() + 20
        counted = 0
        while counted < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            with suppress(sqlite3.Error):
                tally = sqlite3.connect(tmp_path / "audit.db-report")
                counted = tally.execute("SELECT counted_to FROM report_state").fetchone()[0]
                tally.close()
    assert counted == 3
