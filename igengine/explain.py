"""Explain: turn an outcome into words a nurse can act on, derived from the rules and request.

Nothing here is written per case: the rationale is assembled from who asked, what for, the
deciding rule's own `because`, its legal basis, what was assumed by default, and the smallest
changes that would permit the request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Any

from igengine.combine import Outcome
from igengine.decision import Decision
from igengine.legal import CALDICOTT, COMMON_LAW, UK_GDPR, LegalBasis
from igengine.policy.model import AgreementSpec, RestrictionSpec
from igengine.policy.pack import PolicyPack, Rule
from igengine.request import Request
from igengine.vocabulary import Effect, Fact, RuleRole, Vocabulary

# A change to a request, as the contract shows it: {"subject.consent": "explicit"}.
Change = dict[str, Any]

# What `would_permit_if` suggests for a justification, and the words for it.
_JUSTIFICATION = "(your reason for breaking the glass)"
_JUSTIFIED_WORDS = "a justification is recorded"


@functools.lru_cache(maxsize=16)
def _suggestions(vocabulary: Vocabulary) -> dict[str, list[tuple[Any, str]]]:
    """Changes worth suggesting, by request field, with the words for each: the values each
    fact's `suggest:` lists (never the person's own choices), and a justification."""
    return {**vocabulary.suggestions, "justification": [(_JUSTIFICATION, _JUSTIFIED_WORDS)]}


def legal_basis(outcome: Outcome) -> list[LegalBasis]:
    """The deciding rule's legal basis; for a permit that lifted a restriction, followed by
    the provision that makes the exception it lifted it by."""
    decisive = outcome.decisive
    if decisive is None:
        return []
    cited = list(decisive.legal_basis)
    if decisive.lifts and outcome.effect is Effect.PERMIT:
        for deny in outcome.with_role(RuleRole.OVERRIDDEN):
            for _, _, basis in _lifted(decisive, deny):
                cited += [b for b in basis if b not in cited]
    return cited


def _lifted(permit: Rule, deny: Rule) -> list[tuple[str, str, tuple[LegalBasis, ...]]]:
    """The exceptions by which `permit` lifts the restriction `deny` (none for other denies)."""
    return [lift for lift in permit.lifts if lift[0] == deny.id]


def obligations(outcome: Outcome) -> list[str]:
    return list(outcome.decisive.spec.obligations) if outcome.decisive else []


def would_permit_if(
    request: Request,
    vocabulary: Vocabulary,
    permit_conditions: Iterable[str],
    effect_of: Callable[[Change], Effect],
    within_reach: Sequence[Rule] | None = None,
) -> list[Change]:
    """The smallest changes (one field, else two) to the request that the pack would permit.

    Only fields that some permit rule for this record and purpose tests are tried: changing
    any other field cannot produce a permit. When no permit matched the request, pass the
    permits `within_reach` (at least every permit whose conditions on who asks and who holds
    are met): a change can then only permit by meeting one of them, so changes that none of
    them accepts are known denies and are not asked about.
    """
    if within_reach is not None and not within_reach:
        return []
    tested = {vocabulary.fact_of(name) for name in permit_conditions}
    candidates = [
        (name, value)
        for name, options in _suggestions(vocabulary).items()
        if name in tested
        for value, _ in options
        if _current(request, vocabulary, name) != value
        and not _overrides_a_choice(request, vocabulary, name)
    ]
    useful = candidates
    if within_reach is not None:
        useful = [c for c in candidates if any(_accepts(p, vocabulary, *c) for p in within_reach)]
        if not useful:
            return []  # the usual deny: no permit is within reach of any change
    for size in (1, 2):
        found = [
            dict(combo)
            for combo in combinations(candidates, size)
            if len({name for name, _ in combo}) == size
            and any(c in useful for c in combo)
            and effect_of(dict(combo)) is Effect.PERMIT
        ]
        if found:
            return found
    return []


def _accepts(rule: Rule, vocabulary: Vocabulary, field: str, value: Any) -> bool:
    """Whether the rule tests `field` and would accept `value` for it."""
    for name, wanted in rule.conditions.items():
        if vocabulary.fact_of(name) != field:
            continue
        if field == "justification":
            return wanted is True  # a suggestion always supplies a justification
        return value in wanted if isinstance(wanted, list) else bool(wanted == value)
    return False


def _overrides_a_choice(request: Request, vocabulary: Vocabulary, name: str) -> bool:
    """A value that is the person's own choice (a recorded refusal, say) is never replaced by
    a suggestion."""
    fact = vocabulary.person.get(name.removeprefix("subject."))
    if fact is None:
        return False
    current = _value(request, fact)
    return any(choice.own_choice and choice.code == current for choice in fact.choices)


def _value(request: Request, fact: Fact) -> Any:
    return request.subject.facts().get(fact.name, fact.default)


def _current(request: Request, vocabulary: Vocabulary, name: str) -> Any:
    if name == "justification":
        return _JUSTIFICATION if request.justified else None
    return _value(request, vocabulary.person[name.removeprefix("subject.")])


def assumed(
    request: Request, vocabulary: Vocabulary, rules: Iterable[Rule], changes: list[Change]
) -> list[str]:
    """Defaults the answer relied on: facts not given that the listed rules (or suggested
    changes) depend on, in the words of each fact's `assumed:` (facts without them, such as
    an unknown age, are not listed)."""
    given = request.subject.facts()
    relied = {vocabulary.fact_of(name) for rule in rules for name in rule.conditions}
    relied |= {name for change in changes for name in change}
    return [
        words for name, field, words in vocabulary.assumed if field in relied and name not in given
    ]


def rationale(
    request: Request,
    pack: PolicyPack,
    outcome: Outcome,
    on: date,
    changes: list[Change],
    defaults: list[str],
) -> str:
    asked = _asked(request, pack)
    decisive = outcome.decisive
    if decisive is None:
        text = (
            f"Not permitted: no data-sharing agreement covers {asked}; ask your IG lead or "
            "Caldicott Guardian."
        )
        text += "".join(_not_in_force(a, on) for a in outcome.not_in_force)
    elif outcome.effect is Effect.PERMIT:
        text = (
            f"Permitted: {asked} is allowed. {_sentence(decisive.spec.because)} "
            f"Agreement: {decisive.agreement.title} (rule {decisive.id}). "
            f"Basis: {_basis_words(b for b in decisive.legal_basis if b.framework in _CORE)}."
        )
        for deny in outcome.with_role(RuleRole.OVERRIDDEN):
            text += _overridden_words(decisive, deny)
    else:
        text = (
            f"Not permitted: {asked} is not allowed. {_sentence(decisive.spec.because)} "
            f"({_deny_source(decisive)})."
        )
        basis = _basis_words(decisive.legal_basis)
        if basis:
            text += f" Grounds: {basis}."
        for permit in outcome.with_role(RuleRole.OVERRIDDEN):
            text += f" Rule {permit.id} would otherwise allow it but does not override this."
    if changes:
        suggestions = _suggestions(pack.vocabulary)
        text += " It would be permitted if " + " or ".join(
            _change_words(c, suggestions) for c in changes
        )
        text += "."
    if defaults:
        text += " Assumed because the request did not say: " + "; ".join(defaults) + "."
    return text


# How far `at` may be from the server's clock and still be an answer for now (clocks differ).
WHAT_IF_TOLERANCE = timedelta(minutes=5)


def is_what_if(at: datetime, now: datetime) -> bool:
    """Whether a decision for `at` answers a question about another time than `now`: more
    than the tolerance away, or on another day (agreements begin and end on dates)."""
    return abs(at - now) > WHAT_IF_TOLERANCE or at.date() != now.astimezone(at.tzinfo).date()


def as_what_if(decision: Decision) -> Decision:
    """The decision marked as a what-if answer, its rationale saying so first."""
    when = decision.at.date().isoformat()
    lead = (
        f"What-if answer for {when} (the time the request gave), not for now: do not share "
        "on the strength of it; ask without a time for an answer you can act on. "
    )
    return decision.model_copy(update={"what_if": True, "rationale": lead + decision.rationale})


def _overridden_words(permit: Rule, deny: Rule) -> str:
    restriction = deny.restriction
    if restriction is None:
        return f" This overrides rule {deny.id}: {_sentence(deny.spec.because)}"
    exceptions = ", ".join(f"'{exception}'" for _, exception, _ in _lifted(permit, deny))
    return (
        f" It lifts the restriction on {restriction.title.lower()} "
        f"({_imposed(restriction, deny)}, {deny.id}) by its exception {exceptions}."
    )


def _deny_source(rule: Rule) -> str:
    restriction = rule.restriction
    if restriction is None:
        return f"rule {rule.id}, {rule.agreement.title}"
    return (
        f"{rule.id}: {restriction.title}, {_imposed(restriction, rule)}; only its own named "
        "exceptions lift it"
    )


def _imposed(restriction: RestrictionSpec, rule: Rule) -> str:
    """What imposes a restriction, in words: 'imposed by statute: <act, section>'."""
    kind = "statute" if restriction.imposed_by == "statute" else "local policy"
    cited = "; ".join(
        f"{b.framework} {b.provision}" for b in rule.legal_basis if b.framework != CALDICOTT
    )
    return f"imposed by {kind}: {cited}" if cited else f"imposed by {kind}"


def consent_record_note(facts: dict[str, Any]) -> str:
    """What the person's FHIR Consent record contributed, for the end of the rationale."""
    said = []
    if facts.get("consent") == "refused":
        said.append("an objection to sharing for this purpose")
    elif facts.get("consent") == "explicit":
        said.append("explicit consent for this purpose")
    if facts.get("national_data_opt_out"):
        said.append("the national data opt-out (research and planning)")
    found = " and ".join(said) if said else "nothing that bears on this request"
    return f"The person's FHIR Consent record was used: it records {found}."


