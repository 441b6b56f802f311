"""Batches through the service: POST /v1/decisions/batch, AuthZEN's POST /access/v1/evaluations
and its discovery document; each decision its own audit entry, the batch one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_support import (
    CALLER_KEY,
    FakeTrail,
    authzen_request,
    capacity_request,
    client,
    settings,
    trail,
)

from igengine.engine import MAX_BATCH
from service import create_app

CALLER = {"X-API-Key": CALLER_KEY}


# Fixtures used by name below.
__all__ = ["client", "trail"]


def _misspelt() -> dict[str, Any]:
    return {**capacity_request(), "purpose": "direct_cair"}


def test_a_batch_is_answered_in_order_with_a_bad_request_answered_in_its_place(
    client: TestClient, trail: FakeTrail
) -> None:
    batch = [capacity_request(), _misspelt(), capacity_request(relationship="none")]
    response = client.post("/v1/decisions/batch", json=batch, headers=CALLER)
    assert response.status_code == 200
    first, bad, last = response.json()
    assert first["effect"] == "permit" and last["effect"] == "deny"
    assert last["would_permit_if"] == [{"subject.relationship": "care_team"}]
    [error] = bad["errors"]
    assert error["field"] == "purpose" and "did you mean 'direct_care'" in error["message"]
    assert "effect" not in bad
    # Each decision given is its own entry, in order; the bad request made none.
    recorded = [decision.decision_id for _, decision in trail.entries]
    assert recorded == [first["decision_id"], last["decision_id"]]


def test_a_batch_whose_recording_fails_gives_out_none_of_it(
    client: TestClient, trail: FakeTrail
) -> None:
    trail.failing = True
    batch = [capacity_request(), capacity_request(relationship="none")]
    response = client.post("/v1/decisions/batch", json=batch, headers=CALLER)
    assert response.status_code == 503
    assert "audit trail could not be written" in response.json()["error"]
    assert trail.entries == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"requests": []}, "expected a list of requests, got dict"),
        ("capacity", "expected a list of requests, got str"),
        ([capacity_request()] * (MAX_BATCH + 1), f"at most {MAX_BATCH} requests, not 101"),
    ],
    ids=["object", "string", "too long"],
)
def test_a_batch_that_is_not_a_list_or_too_long_is_refused_whole(
    client: TestClient, trail: FakeTrail, body: Any, message: str
) -> None:
    response = client.post("/v1/decisions/batch", json=body, headers=CALLER)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "requests" and message in error["message"]
    assert trail.entries == []


def test_a_batch_needs_a_key(client: TestClient) -> None:
    response = client.post("/v1/decisions/batch", json=[capacity_request()])
    assert response.status_code == 401


def test_a_batch_item_that_is_not_an_object_is_named_in_its_place(client: TestClient) -> None:
    answers = client.post(
        "/v1/decisions/batch", json=[capacity_request(), 7], headers=CALLER
    ).json()
    assert answers[0]["effect"] == "permit"
    assert "expected a JSON object" in answers[1]["errors"][0]["message"]


def _defaults() -> dict[str, Any]:
    """The AuthZEN evaluation without its context: the batch's shared defaults."""
    return {part: value for part, value in authzen_request().items() if part != "context"}


def _evaluations(*relationships: str | None, **options: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"context": {"relationship": r}} if r else {"action": {"name": "direct_cair"}}
        for r in relationships
    ]
    body = {**_defaults(), "evaluations": items}
    if options:
        body["options"] = options
    return body


