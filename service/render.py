"""Server-rendered HTML for the page. Every value from a request or the pack is escaped here;
nothing is fetched from another site, so the page works on a locked-down clinical network."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from igengine import Decision
from igengine.legal import LegalBasis
from igengine.policy.pack import PolicyPack
from service import questions
from service.questions import Question

TITLE = "Can I share this?"


def document(title: str, body: str, *, signed_in: bool = False, csrf: str = "") -> str:
    """A whole page: header, skip link, main landmark, the served stylesheet."""
    sign_out = (
        '<form method="post" action="/logout" class="signout">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit" class="link">Sign out</button></form>'
        if signed_in
        else ""
    )
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}: igengine</title>"
        '<link rel="stylesheet" href="/static/page.css"></head><body>'
        '<a class="skip" href="#main">Skip to main content</a>'
        f'<header class="top"><span class="brand">igengine</span>{sign_out}</header>'
        f'<main id="main" tabindex="-1">{body}</main>'
        '<footer class="foot">Answers come from your area\'s data-sharing agreements. '
        "If in doubt, ask your IG lead or Caldicott Guardian.</footer></body></html>"
    )


def login(error: str = "", *, csrf: str = "") -> str:
    message = (
        f'<div class="error-summary" role="alert"><h2>There is a problem</h2>'
        f'<p><a href="#key">{escape(error)}</a></p></div>'
        if error
        else ""
    )
    body = (
        f"<h1>Sign in</h1>{message}"
        '<form method="post" action="/login" class="stack">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<div class="field"><label for="key">Access key</label>'
        '<p class="hint" id="key-hint">The key your IG lead or system administrator gave you.</p>'
        '<input id="key" name="key" type="password" autocomplete="current-password" required '
        'aria-describedby="key-hint"></div>'
        '<button type="submit">Sign in</button></form>'
    )
    return document("Sign in", body)


def form_page(
    pack: PolicyPack,
    values: Mapping[str, str],
    csrf: str,
    *,
    decision: Decision | None = None,
    errors: Iterable[tuple[str, str]] = (),
) -> str:
    """The question form, with the answer (or the problems) above it."""
    errors = list(errors)
    parts = [f"<h1>{TITLE}</h1>"]
    if errors:
        parts.append(_error_summary(errors, pack))
    elif decision is not None:
        parts.append(answer(decision, pack))
    else:
        parts.append(
            '<p class="lead">Answer the questions below to find out whether you may share a '
            "person's record, why, and what to do.</p>"
        )
    parts.append(_form(pack, values, csrf))
    return document(TITLE, "".join(parts), signed_in=True, csrf=csrf)


def problem_page(heading: str, text: str, *, csrf: str = "") -> str:
    body = (
        f'<h1>{escape(heading)}</h1><div class="answer answer-error" role="alert">'
        f"<p>{escape(text)}</p></div>"
        '<p><a href="/">Back to the questions</a></p>'
    )
    return document(heading, body, signed_in=bool(csrf), csrf=csrf)


def answer(decision: Decision, pack: PolicyPack) -> str:
    """The answer in plain English: yes or no, why, the law, what to do, what would change it."""
    if decision.error:
        kind, heading = "error", "No: igengine could not decide, so do not share this"
    elif decision.permitted:
        kind, heading = "permit", "Yes, you may share this"
    else:
        kind, heading = "deny", "No, do not share this"
    mark = {"permit": "✓", "deny": "✗", "error": "!"}[kind]
    parts = [
        f'<section id="answer" class="answer answer-{kind}" tabindex="-1" '
        'aria-labelledby="answer-heading" role="status">',
        f'<h2 id="answer-heading"><span aria-hidden="true" class="mark">{mark}</span> '
        f"{escape(heading)}</h2>",
        f"<h3>Why</h3><p>{escape(decision.rationale)}</p>",
    ]
    if decision.legal_basis:
        # On a deny the cited provisions are the grounds for refusing, not a basis to share.
        title = "The legal basis" if decision.permitted else "The grounds"
        parts.append(f"<h3>{title}</h3><ul>")
        parts += [f"<li>{_basis(basis)}</li>" for basis in decision.legal_basis]
        parts.append("</ul>")
    parts.append(_what_to_do(decision, pack))
    if not decision.permitted and not decision.error:
        parts.append(_what_would_change(decision, pack))
    parts.append(_reference(decision))
    parts.append("</section>")
    return "".join(parts)


def _basis(basis: LegalBasis) -> str:
    summary = f": {escape(basis.summary)}" if basis.summary else ""
    return f"<strong>{escape(basis.framework)}, {escape(basis.provision)}</strong>{summary}"


def _what_to_do(decision: Decision, pack: PolicyPack) -> str:
    if decision.permitted and decision.obligations:
        steps = "".join(
            f"<li>{escape(pack.obligations.get(code, code))}</li>" for code in decision.obligations
        )
        return f"<h3>What to do now</h3><ol>{steps}</ol>"
    if decision.permitted:
        return "<h3>What to do now</h3><p>Share only what is needed, and record it.</p>"
    return (
        "<h3>What to do now</h3><p>Do not share this. If you believe it should be shared, "
        "ask your IG lead or Caldicott Guardian before doing anything else.</p>"
    )


def _what_would_change(decision: Decision, pack: PolicyPack) -> str:
    if not decision.would_permit_if:
        return (
            "<h3>What would make it permissible</h3><p>Nothing you can change in this form "
            "would make it permissible under the agreements in force.</p>"
        )
    options = "".join(
        f"<li>if {escape(questions.change_words(change, pack))}</li>"
        for change in decision.would_permit_if
    )
    heading = "<h3>What would make it permissible</h3><p>It would be permissible:</p>"
    return f"{heading}<ul>{options}</ul>"


def _reference(decision: Decision) -> str:
    agreement = (
        f"Agreement: {escape(decision.agreement.title)} (review due "
        f"{decision.agreement.review_date:%d %B %Y}). "
        if decision.agreement
        else ""
    )
    return (
        f'<p class="reference">{agreement}Decision reference '
        f"<code>{escape(decision.decision_id)}</code> (keep this if you share).</p>"
    )


def _error_summary(errors: list[tuple[str, str]], pack: PolicyPack) -> str:
    items = []
    for field, message in errors:
        question = questions.question_for(field, pack)
        label = question.label if question else field
        target = _input_id(question) if question else "answers"
        items.append(f'<li><a href="#{target}">{escape(label)}: {escape(message)}</a></li>')
    return (
        '<div class="error-summary" role="alert" tabindex="-1" id="problems">'
        f"<h2>There is a problem</h2><ul>{''.join(items)}</ul></div>"
    )


def _input_id(question: Question) -> str:
    return f"q-{question.name}-0" if question.kind == "radio" else f"q-{question.name}"


def _form(pack: PolicyPack, values: Mapping[str, str], csrf: str) -> str:
    asking = "".join(_question(q, values) for q in questions.asking(pack))
    sections = questions.about_person(pack)
    person = "".join(_question(q, values) for q in sections.pop(""))
    person += "".join(
        f"<details><summary>{escape(title)}</summary>"
        + "".join(_question(q, values) for q in asked)
        + "</details>"
        for title, asked in sections.items()
    )
    return (
        '<form method="post" action="/#answer" id="answers" class="stack" novalidate>'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<fieldset><legend>The request</legend><div class="grid">{asking}</div></fieldset>'
        f"<fieldset><legend>About the person</legend>{person}</fieldset>"
        f"{_question(questions.JUSTIFICATION, values)}"
        '<button type="submit">Can I share this?</button></form>'
    )


def _question(question: Question, values: Mapping[str, str]) -> str:
    current = values.get(question.name, question.default)
    hint_id = f"q-{question.name}-hint"
    hint = f'<p class="hint" id="{hint_id}">{escape(question.hint)}</p>' if question.hint else ""
    described = f' aria-describedby="{hint_id}"' if question.hint else ""
    required = " required" if question.required else ""
    name = escape(question.name)
    if question.kind == "radio":
        return _radios(question, current, hint, described, required)
    label = f'<label for="q-{name}">{escape(question.label)}</label>'
    if question.kind == "select":
        options = "".join(
            f'<option value="{escape(c.value)}"{" selected" if c.value == current else ""}>'
            f"{escape(c.text)}</option>"
            for c in question.choices
        )
        placeholder = f'<option value=""{"" if current else " selected"}>Choose…</option>'
        return (
            f'<div class="field">{label}{hint}<select id="q-{name}" name="{name}"{described}'
            f"{required}>{placeholder}{options}</select></div>"
        )
    if question.kind == "number":
        return (
            f'<div class="field">{label}{hint}<input id="q-{name}" name="{name}" type="text" '
            f'inputmode="numeric" pattern="[0-9]*" class="short" value="{escape(current)}"'
            f"{described}></div>"
        )
    return (
        f'<div class="field">{label}{hint}<textarea id="q-{name}" name="{name}" rows="3"'
        f"{described}>{escape(current)}</textarea></div>"
    )


def _radios(question: Question, current: str, hint: str, described: str, required: str) -> str:
    name = escape(question.name)
    options = "".join(
        f'<div class="radio"><input type="radio" id="q-{name}-{i}" name="{name}" '
        f'value="{escape(c.value)}"{" checked" if c.value == current else ""}{required}>'
        f'<label for="q-{name}-{i}">{escape(c.text)}</label></div>'
        for i, c in enumerate(question.choices)
    )
    return (
        f'<fieldset class="question"{described}><legend>{escape(question.label)}</legend>'
        f'{hint}<div class="radios">{options}</div></fieldset>'
    )
