"""Policy problems, each naming the file, line and field, and what to write instead."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PolicyIssue:
    source: str
    line: int
    field: str
    message: str
    # The problem this one follows from (a reference to a code whose definition is broken or
    # missing): it is counted under its cause, not listed.
    cause: PolicyIssue | None = dataclasses.field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.field}: {self.message}"


# Definitions other parts of a pack refer to: a problem in one is listed first, as the cause.
DEFINITION_FIELDS = ("sectors", "roles", "record_types", "purposes", "obligations", "person")
_DEFINITIONS = (*DEFINITION_FIELDS, "organisations", "vocabulary")


class PolicyError(ValueError):
    """A pack that cannot be loaded. `issues` lists every problem found, not just the first:
    the causes of other problems first, then the rest of the vocabulary's and organisations'
    problems, then the others; a problem that only follows from one
    of those (`cause`) is in `consequences`, and the message counts them under their cause."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        self.consequences = [issue for issue in issues if issue.cause is not None]
        causes = {id(issue.cause) for issue in self.consequences}
        listed = sorted(issue for issue in issues if issue.cause is None)
        self.issues = sorted(
            listed, key=lambda issue: (id(issue) not in causes, not _is_definition(issue))
        )
        count = len(self.issues)
        heading = f"{count} problem{'s' if count != 1 else ''} in the policy pack:"
        super().__init__("\n".join([heading, *self.lines()]))

    def lines(self) -> list[str]:
        """Each problem as `file:line: field: message`, each cause followed by one line
        counting the problems that follow from it."""
        following: dict[int, int] = {}
        for issue in self.consequences:
            following[id(issue.cause)] = following.get(id(issue.cause), 0) + 1
        found: list[str] = []
        for issue in self.issues:
            found.append(str(issue))
            count = following.get(id(issue), 0)
            if count:
                found.append(
                    f"  ... and {count} reference{'s' if count != 1 else ''} to it "
                    "(not listed: they follow from this problem)"
                )
        return found


def _is_definition(issue: PolicyIssue) -> bool:
    return issue.field.split(".", 1)[0].split("[", 1)[0] in _DEFINITIONS
