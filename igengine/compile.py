"""Compile: a validated pack into durable-rules rulesets, and a request into the facts they test.

Rules are sharded by (record type, purpose): a request only ever meets the rules that could
apply to its record and purpose, which keeps each ruleset small (durable-rules fails to compile
one ruleset of ~10,000 rules, and deep `$or` chains overflow its stack) and matching time flat
as a pack grows. Inside a shard the record and purpose conditions are implied, so they are
dropped. Equality conditions come first and `$or` conditions last, which durable-rules needs
at scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from igengine.policy.pack import PolicyPack, Rule
from igengine.request import Request
from igengine.vocabulary import Purpose, RecordType

Condition = dict[str, Any]


@dataclass(frozen=True)
class CompiledPack:
    """Ruleset definitions in durable-rules' JSON form, keyed by shard name."""

    rulesets: dict[str, dict[str, Any]]

    @staticmethod
    def shard(record: RecordType, purpose: Purpose) -> str:
        return f"{record.value}.{purpose.value}"


def compile_pack(pack: PolicyPack) -> CompiledPack:
    rulesets: dict[str, dict[str, Any]] = {}
    for rule in pack.rules:
        condition = rule_condition(rule)
        records = rule.spec.records or list(RecordType)
        for record in records:
            for purpose in rule.purposes:
                shard = rulesets.setdefault(CompiledPack.shard(record, purpose), {})
                shard[rule_name(rule.index)] = {"all": [{"m": condition}]}
    return CompiledPack(rulesets)


def rule_name(index: int) -> str:
    return f"r{index}"


def rule_index(name: str) -> int:
    return int(name[1:])


def rule_condition(rule: Rule) -> Condition:
    """The rule's conditions on the request facts (record and purpose are implied by shard)."""
    spec = rule.spec
    equal: list[Condition] = []
    any_of: list[tuple[str, list[Any]]] = [
        ("role", list(spec.requester.roles)),
        ("req_sector", list(spec.requester.sectors)),
        ("req_org", list(spec.requester.organisations or sorted(rule.parties))),
        ("holder_sector", list(spec.holder.sectors)),
        ("holder_org", list(spec.holder.organisations or sorted(rule.parties))),
    ]
    when = spec.when
    for fact, value in (
        ("objection", when.objection),
        ("opt_out", when.national_data_opt_out),
        ("risk", when.risk_of_serious_harm),
        ("s251", when.s251_support),
        ("anonymised", when.anonymised),
        ("justified", when.justification_given),
    ):
        if value is not None:
            equal.append({fact: value})
    if when.age_under is not None or when.age_at_least is not None:
        equal.append({"age_known": True})
    if when.age_under is not None:
        equal.append({"$lt": {"age": when.age_under}})
    if when.age_at_least is not None:
        equal.append({"$gte": {"age": when.age_at_least}})
    any_of += [
        ("relationship", list(when.relationship or [])),
        ("consent", list(when.consent or [])),
        ("capacity", list(when.has_capacity or [])),
    ]
    ors: list[Condition] = []
    for fact, values in any_of:
        if len(values) == 1:
            equal.append({fact: str(values[0])})
        elif values:
            ors.append({"$or": [{fact: str(v)} for v in values]})
    parts = equal + ors
    return parts[0] if len(parts) == 1 else {"$and": parts}


def request_facts(request: Request, sectors: dict[str, str]) -> dict[str, Any]:
    """The flat facts a compiled rule tests. A refusal of consent counts as an objection."""
    subject = request.subject
    return {
        "role": request.requester.role.value,
        "req_org": request.requester.organisation,
        "req_sector": sectors[request.requester.organisation],
        "holder_org": request.holder.organisation,
        "holder_sector": sectors[request.holder.organisation],
        "relationship": subject.relationship.value,
        "objection": subject.objection or subject.consent.value == "refused",
        "consent": subject.consent.value,
        "opt_out": subject.national_data_opt_out,
        "capacity": subject.has_capacity.value,
        "risk": subject.risk_of_serious_harm,
        "age_known": subject.age is not None,
        "age": -1 if subject.age is None else subject.age,
        "s251": subject.s251_support,
        "anonymised": subject.anonymised,
        "justified": request.justified,
    }
