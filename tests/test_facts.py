"""The facts text the matcher reads is exactly the JSON of the request's facts, and the quick
effect used by would_permit_if's search agrees with the full combination.

The text is written from a cached part per organisation pair and a fixed template (for speed);
these tests tie it to a real JSON encoding, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import packs
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_reference_property import Pack, pack, request, with_change

from igengine import Engine, explain
from igengine.combine import combine, effect
from igengine.compile import (
    FactText,
    changed_facts,
    party_index,
    person_facts,
    request_facts,
)
from igengine.request import parse_request


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    parties = ["HOSP", "GPX", "COUNCIL"]
    agreements = [
        packs.agreement([packs.permit("p")], id=f"a{i}", parties=parties[: 1 + i % 3])
        for i in range(5)
    ]
    return Engine.from_directory(packs.write(tmp_path_factory.mktemp("pack"), *agreements))


def _text_facts(engine: Engine, raw: dict[str, Any], person: dict[str, Any]) -> Any:
    parsed = parse_request(raw)
    sectors = {code: org.sector for code, org in engine.pack.organisations.items()}
    text = FactText(sectors, party_index(engine.pack))
    pair = text.pair(parsed.requester.organisation, parsed.holder.organisation)
    return json.loads("{" + text.members(pair, person))


@settings(max_examples=300, deadline=None)
@given(raw=request())
def test_fact_text_is_the_json_of_the_request_facts(engine: Engine, raw: dict[str, Any]) -> None:
    parsed = parse_request(raw)
    sectors = {code: org.sector for code, org in engine.pack.organisations.items()}
    expected = json.loads(json.dumps(request_facts(parsed, sectors, engine.pack.vocabulary)))
    assert _text_facts(engine, raw, person_facts(parsed, engine.pack.vocabulary)) == expected


@settings(max_examples=200, deadline=None)
@given(
    raw=request(),
    change=st.fixed_dictionaries(
        {},
        optional={
            "subject.consent": st.sampled_from(["explicit", "refused"]),
            "subject.relationship": st.just("care_team"),
            "subject.has_capacity": st.just("false"),
            "subject.risk_of_serious_harm": st.booleans(),
            "justification": st.sampled_from(["", "unconscious in A&E"]),
        },
    ),
)
def test_changed_fact_text_is_the_json_of_the_changed_request(
    engine: Engine, raw: dict[str, Any], change: dict[str, Any]
) -> None:
    # would_permit_if never suggests consent in place of a recorded refusal (the person's
    # choice), so a refusal's objection is not undone by a change either.
    assume(raw["subject"].get("consent") != "refused" or "subject.consent" not in change)
    changed_raw = with_change(raw, change)
    vocabulary = engine.pack.vocabulary
    person = changed_facts(person_facts(parse_request(raw), vocabulary), change, vocabulary)
    expected = _text_facts(
        engine, changed_raw, person_facts(parse_request(changed_raw), vocabulary)
    )
    assert _text_facts(engine, raw, person) == expected


@settings(max_examples=200, deadline=None)
@given(generated=pack(), requests=st.lists(request(), min_size=3, max_size=6))
def test_quick_effect_agrees_with_combine(
    tmp_path_factory: pytest.TempPathFactory,
    generated: Pack,
    requests: list[dict[str, Any]],
) -> None:
    agreements, restrictions = generated
    directory: Path = tmp_path_factory.mktemp("generated")
    engine = Engine.from_directory(packs.write(directory, *agreements, restrictions=restrictions))
    for raw in requests:
        matched = engine.matching_rules(raw)
        # Dates before, inside and after the generated agreements' terms.
        for on in (date(2024, 6, 1), date(2026, 6, 1), date(2028, 6, 1)):
            assert effect(matched, on) == combine(matched, on).effect


@settings(max_examples=200, deadline=None)
@given(generated=pack(), requests=st.lists(request(), min_size=3, max_size=8))
def test_skipping_changes_no_permit_in_reach_accepts_changes_no_answer(
    tmp_path_factory: pytest.TempPathFactory,
    generated: Pack,
    requests: list[dict[str, Any]],
) -> None:
    """would_permit_if skips changes that no permit within reach would accept; asking
    durable-rules about every candidate instead must give the same suggestions."""
    agreements, restrictions = generated
    directory = tmp_path_factory.mktemp("reach")
    engine = Engine.from_directory(packs.write(directory, *agreements, restrictions=restrictions))
    quick = [engine.decide(raw).would_permit_if for raw in requests]
    search = explain.would_permit_if

    def every_change(*args: Any, within_reach: Any = None) -> list[explain.Change]:
        return search(*args, within_reach=None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(explain, "would_permit_if", every_change)
        exhaustive = [engine.decide(raw).would_permit_if for raw in requests]
    assert quick == exhaustive


def test_a_deny_asks_only_about_changes_a_permit_within_reach_would_accept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A social worker is denied (no consent). Within the social worker's reach is a permit
    needing explicit consent; a GP-only permit needs the care team. The answer suggests
    consent, and durable-rules is not asked about the care team at all."""
    agreement = packs.agreement(
        [
            packs.permit(
                "consented", requester={"roles": ["social_worker"]}, when={"consent": "explicit"}
            ),
            packs.permit(
                "gp-care-team", requester={"roles": ["gp"]}, when={"relationship": "care_team"}
            ),
        ]
    )
    engine = Engine.from_directory(packs.write(tmp_path, agreement))
    asked: list[str] = []
    matching = engine._snapshot.matcher.matching

    def counting(shard: str, members: str) -> list[str]:
        asked.append(members)
        return matching(shard, members)

    monkeypatch.setattr(engine._snapshot.matcher, "matching", counting)
    decision = engine.decide(packs.request(subject={"relationship": "none"}))
    assert decision.effect == "deny"
    assert decision.would_permit_if == [{"subject.consent": "explicit"}]
    assert len(asked) == 2  # the request itself, then with explicit consent
    assert not any('"relationship":"care_team"' in members for members in asked)
