"""`Engine.decide_many`: a batch answered in order, each bad item answered by its own error,
a bounded size, and every decision recorded as its own entry in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from audit_support import capacity_request, engine, open_trail, store_url
from test_audit_trail import _block_writes

from igengine import Decision, Engine, Request, RequestError
from igengine.engine import MAX_BATCH

__all__ = ["engine", "store_url"]  # fixtures used by name below


def _mixed_batch() -> list[Any]:
    """A permit, a deny, a malformed request, an unknown organisation, then a permit again."""
    return [
        capacity_request("p-1"),
        capacity_request("p-2", care_team=False),
        {**capacity_request("p-3"), "purpose": "curiosity"},
        capacity_request("p-4", organisation="NOPE"),
        capacity_request("p-5"),
    ]


def test_each_request_is_answered_in_its_place_as_decide_would(engine: Engine) -> None:
    answers = engine.decide_many(_mixed_batch())
    assert len(answers) == 5
    first, second, bad, unknown, last = answers
    assert isinstance(first, Decision) and first.permitted
    assert isinstance(second, Decision) and second.effect == "deny"
    assert second.rules == engine.decide(capacity_request("p-2", care_team=False)).rules
    assert isinstance(bad, RequestError)
    assert [field for field, _ in bad.errors] == ["purpose"]
    assert isinstance(unknown, RequestError)
    assert [field for field, _ in unknown.errors] == ["requester.organisation"]
    assert isinstance(last, Decision) and last.permitted
    assert first.decision_id != last.decision_id


def test_parsed_requests_and_an_empty_batch_are_accepted(engine: Engine) -> None:
    parsed = Request.model_validate(capacity_request())
    answers = engine.decide_many((parsed, capacity_request()))
    assert [isinstance(answer, Decision) and answer.permitted for answer in answers] == [True] * 2
    assert engine.decide_many([]) == []


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"requests": []}, "expected a list of requests, got dict"),
        ("abc", "expected a list of requests, got str"),
        ([capacity_request()] * (MAX_BATCH + 1), f"at most {MAX_BATCH} requests, not 101"),
    ],
)
def test_a_batch_that_is_not_a_list_or_too_long_is_refused_whole(
    engine: Engine, batch: Any, message: str
) -> None:
    with pytest.raises(RequestError) as raised:
        engine.decide_many(batch)
    assert [field for field, _ in raised.value.errors] == ["requests"]
    assert message in str(raised.value)


def test_a_full_batch_is_decided(engine: Engine) -> None:
    answers = engine.decide_many([capacity_request(f"p-{n}") for n in range(MAX_BATCH)])
    assert all(isinstance(answer, Decision) and answer.permitted for answer in answers)


class _BatchSink:
    """Records what it is given; fails every call when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[list[tuple[Request, Decision]]] = []

    def record(self, request: Request, decision: Decision) -> None:
        raise AssertionError("a batch sink is given the batch, not one decision at a time")

    def record_many(self, entries: Sequence[tuple[Request, Decision]]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.calls.append(list(entries))


class _OneAtATimeSink:
    """A sink without `record_many` that refuses one person's entry."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.recorded: list[str | None] = []

    def record(self, request: Request, decision: Decision) -> None:
        if request.subject.id == self.refuse:
            raise OSError("refused")
        self.recorded.append(request.subject.id)


def test_a_batch_sink_gets_every_decision_in_one_call(engine: Engine) -> None:
    sink = _BatchSink()
    answers = Engine(engine.pack, audit=sink).decide_many(_mixed_batch())
    assert len(sink.calls) == 1
    recorded = sink.calls[0]
    assert [request.subject.id for request, _ in recorded] == ["p-1", "p-2", "p-5"]
    assert [decision for _, decision in recorded] == [answers[0], answers[1], answers[4]]


def test_when_the_batch_cannot_be_recorded_every_decision_is_a_fail_safe_deny(
    engine: Engine,
) -> None:
    answers = Engine(engine.pack, audit=_BatchSink(fail=True)).decide_many(_mixed_batch())
    decisions = [answer for answer in answers if isinstance(answer, Decision)]
    assert len(decisions) == 3
    for decision in decisions:
        assert decision.effect == "deny" and not decision.permitted
        assert decision.error is not None and "audit trail could not be written" in decision.error
    assert isinstance(answers[2], RequestError)


def test_a_sink_without_record_many_records_each_and_fails_closed_alone(engine: Engine) -> None:
    sink = _OneAtATimeSink(refuse="p-1")
    answers = Engine(engine.pack, audit=sink).decide_many(_mixed_batch())
    assert sink.recorded == ["p-2", "p-5"]
    first, last = answers[0], answers[4]
    assert isinstance(first, Decision) and first.error is not None and not first.permitted
    assert isinstance(last, Decision) and last.permitted


def test_each_decision_is_its_own_entry_in_the_trail(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    with open_trail(store_url, tmp_path) as trail:
        answers = Engine(engine.pack, audit=trail).decide_many(_mixed_batch())
        entries = trail.query()
        decided = [answer for answer in answers if isinstance(answer, Decision)]
        assert [entry.decision_id for entry in entries] == [d.decision_id for d in decided]
        assert [entry.person for entry in entries] == [
            trail.pseudonym(person) for person in ("p-1", "p-2", "p-5")
        ]
        assert [entry.effect for entry in entries] == ["permit", "deny", "permit"]
        report = trail.verify()
        assert report.ok and report.entries == 3


def test_a_blocked_store_records_none_of_the_batch_and_permits_nothing(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    url = f"{store_url}{'&' if '?' in store_url else '?'}timeout=0.2"
    with open_trail(url, tmp_path) as trail:
        audited = Engine(engine.pack, audit=trail)
        blocker = _block_writes(url)
        try:
            refused = audited.decide_many([capacity_request("p-1"), capacity_request("p-2")])
        finally:
            blocker.rollback()
            blocker.close()
        assert all(isinstance(d, Decision) and not d.permitted and d.error for d in refused)
        kept = audited.decide_many([capacity_request("p-3")])
        assert isinstance(kept[0], Decision) and kept[0].permitted
        assert [entry.person for entry in trail.query()] == [trail.pseudonym("p-3")]
        assert trail.verify().ok
