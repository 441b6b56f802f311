"""The engine's own concepts (effects, the parts rules play, 'did you mean'), and the shape of a
pack's vocabulary: the codes and the facts about the person a pack declares in its
`vocabulary.yaml`. No code of a particular pack is written here: the shipped pack's are in
policies/vocabulary.yaml, and `igengine vocabulary DIR` lists any pack's.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"


class RuleRole(StrEnum):
    DECISIVE = "decisive"
    OVERRIDDEN = "overridden"
    INFORMATIVE = "informative"


def suggest(value: str, choices: list[str], *, list_all: bool = False) -> str:
    """A 'did you mean' hint for a misspelt code, and the valid codes when none is close
    (or always, with `list_all`)."""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    listing = "valid values: " + ", ".join(choices)
    if close:
        return (
            f"did you mean '{close[0]}'? ({listing})" if list_all else f"did you mean '{close[0]}'?"
        )
    return listing


# ---- The shape of vocabulary.yaml ---------------------------------------------------------

CODE_PATTERN = r"^[a-z0-9][a-z0-9_]*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Term(_Entry):
    """A code with the words rationales, the page and scenarios use for it."""

    code: str = Field(min_length=1, pattern=CODE_PATTERN)
    label: str | None = None
    description: str | None = None
    # The page's wording for this answer, where it differs from the label.
    answer: str | None = None
    # For a choice: the person's own choice (a refusal, say). While a request records it,
    # `would_permit_if` suggests no other value of the fact.
    own_choice: bool = False

    @property
    def words(self) -> str:
        return self.label or self.code.replace("_", " ")


class RoleTerm(Term):
    # Whether the role is a registered health or care professional's (see docs).
    clinical: bool = False


class Obligation(_Entry):
    code: str = Field(min_length=1, pattern=CODE_PATTERN)
    text: str = Field(min_length=1)
    description: str | None = None


class Suggestion(_Entry):
    """A value `would_permit_if` may suggest for a fact, and the words for it ("the person
    gives explicit consent")."""

    value: bool | int | str
    words: str = Field(min_length=1)
    description: str | None = None


class Phrase(_Entry):
    """A sentence a scenario may use to set the fact to `value`. `says` is matched against the
    whole step, ignoring case; `(...)?` marks optional words and `(a|b)` alternatives."""

    says: str = Field(min_length=1)
    # None takes the value from the words matched by `(?P<value>...)` in `says`.
    value: bool | int | str | None = None
    example: str | None = None
    description: str | None = None


FactType = Literal["boolean", "choice", "number"]


class Fact(_Entry):
    """A fact about the person: a request field (`subject.<name>`), a condition in `when:`
    (for a number, `<name>_under` and `<name>_at_least`), a matcher fact, and a page question,
    all by this one name."""

    name: str = Field(min_length=1, pattern=NAME_PATTERN)
    type: FactType
    question: str = Field(min_length=1)
    label: str | None = None
    description: str | None = None
    choices: list[Term] = Field(default_factory=list)
    default: bool | int | str | None = None
    own_choice: bool = False
    # Words the rationale uses when the default was assumed ("no recorded consent").
    assumed: str | None = None
    suggest: list[Suggestion] = Field(default_factory=list)
    # Other facts whose value makes this one true (a refusal of consent is an objection).
    implied_by: dict[str, bool | int | str] = Field(default_factory=dict)
    # Other names a scenario may use for the fact ("opt out" for national_data_opt_out).
    also_called: list[str] = Field(default_factory=list)
    phrases: list[Phrase] = Field(default_factory=list)
    # For the page: a hint under the question, a section other than the first, whether it
    # must be answered.
    hint: str | None = None
    section: str | None = None
    required: bool = False
    # For a number: the smallest and largest value a request may give.
    minimum: int = 0
    maximum: int | None = None

    @property
    def words(self) -> str:
        return self.label or self.name.replace("_", " ")

    @property
    def codes(self) -> list[str]:
        return [choice.code for choice in self.choices]

    def choice_words(self, code: str) -> str:
        return next((c.words for c in self.choices if c.code == code), code.replace("_", " "))


class VocabularyFile(_Entry):
    """What `vocabulary.yaml` may say (each list may also be split over several files)."""

    sectors: list[Term] = Field(default_factory=list)
    roles: list[RoleTerm] = Field(default_factory=list)
    record_types: list[Term] = Field(default_factory=list)
    purposes: list[Term] = Field(default_factory=list)
    obligations: list[Obligation] = Field(default_factory=list)
    person: list[Fact] = Field(default_factory=list)


# The kinds of code, by the key that lists them, and how a message names one.
KINDS: dict[str, str] = {
    "sectors": "a sector",
    "roles": "a role",
    "record_types": "a record type",
    "purposes": "a purpose",
    "obligations": "an obligation",
}

# Names the matcher and a request use for things other than the person's facts.
RESERVED_NAMES = frozenset(
    {"id", "fhir_consent", "role", "req_sector", "holder_sector", "req_org", "holder_org"}
    | {"justified", "justification", "justification_given", "always"}
)


class Vocabulary:
    """One pack's codes and facts, looked up by code. Immutable once built."""

    def __init__(
        self,
        sectors: Iterable[Term] = (),
        roles: Iterable[RoleTerm] = (),
        record_types: Iterable[Term] = (),
        purposes: Iterable[Term] = (),
        obligations: Iterable[Obligation] = (),
        person: Iterable[Fact] = (),
    ) -> None:
        self.sectors: dict[str, Term] = {t.code: t for t in sectors}
        self.roles: dict[str, RoleTerm] = {t.code: t for t in roles}
        self.record_types: dict[str, Term] = {t.code: t for t in record_types}
        self.purposes: dict[str, Term] = {t.code: t for t in purposes}
        self.obligations: dict[str, Obligation] = {o.code: o for o in obligations}
        self.person: dict[str, Fact] = {f.name: f for f in person}

    def codes(self, kind: str) -> list[str]:
        """The codes of one kind ('roles', 'sectors' ... see KINDS), in the pack's order."""
        found: Mapping[str, Any] = getattr(self, kind)
        return list(found)

    def label(self, kind: str, code: str) -> str:
        """The plain-English words for a code (the code as words when it has no label)."""
        found = self._labels[kind].get(code)
        return code.replace("_", " ") if found is None else found

    @cached_property
    def _labels(self) -> dict[str, dict[str, str]]:
        return {
            kind: {code: term.words for code, term in getattr(self, kind).items()}
            for kind in ("sectors", "roles", "record_types", "purposes")
        }

    @cached_property
    def assumed(self) -> tuple[tuple[str, str, str], ...]:
        """For each fact with words for its assumed default: its name, its request field and
        those words."""
        return tuple(
            (f.name, f"subject.{f.name}", f.assumed) for f in self.person.values() if f.assumed
        )

    @cached_property
    def conditions(self) -> dict[str, tuple[Fact, str]]:
        """Each name a rule's `when:` may test that reads a person fact, with the fact and how
        it is tested: 'is' (boolean or choice), 'under' or 'at_least' (a number's bounds)."""
        found: dict[str, tuple[Fact, str]] = {}
        for fact in self.person.values():
            if fact.type == "number":
                found[f"{fact.name}_under"] = (fact, "under")
                found[f"{fact.name}_at_least"] = (fact, "at_least")
            else:
                found[fact.name] = (fact, "is")
        return found

    def fact_of(self, condition: str) -> str:
        """The request field a `when:` condition reads (`subject.age` for `age_under`)."""
        return self.fields[condition]

    @cached_property
    def fields(self) -> dict[str, str]:
        """For each `when:` condition, the request field it reads."""
        found = {name: f"subject.{fact.name}" for name, (fact, _) in self.conditions.items()}
        found["justification_given"] = "justification"
        return found

    @cached_property
    def kinds(self) -> dict[str, tuple[str, frozenset[str], range]]:
        """Each fact's type, (for a choice) its codes and (for a number with a maximum) its
        range, for checking requests quickly."""
        return {
            f.name: (
                f.type,
                frozenset(f.codes),
                range(f.minimum, f.maximum + 1) if f.maximum is not None else range(0),
            )
            for f in self.person.values()
        }

    @cached_property
    def defaults(self) -> dict[str, Any]:
        """Each fact's default, by name."""
        return {f.name: f.default for f in self.person.values()}

    @cached_property
    def numbers(self) -> tuple[tuple[str, str], ...]:
        """The number facts, each with the name of its `<name>_known` matcher fact."""
        return tuple(
            (f.name, f"{f.name}_known") for f in self.person.values() if f.type == "number"
        )

    @cached_property
    def suggestions(self) -> dict[str, list[tuple[Any, str]]]:
        """Changes `would_permit_if` may suggest, by request field (`subject.<name>`), with the
        words for each: each fact's `suggest:`. The person's own choices are never among them."""
        return {
            f"subject.{fact.name}": [(s.value, s.words) for s in fact.suggest]
            for fact in self.person.values()
            if fact.suggest and not fact.own_choice
        }

    @cached_property
    def implied(self) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
        """Each yes-or-no fact another fact's value makes true, with those (fact, value)s."""
        return tuple(
            (fact.name, tuple(fact.implied_by.items()))
            for fact in self.person.values()
            if fact.implied_by
        )
