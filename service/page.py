"""The frontline page: sign in once with an access key, then ask and read the answer.

Plain form posts, no JavaScript needed. The session is a signed HttpOnly, SameSite=Strict
cookie, and every form carries a token bound to it, so another site cannot post answers.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Response
from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, RedirectResponse

from igengine import RequestError
from igengine.request import parse_request
from service import questions, render
from service.auth import Principal
from service.decisions import Withheld
from service.lane import limited_body
from service.state import ServiceState, state_of

router = APIRouter(include_in_schema=False)

COOKIE = "igengine_session"
_MAX_FORM = 16 * 1024
_CSS = (Path(__file__).parent / "static" / "page.css").read_bytes()
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=_HEADERS)


@router.get("/static/page.css")
async def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
async def login_form() -> HTMLResponse:
    return _html(render.login())


@router.post("/login")
async def login(request: HttpRequest) -> Response:
    state = state_of(request)
    form = await _form(request)
    key = state.keys.authenticate(form.get("key", "")) if form.get("key") else None
    if key is None:
        state.metrics.rejected.labels(status="401").inc()
        return _html(
            render.login("That access key is not recognised. Check it and try again."), 401
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        state.sessions.issue(key),
        max_age=state.sessions.LIFETIME,
        httponly=True,
        samesite="strict",
        secure=state.settings.secure_cookies,
    )
    return response


@router.post("/logout")
async def logout(request: HttpRequest) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


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
    if not hmac.compare_digest(form.get("csrf", ""), csrf):
        return _html(
            render.problem_page(
                "Please try again",
                "This form was out of date. Go back, and send it again.",
                csrf=csrf,
            ),
            403,
        )
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
    413 by the DecisionLane middleware) past _MAX_FORM, before anything is checked."""
    body = await limited_body(request, _MAX_FORM)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items() if values}