def test_authzen_batch_applies_the_defaults_and_answers_each_in_order(
    client: TestClient, trail: FakeTrail
) -> None:
    body = _evaluations("care_team", None, "none")
    response = client.post(
        "/access/v1/evaluations", json=body, headers={**CALLER, "X-Request-ID": "b-1"}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "b-1"
    permitted, bad, denied = response.json()["evaluations"]
    assert permitted["decision"] is True and permitted["context"]["effect"] == "permit"
    assert denied["decision"] is False and denied["context"]["effect"] == "deny"
    # The bad evaluation says which AuthZEN field is wrong; the others are still decided.
    assert bad["decision"] is False
    [error] = bad["context"]["error"]["errors"]
    assert error["field"] == "action.name" and "direct_care" in error["message"]
    assert len(trail.entries) == 2


@pytest.mark.parametrize(
    ("semantic", "relationships", "answered"),
    [
        ("execute_all", ["care_team", "none", "care_team"], [True, False, True]),
        ("deny_on_first_deny", ["care_team", "none", "care_team"], [True, False]),
        ("deny_on_first_deny", ["care_team", None, "care_team"], [True, False]),
        ("permit_on_first_permit", ["none", "care_team", "none"], [False, True]),
    ],
    ids=["execute all", "stop at a deny", "a malformed one is a deny", "stop at a permit"],
)
def test_authzen_batch_semantics_stop_where_the_spec_says(
    client: TestClient,
    trail: FakeTrail,
    semantic: str,
    relationships: list[str | None],
    answered: list[bool],
) -> None:
    body = _evaluations(*relationships, evaluations_semantic=semantic)
    response = client.post("/access/v1/evaluations", json=body, headers=CALLER)
    assert response.status_code == 200
    assert [answer["decision"] for answer in response.json()["evaluations"]] == answered
    # Evaluations after the stop are neither decided nor recorded.
    decided = sum(1 for r in relationships[: len(answered)] if r is not None)
    assert len(trail.entries) == decided


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**_defaults()}, "evaluations", "expected a list of evaluations, found missing"),
        ({"evaluations": {"a": 1}}, "evaluations", "expected a list of evaluations"),
        (
            {"evaluations": [{}] * (MAX_BATCH + 1)},
            "evaluations",
            f"at most {MAX_BATCH} evaluations",
        ),
        (
            {"evaluations": [], "options": {"evaluations_semantic": "deny_on_first_denial"}},
            "options.evaluations_semantic",
            "did you mean 'deny_on_first_deny'",
        ),
    ],
    ids=["no evaluations", "not a list", "too long", "unknown semantic"],
)
def test_an_authzen_batch_that_is_not_valid_gets_400_naming_the_field(
    client: TestClient, trail: FakeTrail, body: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/access/v1/evaluations", json=body, headers=CALLER)
    assert response.status_code == 400
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert message in errors[field]
    assert trail.entries == []


def test_an_authzen_batch_body_that_is_a_list_gets_400(client: TestClient) -> None:
    response = client.post("/access/v1/evaluations", json=[_defaults()], headers=CALLER)
    assert response.status_code == 400
    assert "expected a JSON object" in response.json()["errors"][0]["message"]


def test_authzen_discovery_names_the_evaluation_endpoints(client: TestClient) -> None:
    metadata = client.get("/.well-known/authzen-configuration").json()
    assert metadata["policy_decision_point"] == "http://testserver"
    assert metadata["access_evaluation_endpoint"] == "http://testserver/access/v1/evaluation"
    assert metadata["access_evaluations_endpoint"] == "http://testserver/access/v1/evaluations"
    # The endpoints it names answer.
    evaluations = client.post(
        metadata["access_evaluations_endpoint"], json=_evaluations("care_team"), headers=CALLER
    )
    assert evaluations.json()["evaluations"][0]["decision"] is True


def test_a_batch_on_a_real_trail_is_one_chain_of_entries(tmp_path: Path) -> None:
    from igengine.audit import AuditTrail

    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    configured = settings(tmp_path, audit_url=audit, hmac_key=tmp_path / "hmac.key")
    with TestClient(create_app(configured)) as client:
        batch = [capacity_request(id=f"94347659{n:02d}") for n in range(20)]
        answers = client.post("/v1/decisions/batch", json=batch, headers=CALLER).json()
    with AuditTrail.open(audit, create=False) as trail:
        assert trail.verify().ok
        recorded = [entry.decision_id for entry in trail.query(limit=100)]
    assert sorted(recorded) == sorted(answer["decision_id"] for answer in answers)
