"""A deliberately plain matcher over validated rules, used only to check the compiled path.

It reads the rule specs and the request directly, with no shared code from igengine.compile,
so a mistake in compilation or in durable-rules shows up as a disagreement.
"""

from __future__ import annotations

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
