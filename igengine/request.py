"""The request shape of the decision contract, and the errors a malformed request raises."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from igengine.vocabulary import Fact, Vocabulary, suggest


class RequestError(ValueError):
    """A malformed request. `errors` holds one (field, message) pair per problem."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        # Messages may quote what was sent; text that cannot be encoded as UTF-8 (a lone
        # surrogate) would break the answer that reports it, so it is shown escaped.
        self.errors = [(_printable(field), _printable(message)) for field, message in errors]
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors))


def _printable(text: str) -> str:
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


# The longest free text kept: a justification needs a few sentences, not a document.
MAX_TEXT = 2000
# The longest identifier or organisation code (an OpenID Connect `sub` may be 255 long).
MAX_NAME = 255


# A length limit makes pydantic read the text as Unicode, which also refuses a lone surrogate
# (JSON's \ud800 escape can carry one): refused here, where the field can be named, rather
# than when the audit entry cannot be written (a test holds this).
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
Code = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]

# `at` must fall in this range: earlier or later is a mistake (or `at: 0`), not a question.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Requester(_Strict):
    role: Code
    organisation: Code
    id: Name | None = None


class Holder(_Strict):
    organisation: Code


_NONE: Mapping[str, Any] = MappingProxyType({})


class Subject(BaseModel):
    """What is known about the person: `id`, a FHIR Consent, and the facts the loaded pack
    declares (`vocabulary.yaml` under `person:`), each by its name. A fact not given takes the
    pack's default, which the rationale names when the answer relied on it."""

    # The facts are checked against the pack's vocabulary (check_request), as JSON's own
    # types: "no", "f", 0 or "17" are refused for a yes-or-no fact, not guessed at.
    model_config = ConfigDict(frozen=True, extra="allow")

    id: Name | None = None
    # A FHIR R4 Consent resource, read into the person's facts by the engine (igengine/fhir.py).
    fhir_consent: dict[str, Any] | None = None

    def facts(self) -> Mapping[str, Any]:
        """The facts the request gives, by name (no defaults filled in). Read-only."""
        return self.__pydantic_extra__ or _NONE


class Request(_Strict):
    requester: Requester
    holder: Holder
    purpose: Code
    record_type: Code
    subject: Subject = Subject()
    justification: Text | None = None
    # A time other than now asks a what-if question; the decision says so (see Engine.decide).
    at: datetime | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _iso_time(cls, value: Any) -> Any:
        return value if value is None else _time(value)

    @property
    def justified(self) -> bool:
        return bool(self.justification and self.justification.strip())


# Deeper than any request goes (the AuthZEN shape has three levels); refused before anything
# recurses over it.
MAX_DEPTH = 32


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key is a request that says two things; plain JSON keeps the last silently.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_once_each)


def parse_json(raw: bytes | str) -> Any:
    """A request's JSON text, parsed once; RequestError for text that is not JSON, a key given
    twice in one object, or nesting deeper than MAX_DEPTH."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        value = _DECODER.decode(text)
    except UnicodeDecodeError:
        raise RequestError([("request", "is not valid JSON (not UTF-8)")]) from None
    except json.JSONDecodeError as exc:
        raise RequestError([("request", f"is not valid JSON ({exc.msg})")]) from None
    except _RepeatedKey as exc:
        raise RequestError(
            [("request", f"the key '{exc.key}' appears twice in one object; send it once")]
        ) from None
    except RecursionError:
        raise _too_deep() from None
    # Counting brackets is quick; only a body with many (no real request) is walked.
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise _too_deep()
    return value


def _too_deep() -> RequestError:
    return RequestError(
        [("request", f"is nested more than {MAX_DEPTH} levels deep; no request needs that")]
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and lists nest more than `limit` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        stack.extend(
            (child, depth + 1) for child in (item.values() if isinstance(item, dict) else item)
        )
    return False


def _time(value: Any) -> datetime:
    """An ISO-8601 time between EARLIEST and LATEST; a time without an offset is UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"'{_printable(value[:40])}' is not an ISO-8601 time; "
                "write e.g. 2026-06-01T09:00:00Z"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(
            "must be an ISO-8601 time as a string, e.g. 2026-06-01T09:00:00Z "
            f"(a {type(value).__name__} is not read as a time)"
        )
    when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= when < LATEST:
        raise ValueError(
            f"{when.isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1}; "
            "give the time the sharing would happen"
        )
    return when


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


