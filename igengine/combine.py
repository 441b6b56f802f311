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


_NOTHING = Outcome(Effect.DENY, None, (), ())


def combine(matched: Sequence[Rule], on: date) -> Outcome:
    if not matched:
        return _NOTHING
    permits, denies = _in_force(matched, on)
    live_agreements = {rule.agreement.id for rule in (*permits, *denies)}
    not_in_force = tuple(
        {
            rule.agreement.id: rule.agreement
            for rule in matched
            if not rule.in_force(on) and rule.agreement.id not in live_agreements
        }.values()
    )
    winner = _winner(permits, denies)
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


def effect(matched: Sequence[Rule], on: date) -> Effect:
    """The effect `combine` gives, without building the explanation (for would_permit_if's
    search, which asks this many times per deny)."""
    if not matched:
        return Effect.DENY
    return Effect.PERMIT if _winner(*_in_force(matched, on)) else Effect.DENY


def _in_force(matched: Sequence[Rule], on: date) -> tuple[list[Rule], list[Rule]]:
    """The permits and the denies among `matched` whose agreement is in force on `on`."""
    permits: list[Rule] = []
    denies: list[Rule] = []
    for rule in matched:
        if rule.in_force(on):
            (permits if rule.effect is Effect.PERMIT else denies).append(rule)
    return permits, denies


def _winner(permits: list[Rule], denies: list[Rule]) -> Rule | None:
    """The first permit that overrides every matching deny (any permit, if none matched)."""
    return next((p for p in permits if all(d.id in p.overrides for d in denies)), None)
