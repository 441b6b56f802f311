"""End to end in real headless Chromium: a nurse signs in, asks the capacity-assessment
question, and reads the answer. Saves a screenshot to test-artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import ADMIN_KEY, CALLER_KEY, ROOT, capacity_request, running_service, settings

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium); `apt-get install -y chromium` "
        "to run the browser test (CI installs it, and there this test never skips)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    configured = settings(
        tmp_path,
        audit_url=audit,
        hmac_key=tmp_path / "hmac.key",
        signing_key=tmp_path / "signing.key",
    )
    with running_service(configured, log=tmp_path / "service.log") as (base, _):
        yield base


def _sign_in(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Access key").fill(CALLER_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Can I share this?")).to_be_visible()


def _choose(page: Page, question: str, answer: str) -> None:
    page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()


TEAM = "Is whoever is asking part of this person's care team?"


def _ask_for_the_capacity_assessment(page: Page) -> None:
    """A social worker has asked the hospital for a capacity assessment, for direct care."""
    page.get_by_label("Their role").select_option("social_worker")
    page.get_by_label("Their organisation").select_option("NGCC")
    page.get_by_label("Who holds the record").select_option("RNG")
    page.get_by_label("What record they ask for").select_option("capacity_assessment")
    page.get_by_label("Why they need it").select_option("direct_care")
    _choose(page, TEAM, "Yes")


def test_a_nurse_asks_for_a_capacity_assessment_and_reads_the_answer(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    _sign_in(page, base_url)
    _ask_for_the_capacity_assessment(page)
    _choose(page, "Does the person lack capacity to decide about this sharing?",
            "Yes, assessed as lacking capacity")  # fmt: skip
    page.get_by_label("The person's age in years").fill("82")
    page.get_by_role("button", name="Can I share this?").click()

    answer = page.locator("#answer")
    expect(answer).to_be_visible()
    expect(answer.get_by_role("heading", level=2)).to_have_text("✓ Yes, you may share this")
    expect(answer).to_contain_text("Mental Capacity Act 2005")
    expect(answer).to_contain_text("UK GDPR, Article 9(2)(h)")
    expect(answer).to_contain_text("Share only the minimum information needed")
    # The answers stay filled in, so the nurse can change one and ask again.
    expect(page.get_by_label("Their organisation")).to_have_value("NGCC")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-capacity-assessment.png"), full_page=True)

    _choose(page, TEAM, "No")
    page.get_by_role("button", name="Can I share this?").click()
    expect(answer.get_by_role("heading", level=2)).to_have_text("✗ No, do not share this")
    expect(answer).to_contain_text("What would make it permissible")
    page.screenshot(path=str(ARTIFACTS / "page-capacity-assessment-deny.png"), full_page=True)


def test_the_answer_reads_in_three_sentences_with_the_details_behind_it(
    browser: Browser, base_url: str
) -> None:
    """The reworded answers, permit and deny, each with its details part closed and open;
    the screenshots are saved to test-artifacts/answer-*.png to be looked at."""
    page = browser.new_page(viewport={"width": 900, "height": 900})
    _sign_in(page, base_url)
    _ask_for_the_capacity_assessment(page)
    page.get_by_role("button", name="Can I share this?").click()
    answer = page.locator("#answer")
    expect(answer.get_by_role("heading", level=2)).to_have_text("✓ Yes, you may share this")
    why = answer.locator("h3:text-is('Why') + p")
    expect(why).to_contain_text(
        "Permitted: Northgate Hospitals NHS Foundation Trust may share the capacity assessment "
        "with a social worker at Northgate City Council"
    )
    details = answer.locator("details")
    rule = answer.get_by_text("ntg-int-care/capacity-assessment-direct-care", exact=False)
    # Closed at first: the rule ids and the law are there for whoever opens them.
    expect(rule).to_be_hidden()
    expect(answer.get_by_text("Mental Capacity Act 2005", exact=False)).to_be_hidden()
    _screens(page, answer, "answer-permit")
    details.locator("summary").click()
    expect(rule).to_be_visible()
    expect(answer.get_by_text("Mental Capacity Act 2005", exact=False)).to_be_visible()
    _screens(page, answer, "answer-permit-details")

    _choose(page, "Has the person objected to this information being shared?", "Yes")
    page.get_by_role("button", name="Can I share this?").click()
    expect(answer.get_by_role("heading", level=2)).to_have_text("✗ No, do not share this")
    expect(why).to_contain_text("The person has objected to this sharing")
    expect(answer.locator(".reference")).to_contain_text(
        "quote it if you ask your IG lead or Caldicott Guardian about this answer"
    )
    expect(answer).not_to_contain_text("keep this if you share")
    _screens(page, answer, "answer-deny")
    details.locator("summary").click()
    expect(answer.get_by_text("ntg-int-care/person-objected", exact=False).first).to_be_visible()
    _screens(page, answer, "answer-deny-details")


def _screens(page: Page, answer: Locator, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    answer.scroll_into_view_if_needed()
    answer.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_each_missing_answer_is_listed_once_with_a_link_to_its_question(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page()
    _sign_in(page, base_url)
    page.get_by_label("Their role").select_option("social_worker")
    page.get_by_role("button", name="Can I share this?").click()
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    links = summary.get_by_role("link")
    expect(links).to_have_text(
        [
            "Their organisation: answer this question",
            "Who holds the record: answer this question",
            "What record they ask for: answer this question",
            "Why they need it: answer this question",
            f"{TEAM}: answer this question",
        ]
    )
    expect(summary).not_to_contain_text("is required")
    links.filter(has_text="Who holds the record").click()
    expect(page.get_by_label("Who holds the record")).to_be_focused()
    links.filter(has_text=TEAM).click()
    expect(page.get_by_role("group", name=TEAM).get_by_label("Yes", exact=True)).to_be_focused()


def test_the_form_works_from_the_keyboard_with_a_visible_focus(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page()
    _sign_in(page, base_url)
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")  # into main, past the header's "Sign out"
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "q-role", f"focus went to {focused!r}, not the first question"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")


def test_the_api_docs_list_the_operations_with_no_internet(browser: Browser, base_url: str) -> None:
    """/docs and /redoc work from the service alone: every request elsewhere is refused (as on
    a machine without internet). None may be for what the pages need (a document, script,
    stylesheet, font or data); ReDoc's own sidebar logo, an image on Redocly's CDN that its
    standalone script always asks for, is the one thing refused and simply not shown."""
    page = browser.new_page()
    elsewhere: list[str] = []

    def only_the_service(route: Route) -> None:
        if route.request.url.startswith(base_url + "/"):
            route.continue_()
        else:
            if route.request.resource_type != "image":
                elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(base_url + "/docs")
    listed = page.locator(".opblock-summary-path")
    expect(listed.filter(has_text="/v1/decisions").first).to_be_visible()
    expect(page.get_by_text("Decide one sharing request")).to_be_visible()
    expect(page.get_by_text("AuthZEN access evaluation")).to_be_visible()
    page.goto(base_url + "/redoc")
    expect(page.get_by_role("heading", name="Decide one sharing request")).to_be_visible()
    assert elsewhere == []


SCREENS = Path("/work/screens")


def _save(page: Page, name: str) -> None:
    """A full-page screenshot in test-artifacts/ (and /work/screens/ where that exists)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if SCREENS.is_dir():
        page.screenshot(path=str(SCREENS / name), full_page=True)


