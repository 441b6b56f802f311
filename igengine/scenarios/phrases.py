"""The phrase book: every step sentence a scenario may use, and what it does.

This is the only place step wording is defined. The `igengine test` runner and the pytest-bdd
step definitions (igengine.scenarios.bdd) both hand each step's text to `perform`, so the two
always read a scenario the same way. A new scenario needs no new Python: it combines these
sentences with the pack's own organisation names and the vocabulary's words.

Given steps describe who asks and what is known about the person; the When step says what
they ask for; Then steps check the decision. The decision is made once, at the first Then.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from igengine import explain
from igengine.decision import Decision
from igengine.engine import Engine
from igengine.request import RequestError
from igengine.scenarios.words import InputError, Words, normalise
from igengine.vocabulary import Effect, RuleRole

Table = list[list[str]]


class StepKind(StrEnum):
    GIVEN = "Given"
    WHEN = "When"
    THEN = "Then"


class CheckFailed(AssertionError):
    """A Then step does not hold for the engine's decision; the message says what it answered."""


@dataclass
class World:
    """One scenario's request as the steps build it, and the decision once it is made."""

    engine: Engine
    words: Words
    default_at: str | None = None
    requester: dict[str, str] | None = None
    asked: dict[str, Any] | None = None
    subject: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    made: Decision | None = None

    def request(self) -> dict[str, Any]:
        if self.requester is None:
            raise InputError(
                "no Given step says who is asking; start with e.g. "
                "'Given a social worker at Northgate City Council'"
            )
        if self.asked is None:
            raise InputError(
                "no When step says what they ask for; add e.g. "
                "'When they ask Northgate Hospitals for the capacity assessment "
                "for direct care'"
            )
        request: dict[str, Any] = {
            "requester": self.requester,
            **self.asked,
            "subject": self.subject,
        }
        if self.default_at is not None:
            request["at"] = self.default_at
        return request | self.extras

    def decision(self) -> Decision:
        if self.made is None:
            try:
                self.made = self.engine.decide(self.request())
            except RequestError as exc:
                raise InputError(f"the request these steps describe is not valid: {exc}") from None
        return self.made

    def change(self) -> None:
        """Called before any step alters the request: a decision already made cannot change."""
        if self.made is not None:
            raise InputError(
                "this step changes the request after a Then step has checked the "
                "decision; put Given and When steps before the Then steps"
            )


Action = Callable[[World, dict[str, str], Table | None], None]


@dataclass(frozen=True)
class Phrase:
    kinds: frozenset[StepKind]
    pattern: re.Pattern[str]
    example: str
    act: Action
    takes_table: bool = False


PHRASES: list[Phrase] = []


def phrase(
    *kinds: StepKind, pattern: str, example: str, table: bool = False
) -> Callable[[Action], Action]:
    """Register a step sentence (a regular expression over the whole step text)."""

    def register(act: Action) -> Action:
        compiled = re.compile(pattern, re.IGNORECASE)
        if not compiled.fullmatch(example):
            raise ValueError(f"the example {example!r} does not match its own pattern")
        PHRASES.append(Phrase(frozenset(kinds), compiled, example, act, table))
        return act

    return register


def perform(world: World, kind: StepKind, text: str, table: Table | None = None) -> None:
    """Carry out one step. Raises InputError for a step igengine cannot read, and CheckFailed
    when a Then step does not hold."""
    found, groups = find(kind, text, world.words)
    if found.takes_table and not table:
        raise InputError(f"'{text}' needs a table under it, e.g. | risk of serious harm | true |")
    if table and not found.takes_table:
        raise InputError(
            f"'{text}' takes no table; remove the table or use "
            "'And the person's details are:' with one"
        )
    found.act(world, groups, table)


def find(kind: StepKind, text: str, words: Words) -> tuple[Phrase, dict[str, str]]:
    """The phrase a step's text matches (igengine's own, then the pack's facts' phrases), or
    InputError with the nearest sentence."""
    cleaned = text.strip().rstrip(".")
    phrases = [*PHRASES, *fact_phrases(words)]
    for candidate in phrases:
        match = candidate.pattern.fullmatch(cleaned)
        if match and kind in candidate.kinds:
            return candidate, {k: v for k, v in match.groupdict().items() if v is not None}
    elsewhere = [p for p in phrases if p.pattern.fullmatch(cleaned)]
    if elsewhere:
        allowed = " or ".join(sorted(k.value for k in elsewhere[0].kinds))
        raise InputError(
            f"'{text}' is a {allowed} step, not a {kind.value} step; move it after {allowed}"
        )
    examples = [p.example for p in phrases if kind in p.kinds]
    close = difflib.get_close_matches(cleaned, examples, n=1, cutoff=0.4)
    if close:
        raise InputError(f"'{text}' is not a step igengine knows; did you mean '{close[0]}'?")
    raise InputError(
        f"'{text}' is not a step igengine knows; {kind.value} steps look like: "
        + "; ".join(f"'{e}'" for e in examples)
    )


