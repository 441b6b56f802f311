"""The pack declares its own vocabulary (vocabulary.yaml): bad declarations are `check` errors
at their line, a broken definition is reported once as the cause, requests are checked against
the loaded pack's codes, and a fact added to the vocabulary works with no Python change."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import packs
import pytest
import yaml
from typer.testing import CliRunner

from igengine import Engine, PolicyError, RequestError
from igengine.cli import app
from igengine.scenarios import Status, run_features

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def _shipped(tmp_path: Path) -> Path:
    return Path(shutil.copytree(POLICIES, tmp_path / "pack"))


def _problems(directory: Path) -> PolicyError:
    with pytest.raises(PolicyError) as raised:
        Engine.from_directory(directory)
    return raised.value


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


# ---- Bad declarations are errors at their line ---------------------------------------------


def test_a_code_defined_twice_is_an_error_at_the_second(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    vocabulary = pack / "vocabulary.yaml"
    _replace(
        vocabulary, "  - {code: police, label: police}\n", "  - {code: police}\n  - {code: gp}\n"
    )
    (issue,) = _problems(pack).issues
    assert issue.source.endswith("vocabulary.yaml") and issue.field == "sectors[6].code"
    assert issue.line == _line_of(vocabulary, "- {code: gp}")
    assert "'gp' is defined twice (first at pack/vocabulary.yaml:" in issue.message


def test_an_unknown_fact_type_is_an_error_naming_the_types(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    vocabulary = pack / "vocabulary.yaml"
    _replace(
        vocabulary,
        "  - name: objection\n    type: boolean",
        "  - name: objection\n    type: yes_no",
    )
    error = _problems(pack)
    (issue,) = [i for i in error.issues if i.field == "person[1].type"]
    assert issue.line == _line_of(vocabulary, "type: yes_no")
    assert "'yes_no' is not allowed here" in issue.message
    assert "'boolean', 'choice' or 'number'" in issue.message
    # The fact could not be read: the rules testing it are counted under it, not listed.
    assert error.issues[0] is issue
    assert all(c.cause is issue for c in error.consequences) and error.consequences
    assert re.search(r"\.\.\. and \d+ references to it", str(error))


_OBJECTION = "    default: false\n    own_choice: true\n    # A refusal"
_CONSENT = "    default: none\n    assumed: no recorded"
_AGE = "    default: null\n    maximum: 130"


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (_OBJECTION, _OBJECTION.replace("false", "'no'", 1), "person[1].default",
         "'no' is not true or false"),
        (_CONSENT, _CONSENT.replace("none", "maybe", 1), "person[2].default",
         "'maybe' is not a choice of 'consent'; valid values: explicit, refused, none"),
        (_AGE, _AGE.replace("null", "200"), "person[5].default",
         "200 is out of range; write a whole number from 0 to 130"),
    ],
)  # fmt: skip
def test_a_default_not_of_its_type_is_an_error_at_its_line(
    tmp_path: Path, old: str, new: str, field: str, words: str
) -> None:
    pack = _shipped(tmp_path)
    vocabulary = pack / "vocabulary.yaml"
    _replace(vocabulary, old, new)
    (issue,) = _problems(pack).issues
    assert (issue.field, issue.line) == (field, _line_of(vocabulary, new.split("\n")[0].strip()))
    assert words in issue.message


def test_a_condition_on_an_undeclared_fact_is_an_error_at_its_line(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    care = pack / "agreements" / "integrated-care.yaml"
    text = care.read_text()
    first = text.index("    when:")
    care.write_text(text[:first] + "    when:\n      concent: explicit\n" + text[first + 10 :])
    error = _problems(pack)
    (issue,) = error.issues
    assert issue.line == _line_of(care, "concent: explicit")
    assert issue.field.endswith(".when.concent")
    assert "'concent' is not a fact about the person in this pack's vocabulary" in issue.message
    assert "did you mean 'consent'?" in issue.message


def test_removing_a_code_a_rule_uses_is_reported_at_the_rule(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    _replace(
        pack / "vocabulary.yaml",
        "  - {code: capacity_assessment, label: capacity assessment}\n",
        "",
    )
    error = _problems(pack)
    assert error.issues and not error.consequences
    for issue in error.issues:
        assert "'capacity_assessment' is not a record type in this pack's vocabulary" in (
            issue.message
        )
        assert ".records[" in issue.field
        path = Path(issue.source)
        assert "capacity_assessment" in path.read_text().splitlines()[issue.line - 1]


# ---- A broken definition is the cause, listed first, its consequences counted --------------


def test_one_bad_sector_code_is_one_problem(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    organisations = pack / "organisations.yaml"
    _replace(organisations, "sector: acute", "sector: acutee")
    (issue,) = _problems(pack).issues
    assert issue.line == _line_of(organisations, "sector: acutee")
    assert "'acutee' is not a sector in this pack's vocabulary; did you mean 'acute'?" in str(issue)


def test_a_broken_organisation_is_the_cause_and_its_references_one_line(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    _replace(pack / "organisations.yaml", "    sector: acute\n", "    sector: [acute]\n")
    error = _problems(pack)
    lines = str(error).splitlines()
    assert lines[0] == "1 problem in the policy pack:"
    assert "organisations.yaml" in lines[1] and "organisations[0].sector" in lines[1]
    count = len(error.consequences)
    assert count > 5 and all("'RNG'" in c.message for c in error.consequences)
    assert lines[2] == (
        f"  ... and {count} references to it (not listed: they follow from this problem)"
    )
    assert len(lines) == 3


def test_a_pack_without_a_vocabulary_says_so_first_and_counts_the_rest(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    (pack / "vocabulary.yaml").unlink()
    error = _problems(pack)
    first = error.issues[0]
    assert first.field == "vocabulary" and "add vocabulary.yaml" in first.message
    assert len(error.consequences) > 50
    assert str(error).splitlines()[2].startswith(f"  ... and {len(error.consequences)} references")


def test_check_prints_the_cause_first(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    _replace(pack / "vocabulary.yaml", "  - {code: gp, label: GP}\n", "  - {code: gp, lable: GP}\n")
    result = CliRunner().invoke(app, ["check", str(pack)])
    assert result.exit_code == 1
    output = result.output.splitlines()
    assert "vocabulary.yaml" in output[1] and "sectors[2].lable" in output[1]
    assert re.fullmatch(r"  \.\.\. and \d+ references to it .*", output[2])


# ---- Requests are checked against the loaded pack ------------------------------------------

ENGINE = Engine.from_directory(POLICIES)


def test_an_unknown_code_in_a_request_lists_the_packs_codes() -> None:
    with pytest.raises(RequestError) as raised:
        ENGINE.decide(
            packs.request(
                requester={"role": "link_worker", "organisation": "NGCC"},
                holder={"organisation": "RNG"},
            )
        )
    ((field, message),) = raised.value.errors
    assert field == "requester.role"
    assert message.startswith("'link_worker' is not a valid code; did you mean 'social_worker'?")
    assert "(valid values: consultant, ward_nurse," in message
    assert "police_officer" in message


def test_an_unknown_fact_and_a_bad_choice_name_the_field_and_valid_values() -> None:
    request = packs.request(
        requester={"role": "social_worker", "organisation": "NGCC"},
        holder={"organisation": "RNG"},
        subject={"lasting_power_of_attorney": True, "consent": "explicitt", "age": "9"},
    )
    with pytest.raises(RequestError) as raised:
        ENGINE.decide(request)
    errors = dict(raised.value.errors)
    assert "did you mean" not in errors["subject.lasting_power_of_attorney"]
    assert (
        "is not a fact of this pack; valid values: relationship,"
        in (errors["subject.lasting_power_of_attorney"])
    )
    assert errors["subject.consent"] == (
        "'explicitt' is not a valid code; did you mean 'explicit'? "
        "(valid values: explicit, refused, none)"
    )
    assert errors["subject.age"] == 'must be a JSON integer, not the string "9"'


def test_the_cli_exits_2_for_a_code_the_pack_does_not_have() -> None:
    result = CliRunner().invoke(
        app,
        [
            *("decide", "--role", "paramedic", "--org", "NGCC", "--holder", "RNG"),
            *("--purpose", "direct_care", "--record", "care_plan"),
        ],
    )
    assert result.exit_code == 2
    assert "requester.role" in result.output and "'paramedic' is not a valid code" in result.output


# ---- A fact added to vocabulary.yaml works everywhere, with no Python change ----------------

LPA_FACT = {
    "name": "lasting_power_of_attorney",
    "type": "boolean",
    "question": "Does someone hold a health and welfare lasting power of attorney for the person?",
    "default": False,
    "assumed": "no lasting power of attorney is registered",
    "suggest": [{"value": True, "words": "an attorney holds a lasting power of attorney"}],
    "phrases": [{"says": "an attorney acts for the person", "value": True}],
}

LPA_FEATURE = """\
Feature: Lasting power of attorney

  Scenario: an attorney's request is permitted
    Given a social worker at Test Council
    And an attorney acts for the person
    When they ask Test Hospital for the best interests decision for direct care
    Then sharing is permitted

  Scenario: without one it is not, and the attorney is suggested
    Given a social worker at Test Council
    When they ask Test Hospital for the best interests decision for direct care
    Then sharing is not permitted
    And it would be permitted if lasting power of attorney is true
