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
    where = (broken_pack / "agreements" / "care.yaml").as_posix()
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


def test_check_prints_paths_that_open_from_where_it_was_run(
    broken_pack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken_pack.parent.parent)
    given = f"{broken_pack.parent.name}/{broken_pack.name}"
    result = CliRunner().invoke(app, ["check", given], terminal_width=60)
    located = [line.split(":")[0] for line in result.output.splitlines() if ".yaml:" in line]
    assert result.exit_code == 1 and len(located) >= 6
    assert all(Path(path).is_file() for path in located), located


def test_a_field_under_the_wrong_parent_says_where_it_belongs(tmp_path: Path) -> None:
    rule = packs.permit("share")
    basis = rule.pop("legal_basis")
    rule["legal_basis"] = {k: v for k, v in basis.items() if k != "common_law"}
    rule["common_law"] = basis["common_law"]
    directory = packs.write(tmp_path, packs.agreement([rule]))
    with pytest.raises(PolicyError) as raised:
        Engine.from_directory(directory)
    text = str(raised.value)
    assert "'common_law' is not a field here; it belongs under a rule's `legal_basis:`" in text
    assert "did you mean 'common_law'" not in text


def test_an_anonymised_permit_without_a_basis_is_asked_for_not_confidential(
    tmp_path: Path,
) -> None:
    rule = packs.permit("share")
    rule["when"] = {"anonymised": True}
    rule["legal_basis"] = {"caldicott": [3]}
    directory = packs.write(tmp_path, packs.agreement([rule]))
    with pytest.raises(PolicyError) as raised:
        Engine.from_directory(directory)
    assert "add `common_law: not_confidential`" in str(raised.value)
    assert "implied_consent" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id: x\nrules:\n  - id: a\n - id: b\n", "does not line up"),
        ("id: x\ntitle: Care: adults\n", "put the text in quotes"),
        ("id: x\ntitle: 'Care\n", "never closed"),
        ("id: x\n\ttitle: Care\n", "indents with spaces only"),
        ("id: x\nparties: [A, B\n", "is not closed or is missing a comma"),
    ],
)
def test_a_yaml_slip_is_told_in_a_plain_sentence(tmp_path: Path, text: str, words: str) -> None:
    directory = packs.write(tmp_path, packs.agreement([packs.permit("share")]))
    (directory / "agreements" / "slip.yaml").write_text(text)
    with pytest.raises(PolicyError) as raised:
        Engine.from_directory(directory)
    (problem,) = [i for i in raised.value.issues if i.source.endswith("slip.yaml")]
    assert words in problem.message, problem.message
    assert problem.line > 1