# ---- Given: who asks ----------------------------------------------------------------------


@phrase(
    StepKind.GIVEN,
    pattern=r"(?:an?|the) (?P<role>.+?) (?:at|from) (?P<org>.+?)",
    example="a social worker at Northgate City Council in the person's care team",
)
def _requester(world: World, groups: dict[str, str], _: Table | None) -> None:
    """Who asks; the organisation may be followed by one of the pack's fact phrases ("... in
    the person's care team")."""
    world.change()
    organisation, said = _organisation_and_fact(world, groups["org"])
    world.requester = {"role": world.words.role(groups["role"]), "organisation": organisation}
    if said is not None:
        said.act(world, {}, None)


def _organisation_and_fact(world: World, text: str) -> tuple[str, Phrase | None]:
    try:
        return world.words.organisation(text), None
    except InputError as exc:
        for candidate in fact_phrases(world.words):
            match = re.fullmatch(
                r"(?P<org>.+?),? (?:" + candidate.pattern.pattern + ")", text, re.IGNORECASE
            )
            if match is None:
                continue
            try:
                organisation = world.words.organisation(match["org"])
            except InputError:
                continue
            groups = {k: v for k, v in match.groupdict().items() if v is not None and k != "org"}
            return organisation, Phrase(
                candidate.kinds, candidate.pattern, "", _bound(candidate, groups)
            )
        raise exc


def _bound(candidate: Phrase, groups: dict[str, str]) -> Action:
    def act(world: World, _groups: dict[str, str], table: Table | None) -> None:
        candidate.act(world, groups, table)

    return act


# ---- Given: about the person --------------------------------------------------------------


# Compiled once per Words (a scenario run makes one per pack).
@functools.lru_cache(maxsize=16)
def fact_phrases(words: Words) -> list[Phrase]:
    """The Given sentences the pack's facts declare (`phrases:` in vocabulary.yaml), each
    setting its fact."""
    return [
        Phrase(
            frozenset({StepKind.GIVEN}),
            re.compile(said.says, re.IGNORECASE),
            said.example or said.says,
            _fact(fact.name, said.value),
        )
        for fact in words.facts.values()
        for said in fact.phrases
    ]


def _fact(field_name: str, value: Any) -> Action:
    def act(world: World, groups: dict[str, str], _table: Table | None) -> None:
        world.change()
        given = value
        if given is None:
            given = world.words.field_value(field_name, groups["value"])
        world.subject[field_name] = given

    return act


@phrase(
    StepKind.GIVEN,
    pattern=r"(?:about the person|the person's details are):",
    example="the person's details are:",
    table=True,
)
def _details(world: World, _: dict[str, str], table: Table | None) -> None:
    world.change()
    for number, row in enumerate(table or [], start=1):
        if len(row) != 2:
            raise InputError(
                f"row {number} of the table has {len(row)} cells; each row needs "
                "two: the fact and its value, e.g. | risk of serious harm | true |"
            )
        if number == 1 and normalise(row[0]) in {"fact", "field"}:
            continue  # a header row
        name = world.words.subject_field(row[0])
        value = world.words.field_value(name, row[1])
        if name in {"justification", "at"}:
            world.extras[name] = value
        else:
            world.subject[name] = value


# ---- Given or When: the justification and the date ----------------------------------------


@phrase(
    StepKind.GIVEN,
    StepKind.WHEN,
    pattern=r"they (?:give|record) the justification \"(?P<text>[^\"]*)\"",
    example='they give the justification "unconscious in A&E, needs current medicines"',
)
def _justification(world: World, groups: dict[str, str], _: Table | None) -> None:
    world.change()
    world.extras["justification"] = groups["text"]


@phrase(
    StepKind.GIVEN,
    StepKind.WHEN,
    pattern=r"they give no justification",
    example="they give no justification",
)
def _no_justification(world: World, _groups: dict[str, str], _: Table | None) -> None:
    world.change()
    world.extras.pop("justification", None)


