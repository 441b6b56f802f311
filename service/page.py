"""The frontline page: sign in once with an access key, then ask and read the answer.

Plain form posts, no JavaScript needed. The session is kept on the server and named by an
HttpOnly, SameSite=Strict cookie; every form (sign-in and sign-out too) carries a token bound
to a cookie and the browser's Origin is checked, so another site cannot post to the page.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Response
from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, RedirectResponse

from igengine import RequestError
from igengine.request import parse_request
from service import questions, render
from service.auth import Principal
from service.bodylimit import limited_body
from service.decisions import Withheld
from service.state import ServiceState, state_of

router = APIRouter(include_in_schema=False)

COOKIE = "igengine_session"
# Holds the random value the sign-in form's token is bound to (before there is a session).
LOGIN_COOKIE = "igengine_login"
_MAX_FORM = 16 * 1024
_CSS = (Path(__file__).parent / "static" / "page.css").read_bytes()
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer browsers send `Origin: null` with form
    # posts, and the sign-in check needs the real origin. Nothing goes to other sites.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=_HEADERS)


@router.get("/static/page.css")
async def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


# Where sign-in may lead back to (the IG lead's pages send people to sign in first); any other
# `next` leads to the frontline page, so a link cannot send someone off the service.
COMING_BACK = frozenset({"/", "/dashboard", "/subject-access"})


@router.get("/login")
async def login_form(request: HttpRequest) -> Response:
    state = state_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    return _login_page(state, nonce, back=request.query_params.get("next", "/"))


def _login_page(
    state: ServiceState, nonce: str, error: str = "", status: int = 200, back: str = "/"
) -> Response:
    """The sign-in form, its token bound to the pre-session cookie it (re)sets."""
    csrf = state.sessions.login_token(nonce)
    back = back if back in COMING_BACK else "/"
    response = _html(render.login(error, csrf=csrf, back=back), status)
    _set_cookie(response, state, LOGIN_COOKIE, nonce)
    return response


def _set_cookie(response: Response, state: ServiceState, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=state.sessions.LIFETIME,
        httponly=True,
        samesite="strict",
        secure=state.settings.secure_cookies,
    )


@router.post("/login")
async def login(request: HttpRequest) -> Response:
    state = state_of(request)
    form = await _form(request)
    nonce = request.cookies.get(LOGIN_COOKIE)
    if (
        not _same_origin(request)
        or not nonce
        or not hmac.compare_digest(form.get("csrf", ""), state.sessions.login_token(nonce))
    ):
        # Another site's form, or a stale one: sign-in must come from this page.
        state.metrics.rejected.labels(status="403").inc()
        fresh = secrets.token_urlsafe(32)
        return _login_page(state, fresh, "This form was out of date. Please sign in again.", 403)
    key = state.keys.authenticate(form.get("key", "")) if form.get("key") else None
    if key is None:
        state.metrics.rejected.labels(status="401").inc()
        return _login_page(
            state,
            nonce,
            "That access key is not recognised. Check it and try again.",
            401,
            back=form.get("next", "/"),
        )
    back = form.get("next", "/")
    response = RedirectResponse(back if back in COMING_BACK else "/", status_code=303)
    _set_cookie(response, state, COOKIE, state.sessions.issue(key))
    return response


@router.post("/logout")
async def logout(request: HttpRequest) -> Response:
    state = state_of(request)
    cookie = request.cookies.get(COOKIE)
    if cookie is not None and state.sessions.read(cookie, state.keys) is not None:
        csrf = state.sessions.csrf_token(cookie)
        form = await _form(request)
        if not _same_origin(request) or not hmac.compare_digest(form.get("csrf", ""), csrf):
            return _out_of_date(csrf)
    if cookie is not None:
        # Ended on the server, so the cookie is worthless even if a copy of it survives.
        state.sessions.revoke(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _same_origin(request: HttpRequest) -> bool:
    """False when the browser says the form came from another site. Browsers send Origin
    with every form post; its absence (older clients) leaves the decision to the token."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _out_of_date(csrf: str) -> Response:
    return _html(
        render.problem_page(
            "Please try again",
            "This form was out of date. Go back, and send it again.",
            csrf=csrf,
        ),
        403,
    )


@router.get("/")
async def page(request: HttpRequest) -> Response:
    state = state_of(request)
    cookie = request.cookies.get(COOKIE)
    if state.sessions.read(cookie, state.keys) is None or cookie is None:
        return RedirectResponse("/login", status_code=303)
    return _html(render.form_page(state.engine.pack, {}, state.sessions.csrf_token(cookie)))


@router.post("/")
async def ask(request: HttpRequest) -> Response:
    state = state_of(request)
    cookie = request.cookies.get(COOKIE)
    key = state.sessions.read(cookie, state.keys)
    if key is None or cookie is None:
        return RedirectResponse("/login", status_code=303)
    csrf = state.sessions.csrf_token(cookie)
    form = await _form(request)
    if not _same_origin(request) or not hmac.compare_digest(form.get("csrf", ""), csrf):
        return _out_of_date(csrf)
    return await _answer(state, form, Principal(name=key.name, access=key.access), csrf)


async def _answer(
    state: ServiceState, form: dict[str, str], principal: Principal, csrf: str
) -> Response:
    pack = state.engine.pack
    missing = [
        (q.field, "answer this question")
        for q in questions.all_questions(pack)
        if q.required and not form.get(q.name)
    ]
    request = questions.request_from_form(form, pack)
    try:
        if missing:
            # Report every problem at once: the unanswered questions and any bad answers.
            raise RequestError(missing + _shape_problems(request))
        decision = (await state.decide(request, principal, "page")).decision
    except RequestError as exc:
        state.metrics.rejected.labels(status="422").inc()
        return _html(render.form_page(pack, form, csrf, errors=exc.errors), 422)
    except Withheld:
        return _html(
            render.problem_page(
                "No answer: the record of decisions is not working",
                "igengine could not record this decision, so it cannot give you an answer. Do "
                "not share on the strength of this page. Try again in a minute; if it keeps "
                "happening, tell your IG lead or IT service desk.",
                csrf=csrf,
            ),
            503,
        )
    return _html(render.form_page(pack, form, csrf, decision=decision))


def _shape_problems(request: dict[str, object]) -> list[tuple[str, str]]:
    try:
        parse_request(request)
    except RequestError as exc:
        return exc.errors
    return []


async def _form(request: HttpRequest) -> dict[str, str]:
    """A url-encoded form body (first value of each field). Raises BodyTooLarge (answered
    413) past _MAX_FORM, before anything is checked."""
    body = await limited_body(request, _MAX_FORM)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items() if values}
