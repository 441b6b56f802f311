"""`igengine test`: the shipped scenarios against the shipped pack, rule coverage, a broken pack
caught by name, and bad feature files reported with file, line and a suggestion."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from igengine import Engine
from igengine.cli import app
from igengine.scenarios import Status, load_features, report_lines, run_features
from igengine.scenarios.phrases import PHRASES, StepKind, fact_phrases, find
from igengine.scenarios.words import InputError, Words

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"
POLICIES = ROOT / "policies"
ON = date(2026, 6, 1)  # every shipped agreement is in force on this date
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_directory(POLICIES)


def _test(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["test", *args])
    return result.exit_code, result.output


# ---- The shipped pack ----------------------------------------------------------------------


def test_shipped_scenarios_pass_and_exercise_every_rule(engine: Engine) -> None:
    report = run_features(FEATURES, engine, on=ON)
    failures = [line for line in report_lines(report) if line.startswith(("  FAIL", "  ERROR"))]
    assert report.ok, "\n".join(failures)
    assert len(report.results) >= 80
    assert [rule.id for rule in report.unexercised] == []
    assert report.coverage == 1.0


def test_every_worked_scenario_is_present_by_number() -> None:
    cases, problems = load_features(FEATURES)
    assert problems == []
    numbers = [
        int(match[1]) for case in cases if (match := re.match(r"Scenario (\d+): ", case.name))
    ]
    assert sorted(numbers) == list(range(1, 25))


def test_cli_reports_each_scenario_and_full_coverage() -> None:
    code, output = _test(
        str(FEATURES), "--policies", str(POLICIES), "--on", "2026-06-01", "--require-coverage"
    )
    assert code == 0, output
    assert "PASS  Scenario 1: A social worker gets the hospital's capacity assessment" in output
    assert re.search(r"\d+ scenarios: \d+ passed, 0 failed, 0 could not run", output)
    assert "Rule coverage: " in output and "(100%)" in output


def test_uncovered_rules_are_listed_with_their_source(engine: Engine) -> None:
    report = run_features(FEATURES / "police.feature", engine, on=ON)
    assert report.ok
    lines = report_lines(report)
    assert "  not exercised: ntg-int-care/not-in-care-team (deny) at " in "\n".join(lines)
    assert report.coverage < 1.0
    assert "ntg-police/court-order" not in {rule.id for rule in report.unexercised}


def test_require_coverage_fails_a_partial_run() -> None:
    args = [str(FEATURES / "police.feature"), "--policies", str(POLICIES), "--on", "2026-06-01"]
    assert _test(*args)[0] == 0
    assert _test(*args, "--require-coverage")[0] == 1


# ---- A broken pack is caught, by scenario name -----------------------------------------------


def _flip(pack: Path, rule_id: str, old: str, new: str) -> None:
    """Change one rule's effect in a copy of the pack, by editing its YAML text."""
    path = pack / "agreements" / "integrated-care.yaml"
    text = path.read_text()
    start = text.index(f"- id: {rule_id}\n")
    at = text.index(f"effect: {old}", start)
    path.write_text(text[:at] + f"effect: {new}" + text[at + len(f"effect: {old}") :])


def test_a_flipped_rule_fails_the_scenarios_that_depend_on_it(tmp_path: Path) -> None:
    pack = tmp_path / "policies"
    shutil.copytree(POLICIES, pack)
    _flip(pack, "capacity-assessment-direct-care", "permit", "deny")
    code, output = _test(str(FEATURES), "--policies", str(pack), "--on", "2026-06-01")
    assert code == 1
    assert "FAIL  Scenario 1: A social worker gets the hospital's capacity assessment" in output
    assert "deciding rule: ntg-int-care/capacity-assessment-direct-care at" in output
    assert "expected sharing to be permitted, but the engine answered not permitted" in output
    assert "PASS  Scenario 4: A GP gets the hospital discharge summary" in output
    assert re.search(r"\d+ scenarios: \d+ passed, [1-9]\d* failed", output)


def test_a_broken_pack_is_reported_not_run(tmp_path: Path) -> None:
    pack = tmp_path / "policies"
    shutil.copytree(POLICIES, pack)
    _flip(pack, "capacity-assessment-direct-care", "permit", "maybe")
    code, output = _test(str(FEATURES), "--policies", str(pack))
    assert code == 1
    assert "integrated-care.yaml:" in output and "'maybe'" in output


# ---- Bad feature files ---------------------------------------------------------------------

ASK = "    When they ask Northgate Hospitals for the capacity assessment for direct care\n"


