"""Validate the vocabulary a pack declares (vocabulary.yaml), and the codes and conditions the
rest of the pack writes against it.

A reference to a code whose definition could not be read (a malformed entry, an unreadable
file, no vocabulary at all) is reported as following from that problem (`PolicyIssue.cause`),
so the cause is read first and its consequences are counted, not listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from igengine.policy.errors import PolicyIssue
from igengine.policy.load import LoadedFiles, SourceFile
from igengine.policy.model import Conditions
from igengine.policy.yamlsource import Path as YPath
from igengine.vocabulary import KINDS, RESERVED_NAMES, Fact, Vocabulary, suggest

_TYPES = {"boolean": "true or false", "number": "a whole number", "choice": "one of its codes"}


def vocabulary(loaded: LoadedFiles, issues: list[PolicyIssue]) -> Vocabulary:
    """The pack's vocabulary, merged from its definitions files; a duplicate or inconsistent
    entry is an issue at its line."""
    seen: dict[tuple[str, str], str] = {}
    merged: dict[str, list[Any]] = {kind: [] for kind in (*KINDS, "person")}
    for definitions, source in loaded.definitions:
        for kind in merged:
            for i, entry in enumerate(getattr(definitions, kind)):
                code = entry.name if kind == "person" else entry.code
                at: YPath = (kind, i, "name" if kind == "person" else "code")
                where = f"{source.display}:{source.issue(at, '').line}"
                if (kind, code) in seen:
                    issues.append(
                        source.issue(
                            at,
                            f"'{code}' is defined twice (first at {seen[kind, code]}); "
                            "remove one of them",
                        )
                    )
                    continue
                seen[kind, code] = where
                merged[kind].append(entry)
    found = Vocabulary(
        merged["sectors"],
        merged["roles"],
        merged["record_types"],
        merged["purposes"],
        merged["obligations"],
        merged["person"],
    )
    for definitions, source in loaded.definitions:
        for i, fact in enumerate(definitions.person):
            if found.person.get(fact.name) is fact:
                issues.extend(_fact_issues(fact, ("person", i), source, found))
    _condition_clashes(found, loaded, issues)
    return found


def _fact_issues(fact: Fact, at: YPath, source: SourceFile, known: Vocabulary) -> list[PolicyIssue]:
    """A fact's declaration must be consistent: its choices, default, suggestions, phrases."""
    found: list[PolicyIssue] = []

    def problem(field: str | tuple[str | int, ...], message: str) -> None:
        path = (field,) if isinstance(field, str) else field
        found.append(source.issue((*at, *path), message))

    if fact.name in RESERVED_NAMES:
        problem("name", f"'{fact.name}' is a name igengine uses itself; choose another")
    if fact.type == "choice" and not fact.choices:
        problem("choices", "a choice needs `choices:`, e.g. [{code: yes, label: yes}]")
    if fact.type != "choice" and fact.choices:
        problem("choices", f"only a choice has `choices:`; this fact is a {fact.type}")
    codes: set[str] = set()
    for j, choice in enumerate(fact.choices):
        if choice.code in codes:
            problem(("choices", j, "code"), f"'{choice.code}' is one of this fact's choices twice")
        codes.add(choice.code)
    if not _of_type(fact, fact.default):
        problem("default", _wrong_type(fact, fact.default))
    for j, suggestion in enumerate(fact.suggest):
        if fact.own_choice:
            problem("suggest", "the person's own choice (`own_choice: true`) is never suggested")
        elif suggestion.value is None or not _of_type(fact, suggestion.value):
            problem(("suggest", j, "value"), _wrong_type(fact, suggestion.value))
    for name, value in fact.implied_by.items():
        other = known.person.get(name)
        if other is None:
            problem("implied_by", f"'{name}' is not a fact; {suggest(name, list(known.person))}")
        elif not _of_type(other, value):
            problem("implied_by", f"{name}: {_wrong_type(other, value)}")
    if fact.implied_by and fact.type != "boolean":
        problem("implied_by", "only a true-or-false fact can be implied by another")
    for j, phrase in enumerate(fact.phrases):
        try:
            pattern = re.compile(phrase.says, re.IGNORECASE)
        except re.error as exc:
            problem(("phrases", j, "says"), f"is not a readable pattern ({exc})")
            continue
        if phrase.value is None and "value" not in pattern.groupindex:
            problem(("phrases", j), "give `value:`, or mark the value's words (?P<value>...)")
        elif phrase.value is not None and not _of_type(fact, phrase.value):
            problem(("phrases", j, "value"), _wrong_type(fact, phrase.value))
        if not pattern.fullmatch(phrase.example or phrase.says):
            problem(("phrases", j, "example"), "must be a sentence its `says:` matches")
    if fact.type != "number" and (fact.maximum is not None or fact.minimum):
        problem("maximum", "only a number has `minimum:` and `maximum:`")
    return found


