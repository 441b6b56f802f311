"""Combining and explaining: effect, the rules and their roles, legal basis, rationale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import packs
import pytest

from igengine import Engine, RequestError
from igengine.explain import details


def engine_with(tmp_path: Path, *agreements: dict[str, Any]) -> Engine:
    return Engine.from_directory(packs.write(tmp_path, *agreements))


def roles(decision: Any) -> dict[str, str]:
    return {rule.id: rule.role for rule in decision.rules}


def test_permit_cites_its_legal_basis_and_obligations(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share")]))
    decision = engine.decide(packs.request())
    assert decision.permitted
    assert roles(decision) == {"care/share": "decisive"}
    provisions = [basis.provision for basis in decision.legal_basis]
    assert provisions == [
        "Article 6(1)(e)",
        "Article 9(2)(h)",
        "implied consent for individual care",
    ]
    assert decision.obligations == ["record_disclosure"]
    assert decision.rules[0].source.startswith(f"{tmp_path.name}/agreements/care.yaml:")
    assert "share allows it" in decision.rationale
    assert decision.agreement is not None and decision.agreement.id == "care"


def test_deny_beats_permit(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        packs.agreement([packs.permit("share"), packs.deny("objected", when={"objection": True})]),
    )
    decision = engine.decide(
        packs.request(subject={"relationship": "care_team", "objection": True})
    )
    assert not decision.permitted
    assert roles(decision) == {"care/objected": "decisive", "care/share": "overridden"}
    assert "objected forbids it" in decision.rationale
    assert decision.obligations == []


def test_permit_that_overrides_the_deny_wins_only_when_its_conditions_hold(tmp_path: Path) -> None:
    rules = [
        packs.deny("objected", when={"objection": True}),
        packs.permit(
            "safeguard",
            purposes=["safeguarding"],
            when={"risk_of_serious_harm": True},
            overrides=["objected"],
        ),
    ]
    engine = engine_with(tmp_path, packs.agreement(rules))
    at_risk = {"relationship": "care_team", "objection": True, "risk_of_serious_harm": True}
    decision = engine.decide(packs.request(purpose="safeguarding", subject=at_risk))
    assert decision.permitted
    assert roles(decision) == {"care/objected": "overridden", "care/safeguard": "decisive"}
    # Rule ids are the IG lead's trace: in the details, not in the nurse's three sentences.
    assert "overrides rule care/objected" in " ".join(details(decision, engine.pack))
    assert "care/objected" not in decision.rationale

    no_risk = {**at_risk, "risk_of_serious_harm": False}
    decision = engine.decide(packs.request(purpose="safeguarding", subject=no_risk))
    assert not decision.permitted
    assert roles(decision) == {"care/objected": "decisive"}
    # The person's objection is never suggested away; the risk route is.
    assert decision.would_permit_if == [{"subject.risk_of_serious_harm": True}]


def test_permit_that_does_not_name_the_deny_cannot_beat_it(tmp_path: Path) -> None:
    rules = [
        packs.deny("objected", when={"objection": True}),
        packs.deny("other", when={"objection": True}),
        packs.permit("share", overrides=["objected"]),
    ]
    engine = engine_with(tmp_path, packs.agreement(rules))
    decision = engine.decide(
        packs.request(subject={"relationship": "care_team", "objection": True})
    )
    assert not decision.permitted
    assert roles(decision) == {
        "care/objected": "decisive",
        "care/other": "informative",
        "care/share": "overridden",
    }


def test_nothing_matching_is_a_deny_saying_no_agreement_covers_it(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share", records=["care_plan"])]))
    decision = engine.decide(packs.request())
    assert not decision.permitted
    assert decision.rules == []
    assert "no data-sharing agreement covers" in decision.rationale
    assert "ask your IG lead or Caldicott Guardian" in decision.rationale


def test_organisation_not_party_to_the_agreement_is_not_covered(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share")]))
    police = {"role": "police_officer", "organisation": "POL"}
    decision = engine.decide(packs.request(requester=police))
    assert not decision.permitted and decision.rules == []


def test_expired_agreement_is_named_and_does_not_apply(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share")]))
    decision = engine.decide(packs.request(at="2028-02-01T09:00:00Z"))
    assert not decision.permitted
    assert decision.rules == []
    assert (
        "Test care agreement" in decision.rationale and "ended on 2027-12-31" in decision.rationale
    )
    assert [a.id for a in decision.not_in_force] == ["care"]


def test_agreement_not_yet_started_does_not_apply(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share")]))
    decision = engine.decide(packs.request(at="2024-06-01T09:00:00Z"))
    assert not decision.permitted and "does not start until 2025-01-01" in decision.rationale


def test_would_permit_if_lists_the_smallest_changes(tmp_path: Path) -> None:
    rules = [
        packs.permit("team", when={"relationship": "care_team"}),
        packs.permit("consented", when={"consent": "explicit"}),
    ]
    engine = engine_with(tmp_path, packs.agreement(rules))
    decision = engine.decide(packs.request(subject={}))
    assert decision.would_permit_if == [
        {"subject.relationship": "care_team"},
        {"subject.consent": "explicit"},
    ]
    assert "requester is in the person's care team" in decision.rationale
    # The defaults the answer relied on are named.
    assert "the requester is not in the person's care team" in decision.assumed


def test_would_permit_if_never_suggests_overriding_a_refusal(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path, packs.agreement([packs.permit("c", when={"consent": "explicit"})])
    )
    decision = engine.decide(packs.request(subject={"consent": "refused"}))
    assert not decision.permitted and decision.would_permit_if == []


def test_would_permit_if_finds_two_field_changes(tmp_path: Path) -> None:
    rule = packs.permit("both", when={"relationship": "care_team", "consent": "explicit"})
    engine = engine_with(tmp_path, packs.agreement([rule]))
    decision = engine.decide(packs.request(subject={}))
    assert decision.would_permit_if == [
        {"subject.relationship": "care_team", "subject.consent": "explicit"}
    ]


def test_internal_error_gives_fail_safe_deny(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share")]))

    def broken(*_: Any) -> list[str]:
        raise RuntimeError("rules engine exploded")

    monkeypatch.setattr(engine._snapshot.matcher, "matching", broken)
    decision = engine.decide(packs.request())
    assert decision.effect == "deny"
    assert decision.error is not None and "rules engine exploded" in decision.error
    assert decision.rationale.startswith("Fail-safe deny")
    assert decision.rules == [] and decision.obligations == []


def test_audit_failure_gives_fail_safe_deny(tmp_path: Path) -> None:
    class DownAudit:
        def record(self, *_: Any) -> None:
            raise OSError("disk full")

    engine = Engine.from_directory(
        packs.write(tmp_path, packs.agreement([packs.permit("share")])), audit=DownAudit()
    )
    decision = engine.decide(packs.request())
    assert decision.effect == "deny"
    assert decision.error is not None and "audit trail could not be written" in decision.error


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        ({"purpose": "direct_cart"}, "purpose", "did you mean 'direct_care'"),
        (
            {"record_type": "capacity_assesment"},
            "record_type",
            "did you mean 'capacity_assessment'",
        ),
        (
            {"requester": {"role": "nurse", "organisation": "COUNCIL"}},
            "requester.role",
            "ward_nurse",
        ),
        ({"holder": {"organisation": "HOSPX"}}, "holder.organisation", "did you mean 'HOSP'"),
        ({"subject": {"age": "old"}}, "subject.age", "integer"),
        ({"holder": {}}, "holder.organisation", "required"),
    ],
)
def test_malformed_request_names_the_field(
    tmp_path: Path, change: dict[str, Any], field: str, hint: str
) -> None:
    engine = engine_with(tmp_path, packs.agreement([packs.permit("share")]))
    with pytest.raises(RequestError) as raised:
        engine.decide(packs.request(**change))
    assert isinstance(raised.value, ValueError)
    fields = dict(raised.value.errors)
    assert field in fields and hint in fields[field]


def test_reload_swaps_the_pack_and_keeps_the_old_one_on_error(tmp_path: Path) -> None:
    directory = packs.write(tmp_path, packs.agreement([packs.deny("no", when={})]))
    engine = Engine.from_directory(directory)
    before = engine.policy_version
    assert not engine.decide(packs.request()).permitted
    packs.write(tmp_path, packs.agreement([packs.permit("share")]))
    assert engine.reload() != before
    decision = engine.decide(packs.request())
    assert decision.permitted and decision.policy_version == engine.policy_version

    (directory / "agreements" / "care.yaml").write_text("id: care\nrules: [")
    with pytest.raises(ValueError, match="not valid YAML"):
        engine.reload()
    assert engine.decide(packs.request()).permitted