def fail_safe_rationale(error: str) -> str:
    return (
        "Fail-safe deny: igengine could not reach a decision, so the answer is deny. Do not "
        "share on the strength of this answer; ask your IG lead or Caldicott Guardian. "
        f"(Error: {error})"
    )


def _asked(request: Request, pack: PolicyPack) -> str:
    requester = pack.organisations[request.requester.organisation]
    holder = pack.organisations[request.holder.organisation]
    words = pack.vocabulary.label
    role = words("roles", request.requester.role)
    article = "an" if role[0].lower() in "aeiou" else "a"
    return (
        f"{article} {role} at {requester.name} receiving the "
        f"{words('record_types', request.record_type)} held by {holder.name} for "
        f"{words('purposes', request.purpose)}"
    )


def _not_in_force(agreement: AgreementSpec, on: date) -> str:
    when = (
        "ended on " + str(agreement.end_date)
        if on > agreement.end_date
        else ("does not start until " + str(agreement.start_date))
    )
    return (
        f" The agreement '{agreement.title}' ({agreement.id}) would have applied, but it "
        f"{when} and was not in force on {on}."
    )


_CORE = {UK_GDPR, COMMON_LAW}


def _basis_words(basis: Iterable[LegalBasis]) -> str:
    words = []
    for item in basis:
        if item.framework == UK_GDPR:
            words.append(f"UK GDPR {item.provision} ({item.summary})")
        elif item.framework == COMMON_LAW:
            words.append(f"common law: {item.provision}")
        else:
            summary = f" ({item.summary})" if item.summary else ""
            words.append(f"{item.framework} {item.provision}{summary}")
    return "; ".join(words)


