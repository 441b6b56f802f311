""" "Who has asked about me?" at /subject-access (admin keys only): every decision the trail
holds about one person, for answering a subject access request, on screen, as CSV, and as a
letter-ready summary in plain English.

People are stored only as a keyed HMAC of their identifier, so the identifier typed in is
pseudonymised with the trail's key and matched by the index on it. The identifier travels in
form posts, never in a URL, so it is not left in logs or browser history.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from fastapi import Request as HttpRequest
from starlette.concurrency import run_in_threadpool

from igengine.audit import AuditEntry, AuditError, AuditTrail
from igengine.policy.pack import PolicyPack
from service.admin_session import AdminSession, admin_session, html, posted_form
from service.dashboard import code_label, organisation_name, requester_words
from service.settings import Settings

router = APIRouter(include_in_schema=False)

# Far more than any one person's decisions; the page says so if a search reaches it.
MOST_DECISIONS = 100_000
CSV_COLUMNS = (
    "recorded_at_utc",
    "decision_id",
    "requester_id",
    "requester_role",
    "organisation",
    "organisation_name",
    "purpose",
    "record_type",
    "answer",
    "break_glass",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Asked:
    """One decision about the person, in words."""

    at: datetime
    decision_id: str
    who: str
    requester: str
    role: str
    organisation: str
    organisation_name: str
    purpose: str
    purpose_code: str
    record: str
    record_code: str
    permitted: bool
    break_glass: bool

    @property
    def answer(self) -> str:
        return "shared (permitted)" if self.permitted else "not shared (denied)"


@router.get("/subject-access")
async def subject_access_form(request: HttpRequest) -> Response:
    session = admin_session(request, "/subject-access")
    if not isinstance(session, AdminSession):
        return session
    return _page(session)


@router.post("/subject-access")
async def subject_access(request: HttpRequest) -> Response:
    found = await _search(request)
    if not isinstance(found, tuple):
        return found
    session, person, decisions = found
    return _page(session, person=person, decisions=decisions, searched=True)


@router.post("/subject-access/csv")
async def subject_access_csv(request: HttpRequest) -> Response:
    found = await _search(request)
    if not isinstance(found, tuple):
        return found
    _, _, decisions = found
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return Response(
        as_csv(decisions),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="subject-access-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/subject-access/letter")
async def subject_access_letter(request: HttpRequest) -> Response:
    found = await _search(request)
    if not isinstance(found, tuple):
        return found
    session, person, decisions = found
    return html(
        "letter.html",
        csrf=session.csrf,
        signed_in=True,
        person=person,
        decisions=decisions,
        organisations=sorted({d.organisation_name for d in decisions}),
        today=datetime.now(UTC).date(),
    )


async def _search(request: HttpRequest) -> tuple[AdminSession, str, list[Asked]] | Response:
    """The signed-in admin, the identifier posted and the decisions about that person; or
    the page to send instead (sign-in, 403, or the form with the problem named)."""
    session = admin_session(request, "/subject-access")
    if not isinstance(session, AdminSession):
        return session
    form = await posted_form(request, session)
    if not isinstance(form, dict):
        return form
    person = form.get("person", "").strip()
    if not person:
        problem = ("person", "Enter the person's identifier, for example their NHS number")
        return _page(session, problems=[problem], status=422)
    settings = session.state.settings
    try:
        entries = await run_in_threadpool(decisions_about, settings, person)
    except AuditError as exc:
        return _page(session, person=person, problems=[("person", str(exc))], status=503)
    pack = session.state.engine.pack
    return session, person, [_asked(entry, pack) for entry in entries]


def decisions_about(settings: Settings, person: str) -> list[AuditEntry]:
    """Every decision about the person with this identifier, oldest first (their pseudonym
    computed with the trail's key, then matched by its index)."""
    if settings.audit_url is None:
        raise AuditError("the audit trail is off, so no decisions are recorded")
    if not settings.hmac_key.exists():
        raise AuditError(f"there is no pseudonymisation key at {settings.hmac_key}")
    with AuditTrail.open(settings.audit_url, hmac_key_path=settings.hmac_key, create=False) as t:
        entries = t.query(person=person, limit=MOST_DECISIONS)
    return [entry for entry in entries if entry.kind == "decision"]


def _asked(entry: AuditEntry, pack: PolicyPack) -> Asked:
    return Asked(
        at=entry.at,
        decision_id=entry.decision_id,
        who=requester_words(entry, pack),
        requester=entry.requester or "",
        role=entry.role or "",
        organisation=entry.organisation or "",
        organisation_name=organisation_name(entry.organisation, pack),
        purpose=code_label(pack, "purposes", entry.purpose),
        purpose_code=entry.purpose or "",
        record=code_label(pack, "record_types", entry.record_type),
        record_code=entry.record_type or "",
        permitted=entry.effect == "permit",
        break_glass=entry.break_glass,
    )


def as_csv(decisions: list[Asked]) -> str:
    """One row per decision under CSV_COLUMNS; codes as stored, times in UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for d in decisions:
        row = [
            d.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            d.decision_id,
            d.requester,
            d.role,
            d.organisation,
            d.organisation_name,
            d.purpose_code,
            d.record_code,
            "permit" if d.permitted else "deny",
            "yes" if d.break_glass else "no",
        ]
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def _cell(value: str) -> str:
    # Staff ids come from calling systems: one that looks like a formula is kept as text.
    return "'" + value if value.startswith(_FORMULA_START) else value


def _page(
    session: AdminSession,
    *,
    person: str = "",
    decisions: list[Asked] | None = None,
    searched: bool = False,
    problems: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    decisions = decisions or []
    return html(
        "subject_access.html",
        status,
        csrf=session.csrf,
        signed_in=True,
        person=person,
        decisions=decisions,
        searched=searched,
        capped=len(decisions) >= MOST_DECISIONS,
        problems=problems or [],
    )
