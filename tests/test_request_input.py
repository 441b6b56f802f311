"""Strict request input: JSON parsed once (no repeated keys, no deep nesting), facts in JSON's
own types, bounded free text, storable text, and `at` bounded and marked as a what-if."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import packs
import pytest
from fastapi.testclient import TestClient
from service_support import CALLER_KEY, FakeTrail, capacity_request, client, settings, trail
from typer.testing import CliRunner

from igengine import Decision, Engine, Request, RequestError
from igengine.cli import app as cli
from igengine.request import MAX_DEPTH, MAX_NAME, MAX_TEXT, parse_json, parse_request
from service import create_app

SHIPPED = Engine.from_directory(Path(__file__).resolve().parent.parent / "policies")

CALLER = {"X-API-Key": CALLER_KEY, "Content-Type": "application/json"}
DEEP = "[" * 1000 + "]" * 1000


# Fixtures used by name below.
__all__ = ["client", "trail"]


def _authzen(**context: Any) -> dict[str, Any]:
    return {
        "subject": {
            "type": "user",
            "properties": {"role": "social_worker", "organisation": "NGCC"},
        },
        "action": {"name": "direct_care"},
        "resource": {"type": "capacity_assessment", "properties": {"holder": "RNG"}},
        "context": {"relationship": "care_team", **context},
    }


def _errors(response: Any) -> dict[str, str]:
    return {error["field"]: error["message"] for error in response.json()["errors"]}


# Item 4: deep nesting.


@pytest.mark.parametrize(
    ("path", "status"), [("/v1/decisions", 422), ("/access/v1/evaluation", 400)]
)
def test_deeply_nested_json_is_refused_naming_the_problem(
    client: TestClient, trail: FakeTrail, path: str, status: int
) -> None:
    response = client.post(path, content='{"subject": ' + DEEP + "}", headers=CALLER)
    assert response.status_code == status
    assert "nested more than 32 levels" in _errors(response)["request"]
    assert trail.entries == []


def test_nesting_is_bounded_below_the_recursion_limit() -> None:
    # Deeper than any request but far from Python's recursion limit: refused all the same.
    with pytest.raises(RequestError, match="nested more than"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_cli_refuses_deep_nesting_without_a_traceback(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text('{"subject": ' + DEEP + "}")
    result = CliRunner().invoke(cli, ["decide", "--file", str(request)])
    assert result.exit_code == 2
    assert "nested more than" in result.output and "Traceback" not in result.output


# Item 10: repeated keys, strict types, text that cannot be stored.


@pytest.mark.parametrize(
    ("path", "status"), [("/v1/decisions", 422), ("/access/v1/evaluation", 400)]
)
def test_a_repeated_key_is_refused(
    client: TestClient, trail: FakeTrail, path: str, status: int
) -> None:
    body = (
        json.dumps(capacity_request() if path == "/v1/decisions" else _authzen())[:-1]
        + ', "subject": {"relationship": "none"}}'
    )
    response = client.post(path, content=body, headers=CALLER)
    assert response.status_code == status
    assert "'subject' appears twice" in _errors(response)["request"]
    assert trail.entries == []


def test_cli_refuses_a_repeated_key(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(capacity_request())[:-1] + ', "purpose": "research"}')
    result = CliRunner().invoke(cli, ["decide", "--file", str(request)])
    assert result.exit_code == 2
    assert "'purpose' appears twice" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("objection", "no"),
        ("objection", "f"),
        ("objection", 0),
        ("national_data_opt_out", 1),
        ("age", True),
        ("age", "17"),
        ("age", 17.5),
    ],
)
def test_facts_must_be_json_booleans_and_integers(field: str, value: Any) -> None:
    # The facts' types are the loaded pack's (vocabulary.yaml), so the engine checks them.
    with pytest.raises(RequestError) as raised:
        SHIPPED.decide(capacity_request(**{field: value}))
    assert f"subject.{field}" in dict(raised.value.errors)


def test_a_loose_fact_is_a_422_from_the_service(client: TestClient) -> None:
    response = client.post("/v1/decisions", json=capacity_request(objection="no"), headers=CALLER)
    assert response.status_code == 422
    assert "true or false" in _errors(response)["subject.objection"]


def test_the_cli_still_reads_flags_as_booleans_and_numbers() -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("decide", "--role", "social_worker", "--org", "NGCC", "--holder", "RNG"),
            *("--purpose", "direct_care", "--record", "capacity_assessment", "--json"),
            *("-s", "relationship=care_team", "-s", "objection=no", "-s", "age=40"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["effect"] == "permit"


def test_a_lone_surrogate_is_a_422_naming_the_field_not_an_audit_failure(
    tmp_path: Path,
) -> None:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    configured = settings(tmp_path, audit_url=audit, hmac_key=tmp_path / "hmac.key")
    body = json.dumps(capacity_request(relationship="care_team", id="\ud800"))
    with TestClient(create_app(configured)) as service:
        response = service.post("/v1/decisions", content=body, headers=CALLER)
    assert response.status_code == 422
    assert "lone surrogate" in _errors(response)["subject.id"]


@pytest.mark.parametrize("change", [{"purpose": "\ud800"}, {"\ud800": 1}, {"at": "\ud800"}])
def test_a_lone_surrogate_quoted_in_an_error_does_not_break_the_answer(
    client: TestClient, change: dict[str, Any]
) -> None:
    body = json.dumps({**capacity_request(), **change})
    response = client.post("/v1/decisions", content=body, headers=CALLER)
    assert response.status_code == 422
    assert response.json()["errors"]


# Item 9: bounded free text.


def test_a_justification_over_the_limit_is_a_422_naming_it(client: TestClient) -> None:
    long = {**capacity_request(), "justification": "x" * (MAX_TEXT + 1)}
    response = client.post("/v1/decisions", json=long, headers=CALLER)
    assert response.status_code == 422
    assert f"at most {MAX_TEXT}" in _errors(response)["justification"]
    at_limit = {**capacity_request(), "justification": "x" * MAX_TEXT}
    assert client.post("/v1/decisions", json=at_limit, headers=CALLER).status_code == 200


@pytest.mark.parametrize("field", ["subject.id", "requester.id", "holder.organisation"])
def test_identifiers_are_bounded(field: str) -> None:
    request = packs.request(subject={"relationship": "care_team"})
    part, name = field.split(".")
    request[part] = {**request[part], name: "x" * (MAX_NAME + 1)}
    with pytest.raises(RequestError) as raised:
        parse_request(request)
    assert field in dict(raised.value.errors)


# Item 7: `at` is bounded, and an answer for another time is marked as a what-if.


@pytest.mark.parametrize(
    "at", [0, 1767225600, "1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2100-01-01", "soon"]
)
def test_an_absurd_or_numeric_at_is_refused_naming_at(at: Any) -> None:
    with pytest.raises(RequestError) as raised:
        parse_request(packs.request(at=at))
    assert "at" in dict(raised.value.errors)


def test_at_zero_is_a_422_from_the_service(client: TestClient) -> None:
    response = client.post("/v1/decisions", json={**capacity_request(), "at": 0}, headers=CALLER)
    assert response.status_code == 422
    assert "ISO-8601" in _errors(response)["at"]


class _Sink:
    def __init__(self) -> None:
        self.recorded: list[Decision] = []

    def record(self, _: Request, decision: Decision) -> None:
        self.recorded.append(decision)


def _expired_pack(tmp_path: Path, sink: _Sink) -> Engine:
    ended = packs.agreement(
        [packs.permit("share")],
        start_date="2024-01-01",
        end_date="2025-06-30",
        review_date="2025-01-01",
    )
    return Engine(Engine.from_directory(packs.write(tmp_path, ended)).pack, audit=sink)


def test_a_permit_inside_an_expired_agreement_is_a_recorded_what_if(tmp_path: Path) -> None:
    sink = _Sink()
    engine = _expired_pack(tmp_path, sink)
    decision = engine.decide(packs.request(at="2025-03-01T10:00:00Z"))
    assert decision.effect == "permit" and decision.what_if
    assert not decision.permits_now
    assert decision.rationale.startswith("What-if answer for 2025-03-01")
    assert "not for now" in decision.rationale
    assert sink.recorded[0].what_if and decision.to_dict()["what_if"] is True
    now = engine.decide({k: v for k, v in packs.request().items() if k != "at"})
    assert now.effect == "deny" and not now.what_if


def test_at_within_minutes_of_now_is_an_answer_for_now(tmp_path: Path) -> None:
    engine = Engine.from_directory(packs.write(tmp_path, packs.agreement([packs.permit("s")])))
    now = datetime.now(UTC)
    # A minute off, but kept on today's date (agreements begin and end on dates).
    near = now - timedelta(minutes=1) if now.hour or now.minute > 1 else now
    decision = engine.decide(packs.request(at=near.isoformat()))
    assert not decision.what_if and decision.permits_now
    assert not decision.rationale.startswith("What-if")


def test_authzen_never_gives_true_for_a_what_if_permit(client: TestClient) -> None:
    at = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    response = client.post("/access/v1/evaluation", json=_authzen(at=at), headers=CALLER)
    assert response.status_code == 200
    body = response.json()
    assert body["context"]["effect"] == "permit" and body["context"]["what_if"] is True
    assert body["decision"] is False


def test_what_if_answers_are_counted_apart_from_permits(client: TestClient) -> None:
    at = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    asked = {**capacity_request(), "at": at}
    assert client.post("/v1/decisions", json=asked, headers=CALLER).json()["what_if"] is True
    text = client.get("/metrics").text
    assert 'igengine_decisions_total{effect="what_if",endpoint="decisions"} 1.0' in text
    assert 'effect="permit",endpoint="decisions"' not in text


def test_the_cli_shows_a_what_if_permit_as_no_permission_now() -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("decide", "--role", "social_worker", "--org", "NGCC", "--holder", "RNG"),
            *("--purpose", "direct_care", "--record", "capacity_assessment", "--care-team"),
            *("--at", (datetime.now(UTC) - timedelta(days=30)).isoformat()),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "WHAT-IF: PERMITTED on" in result.output
    assert "you may share this" not in result.output