def _change_words(change: Change, suggestions: dict[str, list[tuple[Any, str]]]) -> str:
    words = []
    for name, value in change.items():
        words += [text for v, text in suggestions[name] if v == value]
    return " and ".join(words)


def change_words(change: Mapping[str, Any], vocabulary: Vocabulary) -> str:
    """One suggested change (an item of `would_permit_if`) as answers to the questions the
    pack asks about the person (each fact's `question:`), e.g. 'you can answer “Has the
    person objected ...?” with “No”'. The CLI and the page both say it in these words."""
    parts = []
    for field, value in change.items():
        fact = vocabulary.person.get(field.removeprefix("subject."))
        if field == "justification":
            parts.append("you give a justification")
        elif fact is None:
            parts.append(f"{field} is {value}")
        else:
            parts.append(f"you can answer “{fact.question}” with “{answer_words(fact, value)}”")
    return " and ".join(parts)


def answer_words(fact: Fact, value: Any) -> str:
    """A value of a fact as the page's answer to its question ("Yes", "Explicit consent is
    recorded", "17")."""
    if fact.type == "boolean":
        return "Yes" if value else "No"
    if fact.type == "choice":
        term = next((c for c in fact.choices if c.code == value), None)
        words = (term.answer or term.words) if term else str(value).replace("_", " ")
        return words[:1].upper() + words[1:]
    return str(value)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
