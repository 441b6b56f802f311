"""The page's questions: what a nurse is asked, the contract field each answer fills, and
the reverse, so a suggested change (`would_permit_if`) reads as an answer to one of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from igengine.policy.pack import PolicyPack
from igengine.vocabulary import Fact, Term


@dataclass(frozen=True)
class Choice:
    value: str
    text: str


@dataclass(frozen=True)
class Question:
    name: str  # the form field
    field: str  # the contract field it fills
    label: str
    kind: str  # select, radio, number or text
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    default: str = ""
    required: bool = False


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


_YES_NO = (Choice("yes", "Yes"), Choice("no", "No"))


def organisation_choices(pack: PolicyPack) -> tuple[Choice, ...]:
    ordered = sorted(pack.organisations.values(), key=lambda org: org.name)
    return tuple(Choice(org.code, f"{org.name} ({org.code})") for org in ordered)


def _choices(terms: Iterable[Term]) -> tuple[Choice, ...]:
    return tuple(Choice(t.code, _capitalised(t.answer or t.words)) for t in terms)


def asking(pack: PolicyPack) -> tuple[Question, ...]:
    """Who asks, for what, from whom: dropdowns filled from the loaded pack's vocabulary.
    The page speaks to whoever holds the record and has been asked for it ("their role",
    "why they need it"), as its answer does ("Yes, you may share this")."""
    organisations = organisation_choices(pack)
    vocabulary = pack.vocabulary
    return (
        Question(
            "role",
            "requester.role",
            "Their role",
            "select",
            _choices(vocabulary.roles.values()),
            required=True,
        ),
        Question(
            "organisation",
            "requester.organisation",
            "Their organisation",
            "select",
            organisations,
            required=True,
        ),
        Question(
            "holder",
            "holder.organisation",
            "Who holds the record",
            "select",
            organisations,
            hint="Your organisation, if the record is yours to share.",
            required=True,
        ),
        Question(
            "record_type",
            "record_type",
            "What record they ask for",
            "select",
            _choices(vocabulary.record_types.values()),
            required=True,
        ),
        Question(
            "purpose",
            "purpose",
            "Why they need it",
            "select",
            _choices(vocabulary.purposes.values()),
            required=True,
        ),
    )


def about_person(pack: PolicyPack) -> dict[str, tuple[Question, ...]]:
    """The questions about the person, one per fact of the pack's vocabulary in its order,
    by section: "" for the first, then each `section:` the facts name."""
    sections: dict[str, list[Question]] = {"": []}
    for fact in pack.vocabulary.person.values():
        sections.setdefault(fact.section or "", []).append(_question(fact))
    return {name: tuple(found) for name, found in sections.items()}


def _question(fact: Fact) -> Question:
    field = f"subject.{fact.name}"
    hint = fact.hint or ""
    if fact.type == "number":
        return Question(fact.name, field, fact.question, "number", hint=hint)
    if fact.type == "boolean":
        default = "" if fact.required else ("yes" if fact.default else "no")
        return Question(
            fact.name, field, fact.question, "radio", _YES_NO, hint, default, fact.required
        )
    default = "" if fact.required or fact.default is None else str(fact.default)
    return Question(
        fact.name,
        field,
        fact.question,
        "radio",
        _choices(fact.choices),
        hint,
        default,
        fact.required,
    )


JUSTIFICATION = Question(
    "justification",
    "justification",
    "Their justification",
    "text",
    hint="Required for emergency care (break glass): why they need this now.",
)


def all_questions(pack: PolicyPack) -> tuple[Question, ...]:
    person = [q for section in about_person(pack).values() for q in section]
    return (*asking(pack), *person, JUSTIFICATION)


_BOOLEAN = {"yes": True, "no": False}


def request_from_form(form: Mapping[str, str], pack: PolicyPack) -> dict[str, Any]:
    """The contract request for a submitted form. Values are passed on as given (booleans
    and numbers converted), so the engine's own validation names anything wrong."""
    request: dict[str, Any] = {"subject": {}}
    for question in all_questions(pack):
        raw = form.get(question.name, "").strip()
        if not raw:
            continue
        value: Any = raw
        if question.choices == _YES_NO:
            value = _BOOLEAN.get(raw, raw)
        elif question.kind == "number" and raw.isdigit():
            value = int(raw)
        _put(request, question.field, value)
    return request


def _put(request: dict[str, Any], field: str, value: Any) -> None:
    head, _, rest = field.partition(".")
    if rest:
        request.setdefault(head, {})[rest] = value
    else:
        request[head] = value


def question_for(field: str, pack: PolicyPack) -> Question | None:
    return next((q for q in all_questions(pack) if q.field == field), None)
