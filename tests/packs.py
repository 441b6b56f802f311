"""Small policy packs written to a temporary directory, for tests of the core."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import yaml

ORGANISATIONS = [
    {"code": "HOSP", "name": "Test Hospital", "sector": "acute"},
    {"code": "GPX", "name": "Test Practice", "sector": "gp"},
    {"code": "COUNCIL", "name": "Test Council", "sector": "social_care"},
    {"code": "POL", "name": "Test Police", "sector": "police"},
]

PERMIT_BASIS = {"article_6": "6(1)(e)", "article_9": "9(2)(h)", "common_law": "implied_consent"}


def agreement(rules: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "care",
        "title": "Test care agreement",
        "owner": "Test IG lead",
        "parties": ["HOSP", "GPX", "COUNCIL"],
        "purposes": ["direct_care", "safeguarding"],
        "start_date": "2025-01-01",
        "end_date": "2027-12-31",
        "review_date": "2026-12-31",
        "rules": rules,
    }
    base.update(fields)
    return base


def permit(rule_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "effect": "permit",
        "because": f"{rule_id} allows it.",
        "legal_basis": PERMIT_BASIS,
        "obligations": ["record_disclosure"],
        **fields,
    }


def deny(rule_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "effect": "deny", "because": f"{rule_id} forbids it.", **fields}


# The shipped pack's vocabulary, which test packs speak too.
VOCABULARY = Path(__file__).resolve().parent.parent / "policies" / "vocabulary.yaml"


def write(
    directory: Path, *agreements: dict[str, Any], restrictions: list[dict[str, Any]] | None = None
) -> Path:
    (directory / "agreements").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(VOCABULARY, directory / "vocabulary.yaml")
    (directory / "organisations.yaml").write_text(yaml.safe_dump({"organisations": ORGANISATIONS}))
    if restrictions:
        (directory / "restrictions.yaml").write_text(
            yaml.safe_dump({"restrictions": restrictions}, sort_keys=False)
        )
    for item in agreements:
        path = directory / "agreements" / f"{item['id']}.yaml"
        path.write_text(yaml.safe_dump(item, sort_keys=False))
    return directory


def request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "requester": {"role": "social_worker", "organisation": "COUNCIL"},
        "holder": {"organisation": "HOSP"},
        "purpose": "direct_care",
        "record_type": "capacity_assessment",
        "subject": {"relationship": "care_team"},
        "at": "2026-06-01T12:00:00Z",
    }
    base.update(overrides)
    return base


def codes(kind: str) -> list[str]:
    """The shipped vocabulary's codes of one kind (`roles`, `purposes` ...), in its order."""
    return [entry["code"] for entry in _vocabulary()[kind]]


def choices(fact: str) -> list[str]:
    """The codes of one of the shipped vocabulary's choice facts (`consent` ...)."""
    found = next(f for f in _vocabulary()["person"] if f["name"] == fact)
    return [choice["code"] for choice in found["choices"]]


@functools.cache
def _vocabulary() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(VOCABULARY.read_text())
    return loaded
