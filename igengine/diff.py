"""What a change to a pack decides differently, for whom: every kind of request whose answer
(effect, legal basis cited, or obligations) differs between two packs.

The request space is finite: roles x (requester, holder) organisations x purposes x record
types x the person's facts. It is covered exactly, without deciding all of it:

- A request's answer depends only on the rules that could apply to it (its record type and
  purpose, rules whose requester and holder conditions its role and organisations meet, in
  agreements both organisations are parties to), and on the person's facts those rules test.
  Where that list of rules is the same in both packs (same rules, same conditions, same order,
  agreements with the same parties and dates), the answers are the same; only requests that
  some changed rule could apply to are decided.
- Organisations with the same sector and the same agreements in both packs, which no rule
  names, give the same answers: one of each such class is asked.
- Person facts no applicable rule tests keep their default; the facts they do test take each
  value (ages: one on each side of every age limit tested).

Each remaining request is decided by an Engine for each pack, at one fixed time, unrecorded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from igengine.compile import Selectors
from igengine.decision import Decision
from igengine.engine import Engine
from igengine.policy.pack import PolicyPack, Rule
from igengine.vocabulary import Effect

# Progress: called with (done, total) as cells of the request space are decided.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Space:
    """The codes one pack's requests are made of, and the words for them."""

    roles: tuple[str, ...]
    purposes: tuple[str, ...]
    records: tuple[str, ...]
    # Organisation code → its sector, and → its name.
    sectors: dict[str, str]
    names: dict[str, str]
    # The codes of each choice about the person, by the fact's name; the yes-or-no facts; the
    # whole-number facts.
    choices: dict[str, tuple[str, ...]]
    flags: tuple[str, ...]
    numbers: tuple[str, ...]
    labels: dict[str, str]

    def codes(self) -> dict[str, set[str]]:
        """Each kind of code, for comparing two packs' vocabularies."""
        return {
            "roles": set(self.roles),
            "purposes": set(self.purposes),
            "record types": set(self.records),
            "organisations": set(self.sectors),
            **{f"{name} values": set(codes) for name, codes in self.choices.items()},
        }

    def label(self, code: str) -> str:
        return self.labels.get(code, code.replace("_", " "))


def request_space(pack: PolicyPack) -> Space:
    """The request space the pack defines: its vocabulary's codes and facts, and its own
    organisations."""
    vocabulary = pack.vocabulary
    facts = vocabulary.person.values()
    labels = {
        code: vocabulary.label(kind, code)
        for kind in ("roles", "purposes", "record_types", "sectors")
        for code in vocabulary.codes(kind)
    }
    labels.update((c.code, c.words) for f in facts for c in f.choices)
    return Space(
        roles=tuple(vocabulary.codes("roles")),
        purposes=tuple(vocabulary.codes("purposes")),
        records=tuple(vocabulary.codes("record_types")),
        sectors={code: org.sector for code, org in pack.organisations.items()},
        names={code: org.name for code, org in pack.organisations.items()},
        choices={f.name: tuple(f.codes) for f in facts if f.type == "choice"},
        flags=tuple(f.name for f in facts if f.type == "boolean"),
        numbers=tuple(f.name for f in facts if f.type == "number"),
        labels=labels,
    )


@dataclass(frozen=True)
class Answer:
    """What is compared: the effect, the legal basis cited, the obligations."""

    effect: str
    legal_basis: tuple[str, ...]
    obligations: tuple[str, ...]

    @classmethod
    def of(cls, decision: Decision) -> Answer:
        cited = tuple(f"{b.framework} {b.provision}" for b in decision.legal_basis)
        return cls(str(decision.effect), cited, tuple(decision.obligations))

    @classmethod
    def from_dict(cls, decision: dict[str, Any]) -> Answer:
        """The answer of a decision in its JSON shape (as the audit trail records it)."""
        cited = tuple(f"{b['framework']} {b['provision']}" for b in decision["legal_basis"])
        return cls(str(decision["effect"]), cited, tuple(decision["obligations"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "legal_basis": list(self.legal_basis),
            "obligations": list(self.obligations),
        }


@dataclass(frozen=True)
class Changed:
    """One kind of request whose answer changes."""

    request: dict[str, Any]
    # The person facts set (the others are at their defaults), for the words.
    facts: dict[str, Any]
    old: Answer
    new: Answer


@dataclass
class Group:
    """Changes of one kind to what one role may receive of one record type for one purpose;
    `pairs` holds, for each (requester, holder) class of organisations, the kinds of request
    that change."""

    role: str
    purpose: str
    record: str
    kind: str
    pairs: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Changed]] = field(
        default_factory=dict
    )

    @property
    def changes(self) -> list[Changed]:
        return [changed for found in self.pairs.values() for changed in found]


