"""The rationale a member of staff reads: at most three sentences (what is decided, the reason
in the rule's own words, the one thing to do), with the trace (rule ids, agreement titles,
statutes, assumptions) kept to the details that `igengine explain` and the page show."""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path
from typing import Any

import packs
import pytest
from equivalence import ORGANISATIONS, PURPOSES, RECORDS, ROLES

from igengine import Decision, Engine
from igengine.explain import details
from igengine.scenarios import run_features

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"
POLICIES = ROOT / "policies"
ON = date(2026, 6, 1)  # every shipped agreement is in force on this date

# The shipped pack's codes, written out (in tests/equivalence.py) so the requests do not depend
# on the engine under test.
FACTS: dict[str, list[Any]] = {
    "relationship": ["care_team", "none"],
    "objection": [True, False],
    "consent": ["explicit", "refused", "none"],
    "national_data_opt_out": [True, False],
    "has_capacity": ["true", "false", "unknown"],
    "risk_of_serious_harm": [True, False],
    "age": [4, 15, 17, 40, 90],
    "s251_support": [True, False],
    "anonymised": [True, False],
}
# No time (an answer for now), a time in force, one after an agreement ended, one before.
TIMES = [None, "2026-06-01T09:00:00Z", "2028-06-01T09:00:00Z", "2024-03-01T09:00:00Z"]

# A reader's sentence ends at . ! or ? before a capital (or a bracket) or at the very end:
# "e.g. hormone" and "s22(4)" do not end one.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z(]|\s*$)")


def sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text.strip()))


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_directory(POLICIES)


def spread(count: int, seed: int = 18) -> list[dict[str, Any]]:
    """`count` requests over every code, about half the person's facts given."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        subject = {name: rng.choice(v) for name, v in FACTS.items() if rng.random() < 0.5}
        request: dict[str, Any] = {
            "requester": {"role": rng.choice(ROLES), "organisation": rng.choice(ORGANISATIONS)},
            "holder": {"organisation": rng.choice(ORGANISATIONS)},
            "purpose": rng.choice(PURPOSES),
            "record_type": rng.choice(RECORDS),
            "subject": subject,
        }
        if (at := rng.choice(TIMES)) is not None:
            request["at"] = at
        if rng.random() < 0.3:
            request["justification"] = "Unconscious in A&E and needs treatment now."
        made.append(request)
    return made


def asking(role: str, organisation: str, record: str, *, care_team: bool) -> dict[str, Any]:
    """The hospital (RNG) asked for a record for direct care."""
    return {
        "requester": {"role": role, "organisation": organisation},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": record,
        "subject": {"relationship": "care_team"} if care_team else {},
    }


def _too_long(decisions: list[Decision]) -> list[str]:
    return [d.rationale for d in decisions if sentences(d.rationale) > 3]


def test_every_public_scenario_is_answered_in_at_most_three_sentences(engine: Engine) -> None:
    report = run_features(FEATURES, engine, on=ON)
    decisions = [r.decision for r in report.results if r.decision is not None]
    assert len(decisions) >= 80
    assert _too_long(decisions) == []


def test_a_generated_spread_is_answered_in_at_most_three_sentences(engine: Engine) -> None:
    decisions = [engine.decide(request) for request in spread(1500)]
    # The spread reaches every kind of answer the words differ for.
    assert {d.effect for d in decisions} == {"permit", "deny"}
    assert any(d.what_if for d in decisions) and any(not d.what_if for d in decisions)
    assert any(d.not_in_force for d in decisions)
    assert any(d.would_permit_if for d in decisions)
    assert any(r.role == "overridden" for d in decisions for r in d.rules)
    assert _too_long(decisions) == []


def test_the_rationale_leaves_the_trace_to_the_details(engine: Engine) -> None:
    for request in spread(400, seed=7):
        decision = engine.decide(request)
        said = " ".join(details(decision, engine.pack))
        for rule in decision.rules:
            assert rule.id not in decision.rationale
            assert rule.id in said and rule.source in said
        assert "Assumed because" not in decision.rationale
        if decision.assumed:
            assert "Assumed because the request did not say" in said
        if decision.agreement is not None:
            assert decision.agreement.title not in decision.rationale


def test_the_rationale_says_what_is_decided_the_reason_and_what_to_do(engine: Engine) -> None:
    decision = engine.decide(asking("social_worker", "NGCC", "capacity_assessment", care_team=True))
    assert decision.permitted
    first, reason, todo = _SENTENCE_END.split(decision.rationale)[:3]
    # Worded for whoever holds the record and would share it, as the page asks.
    assert first.startswith("Permitted: Northgate Hospitals NHS Foundation Trust may share")
    assert "with a social worker at Northgate City Council" in first
    assert "direct care" in reason  # the rule's own `because`
    assert "minimum information needed" in todo  # its first obligation
    assert sentences(decision.rationale) == 3


def test_a_deny_that_a_change_would_permit_says_which_change(engine: Engine) -> None:
    decision = engine.decide(asking("gp", "NG001", "discharge_summary", care_team=False))
    assert not decision.permitted and decision.would_permit_if
    assert decision.rationale.endswith(
        "It would be permitted if the requester is in the person's care team."
    )
    assert sentences(decision.rationale) <= 3


def test_a_fail_safe_deny_says_what_happened_in_two_sentences(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> list[str]:
        raise RuntimeError("rules engine exploded. Twice. Badly.")

    monkeypatch.setattr(engine._snapshot.matcher, "matching", broken)
    decision = engine.decide(spread(1)[0])
    assert decision.rationale.startswith("Fail-safe deny")
    assert "Do not share" in decision.rationale
    assert sentences(decision.rationale) == 2
    # What went wrong is kept, in the error field and the details.
    assert decision.error is not None and "exploded" in decision.error
    assert f"Error: {decision.error}" in details(decision, engine.pack)


def test_a_consent_record_and_a_what_if_still_fit_in_three_sentences(engine: Engine) -> None:
    from test_fhir_consent import DISSENT  # a FHIR Consent refusing all sharing

    asked = asking("social_worker", "NGCC", "capacity_assessment", care_team=True)
    asked["subject"]["fhir_consent"] = DISSENT
    decision = engine.decide({**asked, "at": "2026-06-01T09:00:00Z"})
    assert decision.what_if and not decision.permitted
    assert decision.rationale.startswith("What-if answer for 2026-06-01, not for now")
    assert "FHIR Consent record was used: it records an objection" in decision.rationale
    assert sentences(decision.rationale) <= 3


def test_several_agreements_not_in_force_are_named_in_one_sentence(tmp_path: Path) -> None:
    ended = packs.agreement([packs.permit("share")])
    later = packs.agreement(
        [packs.permit("share")],
        id="next",
        title="Next care agreement",
        start_date="2029-01-01",
        end_date="2031-12-31",
        review_date="2030-01-01",
    )
    engine = Engine.from_directory(packs.write(tmp_path, ended, later))
    decision = engine.decide(packs.request(at="2028-06-01T12:00:00Z"))
    assert not decision.permitted and len(decision.not_in_force) == 2
    assert (
        "The agreements 'Test care agreement' (ended on 2027-12-31) and 'Next care agreement' "
        "(does not start until 2029-01-01) would have applied, but were not in force on "
        "2028-06-01."
    ) in decision.rationale
    assert sentences(decision.rationale) <= 3
