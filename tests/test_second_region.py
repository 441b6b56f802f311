"""A second region, Eastmoor, works end to end from its own pack alone (tests/packs/eastmoor):
its vocabulary.yaml declares sectors, roles, record types and a fact about the person that the
shipped Northgate pack does not have, and the pack is checked, decided from the library, the
CLI and the service, run through its own scenarios, and asked on the page, with no Python
written for it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from audit_support import open_trail
from fastapi.testclient import TestClient
from pytest_bdd import scenarios
from service_support import (
    CALLER_KEY,
    POLICIES,
    FakeTrail,
    running_service,
    settings,
    sign_in,
)
from typer.testing import CliRunner

from igengine import Engine, replay
from igengine.cli import app
from igengine.lint import lint
from igengine.policy.validate import load_pack
from igengine.scenarios.phrases import World
from igengine.scenarios.words import Words
from service import create_app

pytest_plugins = ["igengine.scenarios.bdd"]

EASTMOOR = Path(__file__).resolve().parent / "packs" / "eastmoor"
FEATURES = EASTMOOR / "features"
# A date on which every Eastmoor agreement is in force, so the answers do not change with
# today's date.
ON = "2026-06-01T12:00:00+00:00"
CALLER = {"X-API-Key": CALLER_KEY}
LPA_QUESTION = "Does someone hold a health and welfare lasting power of attorney for the person?"
CHROMIUM = Path("/usr/bin/chromium")
# Where the lead looks at the page; only written where that directory exists (not in CI).
SCREENS = Path("/work/screens")

# Every scenario in the pack's own .feature file, run by pytest-bdd through the phrase book.
scenarios(str(FEATURES))


@pytest.fixture(scope="module")
def ig_engine() -> Engine:
    return Engine.from_directory(EASTMOOR)


@pytest.fixture
def ig_world(ig_engine: Engine) -> World:
    return World(ig_engine, Words(ig_engine.pack), default_at=ON)


def ask(
    role: str, org: str, holder: str, record: str, purpose: str = "direct_care", **subject: Any
) -> dict[str, Any]:
    """A request in the contract's shape, on a date every agreement is in force."""
    return {
        "requester": {"role": role, "organisation": org},
        "holder": {"organisation": holder},
        "purpose": purpose,
        "record_type": record,
        "subject": subject,
        "at": ON,
    }


LINK_WORKER = ask("link_worker", "EMVC", "EM001", "care_plan", relationship="care_team")
PARAMEDIC = {
    **ask("paramedic", "RXA", "EM002", "medication_list", "emergency_care", has_capacity="false"),
    "justification": "999 call: found collapsed at home, unresponsive",
}
CHC = ask(
    "chc_nurse_assessor",
    "EMICB",
    "REM",
    "continuing_healthcare_assessment",
    relationship="care_team",
    has_capacity="false",
)


def decisive(decision: dict[str, Any]) -> list[str]:
    return [rule["id"] for rule in decision["rules"] if rule["role"] == "decisive"]


# ---- igengine check and igengine test -----------------------------------------------------


def test_the_eastmoor_pack_checks_clean_even_when_strict() -> None:
    result = CliRunner().invoke(app, ["check", str(EASTMOOR), "--strict"])
    assert result.exit_code == 0, result.output
    assert "OK: 3 agreements, 16 rules" in result.output
    assert "12 organisations" in result.output