@dataclass
class Report:
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    groups: list[Group]
    cells: int = 0
    decided: int = 0
    on: date = field(default_factory=date.today)

    @property
    def changed(self) -> bool:
        return bool(self.groups or self.added or self.removed)


def diff_packs(
    old: PolicyPack, new: PolicyPack, on: date, progress: Progress | None = None
) -> Report:
    """Every kind of request the two packs answer differently on `on` (see the module)."""
    old_space, new_space = request_space(old), request_space(new)
    added, removed = _vocabulary_changes(old_space, new_space)
    common = _common_space(old_space, new_space)
    classes = _organisation_classes(old, new, common)
    sides = (_Side(old, old_space), _Side(new, new_space))
    cells = sorted(_candidate_cells(sides, common, classes))
    report = Report(added, removed, [], cells=len(cells), on=on)
    decider = _Decider(sides, common, datetime.combine(on, time(12), tzinfo=UTC))
    groups: dict[tuple[str, ...], Group] = {}
    for done, cell in enumerate(cells, 1):
        for changed in decider.changes(cell):
            _add(groups, cell, classes, changed)
        if progress is not None:
            progress(done, len(cells))
    report.groups = list(groups.values())
    report.decided = decider.decided
    return report


def _vocabulary_changes(
    old: Space, new: Space
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    before, after = old.codes(), new.codes()
    added = {kind: sorted(after[kind] - codes) for kind, codes in before.items()}
    removed = {kind: sorted(codes - after[kind]) for kind, codes in before.items()}
    return (
        {kind: codes for kind, codes in added.items() if codes},
        {kind: codes for kind, codes in removed.items() if codes},
    )


def _common_space(old: Space, new: Space) -> Space:
    """The requests both packs can be asked: the codes both define (the new pack's words)."""

    def both(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(code for code in second if code in first)

    shared = sorted(set(old.sectors) & set(new.sectors))
    return Space(
        roles=both(old.roles, new.roles),
        purposes=both(old.purposes, new.purposes),
        records=both(old.records, new.records),
        sectors={code: new.sectors[code] for code in shared},
        names={code: new.names[code] for code in shared},
        choices={
            name: both(old.choices[name], codes)
            for name, codes in new.choices.items()
            if name in old.choices
        },
        flags=tuple(name for name in new.flags if name in old.flags),
        numbers=tuple(name for name in new.numbers if name in old.numbers),
        labels={**old.labels, **new.labels},
    )


# ---- organisations that give the same answers --------------------------------------------


def _organisation_classes(
    old: PolicyPack, new: PolicyPack, space: Space
) -> dict[str, tuple[str, ...]]:
    """Each organisation → its class (sorted codes; the first stands for all). Two are in one
    class when, in both packs, they have the same sector and the same agreements, and no rule
    names either."""
    named = _named_organisations(old) | _named_organisations(new)
    old_parties, new_parties = _agreements_of(old), _agreements_of(new)
    by_key: dict[tuple[Any, ...], list[str]] = {}
    for code in sorted(space.sectors):
        key = (
            code if code in named else None,
            old.organisations[code].sector,
            new.organisations[code].sector,
            old_parties.get(code, frozenset()),
            new_parties.get(code, frozenset()),
        )
        by_key.setdefault(key, []).append(code)
    return {code: tuple(members) for members in by_key.values() for code in members}


def _named_organisations(pack: PolicyPack) -> set[str]:
    return {
        code
        for rule in pack.rules
        for code in (*rule.spec.requester.organisations, *rule.spec.holder.organisations)
    }


def _agreements_of(pack: PolicyPack) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for agreement in pack.agreements:
        for code in agreement.parties:
            found.setdefault(code, set()).add(agreement.id)
    return {code: frozenset(ids) for code, ids in found.items()}


# ---- the rules that could apply, and which of them changed --------------------------------


# (record, purpose, role, requester class representative, holder class representative)
Cell = tuple[str, str, str, str, str]


class _Side:
    """One pack, indexed for the diff: its rules by (record, purpose), each rule's selectors
    and a fingerprint of everything about it that can change an answer."""

    def __init__(self, pack: PolicyPack, space: Space) -> None:
        self.pack = pack
        self.space = space
        self.engine = Engine(pack)
        self.selectors = {rule.index: Selectors.of(rule) for rule in pack.rules}
        self.prints = {rule.index: _fingerprint(rule) for rule in pack.rules}
        self.shards: dict[tuple[str, str], list[Rule]] = {}
        for rule in pack.rules:
            for record in rule.spec.records or space.records:
                for purpose in rule.purposes:
                    self.shards.setdefault((record, purpose), []).append(rule)

    def applicable(self, cell: Cell) -> list[Rule]:
        """The rules that could apply to requests of this cell, in pack order."""
        record, purpose, role, requester, holder = cell
        sectors = self.space.sectors
        asking, holding = (requester, sectors[requester]), (holder, sectors[holder])
        return [
            rule
            for rule in self.shards.get((record, purpose), ())
            if requester in rule.parties
            and holder in rule.parties
            and self.selectors[rule.index].admit(role, asking, holding)
        ]

    def cells_of(self, rule: Rule, common: Space, classes: dict[str, tuple[str, ...]]) -> set[Cell]:
        """The cells a rule could apply to (by class representative)."""
        selectors = self.selectors[rule.index]
        sectors = self.space.sectors
        parties = sorted({classes[c][0] for c in rule.parties if c in classes})
        pairs = [(asking, holding) for asking in parties for holding in parties]
        roles = [r for r in common.roles if not selectors.roles or r in selectors.roles]
        records = [r for r in (rule.spec.records or common.records) if r in common.records]
        return {
            (record, purpose, role, asking, holding)
            for record in records
            for purpose in rule.purposes
            if purpose in common.purposes
            for role in roles
            for asking, holding in pairs
            if selectors.admit(role, (asking, sectors[asking]), (holding, sectors[holding]))
        }


def _fingerprint(rule: Rule) -> tuple[Any, ...]:
    agreement = rule.agreement
    restriction = rule.restriction
    return (
        rule.id,
        rule.spec.model_dump_json(),
        # A restriction's exceptions, and the restrictions a permit lifts, decide too.
        restriction.model_dump_json() if restriction is not None else None,
        tuple(sorted(rule.overrides)),
        tuple(sorted(rule.purposes)),
        tuple(sorted(rule.parties)),
        agreement.start_date,
        agreement.end_date,
    )


def _candidate_cells(
    sides: tuple[_Side, _Side], common: Space, classes: dict[str, tuple[str, ...]]
) -> set[Cell]:
    """The cells where the rules that could apply may differ: those some changed (or moved)
    rule of either pack could apply to, and every cell of an organisation whose sector
    changed."""
    old, new = sides
    changed = _changed_rules(old, new)
    cells: set[Cell] = set()
    for side, rules in zip(sides, changed, strict=True):
        for rule in rules:
            cells |= side.cells_of(rule, common, classes)
    moved = {
        code
        for code in common.sectors
        if old.space.sectors[code] != new.space.sectors[code] and classes[code][0] == code
    }
    if moved:
        representatives = sorted({members[0] for members in classes.values()})
        cells |= {
            (record, purpose, role, asking, holding)
            for record in common.records
            for purpose in common.purposes
            for role in common.roles
            for asking in representatives
            for holding in representatives
            if asking in moved or holding in moved
        }
    return cells


def _changed_rules(old: _Side, new: _Side) -> tuple[list[Rule], list[Rule]]:
    """The rules of each pack not found unchanged in the other, and those whose place among
    the unchanged rules moved (the first permit decides, so order can change an answer)."""
    old_prints = {old.prints[r.index]: r for r in old.pack.rules}
    new_prints = {new.prints[r.index]: r for r in new.pack.rules}
    gone = [r for p, r in old_prints.items() if p not in new_prints]
    came = [r for p, r in new_prints.items() if p not in old_prints]
    kept_old = [p for p in old_prints if p in new_prints]
    kept_new = [p for p in new_prints if p in old_prints]
    rank = {p: i for i, p in enumerate(kept_new)}
    moved = {p for i, p in enumerate(kept_old) if rank[p] != i}
    gone += [old_prints[p] for p in moved]
    came += [new_prints[p] for p in moved]
    return gone, came


# ---- deciding a cell ----------------------------------------------------------------------


# What a cell's answers depend on: its record type, purpose and sectors, and the rules that
# could apply to it in each pack (by fingerprint). Cells alike in these get the same answers
# for the same person facts, so each such kind is decided once.
_Likeness = tuple[Any, ...]
# The person facts whose answers differ, with the old and the new answer.
_Outcomes = list[tuple[dict[str, Any], "Answer", "Answer"]]


class _Decider:
    """Decides the cells of the diff, each kind of cell once (see _Likeness)."""

    def __init__(self, sides: tuple[_Side, _Side], common: Space, at: datetime) -> None:
        self.sides = sides
        self.common = common
        self.at = at
        self.decided = 0
        self._seen: dict[_Likeness, _Outcomes] = {}

    def changes(self, cell: Cell) -> list[Changed]:
        old, new = self.sides
        before, after = old.applicable(cell), new.applicable(cell)
        old_prints = tuple(old.prints[r.index] for r in before)
        new_prints = tuple(new.prints[r.index] for r in after)
        if old_prints == new_prints:
            return []
        record, purpose, _, requester, holder = cell
        sectors = self.common.sectors
        key = (record, purpose, sectors[requester], sectors[holder], old_prints, new_prints)
        outcomes = self._seen.get(key)
        if outcomes is None:
            outcomes = self._seen[key] = self._decide(cell, [*before, *after])
        return [Changed(self.request(cell, facts), facts, was, now) for facts, was, now in outcomes]

    def _decide(self, cell: Cell, rules: list[Rule]) -> _Outcomes:
        old, new = self.sides
        outcomes: _Outcomes = []
        for facts in person_cases(rules, self.common):
            request = self.request(cell, facts)
            was = Answer.of(old.engine.decide(request))
            now = Answer.of(new.engine.decide(request))
            self.decided += 1
            if was != now:
                outcomes.append((facts, was, now))
        return outcomes

    def request(self, cell: Cell, facts: dict[str, Any]) -> dict[str, Any]:
        record, purpose, role, requester, holder = cell
        request: dict[str, Any] = {
            "requester": {"role": role, "organisation": requester},
            "holder": {"organisation": holder},
            "purpose": purpose,
            "record_type": record,
            "subject": {k: v for k, v in facts.items() if k != "justification"},
            "at": self.at.isoformat(),
        }
        if facts.get("justification"):
            request["justification"] = facts["justification"]
        return request


JUSTIFICATION = "recorded by the diff"


def person_cases(rules: Iterable[Rule], space: Space) -> list[dict[str, Any]]:
    """Every combination of the person facts these rules test (others at their defaults)."""
    tested: set[str] = set()
    limits: dict[str, set[int]] = {}
    for rule in rules:
        tested.update(rule.conditions)
        for name in space.numbers:
            for bound in (f"{name}_under", f"{name}_at_least"):
                if bound in rule.conditions:
                    limits.setdefault(name, set()).add(rule.conditions[bound])
    options: dict[str, tuple[Any, ...]] = {}
    for name, codes in space.choices.items():
        if name in tested:
            options[name] = codes
    for flag in space.flags:
        if flag in tested:
            options[flag] = (False, True)
    if "justification_given" in tested:
        options["justification"] = (None, JUSTIFICATION)
    for name, bounds in limits.items():
        options[name] = (None, *sorted(bounds | {0}))
    names = list(options)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*options.values())
    ]


