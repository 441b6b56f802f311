"""The JSON API: contract shapes, AuthZEN, policies and reload, health, metrics, 401/403/422/503."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import shutil
import threading
import weakref
from pathlib import Path
from typing import Any

import httpx
import pytest
from audit_support import Tamper
from fastapi.testclient import TestClient
from service_support import (
    ADMIN_KEY,
    CALLER_KEY,
    POLICIES,
    FakeTrail,
    capacity_request,
    client,
    settings,
    trail,
)
from service_support import authzen_request as _authzen

from service import create_app
from service.bodylimit import MAX_BODY_BYTES

CALLER = {"X-API-Key": CALLER_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}


# Fixtures used by name below.
__all__ = ["client", "trail"]


def test_a_permit_in_the_contract_shape_recorded_before_it_is_returned(
    client: TestClient, trail: FakeTrail
) -> None:
    response = client.post("/v1/decisions", json=capacity_request(), headers=CALLER)
    assert response.status_code == 200
    body = response.json()
    assert body["effect"] == "permit"
    assert "Article 9(2)(h)" in {basis["provision"] for basis in body["legal_basis"]}
    assert body["obligations"] == ["share_minimum_necessary", "record_disclosure"]
    assert body["rules"][0]["role"] == "decisive"
    assert body["error"] is None
    assert [d.decision_id for _, d in trail.entries] == [body["decision_id"]]


def test_a_deny_says_what_would_permit_it(client: TestClient) -> None:
    body = client.post(
        "/v1/decisions", json=capacity_request(relationship="none"), headers=CALLER
    ).json()
    assert body["effect"] == "deny"
    assert body["would_permit_if"] == [{"subject.relationship": "care_team"}]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "igk_not_a_key"}, {"Authorization": "Basic abc"}],
    ids=["no key", "unknown key", "not a bearer"],
)
def test_unauthenticated_calls_get_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/decisions", json=capacity_request(), headers=headers)
    assert response.status_code == 401
    assert "not authenticated" in response.json()["error"]
    assert "X-API-Key" in response.headers["www-authenticate"]
    for path in ("/v1/policies", "/v1/policies/reload"):
        call = client.get if path == "/v1/policies" else client.post
        assert call(path, headers=headers).status_code == 401


def test_a_misspelt_code_gets_422_naming_the_field_and_valid_values(client: TestClient) -> None:
    request = {**capacity_request(), "purpose": "direct_cair"}
    response = client.post("/v1/decisions", json=request, headers=CALLER)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "purpose"
    assert "did you mean 'direct_care'" in error["message"]
    assert "emergency_care" in error["message"]


def test_every_problem_is_named_at_once(client: TestClient) -> None:
    request = capacity_request(consent="maybe")
    del request["record_type"]
    request["holder"] = {"organisation": "RNX"}
    errors = client.post("/v1/decisions", json=request, headers=CALLER).json()["errors"]
    fields = {e["field"] for e in errors}
    assert {"record_type", "subject.consent"} <= fields
    assert any("explicit" in e["message"] for e in errors if e["field"] == "subject.consent")


def test_an_unknown_organisation_gets_422_listing_the_pack_organisations(
    client: TestClient,
) -> None:
    request = {**capacity_request(), "holder": {"organisation": "RNX"}}
    response = client.post("/v1/decisions", json=request, headers=CALLER)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "holder.organisation"
    assert "RNG" in error["message"] and "NGCC" in error["message"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "expected a JSON object"), (b"", "")],
)
def test_framework_body_errors_use_the_same_shape(
    client: TestClient, content: bytes, message: str
) -> None:
    response = client.post(
        "/v1/decisions",
        content=content,
        headers={**CALLER, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "request"
    assert message in error["message"]


def test_a_body_far_larger_than_any_request_is_refused_unread(
    client: TestClient, trail: FakeTrail
) -> None:
    oversized = {**capacity_request(), "justification": "x" * MAX_BODY_BYTES}
    response = client.post("/v1/decisions", json=oversized, headers=CALLER)
    assert response.status_code == 413
    assert "a sharing request is a few hundred bytes" in response.json()["error"]
    # Refused on its declared length, before the key is even checked: nothing is read.
    anonymous = client.post("/v1/decisions", content=b"{" * (MAX_BODY_BYTES + 1))
    assert anonymous.status_code == 413
    assert trail.entries == []
    assert client.post("/v1/decisions", json=capacity_request(), headers=CALLER).status_code == 200


def test_a_decision_body_sent_in_chunks_is_abandoned_past_the_limit(tmp_path: Path) -> None:
    # No declared length: what arrives is counted, and reading stops at the limit.
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    pieces = iter([b" " * (MAX_BODY_BYTES // 2)] * 3)
    response = client.post("/v1/decisions", content=pieces, headers=CALLER)
    assert response.status_code == 413


def test_audit_failure_gives_503_and_no_decision(client: TestClient, trail: FakeTrail) -> None:
    trail.failing = True
    response = client.post("/v1/decisions", json=capacity_request(), headers=CALLER)
    assert response.status_code == 503
    body = response.json()
    assert "audit trail could not be written" in body["error"]
    assert "effect" not in body and body["decision_id"]
    assert response.headers["retry-after"]
    authzen = client.post("/access/v1/evaluation", json=_authzen(), headers=CALLER)
    assert authzen.status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "NOT writable" in ready.json()["checks"]["audit"]
    metrics = client.get("/metrics").text
    assert "igengine_audit_write_failures_total 2.0" in metrics


def test_readyz_and_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["audit"] == "writable"
    assert ready.json()["checks"]["policies"].startswith("loaded (sha256:")


def test_authzen_permit_carries_the_explanation_in_context(
    client: TestClient, trail: FakeTrail
) -> None:
    response = client.post(
        "/access/v1/evaluation", json=_authzen(), headers={**CALLER, "X-Request-ID": "req-1"}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-1"
    body = response.json()
    assert body["decision"] is True
    context = body["context"]
    assert context["obligations"] == ["share_minimum_necessary", "record_disclosure"]
    assert context["rationale"].startswith("Permitted")
    assert context["legal_basis"] and context["decision_id"]
    [(request, _)] = trail.entries
    assert request.requester.id == "staff-0042"
    assert request.subject.id == "9434765919"


def test_authzen_deny_is_200_with_decision_false(client: TestClient) -> None:
    body = client.post(
        "/access/v1/evaluation", json=_authzen(relationship="none"), headers=CALLER
    ).json()
    assert body["decision"] is False
    assert body["context"]["would_permit_if"] == [{"subject.relationship": "care_team"}]


def test_authzen_errors_are_400_naming_the_authzen_fields(client: TestClient) -> None:
    request = _authzen(relationship="care_team", mood="calm")
    request["subject"]["properties"]["role"] = "nurse"
    request["action"] = {"name": "direct_care"}
    response = client.post("/access/v1/evaluation", json=request, headers=CALLER)
    assert response.status_code == 400
    # Context keys are the loaded pack's facts, so an unknown one is named with the other
    # problems the pack finds, and with the pack's facts to choose from.
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["subject.properties.role", "context.mood"]
    assert "valid values: relationship, objection, consent" in errors[1]["message"]
    del request["context"]["mood"]
    errors = client.post("/access/v1/evaluation", json=request, headers=CALLER).json()["errors"]
    assert errors[0]["field"] == "subject.properties.role"
    assert "ward_nurse" in errors[0]["message"]
    response = client.post("/access/v1/evaluation", json=[1], headers=CALLER)
    assert response.status_code == 400


def test_policies_lists_agreements_with_review_dates(client: TestClient) -> None:
    body = client.get("/v1/policies", headers=CALLER).json()
    assert body["version"].startswith("sha256:")
    [agreement] = [a for a in body["agreements"] if a["id"] == "ntg-int-care"]
    assert agreement["review_date"] == "2027-03-31"
    assert {
        "code": "RNG",
        "name": "Northgate Hospitals NHS Foundation Trust",
        "sector": "acute",
    } in (body["organisations"])
    assert "share_minimum_necessary" in body["obligations"]


def _pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(POLICIES, target)
    return target


_PERMIT = "id: capacity-assessment-direct-care\n    effect: permit"


def _flip_capacity_rule(pack: Path, effect: str) -> None:
    """Make the capacity-assessment rule permit or deny (two valid packs to swap between)."""
    path = pack / "agreements" / "integrated-care.yaml"
    text = re.sub(
        r"(id: capacity-assessment-direct-care\n    effect: )\w+",
        rf"\g<1>{effect}",
        path.read_text(),
    )
    path.write_text(text)


def test_reload_needs_an_admin_key_and_keeps_the_old_pack_if_the_new_one_is_broken(
    tmp_path: Path,
) -> None:
    pack = _pack_copy(tmp_path)
    assert _PERMIT in (pack / "agreements" / "integrated-care.yaml").read_text()
    client = TestClient(create_app(settings(tmp_path, policies=pack), trail=FakeTrail()))
    before = client.get("/v1/policies", headers=CALLER).json()["version"]
    assert client.post("/v1/policies/reload", headers=CALLER).status_code == 403
    (pack / "agreements" / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    response = client.post("/v1/policies/reload", headers=ADMIN)
    assert response.status_code == 422
    body = response.json()
    assert body["policy_version"] == before
    assert any("broken.yaml" in problem for problem in body["problems"])
    decision = client.post("/v1/decisions", json=capacity_request(), headers=CALLER).json()
    assert decision["effect"] == "permit" and decision["policy_version"] == before
    (pack / "agreements" / "broken.yaml").unlink()
    _flip_capacity_rule(pack, "deny")
    reloaded = client.post("/v1/policies/reload", headers=ADMIN).json()
    assert reloaded["changed"] is True and reloaded["previous_version"] == before
    decision = client.post("/v1/decisions", json=capacity_request(), headers=CALLER).json()
    assert decision["effect"] == "deny"
    assert decision["policy_version"] == reloaded["policy_version"]
    metrics = client.get("/metrics").text
    assert 'igengine_policy_reloads_total{result="failed"} 1.0' in metrics
    assert 'igengine_policy_reloads_total{result="ok"} 1.0' in metrics


def test_a_started_worker_freezes_its_heap_and_a_reload_lets_the_old_pack_go(
    tmp_path: Path,
) -> None:
    # Frozen objects are left out of full garbage collections, which otherwise stall every
    # request in flight on the worker (see service/heap.py).
    pack = _pack_copy(tmp_path)
    app = create_app(settings(tmp_path, policies=pack), trail=FakeTrail())
    gc.unfreeze()
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 0
        old_pack = weakref.ref(app.state.igengine.engine.pack)
        _flip_capacity_rule(pack, "deny")
        assert client.post("/v1/policies/reload", headers=ADMIN).json()["changed"] is True
        assert old_pack() is None
        assert gc.get_freeze_count() > 0


def test_decisions_during_reloads_each_come_from_one_whole_pack(tmp_path: Path) -> None:
    pack = _pack_copy(tmp_path)
    client = TestClient(create_app(settings(tmp_path, policies=pack), trail=FakeTrail()))
    permit_version = client.get("/v1/policies", headers=CALLER).json()["version"]
    seen: list[tuple[str, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            response = client.post("/v1/decisions", json=capacity_request(), headers=CALLER)
            if response.status_code != 200:
                failures.append(response.text)
                return
            body = response.json()
            seen.append((body["policy_version"], body["effect"]))

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for thread in askers:
        thread.start()
    try:
        for effect in ["deny", "permit"] * 3:
            _flip_capacity_rule(pack, effect)
            assert client.post("/v1/policies/reload", headers=ADMIN).status_code == 200
    finally:
        stop.set()
        for thread in askers:
            thread.join()
    assert not failures
    versions = {version for version, _ in seen}
    assert len(versions) == 2, "decisions should have come from both packs"
    for version, effect in seen:
        assert effect == ("permit" if version == permit_version else "deny")


def test_metrics_count_decisions_by_effect_and_time_them(client: TestClient) -> None:
    client.post("/v1/decisions", json=capacity_request(), headers=CALLER)
    client.post("/v1/decisions", json=capacity_request(relationship="none"), headers=CALLER)
    client.post("/access/v1/evaluation", json=_authzen(), headers=CALLER)
    client.post("/v1/decisions", json=capacity_request(), headers={})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'igengine_decisions_total{effect="permit",endpoint="decisions"} 1.0' in text
    assert 'igengine_decisions_total{effect="deny",endpoint="decisions"} 1.0' in text
    assert 'igengine_decisions_total{effect="permit",endpoint="authzen"} 1.0' in text
    assert "igengine_decision_seconds_count 3.0" in text
    assert 'igengine_decision_seconds_bucket{le="+Inf"} 3.0' in text
    assert "igengine_audit_write_failures_total 0.0" in text
    assert 'igengine_requests_rejected_total{status="401"} 1.0' in text
    assert "igengine_rules_loaded" in text


def test_closing_the_service_closes_the_trail(tmp_path: Path) -> None:
    trail = FakeTrail()
    with TestClient(create_app(settings(tmp_path), trail=trail)) as client:
        assert client.get("/healthz").status_code == 200
        assert not trail.closed
    assert trail.closed


class LateTrail(FakeTrail):
    """Reports each write a little after the decision is made, as the real trail's writer
    does; `refuse` makes recording fail at once (a closed trail)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    async def record_async(
        self, request: Any, decision: Any, *, decision_json: str | None = None
    ) -> None:
        if self.refuse:
            raise RuntimeError("the audit trail is closed")
        failing = self.failing
        await asyncio.sleep(0.05)
        if failing:
            raise OSError("disk I/O error at commit")
        self.record(request, decision)


