"""A run's report in plain text an IG officer reads: each scenario passed or failed, and for a
failure what the engine answered and which rule decided; then the totals and rule coverage."""

from __future__ import annotations

from igengine.decision import Decision
from igengine.scenarios.run import CaseResult, RunReport, Status
from igengine.vocabulary import RuleRole

_MARK = {Status.PASSED: "PASS ", Status.FAILED: "FAIL ", Status.ERROR: "ERROR"}


def report_lines(report: RunReport) -> list[str]:
    lines: list[str] = []
    for problem in report.problems:
        lines.append(f"ERROR {problem}")
    current = None
    for result in report.results:
        if result.case.file != current:
            current = result.case.file
            lines += ["", f"{current}: {result.case.feature}"]
        lines += _result_lines(result)
    lines += ["", summary_line(report), coverage_line(report)]
    for rule in report.unexercised:
        lines.append(f"  not exercised: {rule.id} ({rule.effect}) at {rule.source}")
    return lines


def _result_lines(result: CaseResult) -> list[str]:
    case = result.case
    lines = [f"  {_MARK[result.status]} {case.name} (line {case.line})"]
    for problem in result.problems:
        lines.append(f"        {problem}")
    if result.status is Status.FAILED and result.decision is not None:
        lines += [f"        {line}" for line in answer_lines(result.decision)]
    return lines


def answer_lines(decision: Decision) -> list[str]:
    """What the engine answered: the effect, the deciding rule and the reason."""
    effect = "permitted" if decision.permitted else "not permitted"
    decisive = next((r for r in decision.rules if r.role is RuleRole.DECISIVE), None)
    deciding = f"{decisive.id} at {decisive.source}" if decisive else "none (no rule matched)"
    return [
        f"the engine answered: {effect}",
        f"deciding rule: {deciding}",
        f"reason: {decision.rationale}",
    ]


def summary_line(report: RunReport) -> str:
    total = len(report.results)
    text = (
        f"{total} scenario{'s' if total != 1 else ''}: {report.count(Status.PASSED)} passed, "
        f"{report.count(Status.FAILED)} failed, {report.count(Status.ERROR)} could not run"
    )
    if report.problems:
        text += f"; {len(report.problems)} problem(s) reading the feature files"
    return text


def coverage_line(report: RunReport) -> str:
    total = len(report.rules)
    exercised = total - len(report.unexercised)
    return f"Rule coverage: {exercised} of {total} rules exercised ({report.coverage:.0%})"
