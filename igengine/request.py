"""The request shape of the decision contract, and the errors a malformed request raises."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from igengine.vocabulary import Capacity, Consent, Purpose, RecordType, Relationship, Role, suggest


class RequestError(ValueError):
    """A malformed request. `errors` holds one (field, message) pair per problem."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Requester(_Strict):
    role: Role
    organisation: str = Field(min_length=1)
    id: str | None = None


class Holder(_Strict):
    organisation: str = Field(min_length=1)


class Subject(_Strict):
    """What is known about the person. Every field has a default the rationale names if assumed."""

    id: str | None = None
    relationship: Relationship = Relationship.NONE
    objection: bool = False
    consent: Consent = Consent.NONE
    national_data_opt_out: bool = False
    has_capacity: Capacity = Capacity.UNKNOWN
    risk_of_serious_harm: bool = False
    age: int | None = Field(default=None, ge=0, le=130)
    s251_support: bool = False
    anonymised: bool = False
    # A FHIR R4 Consent resource, read into the flags above by the engine (igengine/fhir.py).
    fhir_consent: dict[str, Any] | None = None

    @field_validator("has_capacity", mode="before")
    @classmethod
    def _capacity_from_bool(cls, value: Any) -> Any:
        # JSON callers naturally send true/false; the vocabulary code is the string.
        if isinstance(value, bool):
            return "true" if value else "false"
        return value


class Request(_Strict):
    requester: Requester
    holder: Holder
    purpose: Purpose
    record_type: RecordType
    subject: Subject = Subject()
    justification: str | None = None
    at: datetime | None = None

    @property
    def justified(self) -> bool:
        return bool(self.justification and self.justification.strip())


# What a request's defaults mean, in words the rationale uses when one was assumed.
SUBJECT_DEFAULT_WORDS: dict[str, str] = {
    "relationship": "the requester is not in the person's care team",
    "objection": "the person has not objected",
    "consent": "no recorded consent or refusal",
    "national_data_opt_out": "no national data opt-out",
    "has_capacity": "capacity not assessed (assumed unless shown otherwise)",
    "risk_of_serious_harm": "no known risk of serious harm",
    "s251_support": "no section 251 support",
    "anonymised": "the information is identifiable",
}


def parse_request(data: Request | dict[str, Any]) -> Request:
    """Validate a request, raising RequestError that names each bad field and the valid values."""
    if isinstance(data, Request):
        return data
    if not isinstance(data, dict):
        raise RequestError([("request", f"expected a JSON object, got {type(data).__name__}")])
    try:
        return Request.model_validate(data)
    except ValidationError as exc:
        raise RequestError([_describe(err) for err in exc.errors()]) from None


def _describe(err: Any) -> tuple[str, str]:
    field = ".".join(str(part) for part in err["loc"]) or "request"
    kind = err["type"]
    value = err.get("input")
    if kind == "enum":
        choices = re.findall(r"'([^']+)'", err.get("ctx", {}).get("expected", ""))
        return (
            field,
            f"'{value}' is not a valid code; {suggest(str(value), choices, list_all=True)}",
        )
    if kind == "missing":
        return field, "is required"
    if kind == "extra_forbidden":
        return field, "is not a field of the request"
    return field, str(err["msg"])
