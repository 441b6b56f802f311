"""Compile: a validated pack into durable-rules rulesets, and a request into the facts they test.

Rules are sharded by (record type, purpose): a request only ever meets the rules that could
apply to its record and purpose, which keeps each ruleset small (durable-rules fails to compile
one ruleset of ~10,000 rules, and deep `$or` chains overflow its stack) and matching time flat
as a pack grows. Inside a shard the record and purpose conditions are implied, so they are
dropped. Equality conditions come first and `$or` conditions last, which durable-rules needs
at scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from igengine.policy.pack import PolicyPack, Rule
from igengine.request import Request
from igengine.vocabulary import Effect, Purpose, RecordType

Condition = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Selectors:
    """A rule's conditions on who asks and who holds (an empty set allows any), kept to find
    the permits a change to the person's facts could reach (see engine._within_reach)."""

    roles: frozenset[str]
    requester_sectors: frozenset[str]
    requester_organisations: frozenset[str]
    holder_sectors: frozenset[str]
    holder_organisations: frozenset[str]

    @classmethod
    def of(cls, rule: Rule) -> Selectors:
        requester, holder = rule.spec.requester, rule.spec.holder
        return cls(
            frozenset(requester.roles),
            frozenset(requester.sectors),
            frozenset(requester.organisations),
            frozenset(holder.sectors),
            frozenset(holder.organisations),
        )

    def admit(self, role: str, requester: tuple[str, str], holder: tuple[str, str]) -> bool:
        """Whether these conditions hold for a role and the (organisation, sector) of the
        requester and of the holder."""
        return (
            (not self.roles or role in self.roles)
            and (not self.requester_organisations or requester[0] in self.requester_organisations)
            and (not self.requester_sectors or requester[1] in self.requester_sectors)
            and (not self.holder_organisations or holder[0] in self.holder_organisations)
            and (not self.holder_sectors or holder[1] in self.holder_sectors)
        )


@dataclass(frozen=True)
class CompiledPack:
    """Ruleset definitions in durable-rules' JSON form, keyed by shard name; for each shard the
    request conditions its permit rules test (all that could turn a deny into a permit), and
    its permit rules by agreement (see engine: which permits a change could reach)."""

    rulesets: dict[str, dict[str, Any]]
    permit_conditions: dict[str, frozenset[str]]
    permits: dict[str, dict[int, tuple[tuple[int, Selectors], ...]]]

    @staticmethod
    def shard(record: RecordType, purpose: Purpose) -> str:
        # StrEnums format as their values (and `.value` is a slow descriptor).
        return f"{record}.{purpose}"


def compile_pack(pack: PolicyPack) -> CompiledPack:
    rulesets: dict[str, dict[str, Any]] = {}
    permit_conditions: dict[str, set[str]] = {}
    permits: dict[str, dict[int, list[tuple[int, Selectors]]]] = {}
    for rule in pack.rules:
        compiled = {"all": [{"m": rule_condition(rule)}]}
        selectors = Selectors.of(rule) if rule.effect is Effect.PERMIT else None
        for record in rule.spec.records or list(RecordType):
            for purpose in rule.purposes:
                name = CompiledPack.shard(record, purpose)
                rulesets.setdefault(name, {})[rule_name(rule.index)] = compiled
                if selectors is not None:
                    permit_conditions.setdefault(name, set()).update(rule.conditions)
                    by_agreement = permits.setdefault(name, {})
                    by_agreement.setdefault(rule.agreement_index, []).append(
                        (rule.index, selectors)
                    )
    return CompiledPack(
        rulesets,
        {name: frozenset(fields) for name, fields in permit_conditions.items()},
        {
            name: {agreement: tuple(rules) for agreement, rules in by_agreement.items()}
            for name, by_agreement in permits.items()
        },
    )


def rule_name(index: int) -> str:
    return f"r{index}"


def rule_index(name: str) -> int:
    return int(name[1:])


def rule_condition(rule: Rule) -> Condition:
    """The rule's conditions on the request facts (record and purpose are implied by shard).

    Party membership is a precomputed fact (see pair_facts): an `$or` over every party would
    multiply durable-rules' network and overflow it on large agreements. It comes first, then
    the other equalities, then the `$or`s, which durable-rules needs at scale.
    """
    spec, when = rule.spec, rule.spec.when
    equal: list[Condition] = [{agreement_fact(rule.agreement_index): True}]
    equal += [
        {fact: value}
        for fact, value in (
            ("objection", when.objection),
            ("opt_out", when.national_data_opt_out),
            ("risk", when.risk_of_serious_harm),
            ("s251", when.s251_support),
            ("anonymised", when.anonymised),
            ("justified", when.justification_given),
        )
        if value is not None
    ]
    if when.age_under is not None or when.age_at_least is not None:
        equal.append({"age_known": True})
    if when.age_under is not None:
        equal.append({"$lt": {"age": when.age_under}})
    if when.age_at_least is not None:
        equal.append({"$gte": {"age": when.age_at_least}})
    any_of: list[tuple[str, list[Any]]] = [
        ("role", list(spec.requester.roles)),
        ("req_sector", list(spec.requester.sectors)),
        ("req_org", list(spec.requester.organisations)),
        ("holder_sector", list(spec.holder.sectors)),
        ("holder_org", list(spec.holder.organisations)),
        ("relationship", list(when.relationship or [])),
        ("consent", list(when.consent or [])),
        ("capacity", list(when.has_capacity or [])),
    ]
    # Codes are StrEnums, which JSON writes as their plain values.
    equal += [{fact: values[0]} for fact, values in any_of if len(values) == 1]
    ors = [{"$or": [{fact: v} for v in values]} for fact, values in any_of if len(values) > 1]
    parts = equal + ors
    return parts[0] if len(parts) == 1 else {"$and": parts}


