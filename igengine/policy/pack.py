"""A validated pack: what the compiler and the combiner work from. Immutable once built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from igengine.legal import LegalBasis
from igengine.policy.model import AgreementSpec, FhirSpec, Organisation, RuleSpec
from igengine.vocabulary import Effect, Purpose


@dataclass(frozen=True)
class Rule:
    """One rule with everything resolved: qualified id, source, purposes, parties, legal basis."""

    index: int
    agreement_index: int
    id: str
    spec: RuleSpec
    agreement: AgreementSpec
    source: str
    purposes: frozenset[Purpose]
    parties: frozenset[str]
    overrides: frozenset[str]
    legal_basis: tuple[LegalBasis, ...]

    @property
    def effect(self) -> Effect:
        return self.spec.effect

    @cached_property
    def conditions(self) -> dict[str, Any]:
        return self.spec.when.tested()

    def in_force(self, on: date) -> bool:
        return self.agreement.start_date <= on <= self.agreement.end_date


@dataclass(frozen=True)
class PolicyPack:
    root: str
    version: str
    organisations: dict[str, Organisation]
    agreements: tuple[AgreementSpec, ...]
    rules: tuple[Rule, ...]
    obligations: dict[str, str]
    # How FHIR Consent records map to this pack (a `fhir:` section), if the pack says.
    fhir: FhirSpec | None = None
