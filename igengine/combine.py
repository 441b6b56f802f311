"""Combine: matched rules into one effect (contract.md, "Combining").

Only agreements in force on the request's date apply. A matching deny beats a matching permit
unless that permit names the deny in `overrides` (its own conditions already hold, since it
matched). Nothing in force matching means deny: no agreement covers the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from igengine.policy.model import AgreementSpec
from igengine.policy.pack import Rule
from igengine.vocabulary import Effect, RuleRole


@dataclass(frozen=True)
class Outcome:
    effect: Effect
    decisive: Rule | None
    roles: tuple[tuple[Rule, RuleRole], ...]
    not_in_force: tuple[AgreementSpec, ...]

    def with_role(self, role: RuleRole) -> list[Rule]:
        return [rule for rule, r in self.roles if r is role]


def combine(matched: Sequence[Rule], on: date) -> Outcome:
    in_force = [rule for rule in matched if rule.in_force(on)]
    live_agreements = {rule.agreement.id for rule in in_force}
    not_in_force = tuple(
        {
            rule.agreement.id: rule.agreement
            for rule in matched
            if not rule.in_force(on) and rule.agreement.id not in live_agreements
        }.values()
    )
    permits = [rule for rule in in_force if rule.effect is Effect.PERMIT]
    denies = [rule for rule in in_force if rule.effect is Effect.DENY]
    winner = next((p for p in permits if all(d.id in p.overrides for d in denies)), None)
    if winner is not None:
        roles = [(winner, RuleRole.DECISIVE)]
        roles += [(p, RuleRole.INFORMATIVE) for p in permits if p is not winner]
        roles += [(d, RuleRole.OVERRIDDEN) for d in denies]
        return Outcome(Effect.PERMIT, winner, tuple(roles), not_in_force)
    if denies:
        roles = [(denies[0], RuleRole.DECISIVE)]
        roles += [(d, RuleRole.INFORMATIVE) for d in denies[1:]]
        roles += [(p, RuleRole.OVERRIDDEN) for p in permits]
        return Outcome(Effect.DENY, denies[0], tuple(roles), not_in_force)
    return Outcome(Effect.DENY, None, (), not_in_force)
