"""Generated requests against the shipped pack, and a compact digest of the decisions they get.

The digest (tests/equivalence.digest) was recorded from the engine before the vocabulary moved
into the pack (policies/vocabulary.yaml); test_equivalence.py checks today's engine still gives
the same answers. Regenerate only on purpose:
`python -m tests.equivalence > tests/equivalence.digest`.

The codes below are the shipped pack's, written out so the requests do not depend on the engine
under test.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SEED = 20261203
COUNT = 4000
POLICIES = Path(__file__).resolve().parent.parent / "policies"

ORGANISATIONS = ["RNG", "RNC", "RNM", "NG001", "NG002", "NGCC", "NGICB", "NGPOL", "NGUNI"]
ROLES = [
    "consultant", "ward_nurse", "discharge_coordinator", "hospital_pharmacist", "district_nurse",
    "community_matron", "therapist", "mental_health_nurse", "gp", "practice_nurse",
    "receptionist", "social_worker", "care_coordinator", "home_care_worker", "safeguarding_lead",
    "caldicott_guardian", "analyst", "researcher", "police_officer",
]  # fmt: skip
PURPOSES = [
    "direct_care", "emergency_care", "safeguarding", "staff_safety", "service_planning",
    "research", "law_enforcement", "legal_obligation",
]  # fmt: skip
RECORDS = [
    "capacity_assessment", "best_interests_decision", "discharge_summary", "care_plan",
    "social_care_assessment", "gp_summary", "medication_list", "test_results",
    "mental_health_record", "risk_assessment", "safeguarding_referral", "sexual_health_record",
    "gender_history", "fertility_treatment", "adoption_record",
]  # fmt: skip
# The roles each organisation's staff usually hold, so most requests are ones a pack answers
# with more than its default deny.
STAFF = {
    "RNG": ["consultant", "ward_nurse", "discharge_coordinator", "hospital_pharmacist",
            "safeguarding_lead", "caldicott_guardian"],
    "RNC": ["district_nurse", "community_matron", "therapist"],
    "RNM": ["mental_health_nurse", "consultant"],
    "NG001": ["gp", "practice_nurse", "receptionist"],
    "NG002": ["gp", "practice_nurse"],
    "NGCC": ["social_worker", "care_coordinator", "home_care_worker", "safeguarding_lead"],
    "NGICB": ["analyst"],
    "NGPOL": ["police_officer"],
    "NGUNI": ["researcher"],
}  # fmt: skip
TIMES = ["2026-06-01T09:00:00Z", "2026-06-01T09:00:00Z", "2024-03-01T09:00:00Z"]


SECTORS = {
    "RNG": "acute", "RNC": "community", "RNM": "mental_health", "NG001": "gp", "NG002": "gp",
    "NGCC": "social_care", "NGICB": "commissioner", "NGPOL": "police", "NGUNI": "research",
}  # fmt: skip


def _targets(policies: Path) -> list[dict[str, list[str]]]:
    """For each rule of the pack's agreements, who may ask, who holds, purposes and records it
    names (an empty list where it names none), read from the YAML itself."""
    found = []
    for path in sorted((policies / "agreements").glob("*.yaml")):
        agreement = yaml.safe_load(path.read_text())
        for rule in agreement["rules"]:
            requester, holder = rule.get("requester", {}), rule.get("holder", {})
            found.append(
                {
                    "parties": agreement["parties"],
                    "roles": _listed(requester.get("roles")),
                    "organisations": _listed(requester.get("organisations"))
                    or _in_sectors(_listed(requester.get("sectors")), agreement["parties"]),
                    "holders": _listed(holder.get("organisations"))
                    or _in_sectors(_listed(holder.get("sectors")), agreement["parties"]),
                    "purposes": _listed(rule.get("purposes")) or agreement["purposes"],
                    "records": _listed(rule.get("records")),
                }
            )
    return found


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _in_sectors(sectors: list[str], parties: list[str]) -> list[str]:
    return [
        code for code in parties if code in SECTORS and (not sectors or SECTORS[code] in sectors)
    ]


def requests(
    seed: int = SEED, count: int = COUNT, policies: Path = POLICIES
) -> Iterator[dict[str, Any]]:
    """`count` requests, the same ones for the same seed and pack: about two in three aimed at
    one of the pack's rules (its roles, organisations, purposes and records), the rest at random."""
    rng = random.Random(seed)
    targets = _targets(policies)
    for _ in range(count):
        target = rng.choice(targets) if rng.random() < 0.65 else None
        subject: dict[str, Any] = {}
        for name, values in (
            ("relationship", ["care_team", "none"]),
            ("objection", [True, False]),
            ("consent", ["explicit", "refused", "none"]),
            ("national_data_opt_out", [True, False]),
            ("has_capacity", ["true", "false", "unknown", True, False]),
            ("risk_of_serious_harm", [True, False]),
            ("age", [0, 12, 15, 16, 17, 18, 40, 90]),
            ("s251_support", [True, False]),
            ("anonymised", [True, False]),
        ):
            # Leave about half the facts out, so defaults (and their words) are exercised.
            if rng.random() < 0.5:
                subject[name] = rng.choice(values)
        if target is None:
            organisation = rng.choice(ORGANISATIONS)
            role = rng.choice(STAFF[organisation] if rng.random() < 0.8 else ROLES)
            holder, purpose = rng.choice(ORGANISATIONS), rng.choice(PURPOSES)
            record = rng.choice(RECORDS)
        else:
            organisation = rng.choice(target["organisations"] or target["parties"])
            role = rng.choice(target["roles"] or STAFF[organisation])
            holder = rng.choice(target["holders"] or target["parties"])
            purpose = rng.choice(target["purposes"])
            record = rng.choice(target["records"] or RECORDS)
        request: dict[str, Any] = {
            "requester": {"role": role, "organisation": organisation},
            "holder": {"organisation": holder},
            "purpose": purpose,
            "record_type": record,
            "subject": subject,
            "at": rng.choice(TIMES),
        }
        if rng.random() < 0.3:
            request["justification"] = "Needed to keep the person safe."
        yield request


def answer(decision: dict[str, Any]) -> dict[str, Any]:
    """What must not change: effect, decisive rules, legal basis, obligations, would_permit_if
    (the changes as a set: their order follows the order the vocabulary lists its facts)."""
    changes = [json.dumps(c, sort_keys=True) for c in decision["would_permit_if"]]
    return {
        "effect": decision["effect"],
        "decisive": [r["id"] for r in decision["rules"] if r["role"] == "decisive"],
        "legal_basis": decision["legal_basis"],
        "obligations": decision["obligations"],
        "would_permit_if": sorted(changes),
    }


def digest_line(decision: dict[str, Any]) -> str:
    """The answer as a short line: the effect's initial and 12 hex digits of its hash."""
    text = json.dumps(answer(decision), sort_keys=True, separators=(",", ":"))
    return decision["effect"][0] + hashlib.sha256(text.encode()).hexdigest()[:12]


def digest_lines(policies: Path = POLICIES) -> list[str]:
    from igengine import Engine

    engine = Engine.from_directory(policies)
    return [digest_line(engine.decide(request).to_dict()) for request in requests()]


if __name__ == "__main__":
    print(f"# seed {SEED}, {COUNT} requests (tests/equivalence.py); one decision per line")
    print("\n".join(digest_lines()))
