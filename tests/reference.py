"""A deliberately plain matcher over validated rules, used only to check the compiled path.

It reads the rule specs and the request directly, with no shared code from igengine.compile,
so a mistake in compilation or in durable-rules shows up as a disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from igengine.policy.pack import PolicyPack, Rule
from igengine.request import Request


def matching_rules(pack: PolicyPack, request: Request) -> list[str]:
    return [rule.id for rule in pack.rules if matches(pack, rule, request)]


def matches(pack: PolicyPack, rule: Rule, request: Request) -> bool:
    spec = rule.spec
    requester_org = request.requester.organisation
    holder_org = request.holder.organisation
    requester_sector = pack.organisations[requester_org].sector
    holder_sector = pack.organisations[holder_org].sector
    subject = request.subject
    when = spec.when
    checks = [
        requester_org in rule.agreement.parties,
        holder_org in rule.agreement.parties,
        not spec.records or request.record_type in spec.records,
        request.purpose in (spec.purposes or rule.agreement.purposes),
        not spec.requester.roles or request.requester.role in spec.requester.roles,
        not spec.requester.sectors or requester_sector in spec.requester.sectors,
        not spec.requester.organisations or requester_org in spec.requester.organisations,
        not spec.holder.sectors or holder_sector in spec.holder.sectors,
        not spec.holder.organisations or holder_org in spec.holder.organisations,
        when.relationship is None or subject.relationship in when.relationship,
        when.objection is None
        or when.objection == (subject.objection or subject.consent == "refused"),
        when.consent is None or subject.consent in when.consent,
        when.national_data_opt_out is None
        or when.national_data_opt_out == subject.national_data_opt_out,
        when.has_capacity is None or subject.has_capacity in when.has_capacity,
        when.risk_of_serious_harm is None
        or when.risk_of_serious_harm == subject.risk_of_serious_harm,
        when.age_under is None or (subject.age is not None and subject.age < when.age_under),
        when.age_at_least is None or (subject.age is not None and subject.age >= when.age_at_least),
        when.s251_support is None or when.s251_support == subject.s251_support,
        when.anonymised is None or when.anonymised == subject.anonymised,
        when.justification_given is None or when.justification_given == request.justified,
    ]
    return all(checks)


def combined(
    pack: PolicyPack, request: Request, on: date, candidates: Sequence[Rule] | None = None
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """The effect, the (rule id, role) list and the agreements not in force, read straight from
    the contract's combining rules: only agreements in force apply; a deny beats a permit
    unless the permit names it in `overrides`; nothing in force matching means deny.
    `candidates` (in pack order) may narrow the rules looked at, for speed."""
    rules = pack.rules if candidates is None else candidates
    matched = [rule for rule in rules if matches(pack, rule, request)]
    live = [r for r in matched if r.agreement.start_date <= on <= r.agreement.end_date]
    live_ids = {r.agreement.id for r in live}
    not_in_force: list[str] = []
    for rule in matched:
        if rule.agreement.id not in live_ids and rule.agreement.id not in not_in_force:
            not_in_force.append(rule.agreement.id)
    permits = [r for r in live if r.effect == "permit"]
    denies = [r for r in live if r.effect == "deny"]
    for permit in permits:
        if all(deny.id in permit.overrides for deny in denies):
            roles = [(permit.id, "decisive")]
            roles += [(p.id, "informative") for p in permits if p is not permit]
            roles += [(d.id, "overridden") for d in denies]
            return "permit", roles, not_in_force
    if denies:
        roles = [(denies[0].id, "decisive")]
        roles += [(d.id, "informative") for d in denies[1:]]
        roles += [(p.id, "overridden") for p in permits]
        return "deny", roles, not_in_force
    return "deny", [], not_in_force