def agreement_fact(agreement_index: int) -> str:
    """The fact that says both organisations of a request are parties to this agreement."""
    return f"a{agreement_index}"


def party_index(pack: PolicyPack) -> dict[str, frozenset[int]]:
    """For each organisation, the agreements it is a party to (by index)."""
    index: dict[str, set[int]] = {code: set() for code in pack.organisations}
    for i, agreement in enumerate(pack.agreements):
        for code in agreement.parties:
            index.setdefault(code, set()).add(i)
    return {code: frozenset(agreements) for code, agreements in index.items()}


# The fact each suggestable request field sets (see explain.would_permit_if), so a changed
# request can be evaluated by editing its facts rather than rebuilding and re-validating it.
_CHANGE_FACTS: dict[str, str] = {
    "subject.relationship": "relationship",
    "subject.consent": "consent",
    "subject.s251_support": "s251",
    "subject.anonymised": "anonymised",
    "subject.risk_of_serious_harm": "risk",
    "subject.has_capacity": "capacity",
}


def changed_facts(facts: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """The facts of the request with `change` applied ({"subject.consent": "explicit"} ...)."""
    changed = dict(facts)
    for field, value in change.items():
        if field == "justification":
            changed["justified"] = bool(value and str(value).strip())
        else:
            changed[_CHANGE_FACTS[field]] = value
    if changed["consent"] == "refused":
        changed["objection"] = True
    return changed


def request_facts(
    request: Request, sectors: dict[str, str], parties: dict[str, frozenset[int]]
) -> dict[str, Any]:
    """The flat facts a compiled rule tests: the organisation pair's and the person's."""
    return {
        **pair_facts(request.requester.organisation, request.holder.organisation, sectors, parties),
        **person_facts(request),
    }


def pair_facts(
    requester_org: str, holder_org: str, sectors: dict[str, str], parties: dict[str, frozenset[int]]
) -> dict[str, Any]:
    """The facts fixed by who asks and who holds: shared agreements, organisations, sectors."""
    shared = parties[requester_org] & parties[holder_org]
    facts: dict[str, Any] = {agreement_fact(i): True for i in sorted(shared)}
    facts.update(
        req_org=requester_org,
        req_sector=sectors[requester_org],
        holder_org=holder_org,
        holder_sector=sectors[holder_org],
    )
    return facts


def person_facts(request: Request) -> dict[str, Any]:
    """The facts about the requester's role and the person. A refusal of consent counts as an
    objection. Codes are StrEnums, which JSON encodes as their plain string values."""
    subject = request.subject
    return {
        "role": request.requester.role,
        "relationship": subject.relationship,
        "objection": subject.objection or subject.consent == "refused",
        "consent": subject.consent,
        "opt_out": subject.national_data_opt_out,
        "capacity": subject.has_capacity,
        "risk": subject.risk_of_serious_harm,
        "age_known": subject.age is not None,
        "age": -1 if subject.age is None else subject.age,
        "s251": subject.s251_support,
        "anonymised": subject.anonymised,
        "justified": request.justified,
    }


# The person's facts as JSON text, in person_facts' order. A fixed template is several times
# cheaper than a JSON encoder, and this runs once per match (several per deny). Codes are
# vocabulary values (plain identifiers, never needing escapes); tests check the text against
# a real JSON encoding of person_facts.
_PERSON_TEXT = (
    '"role":"%s","relationship":"%s","objection":%s,"consent":"%s","opt_out":%s,'
    '"capacity":"%s","risk":%s,"age_known":%s,"age":%d,"s251":%s,"anonymised":%s,'
    '"justified":%s}'
)
_JSON_BOOL = ("false", "true")


def person_text(facts: dict[str, Any]) -> str:
    """The person's facts (from `person_facts`) as JSON object members and the closing brace."""
    b = _JSON_BOOL
    return _PERSON_TEXT % (
        facts["role"],
        facts["relationship"],
        b[facts["objection"]],
        facts["consent"],
        b[facts["opt_out"]],
        facts["capacity"],
        b[facts["risk"]],
        b[facts["age_known"]],
        facts["age"],
        b[facts["s251"]],
        b[facts["anonymised"]],
        b[facts["justified"]],
    )


# Bounds the per-pair cache; a pack with more organisation pairs in use simply starts again.
_MAX_PAIRS = 65_536


class FactText:
    """Request facts as the JSON text the matcher reads, for one pack (see DurableMatcher).

    The organisation pair's facts (agreement membership, sectors) are the bulk of the text and
    never change for a pack, so their encoding is cached per pair; only the person's facts are
    written per request. Thread-safe: a lost race only encodes a pair twice.
    """

    def __init__(self, sectors: dict[str, str], parties: dict[str, frozenset[int]]) -> None:
        self._sectors = sectors
        self._parties = parties
        self._pairs: dict[tuple[str, str], str] = {}

    def pair(self, requester_org: str, holder_org: str) -> str:
        """The pair's facts as JSON object members (no braces), ending with a comma."""
        key = (requester_org, holder_org)
        text = self._pairs.get(key)
        if text is None:
            if len(self._pairs) >= _MAX_PAIRS:
                self._pairs.clear()
            facts = pair_facts(requester_org, holder_org, self._sectors, self._parties)
            text = self._pairs[key] = json.dumps(facts, separators=(",", ":"))[1:-1] + ","
        return text

    @staticmethod
    def members(pair: str, person: dict[str, Any]) -> str:
        """The facts as the text of a JSON object after its opening brace: the pair's facts
        (from `pair`), then the person's."""
        return pair + person_text(person)
