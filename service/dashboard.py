"""The IG lead's dashboard at /dashboard (admin keys only): a period's decisions by purpose,
requesting sector and answer; the rules behind denies; break-glass decisions awaiting their
retrospective review, with a form to record it; agreements due for review; fail-safe denies
and audit write failures.

Everything counted comes from the audit trail through `igengine.audit.report`, in the
database; a review is recorded exactly as `igengine audit review --mark` records it.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi import Request as HttpRequest
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from igengine.audit import AuditEntry, AuditError, AuditTrail
from igengine.audit.report import Period, Summary, Tally, TrailReport
from igengine.policy.pack import PolicyPack
from service.admin_session import AdminSession, admin_session, html, posted_form
from service.charts import Bar, stacked_bars
from service.settings import Settings
from service.state import ServiceState

router = APIRouter(include_in_schema=False)
log = logging.getLogger("igengine.service")

# The periods offered as links, in days.
QUICK_PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
# Agreements whose review date is this close are listed as due.
REVIEW_SOON_DAYS = 90
DENY_REASONS_SHOWN = 10
_METRIC = re.compile(r"^igengine_audit_write_failures_total(?:\{[^}]*\})? (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class DenyReason:
    rule: str | None
    title: str
    denies: int


@dataclass(frozen=True)
class DueAgreement:
    title: str
    owner: str
    review_date: date
    days: int  # until the review date; negative once it has passed


@router.get("/dashboard")
async def dashboard(request: HttpRequest) -> Response:
    session = admin_session(request, "/dashboard")
    if not isinstance(session, AdminSession):
        return session
    query = request.query_params
    period, problems = chosen_period(query.get("from"), query.get("to"), query.get("days"))
    recorded = query.get("recorded", "")
    notice = f"The review was recorded as audit entry {recorded}." if recorded.isdigit() else ""
    return await _dashboard_page(session, period, problems, notice=notice)


@router.post("/dashboard/review")
async def record_review(request: HttpRequest) -> Response:
    session = admin_session(request, "/dashboard")
    if not isinstance(session, AdminSession):
        return session
    form = await posted_form(request, session)
    if not isinstance(form, dict):
        return form
    period = Period.ending(_today(), DEFAULT_DAYS)
    decision_id = form.get("decision_id", "")
    reviewer = form.get("reviewer", "").strip()
    if not reviewer:
        problem = ("reviewer-" + decision_id, "Enter your name as the reviewer")
        return await _dashboard_page(session, period, [problem], status=422, form=form)
    try:
        seq = await run_in_threadpool(
            mark_reviewed, session.state.settings, decision_id, reviewer, form.get("note", "")
        )
    except AuditError as exc:
        problem = ("reviews", f"The review was not recorded: {exc}")
        return await _dashboard_page(session, period, [problem], status=422, form=form)
    return RedirectResponse(f"/dashboard?recorded={seq}#reviews", status_code=303)


def mark_reviewed(settings: Settings, decision_id: str, reviewer: str, note: str) -> int:
    """Record the review as `igengine audit review --mark` does: the same chained entry,
    then a signed head covering it (so `igengine audit verify` accepts it). Returns its seq."""
    if settings.audit_url is None:
        raise AuditError("the audit trail is off, so there is nothing to review")
    trail = AuditTrail.open(
        settings.audit_url,
        signing_key_path=settings.signing_key,
        witness_path=settings.audit_witness,
        create=False,
    )
    try:
        return trail.mark_reviewed(decision_id, reviewer, note).seq
    finally:
        trail.close()


def count_ahead(settings: Settings) -> None:
    """Start bringing the dashboard's daily tally up to date in the background, so that the
    first load after a start (or over a long trail made earlier) need not count the trail.
    A daemon thread: stopping the service never waits for it, and a count cut short is rolled
    back and made again later."""
    url = settings.audit_url
    if url is None:
        return

    def count() -> None:
        try:
            added = TrailReport.open(url).catch_up()
        except Exception as exc:  # the dashboard names the problem when it is opened
            log.warning("the dashboard's tally could not be brought up to date: %s", exc)
            return
        if added:
            log.info("the dashboard's tally now counts %d more audit entries", added)

    threading.Thread(target=count, name="igengine-dashboard-tally", daemon=True).start()


def chosen_period(
    first: str | None, last: str | None, days: str | None
) -> tuple[Period, list[tuple[str, str]]]:
    """The period asked for (From/To dates, or the last `days` days), and the problems with
    what was asked; the last 30 days when nothing (or nothing valid) was asked."""
    today = _today()
    if days and days.isdigit() and 1 <= int(days) <= 3660:
        return Period.ending(today, int(days)), []
    problems: list[tuple[str, str]] = []
    if not first and not last:
        if days:
            problems.append(("days", f"Choose a period of 1 to 3660 days, not '{days}'"))
        return Period.ending(today, DEFAULT_DAYS), problems
    start = _date(first, "from", "From", problems) if first else today
    end = _date(last, "to", "To", problems) if last else today
    if start is not None and end is not None and start > end:
        problems.append(("from", "The From date must be on or before the To date"))
    if problems or start is None or end is None:
        return Period.ending(today, DEFAULT_DAYS), problems
    return Period(start, end), []


def _date(text: str, field: str, label: str, problems: list[tuple[str, str]]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append((field, f"{label}: '{text}' is not a date; write it as 2026-03-31"))
        return None


def _today() -> date:
    return datetime.now(UTC).date()


async def _dashboard_page(
    session: AdminSession,
    period: Period,
    problems: list[tuple[str, str]],
    *,
    notice: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    state = session.state
    context: dict[str, Any] = {
        "csrf": session.csrf,
        "signed_in": True,
        "period": period,
        "quick_periods": QUICK_PERIODS,
        "problems": problems,
        "notice": notice,
        "form": form or {},
        "agreements": due_agreements(state.engine.pack, _today()),
        "audit_failures": audit_write_failures(state),
        "audit_off": state.settings.audit_url is None,
    }
    if state.settings.audit_url is not None:
        try:
            summary, pending = await run_in_threadpool(
                _read_trail, state.settings.audit_url, period
            )
        except AuditError as exc:
            context["problems"] = [*problems, ("trail", str(exc))]
            context["trail_unread"] = True
            return html("dashboard.html", 503, **context)
        context.update(_summary_context(summary, state.engine.pack))
        context["pending"] = [_pending(entry, state.engine.pack) for entry in pending]
    return html("dashboard.html", status, **context)


def _read_trail(url: str, period: Period) -> tuple[Summary, list[AuditEntry]]:
    summary = TrailReport.open(url).summary(period)
    with AuditTrail.open(url, create=False) as trail:
        pending = trail.pending_reviews()
    return summary, pending


def _summary_context(summary: Summary, pack: PolicyPack) -> dict[str, Any]:
    purposes = [
        Bar(code_label(pack, "purposes", t.value), t.permit, t.deny) for t in summary.by_purpose
    ]
    sectors = by_sector(summary.by_organisation, pack)
    effects = [
        Bar("Permitted", summary.permits, 0),
        Bar("Denied", 0, summary.denies),
    ]
    return {
        "summary": summary,
        "purposes": purposes,
        "purpose_chart": stacked_bars(purposes),
        "sectors": sectors,
        "sector_chart": stacked_bars(sectors),
        "effect_chart": stacked_bars(effects),
        "deny_reasons": deny_reasons(summary, pack),
    }


def by_sector(tallies: list[Tally], pack: PolicyPack) -> list[Bar]:
    """The organisations' tallies added up by the sector the pack gives each; organisations
    the loaded pack no longer names are counted apart."""
    sums: dict[str, list[int]] = {}
    for tally in tallies:
        organisation = pack.organisations.get(tally.value or "")
        code = str(organisation.sector) if organisation else ""
        counted = sums.setdefault(code, [0, 0])
        counted[0] += tally.permit
        counted[1] += tally.deny
    rows = [
        Bar(code_label(pack, "sectors", code) if code else "not in the loaded pack", p, d)
        for code, (p, d) in sums.items()
    ]
    return sorted(rows, key=lambda row: (-row.total, row.label))


def deny_reasons(summary: Summary, pack: PolicyPack) -> list[DenyReason]:
    """The rules that decided most denies, with the agreement (or restriction) each is in;
    denies no agreement covered come after them."""
    rules = {rule.id: rule for rule in pack.rules}
    reasons = []
    for tally in summary.deny_rules:
        if tally.value is None:
            continue
        rule = rules.get(tally.value)
        if rule is None:
            title = "(not in the loaded pack)"
        elif rule.restriction is not None:
            title = rule.restriction.title
        else:
            title = rule.agreement.title
        reasons.append(DenyReason(tally.value, title, tally.deny))
    shown = reasons[:DENY_REASONS_SHOWN]
    if summary.no_agreement:
        no_agreement = "No data-sharing agreement covers the request"
        shown.append(DenyReason(None, no_agreement, summary.no_agreement))
    return shown


def due_agreements(pack: PolicyPack, today: date) -> list[DueAgreement]:
    """Agreements whose review date has passed or is within REVIEW_SOON_DAYS, soonest first."""
    due = [
        DueAgreement(a.title, a.owner, a.review_date, (a.review_date - today).days)
        for a in pack.agreements
    ]
    return sorted((a for a in due if a.days <= REVIEW_SOON_DAYS), key=lambda a: a.review_date)


def audit_write_failures(state: ServiceState) -> int:
    """Decisions withheld since the service started because the trail could not be written
    (every worker's, under `igengine serve`): they are, by their nature, not in the trail."""
    found = _METRIC.findall(state.metrics.render().decode())
    return round(sum(float(value) for value in found))


def _pending(entry: AuditEntry, pack: PolicyPack) -> dict[str, Any]:
    request = entry.request or {}
    return {
        "decision_id": entry.decision_id,
        "at": entry.at,
        "who": requester_words(entry, pack),
        "record": code_label(pack, "record_types", entry.record_type),
        "justification": request.get("justification") or "",
    }


def requester_words(entry: AuditEntry, pack: PolicyPack) -> str:
    """ "a ward nurse (wn-3) at Riverside NHS Foundation Trust": who asked, in words."""
    role = code_label(pack, "roles", entry.role)
    staff = f" ({entry.requester})" if entry.requester else ""
    return f"{_article(role)} {role}{staff} at {organisation_name(entry.organisation, pack)}"


def organisation_name(code: str | None, pack: PolicyPack) -> str:
    organisation = pack.organisations.get(code or "")
    return organisation.name if organisation else (code or "an unknown organisation")


def code_label(pack: PolicyPack, kind: str, code: str | None) -> str:
    """A code's words in the loaded pack's vocabulary ('roles', 'purposes' ...); a code it no
    longer has is shown as words too."""
    if code is None:
        return "not recorded"
    return pack.vocabulary.label(kind, code)


def _article(words: str) -> str:
    return "an" if words[:1].lower() in "aeiou" else "a"