def _of_type(fact: Fact, value: Any) -> bool:
    """Whether `value` is a value of the fact (None is: an unknown number, or no default)."""
    if value is None:
        return fact.type == "number"
    if fact.type == "boolean":
        return isinstance(value, bool)
    if fact.type == "number":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and fact.minimum <= value
            and (fact.maximum is None or value <= fact.maximum)
        )
    return choice_code(fact, value) is not None


def choice_code(fact: Fact, value: Any) -> str | None:
    """The choice `value` names (true and false name the codes "true" and "false"), or None."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return value if isinstance(value, str) and value in fact.codes else None


def _wrong_type(fact: Fact, value: Any) -> str:
    shown = "nothing" if value is None else repr(value)
    if fact.type == "choice":
        return f"{shown} is not a choice of '{fact.name}'; {suggest(str(value), fact.codes)}"
    if fact.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        top = "" if fact.maximum is None else f" to {fact.maximum}"
        return f"{value} is out of range; write a whole number from {fact.minimum}{top}"
    return f"{shown} is not {_TYPES[fact.type]}; '{fact.name}' is a {fact.type}"


def _condition_clashes(found: Vocabulary, loaded: LoadedFiles, issues: list[PolicyIssue]) -> None:
    """A number's bounds (`age_under`) must not share a name with another fact."""
    for definitions, source in loaded.definitions:
        for i, fact in enumerate(definitions.person):
            if fact.type == "number":
                for name in (f"{fact.name}_under", f"{fact.name}_at_least"):
                    if name in found.person:
                        issues.append(
                            source.issue(
                                ("person", i, "name"),
                                f"the condition '{name}' on this number has the name of "
                                "another fact; rename one of them",
                            )
                        )


def missing(loaded: LoadedFiles, found: Vocabulary) -> PolicyIssue | None:
    """The issue saying the pack declares no vocabulary, when it declares none at all."""
    if any(found.codes(kind) for kind in KINDS) or found.person:
        return None
    return PolicyIssue(
        "(pack)",
        0,
        "vocabulary",
        "no vocabulary defined; add vocabulary.yaml with `sectors:`, `roles:`, "
        "`record_types:`, `purposes:`, `obligations:` and `person:` "
        "(docs/policy-language.md shows the form)",
    )


