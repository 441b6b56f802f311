"""Compile: a validated pack into durable-rules rulesets, and a request into the facts they test.

Rules are sharded by (record type, purpose): a request only ever meets the rules that could
apply to its record and purpose, which keeps each ruleset small (durable-rules fails to compile
one ruleset of ~10,000 rules, and deep `$or` chains overflow its stack) and matching time flat
as a pack grows. Inside a shard the record and purpose conditions are implied, so they are
dropped. Each rule starts with an equality (its agreement's membership fact), never an `$or`,
which durable-rules needs at scale; conditions on who asks and who holds come before those on
the person, so that a permit's "within reach" rule (its selectors alone) is a prefix of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from igengine.policy.pack import PolicyPack, Rule
from igengine.request import Request
from igengine.vocabulary import Effect, Purpose, RecordType

Condition = dict[str, Any]


@dataclass(frozen=True)
class CompiledPack:
    """Ruleset definitions in durable-rules' JSON form, keyed by shard name, and for each shard
    the request conditions its permit rules test (all that could turn a deny into a permit)."""

    rulesets: dict[str, dict[str, Any]]
    permit_conditions: dict[str, frozenset[str]]

    @staticmethod
    def shard(record: RecordType, purpose: Purpose) -> str:
        return f"{record.value}.{purpose.value}"


def compile_pack(pack: PolicyPack) -> CompiledPack:
    rulesets: dict[str, dict[str, Any]] = {}
    permit_conditions: dict[str, set[str]] = {}
    for rule in pack.rules:
        selectors = selector_parts(rule)
        compiled = {"all": [{"m": _and(selectors + person_parts(rule))}]}
        # A permit's selectors alone (who asks, who holds, under which agreement) as a rule of
        # its own: its match says the permit is within reach of changes to the person's facts,
        # which is what would_permit_if searches. Being a prefix of the full rule, it shares
        # the full rule's nodes in durable-rules.
        reach = {"all": [{"m": _and(selectors)}]}
        for record in rule.spec.records or list(RecordType):
            for purpose in rule.purposes:
                name = CompiledPack.shard(record, purpose)
                shard = rulesets.setdefault(name, {})
                shard[rule_name(rule.index)] = compiled
                if rule.effect is Effect.PERMIT:
                    shard[reach_name(rule.index)] = reach
                    permit_conditions.setdefault(name, set()).update(rule.conditions)
    return CompiledPack(
        rulesets, {name: frozenset(fields) for name, fields in permit_conditions.items()}
    )


def rule_name(index: int) -> str:
    """The compiled name of a rule (it matched the request)."""
    return f"r{index}"


def reach_name(index: int) -> str:
    """The compiled name of a permit's selectors (the permit is within reach)."""
    return f"s{index}"


def rule_index(name: str) -> int:
    return int(name[1:])


def is_reach(name: str) -> bool:
    return name[0] == "s"


def selector_parts(rule: Rule) -> list[Condition]:
    """Conditions on who asks and who holds: fixed by the request's organisations and role.
    Party membership comes first, as a precomputed fact (see pair_facts): an `$or` over every
    party would multiply durable-rules' network and overflow it on large agreements."""
    spec = rule.spec
    choices: list[tuple[str, list[Any]]] = [
        ("role", list(spec.requester.roles)),
        ("req_sector", list(spec.requester.sectors)),
        ("req_org", list(spec.requester.organisations)),
        ("holder_sector", list(spec.holder.sectors)),
        ("holder_org", list(spec.holder.organisations)),
    ]
    return [{agreement_fact(rule.agreement_index): True}, *_any_of(choices)]


def person_parts(rule: Rule) -> list[Condition]:
    """Conditions on the person and the justification."""
    when = rule.spec.when
    equal: list[Condition] = [
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
    return equal + _any_of(
        [
            ("relationship", list(when.relationship or [])),
            ("consent", list(when.consent or [])),
            ("capacity", list(when.has_capacity or [])),
        ]
    )


def _any_of(choices: list[tuple[str, list[Any]]]) -> list[Condition]:
    """One condition per fact that must be one of some values: an equality for a single value,
    else an `$or`; equalities first (durable-rules needs `$or`s late at scale)."""
    # Codes are StrEnums, which JSON writes as their plain values.
    equal = [{fact: values[0]} for fact, values in choices if len(values) == 1]
    ors = [{"$or": [{fact: v} for v in values]} for fact, values in choices if len(values) > 1]
    return equal + ors


def _and(parts: list[Condition]) -> Condition:
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
