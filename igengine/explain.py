"""Explain: turn an outcome into words a nurse can act on, derived from the rules and request.

Nothing here is written per case. The rationale, at most three sentences, is assembled from
who holds the record and who asks for it for what, the deciding rule's own `because`, and the
one thing to do (the rule's own instruction, the smallest change that would permit the
request, or an obligation). `details` gives the trace behind it: the rules, the law, what was
assumed by default.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import combinations
from typing import Any

from igengine.combine import Outcome
from igengine.decision import AgreementRef, Decision
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
    *,
    what_if: bool = False,
    consent: dict[str, Any] | None = None,
) -> str:
    """At most three sentences a nurse can act on: what is decided, the reason in the deciding
    rule's own words (its `because`), and the one thing to do. Rule ids, agreement titles,
    statutes and assumptions are left to `details`; the contract's exception is an agreement
    not in force, which is named because it would have applied."""
    decided = _decided(request, pack, outcome, consent)
    if what_if:
        # An answer for another time permits nothing now: say so before anything else.
        effect, _, rest = decided.partition(": ")
        decided = f"What-if answer for {on.isoformat()}, not for now (do not act on it): "
        decided += f"{effect.lower()}, {rest}"
    reason, instruction = _reason(outcome, on)
    todo = instruction or _todo(pack, outcome, changes)
    return " ".join(part for part in (decided, reason, todo) if part)


def details(decision: Decision, pack: PolicyPack) -> list[str]:
    """The trace behind a decision, one sentence each, for the page's details part and
    `igengine explain`: the deciding rule and where it is written, what it overrode or lost
    to, the rule's reason in full, the legal basis, agreements not in force, what was assumed
    and any error. Rules the pack no longer has (a decision read back after a reload) are
    named by id and source alone."""
    rules = pack.rules_by_id
    lines = [_rule_line(ref.id, ref.source, ref.role, rules.get(ref.id)) for ref in decision.rules]
    decisive = next((rules.get(r.id) for r in decision.rules if r.role is RuleRole.DECISIVE), None)
    if decisive is not None:
        beaten = [rules.get(r.id) for r in decision.rules if r.role is RuleRole.OVERRIDDEN]
        lines += _overriding_lines(decisive, [rule for rule in beaten if rule])
        if _sentence(decisive.spec.because) not in decision.rationale:
            lines.append(f"The rule's reason in full: {_sentence(decisive.spec.because)}")
    if decision.legal_basis:
        kind = "Legal basis" if decision.permitted else "Grounds for refusing"
        lines.append(f"{kind}: {_basis_words(decision.legal_basis)}.")
    on = decision.at.date()
    lines += [_not_in_force(a, on) for a in decision.not_in_force]
    if decision.assumed:
        lines.append(
            "Assumed because the request did not say: " + "; ".join(decision.assumed) + "."
        )
    if decision.error:
        lines.append(f"Error: {decision.error}")
    return lines


def _rule_line(rule_id: str, source: str, role: RuleRole, rule: Rule | None) -> str:
    if rule is None:
        return f"Rule {rule_id} ({role}) at {source}."
    words = _ROLE_WORDS[role]
    if role is RuleRole.OVERRIDDEN and rule.effect is Effect.PERMIT:
        words = "Would otherwise allow it, but does not override the deny:"
    if rule.restriction is not None:
        return f"{words} {_restriction_words(rule, rule.restriction)} (at {source})."
    return (
        f"{words} rule {rule.id} ({rule.effect}) of the agreement "
        f"'{rule.agreement.title}', at {source}."
    )


_ROLE_WORDS = {
    RuleRole.DECISIVE: "Decided by",
    RuleRole.OVERRIDDEN: "Overridden:",
    RuleRole.INFORMATIVE: "Also matched:",
}


def _overriding_lines(decisive: Rule, beaten: list[Rule]) -> list[str]:
    """How a deciding permit beat the denies it overrode (a permit a deny beat is named as
    such in its own line)."""
    if decisive.effect is Effect.PERMIT:
        return [_overridden_words(decisive, deny) for deny in beaten]
    return []


# How far `at` may be from the server's clock and still be an answer for now (clocks differ).
WHAT_IF_TOLERANCE = timedelta(minutes=5)


def is_what_if(at: datetime, now: datetime) -> bool:
    """Whether a decision for `at` answers a question about another time than `now`: more
    than the tolerance away, or on another day (agreements begin and end on dates)."""
    return abs(at - now) > WHAT_IF_TOLERANCE or at.date() != now.astimezone(at.tzinfo).date()


def _overridden_words(permit: Rule, deny: Rule) -> str:
    restriction = deny.restriction
    if restriction is None:
        return f"This overrides rule {deny.id}: {_sentence(deny.spec.because)}"
    exceptions = ", ".join(f"'{exception}'" for _, exception, _ in _lifted(permit, deny))
    return (
        f"It lifts the restriction on {restriction.title.lower()} "
        f"({_imposed(restriction, deny)}, {deny.id}) by its exception {exceptions}."
    )


def _restriction_words(rule: Rule, restriction: RestrictionSpec) -> str:
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
    """What the person's FHIR Consent record contributed, one sentence (the rationale puts it
    in brackets after what is decided)."""
    said = []
    if facts.get("consent") == "refused":
        said.append("an objection to sharing for this purpose")
    elif facts.get("consent") == "explicit":
        said.append("explicit consent for this purpose")
    if facts.get("national_data_opt_out"):
        said.append("the national data opt-out (research and planning)")
    found = " and ".join(said) if said else "nothing that bears on this request"
    return f"The person's FHIR Consent record was used: it records {found}."


def fail_safe_rationale() -> str:
    """Two sentences; what went wrong is the decision's `error` (and its details)."""
    return (
        "Fail-safe deny: igengine could not reach a decision, so the answer is deny. Do not "
        "share on the strength of this answer; ask your IG lead or Caldicott Guardian."
    )


