"""The OpenID AuthZEN Authorization API 1.0 evaluation shape, mapped onto the contract.

    subject  {type, id, properties {role, organisation}}  → requester {id, role, organisation}
    action   {name}                                       → purpose
    resource {type, id, properties {holder}}              → record_type, holder.organisation
    context  {relationship, objection, consent, ..., subject_id, justification, at}
                                                          → subject {...}, justification, at

The answer is {"decision": true|false, "context": {...the contract's decision fields...}}.
Errors name the AuthZEN field the caller sent, not the contract field it became.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from igengine import Decision, RequestError
from igengine.engine import MAX_BATCH
from igengine.vocabulary import suggest

# Context keys that are not facts about the person (the person's own id is `subject_id` here,
# because AuthZEN's `subject` is the requester). Every other key is a fact about the person,
# `subject.<key>`, which the engine checks against the loaded pack's vocabulary.
_CONTEXT = {
    "subject_id": "subject.id",
    "justification": "justification",
    "at": "at",
}
# The context keys an evaluation may carry.
CONTEXT_KEYS = tuple(_CONTEXT)
# Contract field → the AuthZEN field it came from, to name errors in the caller's terms.
_ORIGIN = {
    "requester.id": "subject.id",
    "requester.role": "subject.properties.role",
    "requester.organisation": "subject.properties.organisation",
    "requester": "subject",
    "purpose": "action.name",
    "record_type": "resource.type",
    "holder.organisation": "resource.properties.holder",
    "holder": "resource.properties.holder",
    **{target: f"context.{key}" for key, target in _CONTEXT.items()},
}


def to_request(body: dict[str, Any]) -> dict[str, Any]:
    """The contract request for an AuthZEN evaluation; RequestError names AuthZEN fields."""
    problems: list[tuple[str, str]] = []
    subject = _object(body, "subject", problems)
    action = _object(body, "action", problems)
    resource = _object(body, "resource", problems)
    context = _object(body, "context", problems, required=False)
    unknown = sorted(set(body) - {"subject", "action", "resource", "context"})
    problems += [(name, "is not part of an AuthZEN evaluation request") for name in unknown]
    subject_props = _object(subject, "properties", problems, prefix="subject.")
    resource_props = _object(resource, "properties", problems, prefix="resource.")
    if problems:
        raise RequestError(problems)
    request: dict[str, Any] = {
        "requester": _present(
            id=subject.get("id"),
            role=subject_props.get("role"),
            organisation=subject_props.get("organisation"),
        ),
        "holder": _present(organisation=resource_props.get("holder")),
        "purpose": action.get("name"),
        "record_type": resource.get("type"),
    }
    facts: dict[str, Any] = {}
    for key, value in context.items():
        top, _, name = _CONTEXT.get(key, f"subject.{key}").partition(".")
        if name:
            facts[name] = value
        else:
            request[top] = value
    request["subject"] = facts
    return request


def _object(
    parent: dict[str, Any],
    name: str,
    problems: list[tuple[str, str]],
    *,
    prefix: str = "",
    required: bool = True,
) -> dict[str, Any]:
    value = parent.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        found = "missing" if value is None else f"a {type(value).__name__}"
        problems.append((prefix + name, f"expected a JSON object, found {found}"))
        return {}
    return value


def _present(**values: Any) -> dict[str, Any]:
    # Leave absent values out so the contract's own 'is required' message names the field.
    return {key: value for key, value in values.items() if value is not None}


def authzen_errors(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Contract field names in validation errors, renamed to the AuthZEN fields sent."""
    return [(_origin(field), message) for field, message in errors]


def _origin(field: str) -> str:
    if field in _ORIGIN:
        return _ORIGIN[field]
    fact = field.removeprefix("subject.")
    return f"context.{fact}" if fact != field else field


def to_response(decision: Decision) -> dict[str, Any]:
    """`decision` is the boolean AuthZEN callers act on, so a what-if permit (for another
    time) is false; `context` carries the explanation, with `effect` and `what_if`."""
    context = decision.to_dict()
    context["reason_user"] = {"en": decision.rationale}
    return {"decision": decision.permits_now, "context": context}


# ---- the batch: POST /access/v1/evaluations ----------------------------------------------

_PARTS = ("subject", "action", "resource", "context")
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")


@dataclass(frozen=True)
class Batch:
    """An AuthZEN batch as contract requests, each in its place (or what is wrong with it),
    and when the batch stops early: `stops(permitted)` is true for the answer that ends it."""

    items: list[dict[str, Any] | RequestError]
    stops: Callable[[bool], bool] | None


def to_batch(body: dict[str, Any]) -> Batch:
    """The batch for an AuthZEN evaluations request: the top-level subject, action, resource
    and context are defaults that an evaluation's own replace. RequestError (naming AuthZEN
    fields) when the batch itself is not valid; a bad evaluation is an error in its place."""
    problems: list[tuple[str, str]] = []
    unknown = sorted(set(body) - {*_PARTS, "evaluations", "options"})
    problems += [(name, "is not part of an AuthZEN evaluations request") for name in unknown]
    evaluations = body.get("evaluations")
    if not isinstance(evaluations, list):
        found = "missing" if evaluations is None else f"a {type(evaluations).__name__}"
        problems.append(("evaluations", f"expected a list of evaluations, found {found}"))
    elif len(evaluations) > MAX_BATCH:
        message = f"a batch holds at most {MAX_BATCH} evaluations, not {len(evaluations)}"
        problems.append(("evaluations", message))
    semantic = _semantic(body.get("options"), problems)
    if problems:
        raise RequestError(problems)
    assert isinstance(evaluations, list)
    defaults = {part: body[part] for part in _PARTS if part in body}
    return Batch([_item(defaults, item, n) for n, item in enumerate(evaluations)], _STOPS[semantic])


_STOPS: dict[str, Callable[[bool], bool] | None] = {
    "execute_all": None,
    # A malformed evaluation answers false, so it counts as a deny here.
    "deny_on_first_deny": lambda permitted: not permitted,
    "permit_on_first_permit": lambda permitted: permitted,
}


def _semantic(options: Any, problems: list[tuple[str, str]]) -> str:
    if options is None:
        return "execute_all"
    if not isinstance(options, dict):
        problems.append(("options", f"expected a JSON object, found a {type(options).__name__}"))
        return "execute_all"
    value = options.get("evaluations_semantic", "execute_all")
    if value not in SEMANTICS:
        hint = suggest(str(value), list(SEMANTICS), list_all=True)
        problems.append(("options.evaluations_semantic", f"'{value}' is not one; {hint}"))
        return "execute_all"
    return str(value)


def _item(defaults: dict[str, Any], item: Any, place: int) -> dict[str, Any] | RequestError:
    if not isinstance(item, dict):
        found = type(item).__name__
        return RequestError([(f"evaluations[{place}]", f"expected a JSON object, found {found}")])
    try:
        return to_request({**defaults, **item})
    except RequestError as exc:
        return exc


def batch_answer(answer: Decision | RequestError) -> dict[str, Any]:
    """One evaluation's answer in a batch: as a single evaluation's, or, for one that is not
    valid, `decision: false` with the error (naming AuthZEN fields) in its context."""
    if isinstance(answer, Decision):
        return to_response(answer)
    errors = [
        {"field": field, "message": message} for field, message in authzen_errors(answer.errors)
    ]
    error = {"status": 400, "message": "the evaluation is not valid", "errors": errors}
    return {"decision": False, "context": {"error": error}}


def configuration(base_url: str) -> dict[str, str]:
    """AuthZEN's discovery metadata for the PDP at `base_url`."""
    base = base_url.rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    }
