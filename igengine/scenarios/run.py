"""Run scenario cases against an engine, and measure which rules of the pack they exercised.

A case passes when every Then step holds. It fails at the first Then step that does not hold,
and is an error when a step cannot be read (an unknown sentence, role or organisation): every
unreadable step of a case is reported before anything runs, each with its file and line. A
rule is exercised when it appears in the `rules` of any case's decision, in any role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

from igengine.decision import Decision
from igengine.engine import Engine
from igengine.policy.pack import Rule
from igengine.scenarios.phrases import CheckFailed, StepKind, World, find, perform
from igengine.scenarios.source import Case, Problem, Step, load_features
from igengine.scenarios.words import InputError, Words


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    status: Status
    problems: tuple[Problem, ...] = ()
    decision: Decision | None = None
    step: Step | None = None  # the step that failed


@dataclass(frozen=True)
class RunReport:
    results: tuple[CaseResult, ...]
    problems: tuple[Problem, ...]  # files that could not be read at all
    rules: tuple[Rule, ...]
    exercised: frozenset[str] = field(default_factory=frozenset)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.status is Status.PASSED for r in self.results)

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def unexercised(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.id not in self.exercised]

    @property
    def coverage(self) -> float:
        """The share of the pack's rules some case exercised (1.0 for an empty pack)."""
        if not self.rules:
            return 1.0
        return (len(self.rules) - len(self.unexercised)) / len(self.rules)


def run_features(features: Path, engine: Engine, *, on: date | None = None) -> RunReport:
    """Run every scenario under `features` against `engine`. `on` is the date a scenario's
    sharing happens when it does not give one (default: now)."""
    cases, problems = load_features(features)
    words = Words(engine.pack)
    default_at = f"{on.isoformat()}T12:00:00+00:00" if on else None
    results = tuple(run_case(case, engine, words, default_at) for case in cases)
    exercised = frozenset(
        rule.id for result in results if result.decision for rule in result.decision.rules
    )
    return RunReport(results, tuple(problems), engine.pack.rules, exercised)


def run_case(case: Case, engine: Engine, words: Words, default_at: str | None) -> CaseResult:
    unreadable = _unreadable_steps(case, engine, words)
    if unreadable:
        return CaseResult(case, Status.ERROR, tuple(unreadable))
    world = World(engine, words, default_at)
    for step in case.steps:
        assert step.kind is not None  # _unreadable_steps rejects steps without a kind
        try:
            perform(world, step.kind, step.text, step.table)
        except InputError as exc:
            return CaseResult(case, Status.ERROR, (_at(case, step, str(exc)),), world.made, step)
        except CheckFailed as exc:
            return CaseResult(case, Status.FAILED, (_at(case, step, str(exc)),), world.made, step)
    if world.made is None:
        problem = Problem(
            case.file,
            case.line,
            "this scenario has no Then step, so it checks "
            "nothing; add e.g. 'Then sharing is permitted'",
        )
        return CaseResult(case, Status.ERROR, (problem,))
    return CaseResult(case, Status.PASSED, (), world.made)


def _unreadable_steps(case: Case, engine: Engine, words: Words) -> list[Problem]:
    """Every step igengine cannot read, found before anything runs: a sentence no phrase
    matches, and in Given and When steps an unknown role, organisation, record or purpose
    (those steps are tried on a scratch world, which decides nothing)."""
    problems = []
    scratch = World(engine, words)
    for step in case.steps:
        if step.kind is None:
            message = (
                f"'{step.keyword} {step.text}' has no Given, When or Then before it; "
                "start the scenario with Given"
            )
            problems.append(_at(case, step, message))
            continue
        try:
            if step.kind is StepKind.THEN:
                find(step.kind, step.text, words)
            else:
                perform(scratch, step.kind, step.text, step.table)
        except InputError as exc:
            problems.append(_at(case, step, str(exc)))
    return problems


def _at(case: Case, step: Step, message: str) -> Problem:
    return Problem(case.file, step.line, f"{step.keyword} {step.text}: {message}")
