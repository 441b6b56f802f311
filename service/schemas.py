"""The shapes of the JSON API's bodies, as pydantic models, for the OpenAPI document.

The contract's own models (`igengine.Request`, `igengine.Decision`) describe the native
endpoints. The AuthZEN models below describe what `service.authzen` reads; the routes parse
bodies themselves (strict JSON: no repeated keys, bounded nesting) so that every problem is
named in the caller's terms, and a test holds these models to the examples the routes accept.
"""

from __future__ import annotations

import copy
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import models_json_schema

from igengine import Decision, Request
from igengine.engine import MAX_BATCH
from igengine.vocabulary import Fact, Vocabulary


class FieldProblem(BaseModel):
    field: str = Field(description="The field as the caller sent it, e.g. subject.consent.")
    message: str = Field(description="What is wrong, with the valid values or a suggestion.")


class Malformed(BaseModel):
    """A request that is not valid (422 on the native API, 400 on AuthZEN's)."""

    error: str
    errors: list[FieldProblem]


class Problem(BaseModel):
    """Any other refusal: 401, 403, 413, 503 (with the withheld decision's id)."""

    error: str
    decision_id: str | None = None


class _Open(BaseModel):
    # AuthZEN lets callers send attributes a PDP does not use; igengine names the ones it
    # refuses in its 400 answer, so the schema does not forbid them.
    model_config = ConfigDict(extra="allow")


class SubjectProperties(_Open):
    role: str = Field(description="A role code of the loaded pack's vocabulary.")
    organisation: str


class AuthZenSubject(_Open):
    """The member of staff asking (AuthZEN's subject is the requester, not the person)."""

    type: str = Field(examples=["user"])
    id: str | None = None
    properties: SubjectProperties


class AuthZenAction(_Open):
    name: str = Field(description="The purpose of the sharing: a purpose code of the pack.")


class ResourceProperties(_Open):
    holder: str = Field(description="The organisation code of the record's holder.")


class AuthZenResource(_Open):
    type: str = Field(description="A record type code of the loaded pack's vocabulary.")
    id: str | None = None
    properties: ResourceProperties


class AuthZenContext(BaseModel):
    """The person's facts, each named as the loaded pack's vocabulary declares it (the same
    names as a contract request's `subject`; `igengine vocabulary` lists them), plus
    `subject_id` for the person's own id, `fhir_consent`, and the request's `justification`
    and `at`. A key the pack does not declare is refused, naming it."""

    # The facts are the pack's, so they cannot be listed here; the engine checks each.
    model_config = ConfigDict(extra="allow")

    fhir_consent: dict[str, Any] | None = Field(
        default=None, description="An HL7 FHIR R4 Consent resource about the person."
    )
    subject_id: str | None = None
    justification: str | None = None
    at: datetime | None = None


class EvaluationRequest(BaseModel):
    """One OpenID AuthZEN 1.0 access evaluation."""

    subject: AuthZenSubject
    action: AuthZenAction
    resource: AuthZenResource
    context: AuthZenContext | None = None


class EvaluationResponse(BaseModel):
    decision: bool = Field(description="True only for a permit that applies now.")
    context: dict[str, Any] = Field(
        description="The decision's explanation (the contract's decision fields), or, in a "
        "batch, `error` for an evaluation that was not valid."
    )


class EvaluationsSemantic(StrEnum):
    """How AuthZEN's batch runs: all of it, or up to the first deny or permit."""

    EXECUTE_ALL = "execute_all"
    DENY_ON_FIRST_DENY = "deny_on_first_deny"
    PERMIT_ON_FIRST_PERMIT = "permit_on_first_permit"


class EvaluationsOptions(_Open):
    evaluations_semantic: EvaluationsSemantic = EvaluationsSemantic.EXECUTE_ALL


class EvaluationItem(BaseModel):
    """One evaluation of a batch: each part given replaces the batch's default for it."""

    subject: AuthZenSubject | None = None
    action: AuthZenAction | None = None
    resource: AuthZenResource | None = None
    context: AuthZenContext | None = None