"""


@pytest.fixture(scope="module")
def lpa_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = packs.write(
        tmp_path_factory.mktemp("lpa"),
        packs.agreement(
            [
                packs.permit(
                    "attorney",
                    records=["best_interests_decision"],
                    when={"lasting_power_of_attorney": True},
                )
            ]
        ),
    )
    vocabulary = yaml.safe_load((directory / "vocabulary.yaml").read_text())
    vocabulary["person"].append(LPA_FACT)
    (directory / "vocabulary.yaml").write_text(yaml.safe_dump(vocabulary, sort_keys=False))
    return directory


def test_a_new_fact_is_a_request_field_a_condition_and_a_suggestion(lpa_pack: Path) -> None:
    engine = Engine.from_directory(lpa_pack)
    asked = packs.request(record_type="best_interests_decision", subject={})
    denied = engine.decide(asked)
    assert not denied.permitted
    assert denied.would_permit_if == [{"subject.lasting_power_of_attorney": True}]
    assert "an attorney holds a lasting power of attorney" in denied.rationale
    assert "no lasting power of attorney is registered" in denied.assumed
    permitted = engine.decide({**asked, "subject": {"lasting_power_of_attorney": True}})
    assert permitted.permitted and permitted.assumed == []


def test_a_new_fact_is_a_question_on_the_page_and_a_phrase_in_scenarios(
    lpa_pack: Path, tmp_path: Path
) -> None:
    from service import questions

    engine = Engine.from_directory(lpa_pack)
    (asked,) = [q for q in questions.all_questions(engine.pack) if q.name == LPA_FACT["name"]]
    assert (
        asked.label == LPA_FACT["question"] and asked.field == "subject.lasting_power_of_attorney"
    )
    assert questions.request_from_form({"lasting_power_of_attorney": "yes"}, engine.pack)[
        "subject"
    ] == {"lasting_power_of_attorney": True}
    (tmp_path / "lpa.feature").write_text(LPA_FEATURE)
    report = run_features(tmp_path, engine, on=date(2026, 6, 1))
    assert not report.problems, report.problems
    assert [result.status for result in report.results] == [Status.PASSED, Status.PASSED]


def test_the_vocabulary_command_lists_the_packs_codes() -> None:
    result = CliRunner().invoke(app, ["vocabulary", str(POLICIES), "--json"])
    assert result.exit_code == 0
    listing = json.loads(result.output)
    assert {"code": "gp", "label": "GP", "clinical": True} in listing["roles"]
    assert [f["name"] for f in listing["person"]][:3] == ["relationship", "objection", "consent"]
    plain = CliRunner().invoke(app, ["vocabulary", str(POLICIES)])
    assert "Record types:\n  capacity_assessment\tcapacity assessment\n" in plain.output
    assert "\x1b[" not in plain.output


def test_lint_names_an_unused_obligation_of_the_vocabulary_at_its_line(tmp_path: Path) -> None:
    from igengine.lint import lint

    pack = _shipped(tmp_path)
    vocabulary = pack / "vocabulary.yaml"
    _replace(
        vocabulary,
        "obligations:\n",
        "obligations:\n  - {code: notify_dpo, text: Tell the Data Protection Officer.}\n",
    )
    found = [f for f in lint(pack, date(2026, 6, 1)) if f.check == "unused-obligation"]
    assert [(f.line, f.problem) for f in found] == [
        (_line_of(vocabulary, "notify_dpo"), "obligation notify_dpo is used by no rule")
    ]


def test_a_vocabulary_that_is_not_yaml_is_the_cause_listed_first(tmp_path: Path) -> None:
    pack = _shipped(tmp_path)
    vocabulary = pack / "vocabulary.yaml"
    _replace(vocabulary, "  - {code: acute, label: acute hospital}", "  - {code: acute, label: [}")
    error = _problems(pack)
    first = error.issues[0]
    assert first.source.endswith("vocabulary.yaml") and first.field == "(file)"
    assert len(error.consequences) > 50
    assert all(c.cause is first for c in error.consequences)
    lines = str(error).splitlines()
    assert lines[2].startswith(f"  ... and {len(error.consequences)} references to it")
    assert "no vocabulary defined" not in str(error)