def _feature(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.feature"
    path.write_text("Feature: Bad input\n\n  Scenario: One\n" + body)
    return path


def _run_bad(tmp_path: Path, body: str) -> str:
    code, output = _test(str(_feature(tmp_path, body)), "--policies", str(POLICIES))
    assert code == 1
    assert "Traceback" not in output
    return output


def test_unknown_step_gives_file_line_and_suggestion(tmp_path: Path) -> None:
    output = _run_bad(
        tmp_path,
        "    Given a social worker at Northgate City Council in the person's care team\n"
        + ASK
        + "    Then sharing is allowed\n",
    )
    assert "bad.feature:6: Then sharing is allowed" in output
    assert "did you mean 'sharing is permitted'?" in output


def test_unknown_role_and_organisation_give_suggestions(tmp_path: Path) -> None:
    output = _run_bad(
        tmp_path,
        "    Given a social wroker at Northgate City Council\n"
        "    When they ask Northgate Hospitalz for the capacity assessment for direct care\n"
        "    Then sharing is permitted\n",
    )
    assert "bad.feature:4: Given a social wroker" in output
    assert "did you mean 'social worker'?" in output
    assert "bad.feature:5: When they ask Northgate Hospitalz" in output
    assert "did you mean 'Northgate Hospitals NHS Foundation Trust'?" in output


def test_unknown_record_and_rule_give_suggestions(tmp_path: Path) -> None:
    output = _run_bad(
        tmp_path,
        "    Given a GP at Riverside Medical Practice in the person's care team\n"
        "    When they ask Northgate Hospitals for the discharge sumary for direct care\n"
        "    Then sharing is permitted\n",
    )
    assert "bad.feature:5" in output and "did you mean 'discharge summary'?" in output
    output = _run_bad(
        tmp_path,
        "    Given a GP at Riverside Medical Practice in the person's care team\n"
        "    When they ask Northgate Hospitals for the discharge summary for direct care\n"
        "    Then the deciding rule is ntg-int-care/clinical-records-for-clinician\n",
    )
    assert "bad.feature:6" in output
    assert "did you mean 'ntg-int-care/clinical-records-for-clinicians'?" in output


def test_table_with_uneven_rows_gives_file_and_line(tmp_path: Path) -> None:
    output = _run_bad(
        tmp_path,
        "    Given a social worker at Northgate City Council\n"
        "    And the person's details are:\n"
        "      | risk of serious harm | true |\n"
        "      | objection |\n" + ASK + "    Then sharing is not permitted\n",
    )
    assert "bad.feature:7:" in output
    assert "inconsistent cell count" in output and "same number of cells" in output


def test_table_with_wrong_columns_or_unknown_fact(tmp_path: Path) -> None:
    output = _run_bad(
        tmp_path,
        "    Given a social worker at Northgate City Council\n"
        "    And the person's details are:\n"
        "      | risk of serious harm | true | yes |\n" + ASK + "    Then sharing is permitted\n",
    )
    assert "bad.feature:5:" in output and "each row needs two" in output
    output = _run_bad(
        tmp_path,
        "    Given a social worker at Northgate City Council\n"
        "    And the person's details are:\n"
        "      | risk of serous harm | true |\n" + ASK + "    Then sharing is permitted\n",
    )
    assert "bad.feature:5:" in output and "did you mean 'risk_of_serious_harm'?" in output


def test_not_gherkin_at_all(tmp_path: Path) -> None:
    path = tmp_path / "bad.feature"
    path.write_text(
        "Feature: x\n  Scenario: y\n    Given a GP at Castle Street Surgery\n"
        "    Suppose something\n"
    )
    code, output = _test(str(path), "--policies", str(POLICIES))
    assert code == 1
    assert "bad.feature:4:" in output and "must start with Given, When, Then" in output


def test_a_scenario_without_then_checks_nothing_and_fails(tmp_path: Path) -> None:
    output = _run_bad(tmp_path, "    Given a GP at Riverside Medical Practice\n" + ASK)
    assert "bad.feature:3:" in output and "no Then step" in output


def test_a_then_step_under_given_is_pointed_out(tmp_path: Path) -> None:
    output = _run_bad(
        tmp_path,
        "    Given a GP at Riverside Medical Practice\n    And sharing is permitted\n"
        + ASK
        + "    Then sharing is permitted\n",
    )
    assert "bad.feature:5:" in output and "is a Then step, not a Given step" in output


def test_no_feature_files(tmp_path: Path) -> None:
    code, output = _test(str(tmp_path), "--policies", str(POLICIES))
    assert code == 1 and "no .feature files found" in output


# ---- The phrase book and the words ---------------------------------------------------------


def test_each_example_sentence_is_read_by_its_own_phrase_only(engine: Engine) -> None:
    # igengine's own sentences and those the shipped pack's facts declare in vocabulary.yaml.
    words = Words(engine.pack)
    phrases = [*PHRASES, *fact_phrases(words)]
    assert len(phrases) > len(PHRASES)
    for phrase in phrases:
        matching = [p for p in phrases if p.pattern.fullmatch(phrase.example)]
        assert matching == [phrase], phrase.example
        for kind in phrase.kinds:
            assert find(kind, phrase.example, words)[0] is phrase


def test_find_rejects_unknown_sentences(engine: Engine) -> None:
    with pytest.raises(InputError, match="not a step igengine knows"):
        find(StepKind.GIVEN, "the moon is full", Words(engine.pack))


def test_words_accept_codes_words_and_labels(engine: Engine) -> None:
    words = Words(engine.pack)
    assert words.role("GP") == words.role("gp") == "gp"
    assert words.role("a home care worker") == "home_care_worker"
    assert words.record("the GP summary") == "gp_summary"
    assert words.purpose("emergency care (break glass)") == "emergency_care"
    assert words.purpose("a legal obligation") == "legal_obligation"
    assert words.organisation("RNG") == words.organisation("Northgate Hospitals") == "RNG"
    assert words.organisation("Northgate City Council") == "NGCC"
    assert words.obligation("verify the requester's identity") == "verify_requester_identity"


def test_an_ambiguous_organisation_is_refused(engine: Engine) -> None:
    with pytest.raises(InputError, match="could be any of"):
        Words(engine.pack).organisation("Northgate")


def test_failures_report_the_step_and_the_answer(engine: Engine, tmp_path: Path) -> None:
    path = _feature(
        tmp_path,
        "    Given a GP at Riverside Medical Practice in the person's care team\n"
        + ASK
        + "    Then sharing is permitted\n"
        "    And they must consult the Caldicott Guardian\n",
    )
    [result] = run_features(path, engine, on=ON).results
    assert result.status is Status.FAILED
    assert result.step is not None and result.step.line == 7
    assert "expected the obligation consult_caldicott_guardian" in result.problems[0].message