def test_a_decision_waits_for_its_entry_and_is_withheld_if_the_write_fails_later(
    tmp_path: Path,
) -> None:
    trail = LateTrail()
    client = TestClient(create_app(settings(tmp_path), trail=trail))
    written = client.post("/v1/decisions", json=capacity_request(), headers=CALLER)
    assert written.status_code == 200
    assert [decision.decision_id for _, decision in trail.entries] == [
        written.json()["decision_id"]
    ]
    trail.failing = True
    failed = client.post("/v1/decisions", json=capacity_request(), headers=CALLER)
    assert failed.status_code == 503 and "effect" not in failed.json()
    trail.failing, trail.refuse = False, True
    refused = client.post("/access/v1/evaluation", json=_authzen(), headers=CALLER)
    assert refused.status_code == 503 and "decision" not in refused.json()
    assert "igengine_audit_write_failures_total 2.0" in client.get("/metrics").text
    assert len(trail.entries) == 1


def test_concurrent_requests_share_commits_and_each_answer_is_in_the_trail(
    tmp_path: Path,
) -> None:
    """Sixty requests at once on one event loop, audit on a real SQLite trail: every answer
    is given only after its entry is written, and every given answer is in one chain."""
    from igengine.audit import AuditTrail

    configured = settings(
        tmp_path,
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        hmac_key=tmp_path / "hmac.key",
        signing_key=tmp_path / "signing.key",
    )
    app = create_app(configured)

    async def ask_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            asks = [
                client.post("/v1/decisions", json=capacity_request(id=f"p{n}"), headers=CALLER)
                for n in range(60)
            ]
            return await asyncio.gather(*asks)

    responses = asyncio.run(ask_all())
    app.state.igengine.trail.close()
    assert [response.status_code for response in responses] == [200] * 60
    given = sorted(response.json()["decision_id"] for response in responses)
    with AuditTrail.open(configured.audit_url or "", create=False) as trail:
        report = trail.verify(public_key_path=tmp_path / "signing.key.pub")
        recorded = sorted(entry.decision_id for entry in trail.query(limit=1000))
    assert report.ok, report.problem
    assert recorded == given


