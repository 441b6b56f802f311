"""Who may see the IG lead's pages: a signed-in page session (the frontline page's sign-in)
whose key is an admin key. The pages are rendered from Jinja2 templates, autoescaped."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request as HttpRequest
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from service.auth import Access
from service.page import _HEADERS, COOKIE, _form, _same_origin
from service.state import ServiceState, state_of

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# "a ward nurse at ..." opens a heading as "A ward nurse at ...".
_TEMPLATES.filters["capitalize_first"] = lambda text: text[:1].upper() + text[1:]


@dataclass(frozen=True)
class AdminSession:
    """A signed-in admin: the key's name, the session's form token, the service."""

    name: str
    csrf: str
    state: ServiceState


def html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from `service/templates/<template>`, with the frontline page's headers; the
    IG lead's links are in its header unless `admin=False` is given."""
    text = _TEMPLATES.get_template(template).render(**{"admin": True, **context})
    return HTMLResponse(text, status_code=status, headers=_HEADERS)


def admin_session(request: HttpRequest, back: str) -> AdminSession | Response:
    """The signed-in admin, or the response to send instead: to the sign-in page (coming
    back to `back` afterwards) without a session, a 403 page for a key that is not admin."""
    state = state_of(request)
    cookie = request.cookies.get(COOKIE)
    key = state.sessions.read(cookie, state.keys)
    if key is None or cookie is None:
        return RedirectResponse(f"/login?next={back}", status_code=303)
    csrf = state.sessions.csrf_token(cookie)
    if key.access is not Access.ADMIN:
        state.metrics.rejected.labels(status="403").inc()
        return html("forbidden.html", 403, csrf=csrf, signed_in=True, admin=False)
    return AdminSession(name=key.name, csrf=csrf, state=state)


async def posted_form(request: HttpRequest, session: AdminSession) -> dict[str, str] | Response:
    """The form an admin posted, or a 403 page if it came from elsewhere or is out of date."""
    form = await _form(request)
    if not _same_origin(request) or not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        session.state.metrics.rejected.labels(status="403").inc()
        return html("out_of_date.html", 403, csrf=session.csrf, signed_in=True)
    return form
