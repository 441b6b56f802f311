"""Policy errors: every problem at once, each with file:line, the field and what to write."""

from __future__ import annotations

from pathlib import Path

import packs
import pytest
from typer.testing import CliRunner

from igengine import Engine, PolicyError
from igengine.cli import app

FIVE_MISTAKES = """\
id: care
title: Test care agreement
owner: Test IG lead
parties: [HOSP, GPX, COUNCL]
purposes: [direct_care]
start_date: 2026-01-01
end_date: 2025-12-31
review_date: 2025-12-31
rules:
  - id: share
    effect: permit
    because: Sharing for care.
    records: [capacity_assesment]
    legal_basis: {article_6: 6(1)(e), article_9: 9(2)(h), common_law: implied_consent}
  - id: share
    effect: permit
    because: Duplicate id and no legal basis.
  - id: safeguard
    effect: permit
    because: Overrides a rule that is not there.
    overrides: [no-such-rule]
    legal_basis: {article_6: 6(1)(e), article_9: 9(2)(g), common_law: public_interest}
"""


@pytest.fixture
def broken_pack(tmp_path: Path) -> Path:
    directory = packs.write(tmp_path)
    (directory / "agreements" / "care.yaml").write_text(FIVE_MISTAKES)
    return directory


def test_all_mistakes_are_listed_with_file_line_and_a_fix(broken_pack: Path) -> None:
    with pytest.raises(PolicyError) as raised:
        Engine.from_directory(broken_pack)
    lines = [str(issue) for issue in raised.value.issues]
    where = f"{broken_pack.name}/agreements/care.yaml"
    expected = [
        (4, "parties[2]", "did you mean 'COUNCIL'"),
        (7, "end_date", "before the start date"),
        (13, "rules[0].records[0]", "did you mean 'capacity_assessment'"),
        (15, "rules[1].id", "used twice"),
        (15, "rules[1].legal_basis", "must cite its legal basis"),
        (21, "rules[2].overrides[0]", "names no rule"),
    ]
    for line, field, hint in expected:
        assert any(
            text.startswith(f"{where}:{line}: {field}: ") and hint in text for text in lines
        ), (line, field, lines)


def test_check_command_lists_every_problem_and_exits_1(broken_pack: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(broken_pack)])
    assert result.exit_code == 1
    output = result.output
    assert "problems in the policy pack" in output
    for fragment in ("COUNCIL", "end_date", "capacity_assessment", "used twice", "no-such-rule"):
        assert fragment in output


def test_unknown_field_gets_a_did_you_mean(tmp_path: Path) -> None:
    rule = packs.permit("share")
    rule["whne"] = {"objection": False}
    directory = packs.write(tmp_path, packs.agreement([rule]))
    with pytest.raises(
        PolicyError, match=r"rules\[0\]\.whne: 'whne' is not a field here; did you mean 'when'"
    ):
        Engine.from_directory(directory)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    directory = packs.write(tmp_path)
    (directory / "agreements" / "bad.yaml").write_text("id: x\nrules:\n  - id: [unclosed\n")
    with pytest.raises(PolicyError, match=r"bad\.yaml:\d+: \(file\): not valid YAML"):
        Engine.from_directory(directory)


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    directory = packs.write(tmp_path)
    text = "id: a\nid: b\n"
    (directory / "agreements" / "dup.yaml").write_text(text)
    with pytest.raises(PolicyError, match=r"dup\.yaml:2: .*'id' appears twice"):
        Engine.from_directory(directory)


def test_shipped_pack_checks_clean() -> None:
    result = CliRunner().invoke(app, ["check", "policies"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
