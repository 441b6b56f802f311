"""A deliberately plain matcher over validated rules, used only to check the compiled path.

It reads the rule specs and the request directly, with no shared code from igengine.compile,
so a mistake in compilation or in durable-rules shows up as a disagreement. Restrictions are
read from the pack's restriction specs, not from the rules the loader builds for them: they
bind every pair of organisations, and a permit beats one only by lifting it through one of
its exceptions (`lifts:`), never through `overrides:`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from igengine.policy.model import Conditions, RestrictionSpec
from igengine.policy.pack import PolicyPack, Rule
from igengine.request import Request


def matching_rules(pack: PolicyPack, request: Request) -> list[str]:
    return [rule.id for rule in pack.rules if matches(pack, rule, request)]


def restriction_matches(pack: PolicyPack, restriction: RestrictionSpec, request: Request) -> bool:
    """A restriction applies whoever asks and whoever holds: only the record, the purpose
    and the facts about the person count."""
    return (
        request.record_type in restriction.records
        and (not restriction.purposes or request.purpose in restriction.purposes)
        and conditions_hold(pack, restriction.when, request)
    )


def matches(pack: PolicyPack, rule: Rule, request: Request) -> bool:
    if rule.id.startswith("restriction:"):
        found = [r for r in pack.restrictions if "restriction:" + r.id == rule.id]
        return len(found) == 1 and restriction_matches(pack, found[0], request)
    spec = rule.spec
    requester_org = request.requester.organisation
    holder_org = request.holder.organisation
    requester_sector = pack.organisations[requester_org].sector
    holder_sector = pack.organisations[holder_org].sector
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
        conditions_hold(pack, spec.when, request),
    ]
    return all(checks)


def person(pack: PolicyPack, request: Request) -> dict[str, Any]:
    """The person's facts: given, else the pack's default; a choice given as true or false is
    the code "true" or "false". A refusal of consent counts as an objection (written out here,
    not read from the vocabulary's `implied_by`, so the two are checked against each other)."""
    given = request.subject.facts()
    facts: dict[str, Any] = {}
    for name, fact in pack.vocabulary.person.items():
        value = given.get(name, fact.default)
        if fact.type == "choice" and isinstance(value, bool):
            value = "true" if value else "false"
        facts[name] = value
    if facts.get("consent") == "refused":
        facts["objection"] = True
    return facts


def conditions_hold(pack: PolicyPack, when: Conditions, request: Request) -> bool:
    facts = person(pack, request)
    for name, wanted in when.tested().items():
        if name == "justification_given":
            held = wanted == request.justified
        elif name.endswith("_under") and name not in facts:
            value = facts[name.removesuffix("_under")]
            held = value is not None and value < wanted
        elif name.endswith("_at_least") and name not in facts:
            value = facts[name.removesuffix("_at_least")]
            held = value is not None and value >= wanted
        elif isinstance(wanted, list):
            held = facts[name] in wanted
        else:
            held = facts[name] == wanted
        if not held:
            return False
    return True


def combined(
    pack: PolicyPack, request: Request, on: date, candidates: Sequence[Rule] | None = None
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """The effect, the (rule id, role) list and the agreements not in force, read straight from
    the contract's combining rules: only agreements in force apply; a deny beats a permit
    unless the permit names it in `overrides`; nothing in force matching means deny.
    `candidates` (in pack order) may narrow the rules looked at, for speed."""
    rules = pack.rules if candidates is None else candidates
    matched = [rule for rule in rules if matches(pack, rule, request)]
    # A restriction is always in force: it binds by law, not by an agreement's dates.
    live = [
        r
        for r in matched
        if r.id.startswith("restriction:") or r.agreement.start_date <= on <= r.agreement.end_date
    ]
    live_ids = {r.agreement.id for r in live}
    not_in_force: list[str] = []
    for rule in matched:
        if rule.agreement.id not in live_ids and rule.agreement.id not in not_in_force:
            not_in_force.append(rule.agreement.id)
    permits = [r for r in live if r.effect == "permit"]
    denies = [r for r in live if r.effect == "deny"]
    for permit in permits:
        if all(beats(permit, deny) for deny in denies):
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


def beats(permit: Rule, deny: Rule) -> bool:
    """A permit beats a restriction only by naming one of its exceptions in `lifts:` (the
    loader has already refused any that would reach beyond the exception's terms); it beats
    an agreement's deny by naming it in `overrides:`."""
    spec = permit.spec
    if deny.id.startswith("restriction:"):
        name = deny.id.removeprefix("restriction:")
        return any(ref.partition("/")[0] == name for ref in spec.lifts)
    named = {t if "/" in t else f"{permit.agreement.id}/{t}" for t in spec.overrides}
    return deny.id in named
