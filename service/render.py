"""Server-rendered HTML for the page, from the Jinja2 templates in service/templates/page_*.html.
Autoescaping is on for every template, so every value from a request or the pack is escaped;
nothing is fetched from another site, so the page works on a locked-down clinical network."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from igengine import Decision
from igengine.explain import change_words, details
from igengine.policy.pack import PolicyPack
from service import questions
from service.questions import Question

TITLE = "Can I share this?"

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    # A name a template gets wrong is an error in the tests, not an empty space on the page.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _page(template: str, **context: Any) -> str:
    return _TEMPLATES.get_template(template).render(**context)


def login(error: str = "", *, csrf: str = "", back: str = "/") -> str:
    """The sign-in form; `back` is the page signing in leads to (kept in a hidden field)."""
    return _page(
        "page_login.html", title="Sign in", error=error, csrf=csrf, back=back, signed_in=False
    )


def form_page(
    pack: PolicyPack,
    values: Mapping[str, str],
    csrf: str,
    *,
    decision: Decision | None = None,
    errors: Iterable[tuple[str, str]] = (),
) -> str:
    """The question form, with the answer (or the problems) above it."""
    return _page(
        "page_form.html",
        title=TITLE,
        csrf=csrf,
        signed_in=True,
        values=values,
        problems=problems(errors, pack),
        answer=answer(decision, pack) if decision is not None else "",
        asking=questions.asking(pack),
        sections=questions.about_person(pack),
        justification=questions.JUSTIFICATION,
    )


def problem_page(heading: str, text: str, *, csrf: str = "") -> str:
    return _page("page_problem.html", title=heading, text=text, csrf=csrf, signed_in=bool(csrf))


def answer(decision: Decision, pack: PolicyPack) -> Markup:
    """The answer in plain English: yes or no, why, what to do, what would change it, and the
    law and rules behind it in a details part."""
    if decision.error:
        kind, heading = "error", "No: igengine could not decide, so do not share this"
    elif decision.permitted:
        kind, heading = "permit", "Yes, you may share this"
    else:
        kind, heading = "deny", "No, do not share this"
    # The legal basis has its own list in the details part; the trace gives the rest.
    trace = [line for line in details(decision, pack) if not line.startswith(_BASIS_LINES)]
    return Markup(
        _page(
            "page_answer.html",
            decision=decision,
            kind=kind,
            heading=heading,
            mark={"permit": "✓", "deny": "✗", "error": "!"}[kind],
            steps=[pack.obligations.get(code, code) for code in decision.obligations],
            changes=[change_words(c, pack.vocabulary) for c in decision.would_permit_if],
            trace=trace,
            keep=_KEEP[kind],
        )
    )


_BASIS_LINES = ("Legal basis: ", "Grounds for refusing: ")

# What the reference is for: kept with the record of a disclosure, quoted when asking about
# an answer that shared nothing.
_KEEP = {
    "permit": "keep it with your record of what you shared.",
    "deny": "quote it if you ask your IG lead or Caldicott Guardian about this answer.",
    "error": "quote it when you report this problem to your IG lead or IT service desk.",
}


@dataclass(frozen=True)
class Problem:
    """One line of the error summary: the question in words and the link to it."""

    text: str
    target: str


def problems(errors: Iterable[tuple[str, str]], pack: PolicyPack) -> list[Problem]:
    """Each problem once, against the question it is about. A problem with a part of the
    request (`holder`, `requester`) belongs to its first question; a question already listed
    as unanswered is not listed again for what its missing answer leaves invalid."""
    listed: dict[str, Problem] = {}
    for field, message in errors:
        question = _question_about(field, pack)
        if question is None:
            listed.setdefault(field, Problem(f"{_sentence_case(message)}", "answers"))
        elif question.name not in listed:
            listed[question.name] = Problem(f"{question.label}: {message}", _input_id(question))
    return list(listed.values())


def _question_about(field: str, pack: PolicyPack) -> Question | None:
    exact = questions.question_for(field, pack)
    if exact is not None:
        return exact
    inside = [q for q in questions.all_questions(pack) if q.field.startswith(field + ".")]
    return inside[0] if inside else None


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _input_id(question: Question) -> str:
    return f"q-{question.name}-0" if question.kind == "radio" else f"q-{question.name}"
