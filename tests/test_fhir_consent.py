"""FHIR R4 Consent records read into a request's person facts: a dissent, the national data
opt-out, an explicit consent for one purpose; conflicts with the request's own flags; malformed
resources answered with the FHIR path; and the engine using them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from igengine import Decision, Engine, PolicyError, RequestError
from igengine.fhir import PURPOSE_OF_USE, merge_subject, subject_from_consent
from igengine.policy.validate import load_pack

ROOT = Path(__file__).resolve().parent.parent
PACK = load_pack(ROOT / "policies")
assert PACK.fhir is not None
FHIR = PACK.fhir
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _consent(provision: dict[str, Any], status: str = "active") -> dict[str, Any]:
    """A Consent shaped like the FHIR R4 examples: privacy scope, patient, a provision."""
    return {
        "resourceType": "Consent",
        "id": "consent-test",
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/test-person"},
        "dateTime": "2025-06-01",
        "provision": provision,
    }


def _purposes(*codes: str) -> list[dict[str, str]]:
    return [{"system": PURPOSE_OF_USE, "code": code} for code in codes]


DISSENT = _consent({"type": "deny", "period": {"start": "2025-06-01"}})
OPT_OUT = _consent({"type": "deny", "purpose": _purposes("HRESCH", "HOPERAT")})
RESEARCH_CONSENT = _consent({"type": "permit", "purpose": _purposes("HRESCH")})
EXPIRED_DISSENT = _consent({"type": "deny", "period": {"end": "2025-12-31"}})
# Deny by default, with a nested permit for treatment (the R4 examples' layered shape).
CARE_ONLY = _consent(
    {"type": "deny", "provision": [{"type": "permit", "purpose": _purposes("TREAT")}]}
)


def _facts(resource: dict[str, Any], purpose: str) -> dict[str, Any]:
    return subject_from_consent(resource, purpose=purpose, fhir=FHIR, at=AT)


def test_a_dissent_from_all_sharing_is_an_objection_and_a_refusal_for_any_purpose() -> None:
    for purpose in ("direct_care", "research"):
        facts = _facts(DISSENT, purpose)
        assert facts["objection"] is True and facts["consent"] == "refused"
    assert _facts(DISSENT, "research")["national_data_opt_out"] is True


def test_the_national_data_opt_out_is_a_deny_for_research_and_planning() -> None:
    assert _facts(OPT_OUT, "direct_care") == {"national_data_opt_out": True}
    assert _facts(OPT_OUT, "research") == {
        "objection": True,
        "consent": "refused",
        "national_data_opt_out": True,
    }


def test_an_explicit_consent_counts_only_for_the_purpose_it_names() -> None:
    assert _facts(RESEARCH_CONSENT, "research") == {"consent": "explicit"}
    assert _facts(RESEARCH_CONSENT, "direct_care") == {}


def test_a_deny_wins_over_a_nested_permit_for_the_same_purpose() -> None:
    # The root deny covers every purpose, treatment included: the protective reading.
    assert _facts(CARE_ONLY, "direct_care")["consent"] == "refused"


def test_a_consent_not_in_force_gives_no_facts() -> None:
    assert _facts(EXPIRED_DISSENT, "direct_care") == {}
    assert _facts({**DISSENT, "status": "inactive"}, "direct_care") == {}
    before = subject_from_consent(
        DISSENT, purpose="direct_care", fhir=FHIR, at=datetime(2025, 5, 31, tzinfo=UTC)
    )
    assert before == {}


def test_the_more_protective_source_wins_a_conflict() -> None:
    assert merge_subject({"consent": "explicit"}, {"consent": "refused"})["consent"] == "refused"
    assert merge_subject({"consent": "refused"}, {"consent": "explicit"})["consent"] == "refused"
    assert merge_subject({}, {"consent": "explicit"})["consent"] == "explicit"
    assert merge_subject({"objection": True}, {})["objection"] is True
    assert merge_subject({"national_data_opt_out": False}, {"national_data_opt_out": True}) == {
        "national_data_opt_out": True
    }


def _broken(path: list[str | int], value: Any) -> dict[str, Any]:
    resource = copy.deepcopy(CARE_ONLY)
    target: Any = resource
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return resource


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        ({"resourceType": "Patient", "id": "p"}, "Consent.resourceType"),
        ("not a resource", "Consent"),
        (_broken(["provision", "provision", 0, "type"], "maybe"),
         "Consent.provision.provision[0].type"),
        (_broken(["provision", "provision", 0, "purpose", 0, "code"], "SHOPPING"),
         "Consent.provision.provision[0].purpose[0].code"),
        (_broken(["provision", "period"], {"start": "last tuesday"}),
         "Consent.provision.period.start"),
        (_broken(["status"], 7), "Consent.status"),
    ],
)  # fmt: skip
def test_a_malformed_consent_names_the_fhir_path(resource: Any, field: str) -> None:
    with pytest.raises(RequestError) as raised:
        subject_from_consent(resource, purpose="direct_care", fhir=FHIR, at=AT)
    assert field in [name for name, _ in raised.value.errors], raised.value.errors


ENGINE = Engine(PACK)


def _request(purpose: str, record: str, subject: dict[str, Any]) -> dict[str, Any]:
    return {
        "requester": {"role": "social_worker", "organisation": "NGCC"},
        "holder": {"organisation": "RNG"},
        "purpose": purpose,
        "record_type": record,
        "subject": {"relationship": "care_team", **subject},
        "at": AT.isoformat(),
    }


def test_the_engine_decides_on_the_consent_and_says_it_was_used() -> None:
    asked = _request("direct_care", "capacity_assessment", {})
    with_flag = ENGINE.decide(_request("direct_care", "capacity_assessment", {"objection": True}))
    with_record = ENGINE.decide(
        _request("direct_care", "capacity_assessment", {"fhir_consent": DISSENT})
    )
    assert ENGINE.decide(asked).permitted
    assert with_record.effect == with_flag.effect
    assert [rule.id for rule in with_record.rules] == [rule.id for rule in with_flag.rules]
    assert "FHIR Consent record was used" in with_record.rationale
    assert "objection" in with_record.rationale
    assert "FHIR Consent" not in ENGINE.decide(asked).rationale


def test_the_engine_keeps_a_refusal_from_the_request_over_the_records_consent() -> None:
    subject = {"consent": "refused", "fhir_consent": RESEARCH_CONSENT}
    own_refusal = ENGINE.decide(_request("research", "gp_summary", {"consent": "refused"}))
    both = ENGINE.decide(_request("research", "gp_summary", subject))
    assert both.effect == own_refusal.effect
    assert [rule.id for rule in both.rules] == [rule.id for rule in own_refusal.rules]


def test_the_engine_names_the_request_field_of_a_malformed_consent() -> None:
    bad = _broken(["provision", "provision", 0, "type"], "maybe")
    with pytest.raises(RequestError) as raised:
        ENGINE.decide(_request("direct_care", "capacity_assessment", {"fhir_consent": bad}))
    assert [name for name, _ in raised.value.errors] == [
        "subject.fhir_consent.provision.provision[0].type"
    ]
    answers = ENGINE.decide_many(
        [_request("direct_care", "capacity_assessment", {"fhir_consent": bad})]
    )
    assert isinstance(answers[0], RequestError)


def test_the_consent_itself_is_not_kept_in_the_recorded_request() -> None:
    recorded: list[Any] = []

    class Sink:
        def record(self, request: Any, decision: Decision) -> None:
            recorded.append(request)

    Engine(PACK, audit=Sink()).decide(
        _request("direct_care", "capacity_assessment", {"fhir_consent": DISSENT})
    )
    subject = recorded[0].subject
    assert subject.fhir_consent is None and subject.objection is True
    assert "test-person" not in recorded[0].model_dump_json()


def test_a_pack_without_a_fhir_section_refuses_a_consent(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    for path in (ROOT / "policies").rglob("*.yaml"):
        if path.name != "fhir.yaml":
            target = pack / path.relative_to(ROOT / "policies")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text())
    with pytest.raises(RequestError, match="no `fhir:` section"):
        Engine.from_directory(pack).decide(
            _request("direct_care", "capacity_assessment", {"fhir_consent": DISSENT})
        )


def test_a_bad_purpose_table_is_reported_with_file_and_line(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    for path in (ROOT / "policies").rglob("*.yaml"):
        target = pack / path.relative_to(ROOT / "policies")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    text = (pack / "fhir.yaml").read_text().replace("HRESCH: [research]", "HRESCH: [reserch]")
    (pack / "fhir.yaml").write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if "reserch" in x)) + 1
    with pytest.raises(PolicyError) as raised:
        load_pack(pack)
    assert f"pack/fhir.yaml:{line}: fhir.purpose_of_use.HRESCH[0]: 'reserch'" in str(raised.value)
