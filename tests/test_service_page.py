"""The frontline page over plain form posts (no JavaScript): sign-in, the questions, answers."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_support import CALLER_KEY, FakeTrail, settings, sign_in

from service import create_app
from service.page import COOKIE

CAPACITY_FORM = {
    "role": "social_worker",
    "organisation": "NGCC",
    "holder": "RNG",
    "record_type": "capacity_assessment",
    "purpose": "direct_care",
    "relationship": "care_team",
    "objection": "no",
    "consent": "none",
    "risk_of_serious_harm": "no",
    "has_capacity": "false",
    "age": "82",
}


@pytest.fixture
def trail() -> FakeTrail:
    return FakeTrail()


@pytest.fixture
def client(tmp_path: Path, trail: FakeTrail) -> TestClient:
    client = TestClient(create_app(settings(tmp_path), trail=trail))
    assert sign_in(client).status_code == 303
    return client


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert match
    return match.group(1)


def _text(html: str) -> str:
    inline = re.sub(r"</?(?:strong|code|span|a)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", inline)))


def _answer(html: str) -> str:
    match = re.search(r'<section id="answer".*?</section>', html, re.S)
    assert match, "no answer on the page"
    return _text(match.group(0))


def test_the_page_needs_a_sign_in(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert client.post("/", data=CAPACITY_FORM, follow_redirects=False).status_code == 303
    refused = sign_in(client, "igk_wrong")
    assert refused.status_code == 401
    assert "not recognised" in refused.text


def test_the_session_cookie_is_httponly_and_same_site(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    response = sign_in(client)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert CALLER_KEY not in cookie


def test_every_control_has_a_label_and_groups_have_legends(client: TestClient) -> None:
    html = client.get("/").text
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids and ids <= labelled
    assert html.count("<fieldset") == html.count("<legend>")
    assert '<html lang="en-GB">' in html and 'href="#main"' in html


def test_dropdowns_come_from_the_pack_and_vocabulary(client: TestClient) -> None:
    html = client.get("/").text
    assert '<option value="NGCC">Northgate City Council' in html
    assert '<option value="capacity_assessment">Capacity assessment</option>' in html
    assert '<option value="social_worker">Social worker</option>' in html
    assert "http://" not in html and "https://" not in html  # no external assets


def test_the_capacity_question_is_answered_in_plain_english(
    client: TestClient, trail: FakeTrail
) -> None:
    response = client.post("/", data={**CAPACITY_FORM, "csrf": _csrf(client)})
    assert response.status_code == 200
    answer = _answer(response.text)
    assert "Yes, you may share this" in answer
    assert "UK GDPR, Article 9(2)(h): health or social care" in answer
    assert "Share only the minimum information needed" in answer  # an obligation, as words
    assert "Record what you shared" in answer
    [(request, decision)] = trail.entries
    assert decision.decision_id in answer
    facts = request.subject.facts()
    assert facts["has_capacity"] == "false" and facts["age"] == 82
    assert "Content-Security-Policy" in response.headers


def test_a_deny_says_what_would_make_it_permissible(client: TestClient) -> None:
    form = {**CAPACITY_FORM, "relationship": "none", "csrf": _csrf(client)}
    answer = _answer(client.post("/", data=form).text)
    assert "No, do not share this" in answer
    assert "What would make it permissible" in answer
    assert "“Is whoever is asking part of this person's care team?” with “Yes”" in answer


def test_unanswered_and_bad_answers_are_listed_together(client: TestClient) -> None:
    form = {**CAPACITY_FORM, "age": "eighty", "csrf": _csrf(client)}
    del form["relationship"]
    response = client.post("/", data=form)
    assert response.status_code == 422
    text = _text(response.text)
    assert "There is a problem" in text
    assert "Is whoever is asking part of this person's care team?: answer this question" in text
    assert "age in years" in text
    assert 'href="#q-relationship-0"' in response.text
    assert 'value="eighty"' in response.text  # answers are kept


def test_a_post_without_the_form_token_is_refused(client: TestClient) -> None:
    assert client.post("/", data=CAPACITY_FORM).status_code == 403


def test_an_audit_failure_gives_no_answer(client: TestClient, trail: FakeTrail) -> None:
    trail.failing = True
    response = client.post("/", data={**CAPACITY_FORM, "csrf": _csrf(client)})
    assert response.status_code == 503
    assert "could not record this decision" in response.text
    assert "you may share" not in response.text


def test_signing_out_ends_the_session(client: TestClient) -> None:
    client.post("/logout", data={"csrf": _csrf(client)})
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_stylesheet_is_served_locally(client: TestClient) -> None:
    response = client.get("/static/page.css")
    assert response.status_code == 200
    assert ":focus-visible" in response.text


def test_the_form_and_the_answer_speak_to_whoever_holds_the_record(client: TestClient) -> None:
    html = client.get("/").text
    for label in ("Their role", "Their organisation", "What record they ask for"):
        assert f">{label}</label>" in html
    assert ">Why they need it</label>" in html
    assert "My role" not in html and "Why I need it" not in html
    answer = _answer(client.post("/", data={**CAPACITY_FORM, "csrf": _csrf(client)}).text)
    assert "Yes, you may share this" in answer
    assert "Northgate Hospitals NHS Foundation Trust may share the capacity assessment" in answer


def test_each_missing_answer_is_listed_once_in_words(client: TestClient) -> None:
    response = client.post("/", data={"csrf": _csrf(client)})
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S)
    assert summary
    items = re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', summary.group(0))
    required = ["role", "organisation", "holder", "record_type", "purpose", "relationship"]
    assert [target for target, _ in items] == [
        f"q-{name}-0" if name == "relationship" else f"q-{name}" for name in required
    ]
    said = " ".join(unescape(text) for _, text in items)
    assert said.count("Who holds the record") == 1 and said.count("Their role") == 1
    # Never a field name of the request or the engine's own wording for one.
    for leaked in ("holder", "requester", "record_type", "is required"):
        assert leaked not in said


def test_the_answer_keeps_the_rules_and_the_law_in_a_closed_details_part(
    client: TestClient,
) -> None:
    form = {**CAPACITY_FORM, "objection": "yes", "csrf": _csrf(client)}
    html = client.post("/", data=form).text
    section = re.search(r'<section id="answer".*?</section>', html, re.S)
    assert section
    why = re.search(r"<h3>Why</h3>\s*<p>(.*?)</p>", section.group(0), re.S)
    trace = re.search(r"<details class=\"trace\">(.*?)</details>", section.group(0), re.S)
    assert why and trace
    assert "ntg-int-care/" not in why.group(1) and "ntg-int-care/person-objected" in trace.group(1)
    assert "integrated-care.yaml:" in trace.group(1) and "The grounds" in trace.group(1)
    # A deny shares nothing: its reference is for asking about it, not for keeping.
    text = _text(section.group(0))
    assert "keep this if you share" not in text
    assert "quote it if you ask your IG lead or Caldicott Guardian about this answer" in text