def _record_decisions(base_url: str) -> None:
    """What the wards asked today: two permits and a deny for direct care (two people), and
    a nurse's break-glass access to one person's GP summary."""
    asked = [
        capacity_request(id="9434765919", relationship="care_team"),
        capacity_request(id="4010232137", relationship="care_team"),
        capacity_request(id="9434765919", relationship="none"),
        {
            "requester": {"role": "ward_nurse", "organisation": "RNG", "id": "wn-3"},
            "holder": {"organisation": "NG001"},
            "purpose": "emergency_care",
            "record_type": "gp_summary",
            "subject": {"has_capacity": False, "id": "9434765919"},
            "justification": "unconscious in ED, need current medication",
        },
    ]
    for body in asked:
        answer = httpx.post(
            base_url + "/v1/decisions", json=body, headers={"X-API-Key": CALLER_KEY},
            trust_env=False,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text


def _sign_in_as_ig_lead(page: Page, base_url: str, where: str) -> None:
    page.goto(base_url + where)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Access key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()


def test_the_ig_lead_reads_the_dashboard_and_records_a_review(
    browser: Browser, base_url: str
) -> None:
    _record_decisions(base_url)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    _sign_in_as_ig_lead(page, base_url, "/dashboard")
    expect(page.get_by_role("heading", name="Information governance dashboard")).to_be_visible()
    purposes = page.get_by_role("table", name="Decisions by purpose")
    # A screen reader reads each row whole: purpose, permitted, denied, total.
    expect(purposes.get_by_role("row", name="direct care 2 1 3", exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Decisions by the requester's sector")).to_contain_text(
        "social care"
    )
    expect(page.locator("svg.chart").first).to_be_visible()
    _save(page, "dashboard.png")

    review = page.get_by_role("article")
    expect(review).to_contain_text("unconscious in ED, need current medication")
    review.get_by_label("Reviewer (your name and role)").fill("A. Patel, IG lead")
    review.get_by_label("What the review found").fill("Justified: patient unconscious in ED.")
    review.get_by_label("What the review found").focus()
    _save(page, "review.png")
    review.get_by_role("button", name="Record review").click()
    expect(page.get_by_role("status")).to_contain_text("The review was recorded as audit entry 5")
    expect(
        page.get_by_role("heading", name="Break-glass decisions awaiting review (0)")
    ).to_be_visible()


def test_the_ig_lead_finds_who_has_asked_about_a_person(browser: Browser, base_url: str) -> None:
    _record_decisions(base_url)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    _sign_in_as_ig_lead(page, base_url, "/subject-access")
    expect(page.get_by_role("heading", name="Who has asked about this person?")).to_be_visible()
    page.get_by_label("The person's identifier").fill("943 476 5919")
    page.keyboard.press("Enter")  # the form is sent from the keyboard
    expect(page.get_by_role("heading", name="3 decisions about this person")).to_be_visible()
    rows = page.get_by_role("table", name="Decisions about this person").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_contain_text("Permitted (emergency access)")
    expect(rows.nth(1)).to_contain_text("Denied")
    _save(page, "subject-access.png")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download as CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("recorded_at_utc,decision_id,requester_id") and len(lines) == 4
    page.get_by_role("button", name="Letter-ready summary").click()
    expect(page.get_by_role("heading", name="Requests for information about you")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("staff asked about your information 3 times")
    _save(page, "subject-access-letter.png")
