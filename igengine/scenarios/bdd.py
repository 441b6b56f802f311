"""pytest-bdd step definitions for igengine scenarios.

Three catch-all steps (one each for Given, When and Then) hand the step's text to the shared
phrase book, so pytest-bdd and `igengine test` cannot read a sentence differently. A step
igengine cannot read, or a Then that does not hold, fails the test with the feature file, the
line and what to write instead (or what the engine answered), without a Python traceback.

Use it from a test module that defines an `ig_engine` fixture returning the Engine to test:

    pytest_plugins = ["igengine.scenarios.bdd"]
    scenarios("features")
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pytest_bdd import given, parsers, then, when
from pytest_bdd.parser import Feature, Scenario
from pytest_bdd.parser import Step as BddStep

from igengine.engine import Engine
from igengine.scenarios.phrases import CheckFailed, StepKind, Table, World, perform
from igengine.scenarios.report import answer_lines
from igengine.scenarios.words import InputError, Words

_ANY = parsers.re(r"(?P<text>.+)")


@dataclass
class _Where:
    """The feature file and line of the step being run (set by the hook below)."""

    file: str = "?"
    line: int = 0


@pytest.fixture
def ig_where() -> _Where:
    return _Where()


@pytest.fixture
def ig_world(ig_engine: Engine) -> World:
    return World(ig_engine, Words(ig_engine.pack))


def pytest_bdd_before_step(
    request: pytest.FixtureRequest, feature: Feature, scenario: Scenario, step: BddStep
) -> None:
    where: _Where = request.getfixturevalue("ig_where")
    where.file, where.line = feature.rel_filename, step.line_number


def _run(world: World, where: _Where, kind: StepKind, text: str, table: Table | None) -> None:
    problem = _problem(world, where, kind, text, table)
    if problem:
        # Outside the except block, so pytest shows the message alone, not a chained exception.
        pytest.fail(problem, pytrace=False)


def _problem(
    world: World, where: _Where, kind: StepKind, text: str, table: Table | None
) -> str | None:
    """None if the step ran and held; otherwise the message to fail with."""
    try:
        perform(world, kind, text, table)
    except InputError as exc:
        return f"{where.file}:{where.line}: {kind.value} {text}: {exc}"
    except CheckFailed as exc:
        answer = "\n".join(answer_lines(world.made)) if world.made else ""
        return f"{where.file}:{where.line}: {kind.value} {text}: {exc}\n{answer}"
    return None


@given(_ANY)
def ig_given(text: str, ig_world: World, ig_where: _Where, datatable: Table | None = None) -> None:
    _run(ig_world, ig_where, StepKind.GIVEN, text, datatable)


@when(_ANY)
def ig_when(text: str, ig_world: World, ig_where: _Where, datatable: Table | None = None) -> None:
    _run(ig_world, ig_where, StepKind.WHEN, text, datatable)


@then(_ANY)
def ig_then(text: str, ig_world: World, ig_where: _Where, datatable: Table | None = None) -> None:
    _run(ig_world, ig_where, StepKind.THEN, text, datatable)
