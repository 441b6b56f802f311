"""The compiled durable-rules path and the plain reference evaluator give the same answers.

Hypothesis generates whole packs (a few agreements, or many that every organisation signed;
random selectors and conditions, age bounds, overrides of deny rules, agreements in force,
expired or not yet started; pack-wide restrictions with exceptions, and permits lifting
them) and requests over the same organisations on several dates. Every request must match
exactly the same rule ids, and get the same effect, the same rules in the same roles and the
same agreements not in force as the contract's combining rules give.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import packs
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igengine import Decision, Engine
from igengine.request import parse_request

ORG_CODES = [org["code"] for org in packs.ORGANISATIONS]
PURPOSES = packs.codes("purposes")
RECORDS = packs.codes("record_types")


def subset(values: list[str], max_size: int = 3) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=max_size, unique=True)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


DATES = ["2025-03-01T12:00:00Z", "2026-06-01T12:00:00Z", "2028-01-15T12:00:00Z"]
# (start, end) of an agreement: some in force on each of DATES, some expired or not started.
TERMS = [
    ("2024-01-01", "2025-12-31"),
    ("2025-01-01", "2027-12-31"),
    ("2026-07-01", "2028-12-31"),
    ("2020-01-01", "2030-12-31"),
]


def _bounded(when: dict[str, Any]) -> dict[str, Any]:
    # A pack with age_at_least >= age_under is refused by check; keep such rules valid.
    if when.get("age_at_least", -1) >= when.get("age_under", 999):
        del when["age_at_least"]
    return when


conditions = st.fixed_dictionaries(
    {},
    optional={
        "relationship": subset(packs.choices("relationship"), 2),
        "objection": st.booleans(),
        "consent": subset(packs.choices("consent")),
        "national_data_opt_out": st.booleans(),
        "has_capacity": subset(packs.choices("has_capacity")),
        "risk_of_serious_harm": st.booleans(),
        "age_under": st.integers(1, 30),
        "age_at_least": st.integers(0, 30),
        "s251_support": st.booleans(),
        "anonymised": st.booleans(),
        "justification_given": st.booleans(),
    },
).map(_bounded)


@st.composite
def rule(draw: st.DrawFn, index: int, purposes: list[str], parties: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": f"r{index}",
        "effect": draw(st.sampled_from(["permit", "deny"])),
        "because": "Generated.",
        "requester": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "roles": subset(packs.codes("roles"), 4),
                    "sectors": subset(packs.codes("sectors")),
                    "organisations": subset(parties, 2),
                },
            )
        ),
        "holder": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "sectors": subset(packs.codes("sectors")),
                    "organisations": subset(parties, 2),
                },
            )
        ),
        "when": draw(conditions),
    }
    if draw(st.booleans()):
        spec["purposes"] = draw(subset(purposes, len(purposes)))
    if draw(st.booleans()):
        spec["records"] = draw(subset(RECORDS))
    if spec["effect"] == "permit":
        spec["legal_basis"] = dict(packs.PERMIT_BASIS)
    return spec


# Conditions an exception may set: no age bounds, so that a permit copying them stays valid.
exception_conditions = st.fixed_dictionaries(
    {},
    optional={
        "relationship": subset(packs.choices("relationship"), 2),
        "consent": subset(packs.choices("consent")),
        "has_capacity": subset(packs.choices("has_capacity")),
        "risk_of_serious_harm": st.booleans(),
        "justification_given": st.booleans(),
    },
)


@st.composite
def restriction(draw: st.DrawFn, index: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": f"x{index}",
        "title": f"Restriction {index}",
        "imposed_by": draw(st.sampled_from(["statute", "local_policy"])),
        "because": "Generated.",
        "records": draw(subset(RECORDS, 2)),
        "when": draw(conditions),
        "legal_basis": {"statutes": ["gra_2004_s22"]},
        "exceptions": [
            {
                "id": f"e{e}",
                "because": "Generated.",
                "when": draw(exception_conditions),
                "legal_basis": {"statutes": ["si_2005_916"]},
                **(
                    {"requester": {"roles": draw(subset(packs.codes("roles"), 4))}}
                    if draw(st.booleans())
                    else {}
                ),
            }
            for e in range(draw(st.integers(0, 2)))
        ],
    }
    if draw(st.booleans()):
        spec["purposes"] = draw(subset(PURPOSES, 4))
    return spec


def _lift(permit: dict[str, Any], restriction: dict[str, Any], exception: dict[str, Any]) -> None:
    """Make `permit` lift `restriction` by `exception`, narrowed to the exception's terms."""
    permit["when"] = _bounded({**permit["when"], **exception["when"]})
    if "requester" in exception:
        permit["requester"] = {**permit["requester"], **exception["requester"]}
    permit.setdefault("lifts", []).append(f"{restriction['id']}/{exception['id']}")


