"""Pack-wide restrictions: deny rules that bind every pair of organisations, lifted only by one
of their own named exceptions, never by `overrides:`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import packs
import pytest
import yaml
from typer.testing import CliRunner

from igengine import Engine, PolicyError
from igengine.cli import app
from igengine.explain import details

ROOT = Path(__file__).resolve().parent.parent
ON = "2026-06-01T12:00:00Z"

RESTRICTION: dict[str, Any] = {
    "id": "gender-history",
    "title": "Gender history",
    "imposed_by": "statute",
    "because": "Disclosure is an offence under the Gender Recognition Act 2004 s22.",
    "records": ["gender_history"],
    "when": {"anonymised": False},
    "legal_basis": {"statutes": ["gra_2004_s22"]},
    "exceptions": [
        {
            "id": "agreement",
            "because": "The person has agreed.",
            "when": {"consent": ["explicit"]},
            "legal_basis": {
                "statutes": [
                    {
                        "framework": "Gender Recognition Act 2004",
                        "provision": "section 22(4)(b)",
                        "summary": "the person has agreed",
                    }
                ]
            },
        }
    ],
}


def _with_restriction(directory: Path, *agreements: dict[str, Any]) -> Path:
    packs.write(directory, *agreements)
    (directory / "restrictions.yaml").write_text(
        yaml.safe_dump({"restrictions": [RESTRICTION]}, sort_keys=False)
    )
    return directory


def _gender_history(**overrides: Any) -> dict[str, Any]:
    return packs.request(record_type="gender_history", **overrides)


def test_a_new_organisation_and_a_permit_without_records_never_open_gender_history(
    tmp_path: Path,
) -> None:
    """The defect in the issue: a voluntary organisation added to the shipped pack, and an
    agreement with the council whose permit leaves `records:` out (every record type), got
    gender history permitted, because the restriction bound only its agreement's parties."""
    pack = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", pack)
    organisations = yaml.safe_load((pack / "organisations.yaml").read_text())
    organisations["organisations"].append(
        {"code": "NGVOL", "name": "Northgate Carers Centre", "sector": "social_care"}
    )
    (pack / "organisations.yaml").write_text(yaml.safe_dump(organisations, sort_keys=False))
    agreement = packs.agreement(
        [packs.permit("carers-support", when={"relationship": "care_team"})],
        id="ntg-carers",
        parties=["NGVOL", "NGCC"],
        purposes=["direct_care"],
    )
    (pack / "agreements" / "carers.yaml").write_text(yaml.safe_dump(agreement, sort_keys=False))
    engine = Engine.from_directory(pack)
    for record in ("gender_history", "fertility_treatment", "adoption_record"):
        decision = engine.decide(
            {
                "requester": {"role": "care_coordinator", "organisation": "NGVOL"},
                "holder": {"organisation": "NGCC"},
                "purpose": "direct_care",
                "record_type": record,
                "subject": {"relationship": "care_team"},
                "at": ON,
            }
        )
        assert decision.effect == "deny", record
        assert decision.rules[0].id == f"restriction:{record.replace('_', '-')}"
        assert decision.rules[0].role == "decisive"
        assert "ntg-carers/carers-support" in {r.id for r in decision.rules}
    # An ordinary record still flows under the new agreement.
    assert (
        engine.decide(
            {
                "requester": {"role": "care_coordinator", "organisation": "NGVOL"},
                "holder": {"organisation": "NGCC"},
                "purpose": "direct_care",
                "record_type": "care_plan",
                "subject": {"relationship": "care_team"},
                "at": ON,
            }
        ).effect
        == "permit"
    )
    result = CliRunner().invoke(app, ["check", "--strict", str(pack)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "carers.yaml" in said and "every record type" in said


def test_the_deny_names_the_restriction_and_its_statute(tmp_path: Path) -> None:
    directory = _with_restriction(tmp_path, packs.agreement([packs.permit("any-record")]))
    engine = Engine.from_directory(directory)
    decision = engine.decide(_gender_history())
    assert decision.effect == "deny"
    assert decision.agreement is None
    assert "Gender history, imposed by statute: Gender Recognition Act 2004 section 22" in (
        " ".join(details(decision, engine.pack))
    )
    assert [b.provision for b in decision.legal_basis] == ["section 22"]


def test_a_permit_lifts_a_restriction_by_its_exception_and_cites_it(tmp_path: Path) -> None:
    lifting = packs.permit(
        "with-agreement",
        records=["gender_history"],
        when={"consent": "explicit"},
        lifts=["gender-history/agreement"],
    )
    directory = _with_restriction(tmp_path, packs.agreement([lifting]))
    engine = Engine.from_directory(directory)
    decision = engine.decide(
        _gender_history(subject={"relationship": "care_team", "consent": "explicit"})
    )
    assert decision.effect == "permit"
    assert [(r.id, r.role) for r in decision.rules] == [
        ("care/with-agreement", "decisive"),
        ("restriction:gender-history", "overridden"),
    ]
    assert "section 22(4)(b)" in {b.provision for b in decision.legal_basis}
    assert "by its exception 'agreement'" in " ".join(details(decision, engine.pack))
    refused = engine.decide(_gender_history())
    assert refused.effect == "deny"
    assert refused.would_permit_if == [{"subject.consent": "explicit"}]


def test_overrides_cannot_name_a_restriction(tmp_path: Path) -> None:
    for target in ("gender-history", "restriction:gender-history"):
        rule = packs.permit("sneaky", overrides=[target])
        directory = _with_restriction(tmp_path / target, packs.agreement([rule]))
        with pytest.raises(PolicyError, match="cannot override a restriction") as raised:
            Engine.from_directory(directory)
        assert "gender-history/agreement" in str(raised.value)


@pytest.mark.parametrize(
    ("lifts", "message"),
    [
        ("gender-history/court-order", "has no exception 'court-order'"),
        ("gender-histry/agreement", "did you mean 'gender-history'"),
    ],
)
def test_lifts_must_name_an_exception_the_restriction_has(
    tmp_path: Path, lifts: str, message: str
) -> None:
    rule = packs.permit("lift", when={"consent": "explicit"}, lifts=[lifts])
    directory = _with_restriction(tmp_path, packs.agreement([rule]))
    with pytest.raises(PolicyError, match=message):
        Engine.from_directory(directory)


def test_a_permit_wider_than_the_exception_is_refused(tmp_path: Path) -> None:
    rule = packs.permit("lift", records=["gender_history"], lifts=["gender-history/agreement"])
    directory = _with_restriction(tmp_path, packs.agreement([rule]))
    with pytest.raises(PolicyError, match=r"wider than the exception.*consent"):
        Engine.from_directory(directory)


def test_a_deny_cannot_lift(tmp_path: Path) -> None:
    rule = packs.deny("lift", lifts=["gender-history/agreement"])
    directory = _with_restriction(tmp_path, packs.agreement([rule]))
    with pytest.raises(PolicyError, match="only a permit rule can lift"):
        Engine.from_directory(directory)


def test_a_restriction_must_cite_what_imposes_it(tmp_path: Path) -> None:
    directory = _with_restriction(tmp_path, packs.agreement([packs.permit("any")]))
    uncited = {**RESTRICTION, "legal_basis": {"caldicott": [6]}}
    (directory / "restrictions.yaml").write_text(yaml.safe_dump({"restrictions": [uncited]}))
    with pytest.raises(PolicyError, match="must cite what imposes it"):
        Engine.from_directory(directory)


def test_strict_check_fails_on_a_permit_that_defaults_to_every_record(tmp_path: Path) -> None:
    directory = _with_restriction(tmp_path, packs.agreement([packs.permit("any-record")]))
    relaxed = CliRunner().invoke(app, ["check", str(directory)])
    assert relaxed.exit_code == 0
    said = " ".join(relaxed.output.split())  # the console wraps long lines
    assert "warning" in said and "restriction 'gender-history'" in said
    strict = CliRunner().invoke(app, ["check", "--strict", str(directory)])
    assert strict.exit_code == 1
    # Listing the records, or testing facts no restricted request can have, silences it.
    narrowed = packs.permit("care-plan", records=["care_plan"])
    anonymised = packs.permit("anonymised", when={"anonymised": True})
    quiet = _with_restriction(tmp_path / "quiet", packs.agreement([narrowed, anonymised]))
    assert CliRunner().invoke(app, ["check", "--strict", str(quiet)]).exit_code == 0


def test_the_shipped_pack_passes_strict_check() -> None:
    result = CliRunner().invoke(app, ["check", "--strict", str(ROOT / "policies")])
    assert result.exit_code == 0, result.output
