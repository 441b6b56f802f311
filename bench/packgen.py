"""Generate synthetic policy packs of a given size, as YAML files, for benchmarks.

The packs are realistic in shape: Northgate's organisations plus more of each sector, agreements
of 100 rules each, rules that mix role, sector and organisation selectors, several records and
purposes, person conditions and some deny rules with permits that override them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from igengine.vocabulary import Capacity, Consent, Purpose, RecordType, Relationship, Role, Sector

RULES_PER_AGREEMENT = 100


def organisations(count: int = 60) -> list[dict[str, str]]:
    sectors = list(Sector)
    return [
        {
            "code": f"ORG{i:03d}",
            "name": f"Organisation {i}",
            "sector": sectors[i % len(sectors)].value,
        }
        for i in range(count)
    ]


def rule(
    rng: random.Random,
    index: int,
    agreement_purposes: list[str],
    parties: list[str],
    deny_ids: list[str],
) -> dict[str, Any]:
    effect = "deny" if rng.random() < 0.25 else "permit"
    spec: dict[str, Any] = {
        "id": f"rule-{index}",
        "effect": effect,
        "because": f"Synthetic rule {index}.",
        "requester": {"roles": rng.sample([r.value for r in Role], rng.randint(1, 4))},
        "holder": {"sectors": rng.sample([s.value for s in Sector], rng.randint(1, 3))},
        "purposes": rng.sample(agreement_purposes, rng.randint(1, len(agreement_purposes))),
        "records": rng.sample([r.value for r in RecordType], rng.randint(1, 3)),
        "when": {},
    }
    if rng.random() < 0.3:
        spec["requester"]["organisations"] = rng.sample(parties, rng.randint(1, 3))
    when = spec["when"]
    if rng.random() < 0.6:
        when["relationship"] = rng.choice([r.value for r in Relationship])
    if rng.random() < 0.4:
        when["objection"] = rng.random() < 0.5
    if rng.random() < 0.3:
        when["consent"] = rng.sample([c.value for c in Consent], rng.randint(1, 2))
    if rng.random() < 0.2:
        when["has_capacity"] = rng.choice([c.value for c in Capacity])
    if rng.random() < 0.2:
        when["age_under"] = 18
    if effect == "permit":
        spec["legal_basis"] = {
            "article_6": "6(1)(e)",
            "article_9": "9(2)(h)",
            "common_law": "implied_consent",
        }
        spec["obligations"] = ["share_minimum_necessary"]
        if deny_ids and rng.random() < 0.2:
            spec["overrides"] = [rng.choice(deny_ids)]
    else:
        deny_ids.append(spec["id"])
    return spec


def write_pack(directory: Path, rule_count: int, seed: int = 7) -> Path:
    """Write a pack of `rule_count` rules under `directory`; returns the directory."""
    rng = random.Random(seed)
    (directory / "agreements").mkdir(parents=True, exist_ok=True)
    orgs = organisations()
    (directory / "organisations.yaml").write_text(yaml.safe_dump({"organisations": orgs}))
    codes = [o["code"] for o in orgs]
    written = 0
    for a in range((rule_count + RULES_PER_AGREEMENT - 1) // RULES_PER_AGREEMENT):
        purposes = rng.sample([p.value for p in Purpose], rng.randint(1, 3))
        parties = rng.sample(codes, 20)
        deny_ids: list[str] = []
        count = min(RULES_PER_AGREEMENT, rule_count - written)
        rules = [rule(rng, written + i, purposes, parties, deny_ids) for i in range(count)]
        written += count
        agreement = {
            "id": f"agreement-{a}",
            "title": f"Synthetic agreement {a}",
            "owner": "bench",
            "parties": parties,
            "purposes": purposes,
            "start_date": "2025-01-01",
            "end_date": "2030-12-31",
            "review_date": "2027-01-01",
            "rules": rules,
        }
        path = directory / "agreements" / f"agreement-{a:04d}.yaml"
        path.write_text(yaml.safe_dump(agreement, sort_keys=False))
    return directory


def requests(count: int, seed: int = 11, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """Random well-formed requests between the given (default: generated) organisations."""
    rng = random.Random(seed)
    codes = codes or [o["code"] for o in organisations()]
    return [
        {
            "requester": {"role": rng.choice(list(Role)).value, "organisation": rng.choice(codes)},
            "holder": {"organisation": rng.choice(codes)},
            "purpose": rng.choice(list(Purpose)).value,
            "record_type": rng.choice(list(RecordType)).value,
            "subject": {
                "relationship": rng.choice(list(Relationship)).value,
                "objection": rng.random() < 0.2,
                "consent": rng.choice(list(Consent)).value,
                "has_capacity": rng.choice(list(Capacity)).value,
                "age": rng.randint(0, 100),
            },
            "at": "2026-06-01T12:00:00Z",
        }
        for _ in range(count)
    ]