def test_the_answer_given_is_the_decision_the_trail_holds_word_for_word(tmp_path: Path) -> None:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    configured = settings(tmp_path, audit_url=audit, hmac_key=tmp_path / "hmac.key")
    with TestClient(create_app(configured)) as client:
        answers = [
            client.post("/v1/decisions", json=capacity_request(**subject), headers=CALLER).text
            for subject in ({"relationship": "care_team"}, {"relationship": "none"})
        ]
    stored = Tamper(audit)  # reads the rows as they are in the database
    bodies = [stored.row(seq)[3] for seq in (1, 2)]
    stored.close()
    for answer, body in zip(answers, bodies, strict=True):
        assert f'"decision":{answer},' in body
        assert json.loads(body)["decision"] == json.loads(answer)


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/v1/decisions", {"requester", "holder", "purpose", "record_type", "subject"}),
        ("/access/v1/evaluation", {"subject", "action", "resource", "context"}),
    ],
)
def test_the_openapi_document_describes_each_decision_body_and_answer(
    client: TestClient, path: str, fields: set[str]
) -> None:
    """Schema-driven clients learn the request's fields and codes, not just 'object'."""
    document = client.get("/openapi.json").json()
    operation = document["paths"][path]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    body = _resolved(document, schema)
    assert fields <= set(body["properties"])
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    answer_fields = set(_resolved(document, answer)["properties"])
    assert {"decision", "context"} <= answer_fields or {"effect", "legal_basis"} <= answer_fields
    if path == "/v1/decisions":
        purpose = _resolved(document, body["properties"]["purpose"])
        assert "direct_care" in purpose["enum"]


def test_the_authzen_schema_accepts_what_the_endpoint_accepts_and_names_its_facts(
    client: TestClient,
) -> None:
    from service import authzen
    from service.schemas import AuthZenContext, EvaluationRequest

    # The documented keys that are not facts are the ones the endpoint reads (with the FHIR
    # Consent, which it reads as the person's); the facts are the loaded pack's own.
    assert set(AuthZenContext.model_fields) == {*authzen.CONTEXT_KEYS, "fhir_consent"}
    document = client.get("/openapi.json").json()
    context = document["components"]["schemas"]["AuthZenContext"]["properties"]
    assert context["relationship"]["enum"] == ["care_team", "none"]
    assert context["objection"]["type"] == "boolean" and context["age"]["type"] == "integer"
    body = _authzen(relationship="care_team", subject_id="9434765919", has_capacity=False)
    EvaluationRequest.model_validate(body)
    assert client.post("/access/v1/evaluation", json=body, headers=CALLER).status_code == 200
