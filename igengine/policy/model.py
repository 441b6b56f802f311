"""What a policy file may say, as pydantic models (shapes only; cross-checks are in validate)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igengine.legal import LegalBasis
from igengine.vocabulary import Effect, Obligation, Term, VocabularyFile
from igengine.vocabulary import Fact as FactSpec


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _as_list(value: Any) -> Any:
    """Let an IG officer write `roles: gp` as well as `roles: [gp, practice_nurse]`."""
    if value is None or isinstance(value, list):
        return value
    return [value]


class Organisation(_Policy):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    sector: str = Field(min_length=1)


# Defaults are factories: pydantic deep-copies a plain mutable default for every instance,
# which for a pack of 10,000 rules took longer than validating them.


class Requesting(_Policy):
    """Who may ask. Every list given must contain the requester; an omitted list allows any."""

    roles: list[str] = Field(default_factory=list)
    sectors: list[str] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)

    _lists = field_validator("roles", "sectors", "organisations", mode="before")(_as_list)


class Holding(_Policy):
    """Which record holders the rule covers."""

    sectors: list[str] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)

    _lists = field_validator("sectors", "organisations", mode="before")(_as_list)


class Conditions(_Policy):
    """Conditions about the person and the request. An omitted condition is not tested.

    Besides `justification_given`, each key names a fact of the pack's vocabulary (a number
    fact by `<name>_under` or `<name>_at_least`); validate checks them against it and writes
    a choice's values as a list of codes."""

    model_config = ConfigDict(frozen=True, extra="allow")

    justification_given: bool | None = None

    def tested(self) -> dict[str, Any]:
        """The conditions this rule actually tests, by name."""
        found = dict(self.__pydantic_extra__ or {})
        if self.justification_given is not None:
            found["justification_given"] = self.justification_given
        return {k: v for k, v in found.items() if v is not None}

    def get(self, name: str) -> Any:
        """The condition on `name`, or None when it is not tested."""
        return self.tested().get(name)


class LegalBasisSpec(_Policy):
    """A rule's legal basis, by the short codes in igengine.legal (or a provision written out)."""

    article_6: str | None = None
    article_9: str | None = None
    common_law: str | None = None
    statutes: list[str | LegalBasis] = Field(default_factory=list)
    caldicott: list[int] = Field(default_factory=list)

    _lists = field_validator("statutes", "caldicott", mode="before")(_as_list)

    def is_empty(self) -> bool:
        return not (
            self.article_6 or self.article_9 or self.common_law or self.statutes or self.caldicott
        )


class RuleSpec(_Policy):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    effect: Effect
    because: str = Field(min_length=1)
    requester: Requesting = Field(default_factory=Requesting)
    holder: Holding = Field(default_factory=Holding)
    purposes: list[str] = Field(default_factory=list)
    records: list[str] = Field(default_factory=list)
    when: Conditions = Field(default_factory=Conditions)
    legal_basis: LegalBasisSpec = Field(default_factory=LegalBasisSpec)
    obligations: list[str] = Field(default_factory=list)
    overrides: list[str] = Field(default_factory=list)
    # Pack-wide restrictions this permit lifts, each by one of its named exceptions:
    # `<restriction id>/<exception id>` (see RestrictionSpec).
    lifts: list[str] = Field(default_factory=list)

    _lists = field_validator(
        "purposes", "records", "obligations", "overrides", "lifts", mode="before"
    )(_as_list)


class AgreementSpec(_Policy):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    summary: str | None = None
    parties: list[str] = Field(min_length=1)
    purposes: list[str] = Field(min_length=1)
    start_date: date
    end_date: date
    review_date: date
    rules: list[RuleSpec] = Field(min_length=1)

    _lists = field_validator("parties", "purposes", mode="before")(_as_list)


class ExceptionSpec(_Policy):
    """A named, cited exception to a restriction. A permit that lifts the restriction by this
    exception must be at least as narrow as what the exception states (who asks, for which
    purposes, under which facts about the person): `check` compares them."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    because: str = Field(min_length=1)
    requester: Requesting = Field(default_factory=Requesting)
    purposes: list[str] = Field(default_factory=list)
    when: Conditions = Field(default_factory=Conditions)
    legal_basis: LegalBasisSpec

    _lists = field_validator("purposes", mode="before")(_as_list)


class RestrictionSpec(_Policy):
    """A deny that binds every request between any organisations of the pack, whoever signed
    what: a statute (or a local policy) that no agreement can open except by one of the
    exceptions it names."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1)
    imposed_by: Literal["statute", "local_policy"]
    because: str = Field(min_length=1)
    records: list[str] = Field(min_length=1)
    purposes: list[str] = Field(default_factory=list)
    when: Conditions = Field(default_factory=Conditions)
    legal_basis: LegalBasisSpec
    exceptions: list[ExceptionSpec] = Field(default_factory=list)

    _lists = field_validator("records", "purposes", mode="before")(_as_list)


class FhirSpec(_Policy):
    """How FHIR Consent records are read (see igengine/fhir.py): each v3 PurposeOfUse code a
    provision may name, and the pack purposes it stands for; and the purposes a deny counts as
    the national data opt-out for."""

    purpose_of_use: dict[str, list[str]]
    opt_out_purposes: list[str]


class PackFile(VocabularyFile):
    """A file of shared definitions: the organisations, the vocabulary (codes, obligations,
    facts about the person; usually in vocabulary.yaml), the pack-wide restrictions, and how
    FHIR Consent records map to the pack's purposes (load reads the older `obligations:`
    mapping of code to text as this list). Entries of the lists load checks one by one are
    kept when others are malformed."""

    organisations: list[Organisation] = Field(default_factory=list)
    restrictions: list[RestrictionSpec] = Field(default_factory=list)
    fhir: FhirSpec | None = None


# Where each kind of entry is written, in the words of a pack file: an unknown field that is
# valid elsewhere is usually indented under the wrong parent, and the message says which.
_PLACES: dict[type[BaseModel], str] = {
    Organisation: "in an organisation under `organisations:`",
    Requesting: "under a rule's `requester:`",
    Holding: "under a rule's `holder:`",
    Conditions: "under a rule's `when:`",
    LegalBasisSpec: "under a rule's `legal_basis:`",
    RuleSpec: "in a rule under `rules:`",
    AgreementSpec: "at the top of an agreement file",
    ExceptionSpec: "in an exception under a restriction's `exceptions:`",
    RestrictionSpec: "in a restriction under `restrictions:`",
    FhirSpec: "under `fhir:`",
    Term: "in an entry under `sectors:`, `roles:`, `record_types:` or `purposes:`",
    Obligation: "in an obligation under `obligations:`",
    FactSpec: "in a fact under `person:`",
    PackFile: "at the top of a shared definitions file",
}

FIELD_NAMES: set[str] = {name for model in _PLACES for name in model.model_fields}


def places_of(name: str, conditions: Iterable[str] = ()) -> list[str]:
    """Where a field of this name may be written (empty when no part of a pack has it);
    `conditions` are the names the pack's vocabulary lets `when:` test."""
    found = [place for model, place in _PLACES.items() if name in model.model_fields]
    if name in conditions:
        found.append(_PLACES[Conditions])
    return found
