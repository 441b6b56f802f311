"""Words to codes: how a scenario's plain English names a role, an organisation, a record, a
purpose, an obligation or a rule of the loaded pack.

Each word is accepted in the forms an IG officer would write: the vocabulary code
(`social_worker`), the code as words ("social worker") or its label ("GP summary"); an
organisation by code, by full name, or by the first words of its name when no other
organisation starts the same way ("Northgate Hospitals"). Anything else raises InputError with
the nearest match and the valid choices, so a typo is never read as something else.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from igengine.policy.pack import PolicyPack
from igengine.vocabulary import Fact, Term


class InputError(ValueError):
    """A scenario says something igengine cannot read; the message says what to write."""


_ARTICLES = ("the person's ", "the ", "a ", "an ", "their ")
# Words an obligation phrase may carry that its code leaves out ("share THE minimum necessary").
_FILLER = {"the", "a", "an", "their", "his", "her", "its", "to", "of"}


def normalise(text: str) -> str:
    """Lower case, hyphens and underscores as spaces, single spaces, no trailing full stop."""
    text = text.strip().rstrip(".").lower().replace("_", " ").replace("-", " ")
    return re.sub(r"\s+", " ", text)


def _without_article(text: str) -> str:
    for article in _ARTICLES:
        if text.startswith(article):
            return text[len(article) :]
    return text


def _without_brackets(text: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", text).strip()


def did_you_mean(value: str, choices: Iterable[str], kind: str) -> str:
    """'x' is not a <kind>; did you mean 'y'? (valid: ...)"""
    options = sorted(set(choices))
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"'{value}' is not {kind}; {hint}(known: {', '.join(options)})"


class Words:
    """Resolves scenario words against the vocabulary and one loaded pack."""

    def __init__(self, pack: PolicyPack) -> None:
        self._pack = pack
        vocabulary = pack.vocabulary
        self._roles = _forms(vocabulary.roles.values())
        self._records = _forms(vocabulary.record_types.values())
        self._purposes = _forms(vocabulary.purposes.values())
        self.facts = vocabulary.person

    def role(self, text: str) -> str:
        terms = self._pack.vocabulary.roles.values()
        return _lookup(self._roles, text, "a role", [t.words for t in terms])

    def record(self, text: str) -> str:
        terms = self._pack.vocabulary.record_types.values()
        return _lookup(self._records, text, "a record type", [t.words for t in terms])

    def purpose(self, text: str) -> str:
        terms = self._pack.vocabulary.purposes.values()
        return _lookup(
            self._purposes, text, "a purpose", [_without_brackets(t.words) for t in terms]
        )

    def subject_field(self, text: str) -> str:
        """The request field named by `text` ('risk of serious harm' → 'risk_of_serious_harm'):
        a fact of the pack by its name, its label or a name it is `also_called`, or the
        justification or the date."""
        wanted = _without_article(normalise(text)).removeprefix("person's ")
        wanted = wanted.removeprefix("subject.")
        fields = {name: _fact_names(fact) for name, fact in self.facts.items()}
        fields.update(_OTHER_FIELDS)
        for field, forms in fields.items():
            if wanted in forms:
                return field
        raise InputError(did_you_mean(text.strip(), fields, "a fact about the person"))

    def field_value(self, field: str, text: str) -> Any:
        """The request value for `field` written as `text`, checked against the fact's type
        and the pack's codes."""
        raw = text.strip()
        if field == "justification":
            return raw
        if field == "at":
            try:
                return datetime.fromisoformat(raw).isoformat()
            except ValueError:
                raise InputError(f"date: '{raw}' is not a date; write it as YYYY-MM-DD") from None
        return fact_value(self.facts[field], raw)

    def organisation(self, text: str) -> str:
        """The organisation's code, from its code, its name, or the unique start of its name."""
        wanted = normalise(text)
        names = {code: normalise(org.name) for code, org in self._pack.organisations.items()}
        for code, name in names.items():
            if wanted in {normalise(code), name, _without_brackets(name)}:
                return code
        starting = [code for code, name in names.items() if name.startswith(wanted + " ")]
        if len(starting) == 1:
            return starting[0]
        if len(starting) > 1:
            which = ", ".join(self._pack.organisations[c].name for c in starting)
            raise InputError(f"'{text}' could be any of: {which}; write more of the name")
        raise InputError(self._unknown_organisation(text))

    def _unknown_organisation(self, text: str) -> str:
        # Compare with the first as many words of each name as were written, so that
        # "Northgate Hospitalz" is matched to "Northgate Hospitals ...", not the closest
        # whole name.
        width = len(text.split())
        names = [org.name for org in self._pack.organisations.values()]
        starts = {" ".join(name.split()[:width]): name for name in names}
        close = difflib.get_close_matches(text, [*starts, *names], n=1, cutoff=0.5)
        hint = f"did you mean '{starts.get(close[0], close[0])}'? " if close else ""
        return f"'{text}' is not an organisation in this pack; {hint}(known: {', '.join(names)})"

    def obligation(self, text: str) -> str:
        wanted = _content_words(text)
        for code in self._pack.obligations:
            if _content_words(code) == wanted:
                return code
        raise InputError(
            did_you_mean(
                text,
                [c.replace("_", " ") for c in self._pack.obligations],
                "an obligation of this pack",
            )
        )

    def rule(self, text: str) -> str:
        ids = [rule.id for rule in self._pack.rules]
        if text.strip() in ids:
            return text.strip()
        raise InputError(did_you_mean(text.strip(), ids, "a rule in this pack"))

    def agreement(self, text: str) -> str:
        wanted = normalise(text)
        for agreement in self._pack.agreements:
            if wanted in {normalise(agreement.id), normalise(agreement.title)}:
                return agreement.id
        raise InputError(
            did_you_mean(text, [a.id for a in self._pack.agreements], "an agreement in this pack")
        )


