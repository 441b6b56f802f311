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
from igengine.vocabulary import Effect, Purpose, RecordType

Condition = dict[str, Any]

# The facts rules test, in the order every rule tests them: who asks first (the role alone
# separates most rules), then who holds, then the person.
FACT_ORDER = (
    "role",
    "req_sector",
    "holder_sector",
    "req_org",
    "holder_org",
    "relationship",
    "consent",
    "capacity",
    "objection",
    "opt_out",
    "risk",
    "s251",
    "anonymised",
    "justified",
    "age_known",
)
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
    def shard(record: RecordType, purpose: Purpose) -> str:
        # StrEnums format as their values (and `.value` is a slow descriptor).
        return f"{record}.{purpose}"


def compile_pack(pack: PolicyPack) -> CompiledPack:
    # For each shard, the rules under each distinct condition (by its JSON text).
    shards: dict[str, dict[str, list[int]]] = {}
    conditions: dict[str, Condition] = {}
    permit_conditions: dict[str, set[str]] = {}
    permits: dict[str, dict[int, list[tuple[int, Selectors]]]] = {}
    for rule in pack.rules:
        condition = rule_condition(rule)
        text = json.dumps(condition, separators=(",", ":"))
        conditions.setdefault(text, condition)
        selectors = Selectors.of(rule) if rule.effect is Effect.PERMIT else None
        for record in rule.spec.records or list(RecordType):
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


def rule_condition(rule: Rule) -> Condition:
    """The rule's conditions on the request facts, in FACT_ORDER: single values, then age
    bounds, then `$or`s. Record, purpose and agreement are not among them (see the module's
    docstring)."""
    spec, when = rule.spec, rule.spec.when
    tested: dict[str, list[Any]] = {
        fact: sorted(set(values))
        for fact, values in (
            ("role", spec.requester.roles),
            ("req_sector", spec.requester.sectors),
            ("req_org", spec.requester.organisations),
            ("holder_sector", spec.holder.sectors),
            ("holder_org", spec.holder.organisations),
            ("relationship", when.relationship or ()),
            ("consent", when.consent or ()),
            ("capacity", when.has_capacity or ()),
        )
        if values
    }
    tested.update(
        (fact, [value])
        for fact, value in (
            ("objection", when.objection),
            ("opt_out", when.national_data_opt_out),
            ("risk", when.risk_of_serious_harm),
            ("s251", when.s251_support),
            ("anonymised", when.anonymised),
            ("justified", when.justification_given),
            (
                "age_known",
                True if when.age_under is not None or when.age_at_least is not None else None,
            ),
        )
        if value is not None
    )
    parts: list[Condition] = [
        {fact: tested[fact][0]} for fact in FACT_ORDER if len(tested.get(fact, ())) == 1
    ]
    if when.age_under is not None:
        parts.append({"$lt": {"age": when.age_under}})
    if when.age_at_least is not None:
        parts.append({"$gte": {"age": when.age_at_least}})
    parts += [
        {"$or": [{fact: value} for value in tested[fact]]}
        for fact in FACT_ORDER
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


def request_facts(request: Request, sectors: dict[str, str]) -> dict[str, Any]:
    """The flat facts a compiled rule tests: the organisation pair's and the person's."""
    return {
        **pair_facts(request.requester.organisation, request.holder.organisation, sectors),
        **person_facts(request),
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

    @staticmethod
    def members(pair: Pair, person: dict[str, Any]) -> str:
        """The facts as the text of a JSON object after its opening brace: the pair's facts,
        then the person's."""
        return pair.text + person_text(person)