class CodeCheck:
    """Checks codes and conditions written in pack files against the vocabulary, naming the
    cause when the code's definition is what is broken."""

    def __init__(self, found: Vocabulary, loaded: LoadedFiles, issues: list[PolicyIssue]) -> None:
        self.vocabulary = found
        self._loaded = loaded
        self._issues = issues
        self.issues = issues
        # A file that could not be read (vocabulary.yaml with a YAML slip, say) is the likely
        # cause of an empty vocabulary, and is reported as such instead.
        self._no_vocabulary = None if loaded.file_problems else missing(loaded, found)
        if self._no_vocabulary is not None:
            issues.append(self._no_vocabulary)

    def codes(self, kind: str, codes: Iterable[str], at: YPath, source: SourceFile) -> None:
        """Each of `codes` (written at `at`, index by index) must be a code of `kind`."""
        known = self.vocabulary.codes(kind)
        for j, code in enumerate(codes):
            if code not in known:
                message = (
                    f"'{code}' is not {KINDS[kind]} in this pack's vocabulary; "
                    f"{suggest(str(code), known)}"
                )
                self.report(source.issue((*at, j), message), kind, code)

    def code(self, kind: str, code: str, at: YPath, source: SourceFile) -> None:
        if code not in self.vocabulary.codes(kind):
            message = (
                f"'{code}' is not {KINDS[kind]} in this pack's vocabulary; "
                f"{suggest(str(code), self.vocabulary.codes(kind))}"
            )
            self.report(source.issue(at, message), kind, code)

    def report(self, issue: PolicyIssue, kind: str, code: str) -> None:
        """Record a reference problem, as a consequence where a broken definition explains it."""
        cause = self._cause(kind, code)
        self._issues.append(issue if cause is None else _following(issue, cause))

    def _cause(self, kind: str, code: str) -> PolicyIssue | None:
        lost = self._loaded.lost.get(kind, {}).get(str(code))
        if lost is not None or kind not in (*KINDS, "person"):
            return lost
        declared = self.vocabulary.person if kind == "person" else self.vocabulary.codes(kind)
        if not declared:
            if self._loaded.file_problems:
                return self._loaded.file_problems[0]
            return self._no_vocabulary
        return None

    def conditions(self, when: Conditions, at: YPath, source: SourceFile) -> Conditions:
        """The conditions checked against the pack's facts, with each choice written as a list
        of codes (the form the compiler reads)."""
        normal: dict[str, Any] = {}
        for name, value in when.tested().items():
            here = (*at, name)
            if name == "justification_given":
                if not isinstance(value, bool):
                    self._issues.append(source.issue(here, "must be true or false"))
                normal[name] = value
                continue
            tested = self.vocabulary.conditions.get(name)
            if tested is None:
                self._unknown_condition(name, here, source)
                continue
            checked = self._condition_value(tested[0], tested[1], value, here, source)
            if checked is not None:
                normal[name] = checked
        bounds = self._bounds_issues(normal, at, source)
        self._issues.extend(bounds)
        return Conditions(**normal)

    def _unknown_condition(self, name: str, here: YPath, source: SourceFile) -> None:
        names = [*self.vocabulary.conditions, "justification_given"]
        message = (
            f"'{name}' is not a fact about the person in this pack's vocabulary; "
            f"{suggest(name, names)} (a fact is declared under `person:` in vocabulary.yaml)"
        )
        fact = name.removesuffix("_under").removesuffix("_at_least")
        self.report(source.issue(here, message), "person", fact)

    def _condition_value(
        self, fact: Fact, how: str, value: Any, here: YPath, source: SourceFile
    ) -> Any:
        if how in {"under", "at_least"}:
            if _of_type(fact, value) and value is not None:
                return value
            self._issues.append(source.issue(here, _wrong_type(fact, value)))
            return None
        if fact.type == "boolean":
            if isinstance(value, bool):
                return value
            self._issues.append(source.issue(here, _wrong_type(fact, value)))
            return None
        values = value if isinstance(value, list) else [value]
        codes: list[str] = []
        for j, item in enumerate(values):
            code = choice_code(fact, item)
            if code is None:
                spot = (*here, j) if isinstance(value, list) else here
                self._issues.append(source.issue(spot, _wrong_type(fact, item)))
            else:
                codes.append(code)
        return codes or None

    def _bounds_issues(
        self, normal: dict[str, Any], at: YPath, source: SourceFile
    ) -> list[PolicyIssue]:
        found: list[PolicyIssue] = []
        for fact in self.vocabulary.person.values():
            under = normal.get(f"{fact.name}_under")
            least = normal.get(f"{fact.name}_at_least")
            if under is not None and least is not None and least >= under:
                found.append(
                    source.issue(
                        (*at, f"{fact.name}_at_least"),
                        f"{fact.name}_at_least must be below {fact.name}_under, or no one matches",
                    )
                )
        return found


def _following(issue: PolicyIssue, cause: PolicyIssue) -> PolicyIssue:
    return PolicyIssue(issue.source, issue.line, issue.field, issue.message, cause)