@phrase(
    StepKind.GIVEN,
    StepKind.WHEN,
    pattern=r"the sharing (?:would happen|happens|is) on (?P<date>\d{4}-\d{2}-\d{2})",
    example="the sharing would happen on 2028-06-01",
)
def _date(world: World, groups: dict[str, str], _: Table | None) -> None:
    world.change()
    world.extras["at"] = world.words.field_value("at", groups["date"] + "T12:00:00+00:00")


# ---- When: what they ask for --------------------------------------------------------------


@phrase(
    StepKind.WHEN,
    pattern=r"they ask (?P<rest>.+ for .+ for .+)",
    example="they ask Northgate Hospitals for the capacity assessment for direct care",
)
def _ask(world: World, groups: dict[str, str], _: Table | None) -> None:
    world.change()
    world.asked = _split_ask(world.words, groups["rest"])


def _split_ask(words: Words, rest: str) -> dict[str, Any]:
    """'<holder> for <record> for <purpose>': names may themselves contain 'for', so try each
    split and keep the one where all three parts are known; otherwise report the first
    split's problem, which is the one the writer most likely meant."""
    pieces = rest.split(" for ")
    first_problem: InputError | None = None
    for i in range(1, len(pieces) - 1):
        for j in range(i + 1, len(pieces)):
            holder, record, purpose = (
                " for ".join(pieces[:i]),
                " for ".join(pieces[i:j]),
                " for ".join(pieces[j:]),
            )
            try:
                return {
                    "holder": {"organisation": words.organisation(holder)},
                    "record_type": words.record(record),
                    "purpose": words.purpose(purpose),
                }
            except InputError as exc:
                first_problem = first_problem or exc
    raise first_problem or InputError(f"'{rest}': write '<holder> for the <record> for <purpose>'")


# ---- Then: the decision -------------------------------------------------------------------


@phrase(
    StepKind.THEN,
    pattern=r"sharing is (?P<effect>permitted|not permitted|refused|denied)",
    example="sharing is permitted",
)
def _effect(world: World, groups: dict[str, str], _: Table | None) -> None:
    expected = Effect.PERMIT if groups["effect"].lower() == "permitted" else Effect.DENY
    decision = world.decision()
    if decision.effect is not expected:
        raise CheckFailed(
            f"expected sharing to be {_effect_words(expected)}, but the engine "
            f"answered {_effect_words(decision.effect)}"
        )


def _effect_words(effect: Effect) -> str:
    return "permitted" if effect is Effect.PERMIT else "not permitted"


@phrase(
    StepKind.THEN,
    pattern=r"the legal basis (?P<neg>does not include|includes) (?P<text>.+)",
    example="the legal basis includes Article 9(2)(h)",
)
def _legal_basis(world: World, groups: dict[str, str], _: Table | None) -> None:
    cited = [
        " ".join(filter(None, (b.framework, b.provision, b.summary)))
        for b in world.decision().legal_basis
    ]
    wanted = normalise(groups["text"])
    present = any(wanted in normalise(item) for item in cited)
    if present == (groups["neg"].lower() == "includes"):
        return
    listing = "; ".join(cited) or "nothing"
    expectation = "to include" if groups["neg"].lower() == "includes" else "not to include"
    raise CheckFailed(
        f"expected the legal basis {expectation} '{groups['text']}'; it cites: {listing}"
    )


@phrase(
    StepKind.THEN,
    pattern=r"(?:they must|the obligations include) (?!not )(?P<text>.+)",
    example="they must share the minimum necessary",
)
def _obligation(world: World, groups: dict[str, str], _: Table | None) -> None:
    code = world.words.obligation(groups["text"])
    obligations = world.decision().obligations
    if code not in obligations:
        raise CheckFailed(
            f"expected the obligation {code}; the decision lists: "
            f"{', '.join(obligations) or 'none'}"
        )


@phrase(StepKind.THEN, pattern=r"there are no obligations", example="there are no obligations")
def _no_obligations(world: World, _groups: dict[str, str], _: Table | None) -> None:
    obligations = world.decision().obligations
    if obligations:
        raise CheckFailed(f"expected no obligations; the decision lists: {', '.join(obligations)}")


