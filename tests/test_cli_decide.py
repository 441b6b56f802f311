"""`igengine decide`: a readable answer, the contract JSON, and exit 2 for a bad request."""

from __future__ import annotations

import json
from pathlib import Path

import packs
from typer.testing import CliRunner

from igengine.cli import app


def ask(policies: str = "policies", org: str = "NGCC", holder: str = "RNG") -> list[str]:
    """`igengine decide` arguments: a social worker asks for a capacity assessment."""
    return [
        *("decide", "--policies", policies, "--role", "social_worker"),
        *("--org", org, "--holder", holder, "--purpose", "direct_care"),
        *("--record", "capacity_assessment", "--at", "2026-06-01T10:00:00Z"),
    ]


ASK = ask()


def test_readable_permit() -> None:
    result = CliRunner().invoke(app, [*ASK, "--care-team"])
    assert result.exit_code == 0, result.output
    assert "PERMITTED" in result.output and "Article 9(2)(h)" in result.output


def test_json_is_the_contract_shape() -> None:
    result = CliRunner().invoke(app, [*ASK, "--json"])
    assert result.exit_code == 0
    decision = json.loads(result.output)
    for key in (
        "effect",
        "rationale",
        "legal_basis",
        "obligations",
        "rules",
        "agreement",
        "would_permit_if",
        "policy_version",
        "decision_id",
        "error",
    ):
        assert key in decision
    assert decision["effect"] == "deny"
    assert {"subject.relationship": "care_team"} in decision["would_permit_if"]


def test_bad_request_exits_2_naming_the_field() -> None:
    args = [a if a != "social_worker" else "social_workr" for a in ASK]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "requester.role" in result.output and "social_worker" in result.output
    assert "Traceback" not in result.output


def test_request_from_stdin() -> None:
    request = {
        "requester": {"role": "gp", "organisation": "NG001"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "discharge_summary",
        "subject": {"relationship": "care_team"},
        "at": "2026-06-01T10:00:00Z",
    }
    result = CliRunner().invoke(app, ["decide", "--file", "-", "--json"], input=json.dumps(request))
    assert result.exit_code == 0 and json.loads(result.output)["effect"] == "permit"


def test_a_pack_obligation_prints_in_the_packs_own_words(tmp_path: Path) -> None:
    directory = packs.write(
        tmp_path,
        packs.agreement([packs.permit("share", obligations=["phone_the_duty_manager"])]),
    )
    (directory / "obligations.yaml").write_text(
        "obligations:\n  phone_the_duty_manager: Phone the duty manager before you send it.\n"
    )
    result = CliRunner().invoke(app, ask(str(directory), org="COUNCIL", holder="HOSP"))
    assert result.exit_code == 0, result.output
    assert "Phone the duty manager before you send it." in result.output


def test_a_missing_request_file_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(app, ["decide", "--file", str(missing)])
    assert result.exit_code == 2
    assert f"--file: cannot read '{missing}': No such file or directory" in result.output
    assert isinstance(result.exception, SystemExit), result.exception


def test_a_missing_flag_is_named_as_missing_with_the_flag_to_give() -> None:
    without_purpose = [a for a in ASK if a not in {"--purpose", "direct_care"}]
    result = CliRunner().invoke(app, without_purpose)
    assert result.exit_code == 2
    assert "purpose: is required; give --purpose" in result.output
    assert "'None'" not in result.output


def test_the_answer_is_short_and_the_details_hold_the_rules_and_assumptions() -> None:
    plain = CliRunner().invoke(app, [*ASK, "-s", "objection=true"])
    detailed = CliRunner().invoke(app, [*ASK, "-s", "objection=true", "--detail"])
    assert plain.exit_code == 0 and detailed.exit_code == 0, detailed.output
    said, traced = " ".join(plain.output.split()), " ".join(detailed.output.split())
    # The nurse's answer names no rule and lists no assumption; the details do both.
    assert "ntg-int-care/" not in said and "Assumed because" not in said
    assert "Decided by rule ntg-int-care/not-in-care-team (deny)" in traced
    assert "policies/agreements/integrated-care.yaml:" in traced
    assert "Assumed because the request did not say: the requester is not in" in traced
    # On a deny the provisions cited are the grounds for refusing it.
    assert "Grounds for refusing" in said and "Legal basis" not in said


def test_what_would_change_the_answer_is_said_as_the_pages_questions() -> None:
    planning = [
        *("decide", "--role", "analyst", "--org", "NGICB", "--holder", "RNG"),
        *("--purpose", "service_planning", "--record", "care_plan"),
    ]
    readable = CliRunner().invoke(app, planning, terminal_width=200)
    assert readable.exit_code == 0
    assert "you can answer “Is the information anonymised to the ICO's standard?” with “Yes”" in (
        readable.output
    )
    assert "subject.anonymised" not in readable.output
    as_json = json.loads(CliRunner().invoke(app, [*planning, "--json"]).output)
    assert {"subject.anonymised": True} in as_json["would_permit_if"]