def _decided(
    request: Request, pack: PolicyPack, outcome: Outcome, consent: dict[str, Any] | None
) -> str:
    """The first sentence: what is decided, worded for whoever would share the record."""
    if outcome.decisive is None:
        text = f"Not permitted: no data-sharing agreement covers {_sharing(request, pack)}"
        # The contract's words for this deny: it says where to turn in the same sentence.
        tail = "; ask your IG lead or Caldicott Guardian"
    elif outcome.effect is Effect.PERMIT:
        text, tail = f"Permitted: {_may(request, pack)}", ""
    else:
        text, tail = f"Not permitted: {_may(request, pack, negated=True)}", ""
    if consent is not None:
        text += f" ({_uncapitalised(consent_record_note(consent)).rstrip('.')})"
    return f"{text}{tail}."


def _reason(outcome: Outcome, on: date) -> tuple[str, str]:
    """The reason, and the instruction that follows it, in the deciding rule's own words: its
    `because` split after the first sentence (`details` has it whole when it is longer)."""
    decisive = outcome.decisive
    if decisive is None:
        return _none_in_force(outcome.not_in_force, on), ""
    said = _sentences(decisive.spec.because)
    return said[0], (said[1] if len(said) > 1 else "")


def _todo(pack: PolicyPack, outcome: Outcome, changes: list[Change]) -> str:
    """The one thing to do, when the rule's own words give none."""
    if changes:
        suggestions = _suggestions(pack.vocabulary)
        said = " or ".join(_change_words(c, suggestions) for c in changes)
        return f"It would be permitted if {said}."
    decisive = outcome.decisive
    if decisive is None:
        return ""
    if outcome.effect is Effect.PERMIT:
        codes = decisive.spec.obligations
        return pack.obligations.get(codes[0], "") if codes else "Share only what is needed."
    return "If you believe it should be shared, ask your IG lead or Caldicott Guardian first."


def _sharing(request: Request, pack: PolicyPack) -> str:
    """'Royal Northgate Hospital sharing the capacity assessment with a social worker at
    Northgate City Council for direct care'."""
    holder = pack.organisations[request.holder.organisation].name
    record, purpose = _asked_for(request, pack)
    return f"{holder} sharing the {record} with {_who(request, pack)} for {purpose}"


def _may(request: Request, pack: PolicyPack, *, negated: bool = False) -> str:
    holder = pack.organisations[request.holder.organisation].name
    verb = "may not" if negated else "may"
    record, purpose = _asked_for(request, pack)
    return f"{holder} {verb} share the {record} with {_who(request, pack)} for {purpose}"


def _asked_for(request: Request, pack: PolicyPack) -> tuple[str, str]:
    """The record and the purpose, in the pack's words."""
    words = pack.vocabulary.label
    return words("record_types", request.record_type), words("purposes", request.purpose)


def _who(request: Request, pack: PolicyPack) -> str:
    requester = pack.organisations[request.requester.organisation]
    role = pack.vocabulary.label("roles", request.requester.role)
    article = "an" if role[0].lower() in "aeiou" else "a"
    return f"{article} {role} at {requester.name}"


def _uncapitalised(text: str) -> str:
    # "The person's ..." reads on inside a bracket as "the person's ..."; an acronym stays.
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _none_in_force(agreements: Sequence[AgreementSpec], on: date) -> str:
    """One sentence naming the agreements that would have applied on another date."""
    if len(agreements) == 1:
        return _not_in_force(agreements[0], on, by_id=False)
    if not agreements:
        return ""
    named = [f"'{a.title}' ({_when(a, on)})" for a in agreements]
    listed = ", ".join(named[:-1]) + " and " + named[-1]
    return f"The agreements {listed} would have applied, but were not in force on {on}."


def _when(agreement: AgreementRef | AgreementSpec, on: date) -> str:
    if on > agreement.end_date:
        return f"ended on {agreement.end_date}"
    return f"does not start until {agreement.start_date}"


def _not_in_force(agreement: AgreementRef | AgreementSpec, on: date, *, by_id: bool = True) -> str:
    named = f"'{agreement.title}' ({agreement.id})" if by_id else f"'{agreement.title}'"
    return (
        f"The agreement {named} would have applied, but it {_when(agreement, on)} and was not "
        f"in force on {on}."
    )


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


# A sentence ends at . ! or ? followed by a space and a capital (or an opening bracket).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def _sentences(text: str) -> list[str]:
    return [_sentence(part) for part in _SENTENCE_END.split(text.strip()) if part]


def change_words(change: Mapping[str, Any], vocabulary: Vocabulary) -> str:
    """One suggested change (an item of `would_permit_if`) as answers to the questions the
    pack asks about the person (each fact's `question:`), e.g. 'you can answer “Has the
    person objected ...?” with “No”'. The CLI and the page both say it in these words."""
    parts = []
    for field, value in change.items():
        fact = vocabulary.person.get(field.removeprefix("subject."))
        if field == "justification":
            parts.append("you record their justification")
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