def _forms(terms: Iterable[Term]) -> dict[str, str]:
    """Every way of writing each code: the code, the code as words, and its label."""
    forms: dict[str, str] = {}
    for term in terms:
        label = normalise(term.words)
        for form in (
            normalise(term.code),
            label,
            _without_brackets(label),
            _without_article(label),
        ):
            forms[form] = term.code
    return forms


def _lookup(forms: dict[str, str], text: str, kind: str, shown: list[str]) -> str:
    wanted = _without_article(normalise(text))
    if wanted in forms:
        return forms[wanted]
    raise InputError(did_you_mean(text.strip(), shown, kind))


def _content_words(text: str) -> list[str]:
    words = normalise(text).replace("'s ", " ").split()
    return [word for word in words if word not in _FILLER]


# ---- About the person: field names and values, as a table or a would-permit-if check ------

# Request fields that are not facts about the person, and the words a scenario may use.
_OTHER_FIELDS: dict[str, set[str]] = {
    "justification": {"justification"},
    "at": {"date", "at", "when"},
}

_TRUE = {"true", "yes", "y"}
_FALSE = {"false", "no", "n"}


def _fact_names(fact: Fact) -> set[str]:
    return {normalise(fact.name), normalise(fact.words), *map(normalise, fact.also_called)}


def fact_value(fact: Fact, raw: str) -> Any:
    """The value of `fact` written as `raw` ('yes', '15', 'in the person's care team' ...)."""
    value = normalise(raw)
    if fact.type == "boolean":
        if value in _TRUE | _FALSE:
            return value in _TRUE
        if value in _fact_names(fact):  # "the information is anonymised"
            return True
        raise InputError(f"{fact.name}: '{raw}' is not true or false; write true or false")
    if fact.type == "number":
        top = 10**9 if fact.maximum is None else fact.maximum
        if raw.isdigit() and fact.minimum <= int(raw) <= top:
            return int(raw)
        raise InputError(f"{fact.name}: '{raw}' is not a whole number from {fact.minimum}, e.g. 15")
    if {"true", "false"} <= set(fact.codes) and value in _TRUE | _FALSE:
        return "true" if value in _TRUE else "false"
    for choice in fact.choices:
        forms = {normalise(choice.code), normalise(choice.words)}
        forms |= {_without_article(form) for form in forms}
        written = {value, value.removeprefix("in the "), value.removeprefix("in ")}
        if forms & {normalise(w) for w in written} or forms & {
            w.replace(" ", "_") for w in written
        }:
            return choice.code
    raise InputError(did_you_mean(raw, fact.codes, f"a value of {fact.name}"))
