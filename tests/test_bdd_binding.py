"""The pytest-bdd step definitions (igengine.scenarios.bdd) read steps exactly as the runner
does, and a bad step fails with the feature file, line and a suggestion, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

POLICIES = Path(__file__).resolve().parent.parent / "policies"

TEST_MODULE = f"""
import pytest
from pytest_bdd import scenarios
from igengine import Engine

pytest_plugins = ["igengine.scenarios.bdd"]
scenarios("features")


@pytest.fixture(scope="session")
def ig_engine():
    return Engine.from_directory({str(POLICIES)!r})
"""

FEATURE = """Feature: Checked by pytest-bdd

  Scenario: Permitted
    Given a GP at Riverside Medical Practice in the person's care team
    When they ask Northgate Hospitals for the discharge summary for direct care
    Then sharing is permitted
    And the legal basis includes Article 9(2)(h)

  Scenario: Misspelt role
    Given a social wroker at Northgate City Council
    When they ask Northgate Hospitals for the care plan for direct care
    Then sharing is permitted

  Scenario: Unknown step
    Given a GP at Riverside Medical Practice in the person's care team
    When they ask Northgate Hospitals for the discharge summary for direct care
    Then sharing is allowed

  Scenario: Wrong expectation
    Given a GP at Riverside Medical Practice
    When they ask Northgate Hospitals for the discharge summary for direct care
    Then sharing is permitted
"""


def test_bdd_steps_report_file_line_and_suggestion(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scenarios=TEST_MODULE)
    (pytester.path / "features").mkdir()
    (pytester.path / "features" / "x.feature").write_text(FEATURE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    output = result.stdout.str()
    assert "features/x.feature:10: Given a social wroker" in output
    assert "did you mean 'social worker'?" in output
    assert "features/x.feature:17: Then sharing is allowed" in output
    assert "did you mean 'sharing is permitted'?" in output
    assert (
        "features/x.feature:22: Then sharing is permitted: expected sharing to be permitted"
        in output
    )
    assert "deciding rule: ntg-int-care/not-in-care-team" in output
    assert "Traceback" not in output and "During handling" not in output
