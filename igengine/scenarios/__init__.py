"""Scenarios: Gherkin .feature files an IG officer writes, run against a policy pack.

    from igengine.scenarios import run_features, report_lines
    report = run_features(Path("features"), Engine.from_directory("policies"))

The step sentences are defined once, in `phrases`; `igengine test` (this package's runner) and
the pytest-bdd step definitions in `bdd` both use them.
"""

from igengine.scenarios.report import report_lines
from igengine.scenarios.run import CaseResult, RunReport, Status, run_features
from igengine.scenarios.source import Case, Problem, load_features

__all__ = [
    "Case",
    "CaseResult",
    "Problem",
    "RunReport",
    "Status",
    "load_features",
    "report_lines",
    "run_features",
]
