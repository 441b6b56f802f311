"""`igengine diff`: every kind of request two packs answer differently, and nothing else."""

from __future__ import annotations

import json
import random
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import packs
import pytest
from service_support import POLICIES
from typer.testing import CliRunner

from igengine import Engine, diff
from igengine.cli import app
from igengine.policy.validate import load_pack

runner = CliRunner()
ON = date(2026, 6, 1)
FLIPPED = "ntg-int-care/capacity-assessment-direct-care"
RULE_TEXT = "  - id: capacity-assessment-direct-care\n    effect: permit\n"


def flipped_copy(tmp_path: Path) -> Path:
    """The shipped pack with one rule's effect flipped from permit to deny."""
    pack = tmp_path / "flipped"
    shutil.copytree(POLICIES, pack)
    path = pack / "agreements" / "integrated-care.yaml"
    text = path.read_text()
    assert RULE_TEXT in text
    path.write_text(text.replace(RULE_TEXT, RULE_TEXT.replace("permit", "deny")))
    return pack


def _answer(engine: Engine, request: dict[str, Any]) -> tuple[Any, ...]:
    decision = engine.decide(request)
    return decision.effect, decision.legal_basis, decision.obligations


def test_a_pack_against_itself_changes_nothing_and_exits_0() -> None:
    report = diff.diff_packs(load_pack(POLICIES), load_pack(POLICIES), ON)
    assert not report.changed and report.groups == []
    result = runner.invoke(app, ["diff", str(POLICIES), str(POLICIES), "--on", ON.isoformat()])
    assert result.exit_code == 0, result.output
    assert "SAME" in result.output


def test_every_request_reported_changes_and_is_one_the_flipped_rule_matches(
    tmp_path: Path,
) -> None:
    old_pack, new_pack = load_pack(POLICIES), load_pack(flipped_copy(tmp_path))
    report = diff.diff_packs(old_pack, new_pack, ON)
    old, new = Engine(old_pack), Engine(new_pack)
    changes = [c for group in report.groups for c in group.changes]
    assert changes
    for changed in changes:
        assert _answer(old, changed.request) != _answer(new, changed.request)
        assert FLIPPED in [rule.id for rule in old.decide(changed.request).rules]
    # Only the records and the purpose the rule covers can change.
    assert {c.request["record_type"] for c in changes} == {
        "capacity_assessment",
        "best_interests_decision",
    }
    assert {c.request["purpose"] for c in changes} == {"direct_care"}


def _random_request(rng: random.Random, codes: list[str]) -> dict[str, Any]:
    consent = rng.choice(packs.choices("consent"))
    return {
        "requester": {"role": rng.choice(packs.codes("roles")), "organisation": rng.choice(codes)},
        "holder": {"organisation": rng.choice(codes)},
        "purpose": rng.choice(["direct_care", rng.choice(packs.codes("purposes"))]),
        "record_type": rng.choice(["capacity_assessment", rng.choice(packs.codes("record_types"))]),
        "subject": {
            "relationship": rng.choice(packs.choices("relationship")),
            # A refusal of consent is an objection; the diff asks it as one.
            "objection": consent == "refused" or rng.random() < 0.3,
            "consent": consent,
            "has_capacity": rng.choice(packs.choices("has_capacity")),
            "risk_of_serious_harm": rng.random() < 0.3,
            "s251_support": rng.random() < 0.2,
            "anonymised": rng.random() < 0.2,
            "national_data_opt_out": rng.random() < 0.2,
        },
        "at": "2026-06-01T12:00:00+00:00",
    }


def _reported(report: diff.Report, request: dict[str, Any]) -> bool:
    """Whether the diff lists a kind of request this request is one of."""
    subject = request["subject"]
    for group in report.groups:
        if (group.role, group.purpose, group.record) != (
            request["requester"]["role"],
            request["purpose"],
            request["record_type"],
        ):
            continue
        for (requesters, holders), changes in group.pairs.items():
            if request["requester"]["organisation"] not in requesters:
                continue
            if request["holder"]["organisation"] not in holders:
                continue
            for changed in changes:
                if all(subject.get(k) == v for k, v in changed.facts.items()):
                    return True
    return False


def test_every_request_whose_answer_changes_is_reported(tmp_path: Path) -> None:
    old_pack, new_pack = load_pack(POLICIES), load_pack(flipped_copy(tmp_path))
    report = diff.diff_packs(old_pack, new_pack, ON)
    old, new = Engine(old_pack), Engine(new_pack)
    rng = random.Random(15)
    codes = sorted(old_pack.organisations)
    found = 0
    for _ in range(4000):
        request = _random_request(rng, codes)
        if _answer(old, request) != _answer(new, request):
            found += 1
            assert _reported(report, request), request
        else:
            assert not _reported(report, request), request
    assert found > 20  # the sample reaches the change


def test_cli_json_and_exit_1_when_answers_change(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["diff", str(POLICIES), str(flipped_copy(tmp_path)), "--on", "2026-06-01", "--json"]
    )
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["changed"] and body["kinds_of_request_changed"] > 0
    summaries = [group["summary"] for group in body["groups"]]
    assert any(
        s.startswith("A social worker at") and "can no longer receive capacity assessment" in s
        for s in summaries
    ), summaries


def test_organisations_in_one_pack_only_are_reported_first(tmp_path: Path) -> None:
    pack = tmp_path / "more"
    shutil.copytree(POLICIES, pack)
    path = pack / "organisations.yaml"
    path.write_text(
        path.read_text() + "  - code: NG003\n    name: Hill Top Surgery\n    sector: gp\n"
    )
    result = runner.invoke(app, ["diff", str(POLICIES), str(pack)])
    assert result.exit_code == 1
    assert result.output.startswith("Added organisations: NG003")


@pytest.mark.parametrize("bad", ["nowhere", "empty"])
def test_a_directory_that_is_not_a_pack_gets_one_message(tmp_path: Path, bad: str) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["diff", str(POLICIES), str(tmp_path / bad)])
    assert result.exit_code == 2
    assert "is not a policy pack that loads" in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)
