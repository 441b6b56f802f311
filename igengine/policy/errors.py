"""Policy problems, each naming the file, line and field, and what to write instead."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PolicyIssue:
    source: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


class PolicyError(ValueError):
    """A pack that cannot be loaded. `issues` lists every problem found, not just the first."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        self.issues = sorted(issues)
        count = len(self.issues)
        heading = f"{count} problem{'s' if count != 1 else ''} in the policy pack:"
        super().__init__("\n".join([heading, *(str(issue) for issue in self.issues)]))