def check_request(request: Request, vocabulary: Vocabulary) -> Request:
    """The request checked against a pack's vocabulary: its codes are the pack's, and each fact
    about the person is one the pack declares, of its type (a choice given as true or false
    reads as the code "true" or "false"). Raises RequestError naming each bad field with
    did-you-mean and the valid values."""
    role, purpose, record = request.requester.role, request.purpose, request.record_type
    errors: list[tuple[str, str]] = []
    if not (
        role in vocabulary.roles
        and purpose in vocabulary.purposes
        and record in vocabulary.record_types
    ):
        errors = code_errors(vocabulary, role=role, purpose=purpose, record_type=record)
    given = request.subject.facts()
    changed: dict[str, Any] = {}
    kinds = vocabulary.kinds
    for name, value in given.items():
        declared = kinds.get(name)
        # The usual cases, checked without a call.
        if declared is None:
            pass
        elif (declared[0] == "boolean" and value.__class__ is bool) or (
            declared[0] == "choice" and value.__class__ is str and value in declared[1]
        ):
            continue
        problem, normal = fact_problem(vocabulary, name, value)
        if problem:
            errors.append((f"subject.{name}", problem))
        elif normal is not value:
            changed[name] = normal
    if errors:
        raise RequestError(errors)
    if not changed:
        return request
    subject = request.subject.model_copy(update=changed)
    return request.model_copy(update={"subject": subject})


# The request fields that carry a code, and the kind of code each is.
_CODED = {"role": "roles", "purpose": "purposes", "record_type": "record_types"}
_FIELDS = {"role": "requester.role", "purpose": "purpose", "record_type": "record_type"}


def code_errors(vocabulary: Vocabulary, **given: Any) -> list[tuple[str, str]]:
    """A (field, message) for each of `role`, `purpose` and `record_type` given that is not a
    code of the vocabulary (values that are not text are left to the request's own checks)."""
    errors = []
    for name, code in given.items():
        kind = _CODED[name]
        if isinstance(code, str) and code not in getattr(vocabulary, kind):
            known = vocabulary.codes(kind)
            message = f"'{code}' is not a valid code; {suggest(code, known, list_all=True)}"
            errors.append((_FIELDS[name], message))
    return errors


def fact_problem(vocabulary: Vocabulary, name: str, value: Any) -> tuple[str, Any]:
    """A problem with the fact `name` given as `value` ("" if none: it is a fact of the
    vocabulary and the value is of its type), and the value as the engine reads it."""
    fact = vocabulary.person.get(name)
    if fact is None:
        listing = suggest(name, list(vocabulary.person), list_all=True)
        return f"is not a fact of this pack; {listing}", value
    return _fact_value(fact, value)


def raw_errors(data: Any, vocabulary: Vocabulary) -> list[tuple[str, str]]:
    """What the vocabulary finds wrong with a request that is not of the contract's shape, as
    far as it can be read: so that every problem is named at once."""
    if not isinstance(data, dict):
        return []
    requester, subject = data.get("requester"), data.get("subject")
    role = requester.get("role") if isinstance(requester, dict) else None
    errors = code_errors(
        vocabulary, role=role, purpose=data.get("purpose"), record_type=data.get("record_type")
    )
    if isinstance(subject, dict):
        for name, value in subject.items():
            if name not in {"id", "fhir_consent"}:
                problem, _ = fact_problem(vocabulary, name, value)
                if problem:
                    errors.append((f"subject.{name}", problem))
    return errors


def _fact_value(fact: Fact, value: Any) -> tuple[str, Any]:
    """A problem with a fact's value ("" if none), and the value in the form the engine reads."""
    if fact.type == "boolean":
        if isinstance(value, bool):
            return "", value
        return f"must be JSON true or false, not {_sent(value)}", value
    if fact.type == "number":
        if value is None:
            return "", value
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be a JSON integer, not {_sent(value)}", value
        top = fact.maximum
        if value < fact.minimum or (top is not None and value > top):
            bound = f"at least {fact.minimum}" + ("" if top is None else f" and at most {top}")
            return f"must be {bound}, not {value}", value
        return "", value
    code = value
    if isinstance(value, bool):
        code = "true" if value else "false"
    if isinstance(code, str) and code in fact.codes:
        return "", code
    shown = json.dumps(value) if not isinstance(value, str) else value
    return f"'{shown}' is not a valid code; {suggest(str(shown), fact.codes, list_all=True)}", value


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
    if kind == "bool_type":
        return field, f"must be JSON true or false, not {_sent(value)}"
    if kind == "int_type":
        return field, f"must be a JSON integer, not {_sent(value)}"
    if kind == "string_too_long":
        limit = err["ctx"]["max_length"]
        return field, f"is {len(value)} characters long; at most {limit} are accepted"
    if kind == "string_unicode":
        return field, "is not valid Unicode text (it has a lone surrogate); send UTF-8 text"
    if kind == "value_error":
        return field, str(err["ctx"]["error"])
    return field, str(err["msg"])


def _sent(value: Any) -> str:
    """What the caller sent, in JSON terms, for a message (long text cut short)."""
    if isinstance(value, str):
        return f"the string {json.dumps(value[:40])}"
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    return json.dumps(value)
