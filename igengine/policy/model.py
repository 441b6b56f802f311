"""What a policy file may say, as pydantic models (shapes only; cross-checks are in validate)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igengine.legal import LegalBasis
from igengine.vocabulary import (
    Capacity,
    Consent,
    Effect,
    Purpose,
    RecordType,
    Relationship,
    Role,
    Sector,
)


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
    sector: Sector


# Defaults are factories: pydantic deep-copies a plain mutable default for every instance,
# which for a pack of 10,000 rules took longer than validating them.


class Requesting(_Policy):
    """Who may ask. Every list given must contain the requester; an omitted list allows any."""

    roles: list[Role] = Field(default_factory=list)
    sectors: list[Sector] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)

    _lists = field_validator("roles", "sectors", "organisations", mode="before")(_as_list)


class Holding(_Policy):
    """Which record holders the rule covers."""

    sectors: list[Sector] = Field(default_factory=list)
    organisations: list[str] = Field(default_factory=list)

    _lists = field_validator("sectors", "organisations", mode="before")(_as_list)


class Conditions(_Policy):
    """Conditions about the person and the request. An omitted condition is not tested."""

    relationship: list[Relationship] | None = None
    objection: bool | None = None
    consent: list[Consent] | None = None
    national_data_opt_out: bool | None = None
    has_capacity: list[Capacity] | None = None
    risk_of_serious_harm: bool | None = None
    age_under: int | None = Field(default=None, ge=0, le=130)
    age_at_least: int | None = Field(default=None, ge=0, le=130)
    s251_support: bool | None = None
    anonymised: bool | None = None
    justification_given: bool | None = None

    _lists = field_validator("relationship", "consent", mode="before")(_as_list)

    @field_validator("has_capacity", mode="before")
    @classmethod
    def _capacity(cls, value: Any) -> Any:
        # YAML reads `has_capacity: false` as a boolean; the code is the string "false".
        items = _as_list(value)
        if items is None:
            return None
        return [("true" if v else "false") if isinstance(v, bool) else v for v in items]

    def tested(self) -> dict[str, Any]:
        """The conditions this rule actually tests."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


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
    purposes: list[Purpose] = Field(default_factory=list)
    records: list[RecordType] = Field(default_factory=list)
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
    purposes: list[Purpose] = Field(min_length=1)
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
    purposes: list[Purpose] = Field(default_factory=list)
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
    records: list[RecordType] = Field(min_length=1)
    purposes: list[Purpose] = Field(default_factory=list)
    when: Conditions = Field(default_factory=Conditions)
    legal_basis: LegalBasisSpec
    exceptions: list[ExceptionSpec] = Field(default_factory=list)

    _lists = field_validator("records", "purposes", mode="before")(_as_list)


class FhirSpec(_Policy):
    """How FHIR Consent records are read (see igengine/fhir.py): each v3 PurposeOfUse code a
    provision may name, and the pack purposes it stands for; and the purposes a deny counts as
    the national data opt-out for."""

    purpose_of_use: dict[str, list[Purpose]]
    opt_out_purposes: list[Purpose]


class PackFile(_Policy):
    """A file of shared definitions: the organisations, any local obligation codes, the
    pack-wide restrictions, and how FHIR Consent records map to the pack's purposes."""

    organisations: list[Organisation] = Field(default_factory=list)
    obligations: dict[str, str] = Field(default_factory=dict)
    restrictions: list[RestrictionSpec] = Field(default_factory=list)
    fhir: FhirSpec | None = None


# Where each kind of entry is written, in the words of a pack file: an unknown field that is
# valid elsewhere is usually indented under the wrong parent, and the message says which.
_PLACES: dict[type[_Policy], str] = {
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
    PackFile: "at the top of a shared definitions file",
}

FIELD_NAMES: set[str] = {name for model in _PLACES for name in model.model_fields}


def places_of(name: str) -> list[str]:
    """Where a field of this name may be written (empty when no part of a pack has it)."""
    return [place for model, place in _PLACES.items() if name in model.model_fields]
