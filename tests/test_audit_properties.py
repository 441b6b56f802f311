"""Invariants of the chain: it verifies after any sequence of appends, checkpoints and
reviews, and reopening the store changes nothing."""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from audit_support import POLICIES, break_glass_request, capacity_request, open_trail
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from igengine import Engine
from igengine.audit import AuditTrail
from igengine.audit.entry import canonical, chain_hash, decision_body
from igengine.audit.keys import Pseudonymiser
from igengine.request import parse_request

ENGINE = Engine.from_directory(POLICIES)

people = st.one_of(st.none(), st.text(min_size=1, max_size=12))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("decide"), people, st.booleans()),
        st.tuples(st.just("break_glass"), people, st.just(True)),
        st.tuples(st.just("checkpoint"), st.none(), st.just(True)),
        st.tuples(st.just("review"), st.none(), st.just(True)),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations, st.integers(min_value=1, max_value=7))
def test_the_chain_verifies_after_any_sequence_of_appends(
    steps: list[tuple[str, str | None, bool]], every: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        keys = Path(directory)
        url = f"sqlite:///{keys}/audit.db"
        trail = open_trail(url, keys, checkpoint_every=every)
        audited = Engine(ENGINE.pack, audit=trail)
        written = 0
        for kind, person, care_team in steps:
            if kind == "decide":
                decision = audited.decide(capacity_request(person, care_team=care_team))
            elif kind == "break_glass":
                decision = audited.decide(break_glass_request(person))
            elif kind == "checkpoint":
                trail.checkpoint()
                continue
            else:
                pending = trail.pending_reviews()
                if not pending:
                    continue
                trail.mark_reviewed(pending[0].decision_id, "reviewer", "ok")
                written += 1
                continue
            assert decision.error is None
            written += 1
        report = trail.verify()
        assert report.ok, report.problem
        assert report.entries == written
        assert report.checkpoints >= written // every
        trail.close()
        with AuditTrail.open(url, create=False) as reopened:
            again = reopened.verify(public_key_path=keys / "signing.key.pub")
        assert again.ok and again.entries == written
        assert again.head_hash == report.head_hash


@given(
    st.dictionaries(st.text(max_size=5), st.one_of(st.text(), st.integers(), st.booleans())),
    st.integers(min_value=1, max_value=10**12),
)
def test_the_entry_hash_is_the_sha256_of_canonical_json(body: dict[str, object], seq: int) -> None:
    """The concatenation the verifier hashes is exactly the canonical JSON encoding."""
    import hashlib

    prev = "ab" * 32
    text = canonical({"body": body, "prev_hash": prev, "seq": seq})
    assert chain_hash(seq, prev, canonical(body)) == hashlib.sha256(text.encode()).hexdigest()


def test_long_entries_hash_the_same_however_they_are_fed_to_sha256() -> None:
    """The writer hashes long entries in pieces (to keep the GIL); the hash must not change
    for any length, across one and several piece boundaries."""
    import hashlib

    prev = "cd" * 32
    for length in [*range(1900, 2100), *range(3950, 4150), 20_000]:
        body = canonical({"note": "x" * length})
        text = f'{{"body":{body},"prev_hash":"{prev}","seq":7}}'
        assert chain_hash(7, prev, body) == hashlib.sha256(text.encode()).hexdigest()


@settings(max_examples=60, deadline=None)
@example(person="D", justification=None, rationale=None, break_glass=True)  # "ED" stays
@given(
    person=people,
    justification=st.one_of(st.none(), st.text(max_size=40)),
    rationale=st.one_of(st.none(), st.text(max_size=40)),
    break_glass=st.booleans(),
)
def test_a_decision_body_is_ascii_json_of_the_pseudonymised_request_and_the_decision(
    person: str | None, justification: str | None, rationale: str | None, break_glass: bool
) -> None:
    """Whatever the text (non-ASCII wording in a pack or a justification included), the body
    is ASCII and holds exactly the request, with the person pseudonymised, and the decision."""
    # Numbers (the subject's, written with any spacing, and NHS numbers in the text) have
    # tests of their own below; here the text is scrubbed only of the subject's words.
    assume(person is None or not _digits_only(person))
    assume(sum(ch in "0123456789" for ch in justification or "") < 10)
    asked = break_glass_request(person) if break_glass else capacity_request(person)
    if justification is not None:
        asked["justification"] = justification
    request = parse_request(asked)
    decision = ENGINE.decide(request)
    if rationale is not None:
        decision = decision.model_copy(update={"rationale": rationale})
    pseudonym = Pseudonymiser(b"k" * 32)
    now = datetime(2026, 11, 23, 16, 30, 5, 123456, tzinfo=UTC)
    body = decision_body(request, decision, pseudonym, now)
    expected_request = request.model_dump(mode="json")
    if person is not None:
        expected_request["subject"]["id"] = pseudonym(person)
        stored_justification = expected_request.get("justification")
        if stored_justification:
            expected_request["justification"] = _as_whole_tokens_replaced(
                stored_justification, person, f"[person {pseudonym(person)[:12]}]"
            )
    assert body.isascii()
    assert json.loads(body) == {
        "kind": "decision",
        "at": "2026-11-23T16:30:05.123456Z",
        "break_glass": "retrospective_review" in decision.obligations,
        "request": expected_request,
        "decision": decision.to_dict(),
    }


def _digits_only(person: str) -> bool:
    digits = "".join(person.split()).replace("-", "")
    return digits.isascii() and digits.isdigit()


def _as_whole_tokens_replaced(text: str, person: str, label: str) -> str:
    """The person's identifier (as given, or without its spaces) replaced where it stands as
    a whole token, never inside a longer word ("D" is not replaced in "ED")."""
    forms = sorted({person.strip(), "".join(person.split())} - {""}, key=len, reverse=True)
    if not forms:
        return text
    either = "|".join(re.escape(form) for form in forms)
    return re.sub(rf"(?<!\w)(?:{either})(?!\w)", lambda _: label, text)