# ---- grouping and words -------------------------------------------------------------------


def _kind(old: Answer, new: Answer) -> str:
    if old.effect != new.effect:
        return "now permitted" if new.effect == Effect.PERMIT else "no longer permitted"
    parts = []
    if old.legal_basis != new.legal_basis:
        parts.append("legal basis")
    if old.obligations != new.obligations:
        parts.append("obligations")
    return " and ".join(parts) + " changed"


def _add(
    groups: dict[tuple[str, ...], Group],
    cell: Cell,
    classes: dict[str, tuple[str, ...]],
    changed: Changed,
) -> None:
    record, purpose, role, requester, holder = cell
    kind = _kind(changed.old, changed.new)
    key = (role, purpose, record, kind)
    group = groups.get(key)
    if group is None:
        group = groups[key] = Group(role, purpose, record, kind)
    group.pairs.setdefault((classes[requester], classes[holder]), []).append(changed)


def _article(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def _organisations(codes: Iterable[str], space: Space) -> str:
    chosen = set(codes)
    if chosen == set(space.sectors) and len(chosen) > 1:
        return "any organisation"
    names = sorted(space.names.get(code, code) for code in chosen)
    if len(names) > 4:
        return f"{', '.join(names[:3])} and {len(names) - 3} others"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _between(group: Group, space: Space) -> str:
    """Who asks whom: 'at A or B ... from C' when every pair changes alike, else each
    requester with its holders."""
    by_requester: dict[tuple[str, ...], set[str]] = {}
    for requesters, holders in group.pairs:
        by_requester.setdefault(requesters, set()).update(holders)
    asking = {code for requesters in by_requester for code in requesters}
    held = {frozenset(holders) for holders in by_requester.values()}
    if len(held) == 1:
        (alike,) = held
        return f"at {_organisations(asking, space)} {{what}} from {_organisations(alike, space)}"
    return "; ".join(
        f"at {_organisations(requesters, space)} {{what}} from {_organisations(holders, space)}"
        for requesters, holders in sorted(by_requester.items())
    )


def facts_in_words(facts: dict[str, Any], space: Space) -> str:
    """The person facts of one kind of request, as an IG officer would say them."""
    words = []
    for name, value in facts.items():
        said = name.replace("_", " ")
        if name in space.choices:
            words.append(f"{said}: {space.label(value)}")
        elif name in space.numbers:
            words.append(f"{said} not known" if value is None else f"{said} {value}")
        elif name == "justification":
            words.append("a justification recorded" if value else "no justification")
        else:
            words.append(f"{said}: {'yes' if value else 'no'}")
    return ", ".join(words) or "whatever the person's circumstances"


def describe(group: Group, space: Space) -> str:
    """The group in IG words, e.g. 'A district nurse at ... can no longer receive ...'."""
    first = group.changes[0]
    if group.kind == "now permitted":
        verb = "can now receive"
    elif group.kind == "no longer permitted":
        verb = "can no longer receive"
    else:
        verb = "receiving"
    who = _article(space.label(group.role))
    where = _between(group, space).replace("{what}", f"{verb} {space.label(group.record)}")
    head = f"{who} {where} for {space.label(group.purpose)}"
    if group.kind not in {"now permitted", "no longer permitted"}:
        head += f": the {group.kind.removesuffix(' changed')} cited changes "
        head += f"({_answer_words(first.old)} → {_answer_words(first.new)})"
    count = len(group.changes)
    kinds = f"{count} kind{'s' if count != 1 else ''} of request"
    example = facts_in_words(first.facts, space)
    return f"{head[0].upper()}{head[1:]}: {kinds}, e.g. {example}"


def _answer_words(answer: Answer) -> str:
    basis = "; ".join(answer.legal_basis) or "no legal basis"
    duties = ", ".join(answer.obligations) or "no obligations"
    return f"{basis}; {duties}"


def to_json(report: Report, space: Space) -> dict[str, Any]:
    return {
        "changed": report.changed,
        "on": report.on.isoformat(),
        "added": report.added,
        "removed": report.removed,
        "cells_decided": report.cells,
        "requests_decided": report.decided,
        "kinds_of_request_changed": sum(len(g.changes) for g in report.groups),
        "groups": [
            {
                "summary": describe(group, space),
                "change": group.kind,
                "role": group.role,
                "requester_organisations": sorted({c for r, _ in group.pairs for c in r}),
                "holder_organisations": sorted({c for _, h in group.pairs for c in h}),
                "purpose": group.purpose,
                "record_type": group.record,
                "requests": [
                    {"request": c.request, "old": c.old.to_dict(), "new": c.new.to_dict()}
                    for c in group.changes
                ],
            }
            for group in report.groups
        ],
    }


def common_space(old: PolicyPack, new: PolicyPack) -> Space:
    """The request space both packs define, with the new pack's words (for describing)."""
    return _common_space(request_space(old), request_space(new))
