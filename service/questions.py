"""The page's questions: what a nurse is asked, the contract field each answer fills, and
the reverse, so a suggested change (`would_permit_if`) reads as an answer to one of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from igengine.policy.pack import PolicyPack
from igengine.vocabulary import Purpose, RecordType, Role


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


def asking(pack: PolicyPack) -> tuple[Question, ...]:
    """Who asks, for what, from whom: dropdowns filled from the loaded pack's vocabulary.
    The page speaks to whoever holds the record and has been asked for it ("their role",
    "why they need it"), as its answer does ("Yes, you may share this")."""
    organisations = organisation_choices(pack)
    return (
        Question(
            "role",
            "requester.role",
            "Their role",
            "select",
            tuple(Choice(r.value, _capitalised(r.label)) for r in Role),
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
            tuple(Choice(r.value, _capitalised(r.label)) for r in RecordType),
            required=True,
        ),
        Question(
            "purpose",
            "purpose",
            "Why they need it",
            "select",
            tuple(Choice(p.value, _capitalised(p.label)) for p in Purpose),
            required=True,
        ),
    )


PERSON: tuple[Question, ...] = (
    Question(
        "relationship",
        "subject.relationship",
        "Is whoever is asking part of this person's care team?",
        "radio",
        (Choice("care_team", "Yes"), Choice("none", "No")),
        required=True,
    ),
    Question(
        "objection",
        "subject.objection",
        "Has the person objected to this information being shared?",
        "radio",
        _YES_NO,
        default="no",
    ),
    Question(
        "consent",
        "subject.consent",
        "Has the person given consent?",
        "radio",
        (
            Choice("explicit", "Yes, explicit consent is recorded"),
            Choice("refused", "No, they refused"),
            Choice("none", "Not asked or not recorded"),
        ),
        default="none",
    ),
    Question(
        "risk_of_serious_harm",
        "subject.risk_of_serious_harm",
        "Is the person, or someone else, at risk of serious harm?",
        "radio",
        _YES_NO,
        default="no",
    ),
    Question(
        "has_capacity",
        "subject.has_capacity",
        "Does the person lack capacity to decide about this sharing?",
        "radio",
        (
            Choice("false", "Yes, assessed as lacking capacity"),
            Choice("true", "No, they have capacity"),
            Choice("unknown", "Not assessed"),
        ),
        default="unknown",
    ),
    Question(
        "age",
        "subject.age",
        "The person's age in years",
        "number",
        hint="Leave blank if you do not know. Under 18 brings in children's safeguarding.",
    ),
)

PLANNING: tuple[Question, ...] = (
    Question(
        "national_data_opt_out",
        "subject.national_data_opt_out",
        "Has the person registered a national data opt-out?",
        "radio",
        _YES_NO,
        default="no",
    ),
    Question(
        "s251_support",
        "subject.s251_support",
        "Does this use have section 251 (Confidentiality Advisory Group) support?",
        "radio",
        _YES_NO,
        default="no",
    ),
    Question(
        "anonymised",
        "subject.anonymised",
        "Is the information anonymised to the ICO's standard?",
        "radio",
        _YES_NO,
        default="no",
    ),
)

JUSTIFICATION = Question(
    "justification",
    "justification",
    "Their justification",
    "text",
    hint="Required for emergency care (break glass): why they need this now.",
)


def all_questions(pack: PolicyPack) -> tuple[Question, ...]:
    return (*asking(pack), *PERSON, *PLANNING, JUSTIFICATION)


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


def change_words(change: Mapping[str, Any], pack: PolicyPack) -> str:
    """A suggested change as answers to the page's questions, e.g.
    'you can answer “Is whoever is asking part of this person's care team?” with “Yes”'."""
    parts = []
    for field, value in change.items():
        question = question_for(field, pack)
        if question is None:
            parts.append(f"{field} is {value}")
        elif question.kind == "text":
            parts.append(f"you record {question.label.lower()}")
        else:
            parts.append(f"you can answer “{question.label}” with “{_answer(question, value)}”")
    return " and ".join(parts)


def _answer(question: Question, value: Any) -> str:
    code = {True: "yes", False: "no"}.get(value, str(value)) if isinstance(value, bool) else value
    code = str(code)
    return next((c.text for c in question.choices if c.value == code), code)
