"""Page sessions: signing out ends them on the server (in every worker), sign-in and sign-out
forms need their tokens, and the cookie holds nothing about the key."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from service_support import (
    CALLER_KEY,
    FakeTrail,
    login_token,
    running_service,
    settings,
    sign_in,
)

from service import create_app
from service.auth import digest
from service.page import COOKIE


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(settings(tmp_path), trail=FakeTrail()))


def _page_csrf(client: TestClient | httpx.Client) -> str:
    text = client.get("/").text
    return text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_a_cookie_copied_before_sign_out_no_longer_works(client: TestClient) -> None:
    sign_in(client)
    cookie = client.cookies[COOKIE]
    client.post("/logout", data={"csrf": _page_csrf(client)}, follow_redirects=False)
    client.cookies.set(COOKIE, cookie)  # what a copy of the cookie would still present
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_sign_out_needs_the_form_token(client: TestClient) -> None:
    sign_in(client)
    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200  # still signed in


def test_sign_in_needs_the_form_token(client: TestClient) -> None:
    refused = client.post("/login", data={"key": CALLER_KEY}, follow_redirects=False)
    assert refused.status_code == 403
    assert COOKIE not in refused.headers.get("set-cookie", "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_token_from_another_browser_does_not_sign_in(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path), trail=FakeTrail())
    token = login_token(TestClient(app))  # bound to the other browser's cookie
    victim = TestClient(app)
    victim.get("/login")
    refused = victim.post("/login", data={"key": CALLER_KEY, "csrf": token})
    assert refused.status_code == 403


def test_a_form_posted_from_another_site_is_refused(client: TestClient) -> None:
    data = {"key": CALLER_KEY, "csrf": login_token(client)}
    headers = {"Origin": "https://elsewhere.example"}
    refused = client.post("/login", data=data, headers=headers, follow_redirects=False)
    assert refused.status_code == 403
    assert sign_in(client).status_code == 303  # the same form from this site works
    logout = {"csrf": _page_csrf(client)}
    assert client.post("/logout", data=logout, headers=headers).status_code == 403


def test_the_cookie_does_not_carry_the_key_digest(client: TestClient) -> None:
    sign_in(client)
    cookie = client.cookies[COOKIE]
    readable = b"".join(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in cookie.split(".")
    )
    key_digest = digest(CALLER_KEY)
    assert key_digest not in cookie
    assert key_digest.encode() not in readable and bytes.fromhex(key_digest) not in readable


def test_sessions_are_shared_and_ended_across_workers(tmp_path: Path) -> None:
    with running_service(settings(tmp_path), workers=2) as (base, _):
        with httpx.Client(base_url=base, trust_env=False) as browser:
            assert sign_in(browser).status_code == 303
            cookie = browser.cookies[COOKIE]
            csrf = _page_csrf(browser)
        # New connections land on either worker: each knows the session, then its end.
        for _ in range(20):
            page = httpx.get(base + "/", cookies={COOKIE: cookie}, trust_env=False)
            assert page.status_code == 200
        ended = httpx.post(
            base + "/logout", data={"csrf": csrf}, cookies={COOKIE: cookie}, trust_env=False
        )
        assert ended.status_code == 303
        for _ in range(20):
            page = httpx.get(base + "/", cookies={COOKIE: cookie}, trust_env=False)
            assert (page.status_code, page.headers["location"]) == (303, "/login")
