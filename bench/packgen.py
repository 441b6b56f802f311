"""Generate synthetic policy packs of a given size, as YAML files, for benchmarks and tests.

Two shapes:
- "sampled" (the default): 60 organisations, agreements of 100 rules each between 20 of them,
  rules that mix role, sector and organisation selectors, several records and purposes,
  person conditions and some deny rules with permits that override them.
- "all-parties": one organisation per sector, every one a party to every agreement (10 to 200
  of them), the rules spread evenly over the agreements; each permit names one requester
  sector, one holder sector, one purpose, one record type and 1 to 3 roles, and the pack has
  five objection denies. With `overlap`, the rules draw from two sectors, three roles and few
  person conditions, so one request meets many rules in many agreements at once: the shape
  a large region's pack takes when an acute trust and a council share dozens of agreements.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import yaml

RULES_PER_AGREEMENT = 100

# Generated packs speak the shipped pack's vocabulary, which each one gets a copy of.
VOCABULARY = Path(__file__).resolve().parent.parent / "policies" / "vocabulary.yaml"
_WORDS: dict[str, Any] = yaml.safe_load(VOCABULARY.read_text())


def _codes(kind: str) -> list[str]:
    return [entry["code"] for entry in _WORDS[kind]]


def _choices(fact: str) -> list[str]:
    found = next(f for f in _WORDS["person"] if f["name"] == fact)
    return [choice["code"] for choice in found["choices"]]


def _label(kind: str, code: str) -> str:
    entry = next(e for e in _WORDS[kind] if e["code"] == code)
    return str(entry.get("label") or code.replace("_", " "))


SECTORS = _codes("sectors")
ROLES = _codes("roles")
PURPOSES = _codes("purposes")
RECORDS = _codes("record_types")
RELATIONSHIPS = _choices("relationship")
CONSENTS = _choices("consent")
CAPACITIES = _choices("has_capacity")


def write_vocabulary(directory: Path) -> None:
    """Give a generated pack the vocabulary its rules and requests use."""
    shutil.copyfile(VOCABULARY, directory / "vocabulary.yaml")


def organisations(count: int = 60) -> list[dict[str, str]]:
    sectors = list(SECTORS)
    return [
        {
            "code": f"ORG{i:03d}",
            "name": f"Organisation {i}",
            "sector": sectors[i % len(sectors)],
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
        "requester": {"roles": rng.sample(ROLES, rng.randint(1, 4))},
        "holder": {"sectors": rng.sample(SECTORS, rng.randint(1, 3))},
        "purposes": rng.sample(agreement_purposes, rng.randint(1, len(agreement_purposes))),
        "records": rng.sample(RECORDS, rng.randint(1, 3)),
        "when": {},
    }
    if rng.random() < 0.3:
        spec["requester"]["organisations"] = rng.sample(parties, rng.randint(1, 3))
    when = spec["when"]
    if rng.random() < 0.6:
        when["relationship"] = rng.choice(RELATIONSHIPS)
    if rng.random() < 0.4:
        when["objection"] = rng.random() < 0.5
    if rng.random() < 0.3:
        when["consent"] = rng.sample(CONSENTS, rng.randint(1, 2))
    if rng.random() < 0.2:
        when["has_capacity"] = rng.choice(CAPACITIES)
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


SHAPES = ("sampled", "all-parties")


def write_pack(
    directory: Path,
    rule_count: int,
    seed: int = 7,
    shape: str = "sampled",
    agreements: int = 100,
    overlap: bool = False,
) -> Path:
    """Write a pack of `rule_count` rules under `directory`; returns the directory.
    `agreements` and `overlap` apply to the all-parties shape only."""
    if shape == "all-parties":
        return write_all_parties(directory, rule_count, agreements, overlap, seed)
    rng = random.Random(seed)
    (directory / "agreements").mkdir(parents=True, exist_ok=True)
    orgs = organisations()
    write_vocabulary(directory)
    (directory / "organisations.yaml").write_text(yaml.safe_dump({"organisations": orgs}))
    codes = [o["code"] for o in orgs]
    written = 0
    for a in range((rule_count + RULES_PER_AGREEMENT - 1) // RULES_PER_AGREEMENT):
        purposes = rng.sample(PURPOSES, rng.randint(1, 3))
        parties = rng.sample(codes, 20)
        deny_ids: list[str] = []
        count = min(RULES_PER_AGREEMENT, rule_count - written)
        rules = [rule(rng, written + i, purposes, parties, deny_ids) for i in range(count)]
        written += count
        write_agreement(directory, a, parties, purposes, rules)
    return directory


def write_agreement(
    directory: Path, number: int, parties: list[str], purposes: list[str], rules: list[Any]
) -> None:
    """Write agreement `number` (in force 2025-2030) of a generated pack."""
    agreement = {
        "id": f"agreement-{number}",
        "title": f"Synthetic agreement {number}",
        "owner": "bench",
        "parties": parties,
        "purposes": purposes,
        "start_date": "2025-01-01",
        "end_date": "2030-12-31",
        "review_date": "2027-01-01",
        "rules": rules,
    }
    path = directory / "agreements" / f"agreement-{number:04d}.yaml"
    path.write_text(yaml.safe_dump(agreement, sort_keys=False))


def all_parties_organisations() -> list[dict[str, str]]:
    return [
        {
            "code": f"{sector.upper()}1",
            "name": f"One {_label('sectors', sector)}",
            "sector": sector,
        }
        for sector in SECTORS
    ]


def write_all_parties(
    directory: Path, rule_count: int, agreements: int, overlap: bool, seed: int = 7
) -> Path:
    """The all-parties shape (see the module's docstring)."""
    rng = random.Random(seed)
    (directory / "agreements").mkdir(parents=True, exist_ok=True)
    orgs = all_parties_organisations()
    write_vocabulary(directory)
    (directory / "organisations.yaml").write_text(yaml.safe_dump({"organisations": orgs}))
    codes = [o["code"] for o in orgs]
    sectors = SECTORS[:2] if overlap else SECTORS
    roles = ROLES[:3] if overlap else ROLES
    purposes = PURPOSES
    records = RECORDS[:3] if overlap else RECORDS
    denies = [f"objection-{i}" for i in range(5)]
    placed: list[str] = []  # the denies written so far, as agreement-id/rule-id
    per_agreement = [
        rule_count // agreements + (a < rule_count % agreements) for a in range(agreements)
    ]
    written = 0
    for a, count in enumerate(per_agreement):
        rules = []
        for i in range(count):
            index = written + i
            if index < len(denies):
                placed.append(f"agreement-{a}/{denies[index]}")
                rules.append(
                    {
                        "id": denies[index],
                        "effect": "deny",
                        "because": "The person objects.",
                        "purposes": rng.sample(purposes, 3),
                        "when": {"objection": True},
                    }
                )
                continue
            when: dict[str, Any] = {}
            if rng.random() < (0.2 if overlap else 0.5):
                when["relationship"] = rng.choice(RELATIONSHIPS)
            if rng.random() < 0.2:
                when["consent"] = rng.sample(CONSENTS, rng.randint(1, 2))
            if rng.random() < 0.1:
                when["age_under"] = rng.choice([16, 18])
            elif rng.random() < 0.05:
                when["age_at_least"] = rng.choice([16, 18])
            spec: dict[str, Any] = {
                "id": f"rule-{index}",
                "effect": "permit",
                "because": f"Synthetic rule {index}.",
                "requester": {
                    "roles": rng.sample(roles, rng.randint(1, 3)),
                    "sectors": [rng.choice(sectors)],
                },
                "holder": {"sectors": [rng.choice(sectors)]},
                "purposes": [rng.choice(purposes)],
                "records": [rng.choice(records)],
                "when": when,
                "legal_basis": {
                    "article_6": "6(1)(e)",
                    "article_9": "9(2)(h)",
                    "common_law": "implied_consent",
                },
                "obligations": ["share_minimum_necessary"],
            }
            if placed and rng.random() < 0.1:
                spec["overrides"] = [rng.choice(placed)]
            rules.append(spec)
        written += count
        write_agreement(directory, a, codes, purposes, rules)
    return directory


def requests(count: int, seed: int = 11, codes: list[str] | None = None) -> list[dict[str, Any]]:
    """Random well-formed requests between the given (default: generated) organisations."""
    rng = random.Random(seed)
    codes = codes or [o["code"] for o in organisations()]
    return [
        {
            "requester": {"role": rng.choice(ROLES), "organisation": rng.choice(codes)},
            "holder": {"organisation": rng.choice(codes)},
            "purpose": rng.choice(PURPOSES),
            "record_type": rng.choice(RECORDS),
            "subject": {
                "relationship": rng.choice(RELATIONSHIPS),
                "objection": rng.random() < 0.2,
                "consent": rng.choice(CONSENTS),
                "has_capacity": rng.choice(CAPACITIES),
                "age": rng.randint(0, 100),
            },
            "at": "2026-06-01T12:00:00Z",
        }
        for _ in range(count)
    ]