@phrase(
    StepKind.THEN,
    pattern=r"the deciding rule is (?P<rule>\S+)",
    example="the deciding rule is ntg-int-care/capacity-assessment-direct-care",
)
def _deciding_rule(world: World, groups: dict[str, str], _: Table | None) -> None:
    _rule_role(world, world.words.rule(groups["rule"]), RuleRole.DECISIVE)


@phrase(
    StepKind.THEN,
    pattern=r"(?:the )?rule (?P<rule>\S+) is overridden",
    example="rule ntg-int-care/person-objected is overridden",
)
def _overridden_rule(world: World, groups: dict[str, str], _: Table | None) -> None:
    _rule_role(world, world.words.rule(groups["rule"]), RuleRole.OVERRIDDEN)


def _rule_role(world: World, rule_id: str, role: RuleRole) -> None:
    rules = world.decision().rules
    if any(r.id == rule_id and r.role is role for r in rules):
        return
    played = ", ".join(f"{r.id} ({r.role})" for r in rules) or "no rule matched"
    raise CheckFailed(f"expected rule {rule_id} to be {role}; the rules were: {played}")


@phrase(
    StepKind.THEN,
    pattern=r"the (?:reason|rationale) (?:mentions|says) \"(?P<text>[^\"]+)\"",
    example='the reason mentions "Caldicott principle 4"',
)
def _rationale(world: World, groups: dict[str, str], _: Table | None) -> None:
    rationale = world.decision().rationale
    if normalise(groups["text"]) not in normalise(rationale):
        raise CheckFailed(
            f"expected the reason to mention '{groups['text']}'; it says: {rationale}"
        )


@phrase(
    StepKind.THEN,
    pattern=r"the details (?:mention|say) \"(?P<text>[^\"]+)\"",
    example='the details mention "imposed by statute"',
)
def _details_mention(world: World, groups: dict[str, str], _: Table | None) -> None:
    # The trace behind the answer (rule ids, statutes, exceptions), as `igengine explain`
    # and the page's details part show it.
    said = " ".join(explain.details(world.decision(), world.engine.pack))
    if normalise(groups["text"]) not in normalise(said):
        raise CheckFailed(f"expected the details to mention '{groups['text']}'; they say: {said}")


@phrase(
    StepKind.THEN,
    pattern=r"it would be permitted if (?P<field>.+?) (?:is|were|was) (?P<value>.+)",
    example="it would be permitted if the consent is explicit",
)
def _would_permit_if(world: World, groups: dict[str, str], _: Table | None) -> None:
    name = world.words.subject_field(groups["field"])
    key = name if name in {"justification", "at"} else f"subject.{name}"
    changes = world.decision().would_permit_if
    if name == "justification":
        found = any(key in change for change in changes)
    else:
        value = world.words.field_value(name, groups["value"])
        found = any(change.get(key) == value for change in changes)
    if not found:
        raise CheckFailed(
            f"expected it to be permitted if {groups['field']} were "
            f"{groups['value']}; the decision suggests: {_changes(changes)}"
        )


@phrase(
    StepKind.THEN,
    pattern=r"nothing would make it permitted",
    example="nothing would make it permitted",
)
def _nothing_would_permit(world: World, _groups: dict[str, str], _: Table | None) -> None:
    changes = world.decision().would_permit_if
    if changes:
        raise CheckFailed(
            f"expected no suggested change; the decision suggests: {_changes(changes)}"
        )


def _changes(changes: list[dict[str, Any]]) -> str:
    return (
        " or ".join(" and ".join(f"{k} = {v}" for k, v in change.items()) for change in changes)
        or "nothing"
    )


@phrase(
    StepKind.THEN,
    pattern=r"the agreement (?P<agreement>.+) was not in force",
    example="the agreement ntg-int-care was not in force",
)
def _not_in_force(world: World, groups: dict[str, str], _: Table | None) -> None:
    agreement = world.words.agreement(groups["agreement"])
    decision = world.decision()
    if agreement not in {a.id for a in decision.not_in_force}:
        raise CheckFailed(
            f"expected agreement {agreement} to be named as not in force; "
            f"the reason says: {decision.rationale}"
        )


@phrase(StepKind.THEN, pattern=r"no agreement covers it", example="no agreement covers it")
def _no_agreement(world: World, _groups: dict[str, str], _: Table | None) -> None:
    decision = world.decision()
    if decision.rules or decision.effect is not Effect.DENY:
        raise CheckFailed(
            "expected no agreement to cover the request; rules matched: "
            + ", ".join(r.id for r in decision.rules)
        )
