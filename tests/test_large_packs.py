"""Large packs in the shapes that broke durable-rules: every decision is right, none fail-safe.

A pair of organisations that share a hundred agreements used to overflow durable-rules'
matching stack (error 303), and a request then got a fail-safe deny although a permit clearly
applied. These packs (bench/packgen.py's all-parties shapes, 5,000 rules in 100 agreements that
every organisation signed) are decided for a few thousand requests, many built from the pack's
own rules so that they match, and each answer is compared with the plain reference evaluator.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date
from pathlib import Path
from typing import Any

import packs
import pytest
import reference
from test_reference_property import answer

from igengine import Engine
from igengine.compile import compile_pack, fits
from igengine.request import parse_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import packgen

REQUESTS = 2_000


def rule_requests(engine: Engine, count: int, seed: int) -> list[dict[str, Any]]:
    """Requests that meet one of the pack's rules on who asks, who holds and what for (so most
    decisions match several rules), and random ones."""
    rng = random.Random(seed)
    pack = engine.pack
    orgs = sorted(pack.organisations)
    by_sector: dict[str, list[str]] = {}
    for code, org in pack.organisations.items():
        by_sector.setdefault(org.sector, []).append(code)
    out = packgen.requests(count // 4, seed, orgs)
    while len(out) < count:
        spec = rng.choice(pack.rules).spec
        requester = (
            rng.choice(by_sector[rng.choice(spec.requester.sectors)])
            if spec.requester.sectors
            else rng.choice(orgs)
        )
        holder = (
            rng.choice(by_sector[rng.choice(spec.holder.sectors)])
            if spec.holder.sectors
            else rng.choice(orgs)
        )
        out.append(
            {
                "requester": {
                    "role": rng.choice(spec.requester.roles or ["gp"]),
                    "organisation": requester,
                },
                "holder": {"organisation": holder},
                "purpose": rng.choice(spec.purposes or ["direct_care"]),
                "record_type": rng.choice(spec.records or ["care_plan"]),
                "subject": {
                    "relationship": rng.choice(["care_team", "none"]),
                    "objection": rng.random() < 0.2,
                    "consent": rng.choice(["explicit", "none", "refused"]),
                    "age": rng.choice([10, 17, 40]),
                },
                "at": "2026-06-01T12:00:00Z",
            }
        )
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["all-parties", "overlapping"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    directory = tmp_path_factory.mktemp("large")
    packgen.write_pack(directory, 5_000, shape="all-parties", agreements=100, overlap=request.param)
    return Engine.from_directory(directory)


def test_every_decision_on_a_pack_all_organisations_signed_is_right(engine: Engine) -> None:
    pack = engine.pack
    assert len(pack.rules) == 5_000 and len(pack.agreements) == 100
    assert all(len(a.parties) == len(pack.organisations) for a in pack.agreements)
    # Index the reference by record type only, to keep it quick; it checks everything else.
    by_record: dict[str, list[Any]] = {record: [] for record in packs.codes("record_types")}
    for rule in pack.rules:
        for record in rule.spec.records or packs.codes("record_types"):
            by_record[record].append(rule)
    permits = 0
    for raw in rule_requests(engine, REQUESTS, seed=11):
        parsed = parse_request(raw)
        decision = engine.decide(parsed)
        assert decision.error is None, raw
        expected = reference.combined(pack, parsed, date(2026, 6, 1), by_record[parsed.record_type])
        assert answer(decision) == expected, raw
        permits += decision.effect == "permit"
    # The requests are built to match: most of them must really exercise the rules.
    assert permits > REQUESTS // 4


def test_every_ruleset_fits_durable_rules_limits(engine: Engine) -> None:
    compiled = compile_pack(engine.pack)
    for parts in compiled.rulesets.values():
        for part in parts:
            assert fits([json.loads(entry)["all"][0]["m"] for entry in part.values()])
