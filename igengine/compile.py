"""Compile: a validated pack into durable-rules rulesets, and a request into the facts they test.

Rules are sharded by (record type, purpose): a request only ever meets the rules that could
apply to its record and purpose, and inside a shard those two conditions are implied.

durable-rules walks its network of conditions with a fixed stack of 64 nodes, and fails
(error 303) when one fact satisfies more branches at once than that stack holds; a node holds
at most 128 `$or` branches and a ruleset 4,096 rules. Whatever the pack, no fact can overflow:

- Agreement membership is not a matcher condition. A pair of organisations may share a hundred
  agreements, and one fact per agreement made each shared agreement's rules a branch of its
  own that the fact satisfied. The engine checks membership on the (few) matched rules.
- Every rule tests its facts in one fixed order, single values before `$or`s, so rules share
  each prefix of conditions: under any node a fact takes at most one branch per fact name.
- Rules with the same conditions (the same rule repeated across agreements, typically) are one
  entry in the matcher: an `$or` hangs a branch of its own per entry under each value.
- Each ruleset's worst case is computed from its shape (`fits`), and a shard that would not
  fit is split into parts that do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from igengine.policy.pack import RESTRICTIONS_INDEX, PolicyPack, Rule
from igengine.request import Request
from igengine.vocabulary import Effect, Vocabulary

Condition = dict[str, Any]

# The facts every rule tests first, in this order: who asks (the role alone separates most
# rules), then who holds. The person's facts follow (see fact_order).
PARTY_FACTS = ("role", "req_sector", "holder_sector", "req_org", "holder_org")


def fact_order(vocabulary: Vocabulary) -> tuple[str, ...]:
    """The order every rule tests its facts in: who asks and who holds, then the person's
    choices, yes-or-no facts and whether a justification is given, then whether each number
    is known. Each fact has the name the vocabulary gives it (a number's `<name>_known`)."""
    facts = vocabulary.person.values()
    return (
        *PARTY_FACTS,
        *(f.name for f in facts if f.type == "choice"),
        *(f.name for f in facts if f.type == "boolean"),
        "justified",
        *(known(f.name) for f in facts if f.type == "number"),
    )


def known(name: str) -> str:
    """The matcher fact saying whether the number `name` was given (as Vocabulary.numbers)."""
    return f"{name}_known"


# Every fact carries this, so a rule with no conditions of its own still has one to match.
ALWAYS = "always"
# durable-rules' limits (events.c MAX_STACK_SIZE 64; rules.h NEXT_LIST_LENGTH 128; rete.c
# MAX_ACTIONS 4,096; NEXT_BUCKET_LENGTH 512 children per node), each kept with a margin in case
# its walk holds a node this model does not count.
STACK_LIMIT = 48
MAX_OR_BRANCHES = 100
MAX_ENTRIES = 4_000
MAX_CHILDREN = 400


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
    """Rulesets for durable-rules: for each shard, one or more parts (each a ruleset; see
    `fits`), mapping each entry's name to its definition as JSON text. An entry is named
    `g<k>` for group k of `groups` (the rules, by index, that share its conditions). Beside
    them, for each shard the request conditions its permit rules test (all that could turn a
    deny into a permit) and its permit rules by agreement (see engine: which permits a change
    could reach)."""

    rulesets: dict[str, tuple[dict[str, str], ...]]
    groups: tuple[tuple[int, ...], ...]
    permit_conditions: dict[str, frozenset[str]]
    permits: dict[str, dict[int, tuple[tuple[int, Selectors], ...]]]

    @staticmethod
    def shard(record: str, purpose: str) -> str:
        # StrEnums format as their values (and `.value` is a slow descriptor).
        return f"{record}.{purpose}"


def compile_pack(pack: PolicyPack) -> CompiledPack:
    # For each shard, the rules under each distinct condition (by its JSON text).
    shards: dict[str, dict[str, list[int]]] = {}
    conditions: dict[str, Condition] = {}
    permit_conditions: dict[str, set[str]] = {}
    permits: dict[str, dict[int, list[tuple[int, Selectors]]]] = {}
    order = fact_order(pack.vocabulary)
    records = pack.vocabulary.codes("record_types")
    for rule in pack.rules:
        condition = rule_condition(rule, pack.vocabulary, order)
        text = json.dumps(condition, separators=(",", ":"))
        conditions.setdefault(text, condition)
        selectors = Selectors.of(rule) if rule.effect is Effect.PERMIT else None
        for record in rule.spec.records or records:
            for purpose in rule.purposes:
                name = CompiledPack.shard(record, purpose)
                shards.setdefault(name, {}).setdefault(text, []).append(rule.index)
                if selectors is not None:
                    permit_conditions.setdefault(name, set()).update(rule.conditions)
                    by_agreement = permits.setdefault(name, {})
                    by_agreement.setdefault(rule.agreement_index, []).append(
                        (rule.index, selectors)
                    )
    groups: dict[tuple[int, ...], int] = {}
    rulesets: dict[str, tuple[dict[str, str], ...]] = {}
    for name, by_condition in shards.items():
        named = [
            (f"g{groups.setdefault(tuple(rules), len(groups))}", text)
            for text, rules in by_condition.items()
        ]
        rulesets[name] = tuple(
            {entry: '{"all":[{"m":' + text + "}]}" for entry, text in part}
            for part in fitting_parts(named, conditions)
        )
    return CompiledPack(
        rulesets,
        tuple(groups),
        {name: frozenset(fields) for name, fields in permit_conditions.items()},
        {
            name: {agreement: tuple(rules) for agreement, rules in by_agreement.items()}
            for name, by_agreement in permits.items()
        },
    )


def group_index(name: str) -> int:
    """The group a matched entry's name (`g<k>`) stands for."""
    return int(name[1:])


def rule_condition(
    rule: Rule, vocabulary: Vocabulary, order: tuple[str, ...] | None = None
) -> Condition:
    """The rule's conditions on the request facts, in `fact_order`: single values, then
    number bounds, then `$or`s. Record, purpose and agreement are not among them (see the
    module's docstring)."""
    spec = rule.spec
    tested: dict[str, list[Any]] = {
        fact: sorted(set(values))
        for fact, values in (
            ("role", spec.requester.roles),
            ("req_sector", spec.requester.sectors),
            ("req_org", spec.requester.organisations),
            ("holder_sector", spec.holder.sectors),
            ("holder_org", spec.holder.organisations),
        )
        if values
    }
    bounds: list[Condition] = []
    for name, value in rule.conditions.items():
        if name == "justification_given":
            tested["justified"] = [value]
            continue
        fact, how = vocabulary.conditions[name]
        if how == "is":
            tested[name] = sorted(set(value)) if isinstance(value, list) else [value]
        else:
            tested[known(fact.name)] = [True]
            bounds.append({"$lt" if how == "under" else "$gte": {fact.name: value}})
    order = order or fact_order(vocabulary)
    parts: list[Condition] = [
        {fact: tested[fact][0]} for fact in order if len(tested.get(fact, ())) == 1
    ]
    # Bounds in a fixed order (below before at-least), as before the vocabulary was data.
    parts += sorted(bounds, key=lambda bound: next(iter(bound)) != "$lt")
    parts += [
        {"$or": [{fact: value} for value in tested[fact]]}
        for fact in order
        if len(tested.get(fact, ())) > 1
    ]
    if not parts:
        return {ALWAYS: True}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def fitting_parts(
    named: list[tuple[str, str]], conditions: dict[str, Condition]
) -> list[list[tuple[str, str]]]:
    """`named` (a shard's entries: name and condition text) as one ruleset, or split into
    parts that each `fits`. `conditions` holds each condition by its text."""
    if len(named) == 1 or fits([conditions[text] for _, text in named]):
        return [named]
    # Entries that share prefixes (and so text) go to the same part, so each part's network
    # stays narrow.
    ordered = sorted(named, key=lambda item: item[1])
    half = len(ordered) // 2
    return fitting_parts(ordered[:half], conditions) + fitting_parts(ordered[half:], conditions)


# A node of the network durable-rules builds (see `fits`): its children by (fact, operator,
# value), and under _LINKED the nodes of `$or`s linked to it.
_Tree = dict[Any, Any]
_LINKED = ("", "", None)


def fits(conditions: Sequence[Condition]) -> bool:
    """Whether one ruleset of these conditions stays within durable-rules' limits for any fact.

    durable-rules shares a condition between rules whose earlier conditions are the same; an
    `$or` links each of its values to a new node of its own, where the rule's later conditions
    hang. Walking a node pushes every child the fact satisfies (at most one equality per fact
    name, but possibly every age bound) and every `$or` node linked to it, then walks them one
    by one; the stack must hold them all.
    """
    if len(conditions) > MAX_ENTRIES:
        return False
    parts = [condition.get("$and", [condition]) for condition in conditions]
    # Each node on the stack lies on some rule's path, which holds at most one node per
    # condition (two per `$or`): when even all of them fit, there is no network to model.
    if sum(len(p) + sum("$or" in c for c in p) for p in parts) <= STACK_LIMIT:
        return True
    root: _Tree = {}
    for conditions_of_rule in parts:
        leaves = [root]
        for part in conditions_of_rule:
            leaves = _extend(leaves, part)
    return _within_limits(root, {})


def _extend(parents: list[_Tree], part: Condition) -> list[_Tree]:
    ((name, value),) = part.items()
    if name == "$or":
        joined: _Tree = {}
        for parent in parents:
            for alternative in value:
                _extend([parent], alternative)[0].setdefault(_LINKED, []).append(joined)
        return [joined]
    if name.startswith("$"):
        ((fact, bound),) = value.items()
        key: tuple[str, str, Any] = (fact, name, bound)
    else:
        key = (name, "=", value)
    return [parent.setdefault(key, {}) for parent in parents]


def _within_limits(root: _Tree, deepest: dict[int, int]) -> bool:
    try:
        return _deepest(root, deepest) <= STACK_LIMIT
    except _TooWide:
        return False


class _TooWide(Exception):
    """A node has more children, or more linked `$or` nodes, than durable-rules allows."""


def _deepest(node: _Tree, memo: dict[int, int]) -> int:
    """The most stack entries walking `node` can add. `$or` nodes are linked from each of
    their values, so their answers are kept in `memo`."""
    if not node:
        return 0
    facts: set[str] = set()
    pushed = below = 0
    for key, child in node.items():
        if key is _LINKED:
            if len(child) > MAX_OR_BRANCHES:
                raise _TooWide
            pushed += len(child)
            for linked in child:
                found = memo.get(id(linked))
                if found is None:
                    found = memo[id(linked)] = _deepest(linked, memo)
                below = max(below, found)
            continue
        if key[1] == "=":
            facts.add(key[0])
        else:
            pushed += 1
        if child:
            below = max(below, _deepest(child, memo))
    if len(node) > MAX_CHILDREN:
        raise _TooWide
    pushed += len(facts)
    return max(pushed, pushed - 1 + below)


def party_index(pack: PolicyPack) -> dict[str, frozenset[int]]:
    """For each organisation, the agreements it is a party to (by index)."""
    index: dict[str, set[int]] = {code: set() for code in pack.organisations}
    for i, agreement in enumerate(pack.agreements):
        for code in agreement.parties:
            index.setdefault(code, set()).add(i)
    return {code: frozenset(agreements) for code, agreements in index.items()}


def changed_facts(
    facts: dict[str, Any], change: dict[str, Any], vocabulary: Vocabulary
) -> dict[str, Any]:
    """The facts of the request with `change` applied ({"subject.consent": "explicit"} ...);
    a change is to a fact of the same name."""
    changed = dict(facts)
    for field, value in change.items():
        if field == "justification":
            changed["justified"] = bool(value and str(value).strip())
        else:
            changed[field.removeprefix("subject.")] = value
    _imply(changed, vocabulary)
    return changed


def request_facts(
    request: Request, sectors: dict[str, str], vocabulary: Vocabulary
) -> dict[str, Any]:
    """The flat facts a compiled rule tests: the organisation pair's and the person's."""
    return {
        **pair_facts(request.requester.organisation, request.holder.organisation, sectors),
        **person_facts(request, vocabulary),
    }


def pair_facts(requester_org: str, holder_org: str, sectors: dict[str, str]) -> dict[str, Any]:
    """The facts fixed by who asks and who holds: organisations and sectors."""
    return {
        ALWAYS: True,
        "req_org": requester_org,
        "req_sector": sectors[requester_org],
        "holder_org": holder_org,
        "holder_sector": sectors[holder_org],
    }


def person_facts(request: Request, vocabulary: Vocabulary) -> dict[str, Any]:
    """The facts about the requester's role and the person, each fact by its vocabulary name
    (the pack's default where the request gives none). A number the request does not give is
    -1 with `<name>_known` false, so no bound matches it. A fact `implied_by` another is true
    when that one has the value given (a refusal of consent counts as an objection)."""
    # Defaults first, then what the request gives (check_request lets only declared facts in).
    facts: dict[str, Any] = {
        "role": request.requester.role,
        **vocabulary.defaults,
        **request.subject.facts(),
    }
    for name, known_name in vocabulary.numbers:
        value = facts[name]
        facts[known_name] = value is not None
        if value is None:
            facts[name] = -1
    facts["justified"] = request.justified
    _imply(facts, vocabulary)
    return facts


def _imply(facts: dict[str, Any], vocabulary: Vocabulary) -> None:
    for name, implied_by in vocabulary.implied:
        if not facts[name]:
            facts[name] = any(facts.get(other) == value for other, value in implied_by)


_EVERY_PAIR = frozenset({RESTRICTIONS_INDEX})
# Bounds the per-pair cache; a pack with more organisation pairs in use simply starts again.
_MAX_PAIRS = 65_536


@dataclass(frozen=True, slots=True)
class Pair:
    """What a pack makes of one (requester, holder) pair of organisations: its facts, the
    same as JSON object members ending with a comma, and the agreements both are parties to
    (with RESTRICTIONS_INDEX, which every pair shares: restrictions bind everyone)."""

    facts: dict[str, Any]
    text: str
    shared: frozenset[int]


class FactText:
    """Request facts as the JSON text the matcher reads, for one pack (see DurableMatcher).

    The organisation pair's facts never change for a pack, so they are encoded once per pair;
    only the person's facts are written per request. Thread-safe: a lost race only encodes a
    pair twice.
    """

    def __init__(self, sectors: dict[str, str], parties: dict[str, frozenset[int]]) -> None:
        self._sectors = sectors
        self._parties = parties
        self._pairs: dict[tuple[str, str], Pair] = {}
        self._people: dict[tuple[Any, ...], str] = {}

    def pair(self, requester_org: str, holder_org: str) -> Pair:
        key = (requester_org, holder_org)
        found = self._pairs.get(key)
        if found is None:
            if len(self._pairs) >= _MAX_PAIRS:
                self._pairs.clear()
            facts = pair_facts(requester_org, holder_org, self._sectors)
            found = self._pairs[key] = Pair(
                facts,
                json.dumps(facts, separators=(",", ":"))[1:-1] + ",",
                self._parties[requester_org] & self._parties[holder_org] | _EVERY_PAIR,
            )
        return found

    def members(self, pair: Pair, person: dict[str, Any]) -> str:
        """The facts as the text of a JSON object after its opening brace: the pair's facts,
        then the person's."""
        # The person's facts take a handful of values each, so their text is kept by those
        # values (in person_facts' fixed key order; each place always holds one type, so
        # True and 1 never meet): encoding them was a tenth of a decision (bench/decide.py).
        key = tuple(person.values())
        text = self._people.get(key)
        if text is None:
            if len(self._people) >= _MAX_PEOPLE:
                self._people.clear()
            text = self._people[key] = _ENCODE(person)[1:]
        return pair.text + text


_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
# Bounds the cache of the person's facts as text; past it the cache simply starts again.
_MAX_PEOPLE = 65_536