Pack = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@st.composite
def pack(draw: st.DrawFn) -> Pack:
    """A few agreements between some of the organisations, or many that all of them signed,
    and up to two pack-wide restrictions that some permits lift by an exception."""
    many = draw(st.booleans())
    agreements = []
    for a in range(draw(st.integers(8, 24) if many else st.integers(1, 3))):
        purposes = draw(subset(PURPOSES, 3))
        parties = ORG_CODES if many else draw(subset(ORG_CODES, len(ORG_CODES)))
        count = draw(st.integers(1, 3) if many else st.integers(1, 8))
        rules = [draw(rule(i, purposes, parties)) for i in range(count)]
        start, end = draw(st.sampled_from(TERMS))
        agreements.append(
            packs.agreement(
                rules,
                id=f"a{a}",
                parties=parties,
                purposes=purposes,
                start_date=start,
                end_date=end,
                review_date=end,
            )
        )
    denies = [
        f"{a['id']}/{r['id']}" for a in agreements for r in a["rules"] if r["effect"] == "deny"
    ]
    for agreement in agreements:
        for spec in agreement["rules"]:
            if spec["effect"] == "permit" and denies and draw(st.booleans()):
                spec["overrides"] = draw(subset(denies, 3))
    restrictions = [draw(restriction(i)) for i in range(draw(st.integers(0, 2)))]
    exceptions = [(r, e) for r in restrictions for e in r["exceptions"]]
    for agreement in agreements:
        for spec in agreement["rules"]:
            if spec["effect"] == "permit" and exceptions and draw(st.booleans()):
                _lift(spec, *draw(st.sampled_from(exceptions)))
    return agreements, restrictions


@st.composite
def request(draw: st.DrawFn) -> dict[str, Any]:
    subject = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "relationship": st.sampled_from(packs.choices("relationship")),
                "objection": st.booleans(),
                "consent": st.sampled_from(packs.choices("consent")),
                "national_data_opt_out": st.booleans(),
                "has_capacity": st.sampled_from(packs.choices("has_capacity")),
                "risk_of_serious_harm": st.booleans(),
                "age": st.integers(0, 40),
                "s251_support": st.booleans(),
                "anonymised": st.booleans(),
            },
        )
    )
    return {
        "requester": {
            "role": draw(st.sampled_from(packs.codes("roles"))),
            "organisation": draw(st.sampled_from(ORG_CODES)),
        },
        "holder": {"organisation": draw(st.sampled_from(ORG_CODES))},
        "purpose": draw(st.sampled_from(PURPOSES)),
        "record_type": draw(st.sampled_from(RECORDS)),
        "subject": subject,
        "justification": draw(st.sampled_from([None, "", "unconscious in A&E"])),
        "at": draw(st.sampled_from(DATES)),
    }


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=pack(), requests=st.lists(request(), min_size=5, max_size=10))
def test_compiled_path_matches_reference(generated: Pack, requests: list[dict[str, Any]]) -> None:
    agreements, restrictions = generated
    with tempfile.TemporaryDirectory() as directory:
        engine = Engine.from_directory(
            packs.write(Path(directory), *agreements, restrictions=restrictions)
        )
    for raw in requests:
        parsed = parse_request(raw)
        compiled = [r.id for r in engine.matching_rules(parsed)]
        assert compiled == reference.matching_rules(engine.pack, parsed), raw
        decision = engine.decide(parsed)
        assert decision.error is None
        assert parsed.at is not None
        assert answer(decision) == reference.combined(engine.pack, parsed, parsed.at.date()), raw
        # The engine builds decisions without pydantic's validation: each must be exactly
        # what validating its own contents gives.
        assert Decision.model_validate(decision.model_dump()) == decision
        # Every rule the decision lists matched (rules of agreements in force, here all).
        assert {r.id for r in decision.rules} <= set(compiled)
        # Every suggested change really does permit when made to the request itself.
        for change in decision.would_permit_if:
            assert engine.decide(with_change(raw, change)).effect == "permit", (raw, change)


def answer(decision: Decision) -> tuple[str, list[tuple[str, str]], list[str]]:
    """A decision's effect, its rules in their roles and the agreements it found not in force."""
    return (
        decision.effect,
        [(rule.id, rule.role) for rule in decision.rules],
        [agreement.id for agreement in decision.not_in_force],
    )


def with_change(raw: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    changed = {**raw, "subject": dict(raw["subject"])}
    for field, value in change.items():
        if field.startswith("subject."):
            changed["subject"][field.removeprefix("subject.")] = value
        else:
            changed[field] = value
    return changed


@settings(max_examples=200, deadline=None)
@given(generated=pack(), raw=request(), extra=st.data())
def test_adding_a_deny_never_turns_a_deny_into_a_permit(
    generated: Pack, raw: dict[str, Any], extra: st.DataObject
) -> None:
    agreements, restrictions = generated
    first = agreements[0]
    new_deny = extra.draw(rule(99, first["purposes"], first["parties"]))
    new_deny.update(effect="deny")
    new_deny.pop("legal_basis", None)
    with tempfile.TemporaryDirectory() as directory:
        written = packs.write(Path(directory), *agreements, restrictions=restrictions)
        before = Engine.from_directory(written).decide(raw)
        first["rules"] = [*first["rules"], new_deny]
        written = packs.write(Path(directory), *agreements, restrictions=restrictions)
        after = Engine.from_directory(written).decide(raw)
    if before.effect == "deny":
        assert after.effect == "deny"
