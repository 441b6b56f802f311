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

from typing import Any

from igengine import Decision, RequestError

# Context keys that are not facts about the person (the person's own id is `subject_id` here,
# because AuthZEN's `subject` is the requester). Every other key is a fact about the person,
# `subject.<key>`, which the engine checks against the loaded pack's vocabulary.
_CONTEXT = {
    "subject_id": "subject.id",
    "justification": "justification",
    "at": "at",
}
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
