"""The decision shape of the contract: what every caller (library, CLI, HTTP) gets back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from igengine.legal import LegalBasis
from igengine.vocabulary import Effect, RuleRole


class RuleRef(BaseModel):
    """A rule that matched the request, and the part it played."""

    model_config = ConfigDict(frozen=True)

    id: str
    effect: Effect
    source: str
    role: RuleRole


class AgreementRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    start_date: date
    end_date: date
    review_date: date


class Decision(BaseModel):
    """An explained answer. Fields up to `error` are the fixed contract; the rest are extras."""

    model_config = ConfigDict(frozen=True)

    effect: Effect
    rationale: str
    legal_basis: list[LegalBasis]
    obligations: list[str]
    rules: list[RuleRef]
    agreement: AgreementRef | None
    would_permit_if: list[dict[str, Any]]
    policy_version: str
    decision_id: str
    error: str | None = None
    # Extras beyond the contract, for the page and the audit trail.
    at: datetime
    assumed: list[str] = []
    not_in_force: list[AgreementRef] = []
    # True when the request asked about another time (`at`): the answer is for that time and
    # is not a permission to share now.
    what_if: bool = False

    @property
    def permitted(self) -> bool:
        """The pack permits the request at the decision's time (`at`)."""
        return self.effect is Effect.PERMIT

    @property
    def permits_now(self) -> bool:
        """A permission to share now: permitted, and not a what-if answer for another time."""
        return self.permitted and not self.what_if

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON shape (plain JSON types only)."""
        return self.model_dump(mode="json")