def test_igengine_vocabulary_lists_eastmoors_own_codes_and_facts() -> None:
    result = CliRunner().invoke(app, ["vocabulary", str(EASTMOOR), "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {"voluntary", "ambulance"} <= {s["code"] for s in listed["sectors"]}
    assert {"link_worker", "paramedic"} <= {r["code"] for r in listed["roles"]}
    assert "continuing_healthcare_assessment" in {r["code"] for r in listed["record_types"]}
    [attorney] = [f for f in listed["person"] if f["name"] == "lasting_power_of_attorney"]
    assert (attorney["type"], attorney["question"]) == ("boolean", LPA_QUESTION)
    assert "national_data_opt_out" not in {f["name"] for f in listed["person"]}


def test_lint_finds_only_the_organisations_no_agreement_names_yet() -> None:
    """What an IG lead would flag: the district council and the pharmacy have signed no
    agreement; every obligation the vocabulary declares is used, and nothing else is wrong."""
    found = {(f.check, f.problem.split()[0]) for f in lint(EASTMOOR, date.fromisoformat(ON[:10]))}
    assert found == {("unused-organisation", "EMDC"), ("unused-organisation", "EMPH")}


def test_igengine_test_passes_every_eastmoor_scenario_and_exercises_every_rule() -> None:
    command = ["test", str(FEATURES), "--policies", str(EASTMOOR), "--on", ON[:10]]
    result = CliRunner().invoke(app, [*command, "--require-coverage"])
    assert result.exit_code == 0, result.output
    assert "18 scenarios: 18 passed, 0 failed" in result.output
    assert "16 of 16 rules exercised" in result.output


def without_the_attorney(directory: Path) -> Path:
    """A copy of the Eastmoor pack whose `attorney-decides` rule has lost its attorney: it
    then stops professionals deciding for anyone who lacks capacity."""
    changed = directory / "eastmoor"
    shutil.copytree(EASTMOOR, changed)
    agreement = changed / "agreements" / "continuing-healthcare.yaml"
    text = agreement.read_text()
    attorney = "      has_capacity: false\n      lasting_power_of_attorney: true\n      consent:"
    assert attorney in text
    agreement.write_text(text.replace(attorney, "      has_capacity: false\n      consent:", 1))
    return changed


def test_igengine_diff_names_the_attorney_fact_in_what_a_change_would_alter(
    tmp_path: Path,
) -> None:
    """An IG lead who drops the attorney from the rule sees, before the change, the requests
    it would refuse, in Eastmoor's words."""
    changed = without_the_attorney(tmp_path)
    result = CliRunner().invoke(app, ["diff", str(EASTMOOR), str(changed), "--on", ON[:10]])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "can no longer receive continuing healthcare assessment" in said
    assert "lasting power of attorney: no" in said


# ---- The library --------------------------------------------------------------------------


def test_a_voluntary_sector_link_worker_gets_the_care_plan_only_with_consent(
    ig_engine: Engine,
) -> None:
    refused = ig_engine.decide(LINK_WORKER).to_dict()
    assert refused["effect"] == "deny"
    assert decisive(refused) == ["em-social-prescribing/consent-needed"]
    assert refused["would_permit_if"] == [{"subject.consent": "explicit"}]

    consented = {**LINK_WORKER, "subject": {**LINK_WORKER["subject"], "consent": "explicit"}}
    decision = ig_engine.decide(consented).to_dict()
    assert decision["effect"] == "permit"
    assert decisive(decision) == ["em-social-prescribing/care-plan-for-link-workers"]
    # The pack's own words: the role's label and the organisation's name.
    assert "social prescribing link worker at Eastmoor Together" in decision["rationale"]
    provisions = {basis["provision"] for basis in decision["legal_basis"]}
    assert {"Article 6(1)(e)", "Article 9(2)(h)"} <= provisions
    common_law = [b for b in decision["legal_basis"] if b["framework"].startswith("Common law")]
    assert [basis["provision"] for basis in common_law] == ["explicit consent"]
    assert "record_consent" in decision["obligations"]


def test_a_paramedic_treats_a_person_who_lacks_capacity_in_their_best_interests(
    ig_engine: Engine,
) -> None:
    decision = ig_engine.decide(PARAMEDIC).to_dict()
    assert decision["effect"] == "permit", decision["rationale"]
    assert decisive(decision) == ["em-ambulance/paramedic-best-interests"]
    assert "paramedic at Eastmoor Ambulance Service NHS Trust" in decision["rationale"]
    assert "Mental Capacity Act 2005" in {b["framework"] for b in decision["legal_basis"]}
    assert {"record_justification", "retrospective_review"} <= set(decision["obligations"])

    unjustified = ig_engine.decide({**PARAMEDIC, "justification": None}).to_dict()
    assert unjustified["effect"] == "deny"
    assert decisive(unjustified) == ["em-ambulance/justification-required"]


@pytest.mark.parametrize(
    ("facts", "effect", "rule"),
    [
        ({"lasting_power_of_attorney": True}, "deny", "em-chc/attorney-decides"),
        (
            {"lasting_power_of_attorney": True, "consent": "explicit"},
            "permit",
            "em-chc/attorney-consented",
        ),
        ({"lasting_power_of_attorney": False}, "permit", "em-chc/best-interests-no-attorney"),
        ({}, "permit", "em-chc/best-interests-no-attorney"),  # the fact's default: false
    ],
    ids=["attorney not asked", "attorney consented", "no attorney", "not said"],
)
def test_the_lasting_power_of_attorney_decides_who_consents_for_a_person_without_capacity(
    ig_engine: Engine, facts: dict[str, Any], effect: str, rule: str
) -> None:
    request = {**CHC, "subject": {**CHC["subject"], **facts}}
    decision = ig_engine.decide(request).to_dict()
    assert (decision["effect"], decisive(decision)) == (effect, [rule]), decision["rationale"]


def test_an_attorney_is_never_suggested_away_only_asked(ig_engine: Engine) -> None:
    """The person chose their attorney: without the attorney's consent, the answer is to ask
    the attorney, never to carry on as if there were none (the fact is the person's own
    choice in the pack's vocabulary)."""
    request = {**CHC, "subject": {**CHC["subject"], "lasting_power_of_attorney": True}}
    decision = ig_engine.decide(request).to_dict()
    assert decision["effect"] == "deny"
    assert {"subject.consent": "explicit"} in decision["would_permit_if"]
    suggested = {field for change in decision["would_permit_if"] for field in change}
    assert "subject.lasting_power_of_attorney" not in suggested
    assert "Ask the attorney" in decision["rationale"]


def test_the_audit_trail_keeps_the_attorney_fact_so_replay_decides_as_before(
    tmp_path: Path,
) -> None:
    """Decisions recorded under Eastmoor replay to the same answers (the trail kept the
    pack's own fact), and under the changed pack exactly the one without an attorney turns."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    trail = open_trail(url, tmp_path)
    engine = Engine.from_directory(EASTMOOR, audit=trail)
    made = {}
    try:
        for attorney in (True, False):
            request = {**CHC, "subject": {**CHC["subject"], "lasting_power_of_attorney": attorney}}
            request["subject"]["id"] = "943 476 5919"
            made[attorney] = engine.decide(request)
    finally:
        trail.close()
    assert [made[True].effect, made[False].effect] == ["deny", "permit"]
    assert replay.replay(url, load_pack(EASTMOOR)).turned == []
    report = replay.replay(url, load_pack(without_the_attorney(tmp_path)))
    assert [turned.decision_id for turned in report.turned] == [made[False].decision_id]


# ---- The CLI ------------------------------------------------------------------------------

CHC_FLAGS = [
    *("decide", "--policies", str(EASTMOOR), "--role", "chc_nurse_assessor", "--org", "EMICB"),
    *("--holder", "REM", "--purpose", "direct_care"),
    *("--record", "continuing_healthcare_assessment", "--care-team", "--at", ON),
    *("-s", "has_capacity=false", "-s", "lasting_power_of_attorney=true"),
]


def test_the_cli_decides_with_the_attorney_fact() -> None:
    asked = CliRunner().invoke(app, [*CHC_FLAGS, "-s", "consent=explicit", "--json"])
    assert asked.exit_code == 0, asked.output
    decision = json.loads(asked.output)
    assert (decision["effect"], decisive(decision)) == ("permit", ["em-chc/attorney-consented"])

    readable = CliRunner().invoke(app, [*CHC_FLAGS, "-s", "consent=explicit"])
    assert readable.exit_code == 0, readable.output
    # The pack's own obligation, in its own words.
    assert "Office of the Public Guardian" in " ".join(readable.output.split())

    not_asked = CliRunner().invoke(app, [*CHC_FLAGS, "--json"])
    assert json.loads(not_asked.output)["effect"] == "deny"


def test_the_cli_decides_for_a_paramedic() -> None:
    flags = [
        *("decide", "--policies", str(EASTMOOR), "--role", "paramedic", "--org", "RXA"),
        *("--holder", "EMHOS", "--purpose", "emergency_care", "--record", "emergency_care_plan"),
        *("--justification", "Breathless at home; what does the ReSPECT plan say?"),
        *("--at", ON, "--json"),
    ]
    result = CliRunner().invoke(app, flags)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decisive(decision) == ["em-ambulance/paramedic-emergency-treatment"]
    assert decision["effect"] == "permit"


# Each request carries one code (or fact) of the other region; it must be refused, naming the
# field and listing what the loaded pack does know, never decided.
NORTHGATE_ASK = [
    *("--role", "social_worker", "--org", "NGCC", "--holder", "RNG"),
    *("--purpose", "direct_care", "--record", "capacity_assessment"),
]
EASTMOOR_ASK = [
    *("--role", "social_worker", "--org", "EMCC", "--holder", "REM"),
    *("--purpose", "direct_care", "--record", "continuing_healthcare_assessment"),
]
WRONG_REGION = [
    # An Eastmoor word, asked of the Northgate pack.
    (POLICIES, NORTHGATE_ASK, ["--role", "paramedic"], "requester.role", "home_care_worker"),
    (POLICIES, NORTHGATE_ASK, ["--role", "link_worker"], "requester.role", "social_worker"),
    (
        POLICIES,
        NORTHGATE_ASK,
        ["--record", "continuing_healthcare_assessment"],
        "record_type",
        "capacity_assessment",
    ),
    (
        POLICIES,
        NORTHGATE_ASK,
        ["-s", "lasting_power_of_attorney=true"],
        "subject.lasting_power_of_attorney",
        "national_data_opt_out",
    ),
    # A Northgate word, asked of the Eastmoor pack.
    (EASTMOOR, EASTMOOR_ASK, ["--role", "home_care_worker"], "requester.role", "paramedic"),
    (EASTMOOR, EASTMOOR_ASK, ["--role", "police_officer"], "requester.role", "link_worker"),
    (EASTMOOR, EASTMOOR_ASK, ["--purpose", "safeguarding"], "purpose", "emergency_care"),
    (
        EASTMOOR,
        EASTMOOR_ASK,
        ["--record", "capacity_assessment"],
        "record_type",
        "continuing_healthcare_assessment",
    ),
    (
        EASTMOOR,
        EASTMOOR_ASK,
        ["-s", "national_data_opt_out=true"],
        "subject.national_data_opt_out",
        "lasting_power_of_attorney",
    ),
]
WRONG_IDS = [
    "paramedic at Northgate",
    "link worker at Northgate",
    "CHC assessment at Northgate",
    "attorney at Northgate",
    "home care worker at Eastmoor",
    "police officer at Eastmoor",
    "safeguarding at Eastmoor",
    "capacity assessment at Eastmoor",
    "opt-out at Eastmoor",
]


def _flags(base: list[str], change: list[str]) -> list[str]:
    """`base` with the option `change` names replaced (or added, for -s)."""
    flags = list(base)
    if change[0] in flags:
        flags[flags.index(change[0]) + 1] = change[1]
    else:
        flags += change
    return flags


@pytest.mark.parametrize(("pack", "base", "change", "field", "valid"), WRONG_REGION, ids=WRONG_IDS)
def test_the_cli_refuses_the_other_regions_words_naming_the_field_and_valid_codes(
    pack: Path, base: list[str], change: list[str], field: str, valid: str
) -> None:
    flags = ["decide", "--policies", str(pack), *_flags(base, change), "--at", ON]
    result = CliRunner().invoke(app, flags)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"{field}:" in said
    assert valid in said  # a code of the loaded pack, listed as one that is valid
    assert "Traceback" not in said


# ---- The service --------------------------------------------------------------------------


@pytest.fixture
def eastmoor_service(tmp_path: Path) -> TestClient:
    return TestClient(create_app(settings(tmp_path, policies=EASTMOOR), trail=FakeTrail()))


@pytest.fixture
def northgate_service(tmp_path: Path) -> TestClient:
    return TestClient(create_app(settings(tmp_path), trail=FakeTrail()))


def test_the_service_decides_for_a_link_worker_and_a_paramedic(
    eastmoor_service: TestClient,
) -> None:
    consented = {**LINK_WORKER, "subject": {**LINK_WORKER["subject"], "consent": "explicit"}}
    response = eastmoor_service.post("/v1/decisions", json=consented, headers=CALLER)
    assert response.status_code == 200, response.text
    assert decisive(response.json()) == ["em-social-prescribing/care-plan-for-link-workers"]

    response = eastmoor_service.post("/v1/decisions", json=PARAMEDIC, headers=CALLER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["effect"], decisive(body)) == ("permit", ["em-ambulance/paramedic-best-interests"])


def test_the_service_decides_with_the_attorney_fact(eastmoor_service: TestClient) -> None:
    request = {**CHC, "subject": {**CHC["subject"], "lasting_power_of_attorney": True}}
    body = eastmoor_service.post("/v1/decisions", json=request, headers=CALLER).json()
    assert (body["effect"], decisive(body)) == ("deny", ["em-chc/attorney-decides"])
    assert {"subject.consent": "explicit"} in body["would_permit_if"]


def test_authzen_carries_eastmoors_facts_in_its_context(eastmoor_service: TestClient) -> None:
    """An AuthZEN caller puts the person's facts in `context`, by the pack's own names."""
    evaluation: dict[str, Any] = {
        "subject": {
            "type": "user",
            "id": "staff-0101",
            "properties": {"role": "chc_nurse_assessor", "organisation": "EMICB"},
        },
        "action": {"name": "direct_care"},
        "resource": {
            "type": "continuing_healthcare_assessment",
            "id": "chc-42",
            "properties": {"holder": "REM"},
        },
        "context": {
            "relationship": "care_team",
            "has_capacity": "false",
            "lasting_power_of_attorney": True,
            "consent": "explicit",
            "at": ON,
        },
    }
    response = eastmoor_service.post("/access/v1/evaluation", json=evaluation, headers=CALLER)
    assert response.status_code == 200, response.text
    body = response.json()
    # Permitted on that date; an answer for another date is never a permission now.
    assert (body["decision"], body["context"]["effect"]) == (False, "permit")
    assert "check_lpa_registration" in body["context"]["obligations"]

    evaluation["context"]["national_data_opt_out"] = True  # Northgate's fact, not Eastmoor's
    response = eastmoor_service.post("/access/v1/evaluation", json=evaluation, headers=CALLER)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "context.national_data_opt_out"
    assert "lasting_power_of_attorney" in error["message"]


def _request_from_flags(base: list[str], change: list[str]) -> dict[str, Any]:
    """The request the CLI flags of WRONG_REGION describe, as JSON for the service."""
    flags = _flags(base, change)
    value = dict(zip(flags[::2], flags[1::2], strict=True))
    subject: dict[str, Any] = {"relationship": "care_team"}
    if "-s" in value:
        name, _, fact = value["-s"].partition("=")
        subject[name] = fact == "true"
    return {
        "requester": {"role": value["--role"], "organisation": value["--org"]},
        "holder": {"organisation": value["--holder"]},
        "purpose": value["--purpose"],
        "record_type": value["--record"],
        "subject": subject,
        "at": ON,
    }


@pytest.mark.parametrize(("pack", "base", "change", "field", "valid"), WRONG_REGION, ids=WRONG_IDS)
def test_the_service_answers_422_to_the_other_regions_words(
    eastmoor_service: TestClient,
    northgate_service: TestClient,
    pack: Path,
    base: list[str],
    change: list[str],
    field: str,
    valid: str,
) -> None:
    service = eastmoor_service if pack == EASTMOOR else northgate_service
    response = service.post("/v1/decisions", json=_request_from_flags(base, change), headers=CALLER)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert valid in error["message"]


# ---- The page -----------------------------------------------------------------------------


def test_the_page_asks_eastmoors_questions_and_not_northgates(
    eastmoor_service: TestClient,
) -> None:
    assert sign_in(eastmoor_service).status_code == 303
    html = eastmoor_service.get("/").text
    assert LPA_QUESTION in html
    assert "they decide only while the person lacks" in html  # the fact's hint
    assert '<option value="link_worker">Social prescribing link worker</option>' in html
    assert '<option value="paramedic">Paramedic</option>' in html
    assert '<option value="continuing_healthcare_assessment">' in html
    assert '<option value="EMVC">Eastmoor Together (EMVC)</option>' in html
    for northgate in ("national data opt-out", "section 251", "age in years", "Northgate"):
        assert northgate not in html


@pytest.fixture
def eastmoor_url(tmp_path: Path) -> Iterator[str]:
    configured = settings(
        tmp_path,
        policies=EASTMOOR,
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        hmac_key=tmp_path / "hmac.key",
        signing_key=tmp_path / "signing.key",
    )
    with running_service(configured, log=tmp_path / "service.log") as (base, _):
        yield base


def test_igengine_serve_started_on_the_eastmoor_pack_answers_over_http(eastmoor_url: str) -> None:
    """As users start it (`igengine serve --policies ...`, audit on): the paramedic's request
    is answered and recorded, and a Northgate role is a 422."""
    with httpx.Client(base_url=eastmoor_url, headers=CALLER, trust_env=False) as client:
        response = client.post("/v1/decisions", json=PARAMEDIC)
        assert response.status_code == 200, response.text
        assert decisive(response.json()) == ["em-ambulance/paramedic-best-interests"]
        northgate = {**PARAMEDIC, "requester": {"role": "therapist", "organisation": "RXA"}}
        refused = client.post("/v1/decisions", json=northgate)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "requester.role"
        policies = client.get("/v1/policies").json()
        assert {a["id"] for a in policies["agreements"]} == {
            "em-social-prescribing",
            "em-ambulance",
            "em-chc",
        }


@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (/usr/bin/chromium); CI installs it",
)
def test_in_chromium_the_attorney_question_changes_the_answer(
    eastmoor_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright
    from test_service_browser import ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1000})
        page.goto(eastmoor_url + "/")
        page.get_by_label("Access key").fill(CALLER_KEY)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Can I share this?")).to_be_visible()

        page.get_by_label("Their role").select_option("social_worker")
        page.get_by_label("Their organisation").select_option("EMCC")
        page.get_by_label("Who holds the record").select_option("REM")
        page.get_by_label("What record they ask for").select_option(
            "continuing_healthcare_assessment"
        )
        page.get_by_label("Why they need it").select_option("direct_care")
        _choose(page, "Is whoever is asking part of this person's care team?", "Yes")
        _choose(
            page,
            "Does the person lack capacity to decide about this sharing?",
            "Yes, assessed as lacking capacity",
        )
        _choose(page, LPA_QUESTION, "Yes")
        page.get_by_role("button", name="Can I share this?").click()

        answer = page.locator("#answer")
        expect(answer.get_by_role("heading", level=2)).to_have_text("✗ No, do not share this")
        expect(answer).to_contain_text("Ask the attorney")
        # What would permit it, put as an answer to the pack's own question.
        expect(answer).to_contain_text("Has the person (or their attorney) given consent")
        shot = tmp_path / "eastmoor-page.png"
        page.screenshot(path=str(shot), full_page=True)

        _choose(page, LPA_QUESTION, "No")
        page.get_by_role("button", name="Can I share this?").click()
        expect(answer.get_by_role("heading", level=2)).to_have_text("✓ Yes, you may share this")
        expect(answer).to_contain_text("best interests")
        page.screenshot(path=str(tmp_path / "eastmoor-page-no-attorney.png"), full_page=True)
        browser.close()
    if SCREENS.is_dir():
        shutil.copy(shot, SCREENS / "eastmoor-page.png")


def _choose(page: Any, question: str, answer: str) -> None:
    page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()