class EvaluationsRequest(BaseModel):
    """An AuthZEN batch: defaults shared by the evaluations, then the evaluations in order."""

    subject: AuthZenSubject | None = None
    action: AuthZenAction | None = None
    resource: AuthZenResource | None = None
    context: AuthZenContext | None = None
    evaluations: list[EvaluationItem] = Field(max_length=MAX_BATCH)
    options: EvaluationsOptions | None = None


class EvaluationsResponse(BaseModel):
    evaluations: list[EvaluationResponse]


class Batch(RootModel[list[Request]]):
    """A list of sharing requests, answered in order."""

    root: list[Request] = Field(max_length=MAX_BATCH)


class BatchAnswers(RootModel[list[Decision | Malformed]]):
    """Each request's decision, or (for a request that is not valid) what is wrong with it."""


class AuthZenConfiguration(BaseModel):
    """The PDP metadata of AuthZEN's discovery document."""

    policy_decision_point: str
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str


# The models the routes name in their request bodies, by the name the document uses.
REQUEST_BODIES: dict[str, type[BaseModel]] = {
    "Request": Request,
    "EvaluationRequest": EvaluationRequest,
    "EvaluationsRequest": EvaluationsRequest,
    "Batch": Batch,
}


def request_body(name: str, description: str) -> dict[str, Any]:
    """The `openapi_extra` naming a request body schema (added by `add_request_schemas`)."""
    schema = {"$ref": f"#/components/schemas/{name}"}
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"description": description, "required": True, "content": content}}


def add_request_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the request body models (and the models they use) in its components.

    The routes read their bodies themselves (see the module's description), so FastAPI does
    not see these models; they are added here, once, when the document is first built."""
    _, schemas = models_json_schema(
        [(model, "validation") for model in REQUEST_BODIES.values()],
        ref_template="#/components/schemas/{model}",
    )
    known = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.get("$defs", {}).items():
        known.setdefault(name, schema)
    return document


def with_pack_vocabulary(document: dict[str, Any], vocabulary: Vocabulary) -> dict[str, Any]:
    """`document` (not changed) with the loaded pack's codes as enums, and its facts about the
    person as the properties of a request's `subject` and of AuthZEN's `context`: the codes a
    request is checked against are the pack's, so the schema names them from the same place."""
    described = copy.deepcopy(document)
    known = described.get("components", {}).get("schemas", {})
    codes = {kind: vocabulary.codes(kind) for kind in ("roles", "purposes", "record_types")}
    places = [
        ("Requester", "role", "roles"),
        ("Request", "purpose", "purposes"),
        ("Request", "record_type", "record_types"),
        ("SubjectProperties", "role", "roles"),
        ("AuthZenAction", "name", "purposes"),
        ("AuthZenResource", "type", "record_types"),
    ]
    for model, field, kind in places:
        properties = known.get(model, {}).get("properties", {})
        if field in properties:
            properties[field] = {**_plain(properties[field]), "enum": codes[kind]}
    facts = {fact.name: _fact_schema(fact) for fact in vocabulary.person.values()}
    for model in ("Subject", "AuthZenContext"):
        if model in known:
            known[model].setdefault("properties", {}).update(facts)
    return described


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """A string field's schema without the pattern and length a code's type carries."""
    return {k: v for k, v in schema.items() if k in {"title", "description"}} | {"type": "string"}


def _fact_schema(fact: Fact) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": fact.question}
    if fact.type == "boolean":
        schema["type"] = "boolean"
    elif fact.type == "number":
        schema |= {"type": "integer", "minimum": fact.minimum}
        if fact.maximum is not None:
            schema["maximum"] = fact.maximum
    else:
        schema |= {"type": "string", "enum": fact.codes}
    if fact.default is not None:
        schema["default"] = fact.default
    return schema
