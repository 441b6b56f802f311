"""A validated pack: what the compiler and the combiner work from. Immutable once built."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from igengine.legal import LegalBasis
from igengine.policy.errors import PolicyIssue
from igengine.policy.model import AgreementSpec, FhirSpec, Organisation, RestrictionSpec, RuleSpec
from igengine.vocabulary import Effect, Vocabulary

# The agreement index restriction rules carry: every organisation pair shares it, so the
# engine's membership check passes for any pair, organisations added later included.
RESTRICTIONS_INDEX = -1
# Restriction rules are named `restriction:<id>`; the colon keeps them apart from
# `<agreement>/<rule>` ids, which can never contain one.
RESTRICTION_PREFIX = "restriction:"


@dataclass(frozen=True)
class Rule:
    """One rule with everything resolved: qualified id, source, purposes, parties, legal basis."""

    index: int
    agreement_index: int
    id: str
    spec: RuleSpec
    agreement: AgreementSpec
    source: str
    purposes: frozenset[str]
    parties: frozenset[str]
    # The deny rules this permit beats: those its `overrides:` names, and the restrictions
    # it lifts by one of their exceptions.
    overrides: frozenset[str]
    legal_basis: tuple[LegalBasis, ...]
    # For a restriction's own deny rule, the restriction; None for an agreement's rule.
    restriction: RestrictionSpec | None = None
    # For a permit, the exceptions it lifts restrictions by, as (restriction rule id,
    # exception id), with the legal basis each exception cites.
    lifts: tuple[tuple[str, str, tuple[LegalBasis, ...]], ...] = ()

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
    restrictions: tuple[RestrictionSpec, ...] = ()
    # Problems that do not stop the pack loading (`igengine check` shows them; `--strict`
    # fails on them).
    warnings: tuple[PolicyIssue, ...] = ()
    # How FHIR Consent records map to this pack (a `fhir:` section), if the pack says.
    fhir: FhirSpec | None = None
    # The pack's codes and facts about the person (vocabulary.yaml).
    vocabulary: Vocabulary = field(default_factory=Vocabulary)

    @cached_property
    def rules_by_id(self) -> dict[str, Rule]:
        """Every rule (restrictions' own deny rules too) by its qualified id."""
        return {rule.id: rule for rule in self.rules}
