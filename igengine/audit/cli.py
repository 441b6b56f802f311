"""`igengine audit ...`: verify a trail, search it, and list (or record) break-glass reviews.

Exit codes: 0 success, 1 a trail that fails verification or cannot be opened, 2 bad arguments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from igengine.audit.entry import AuditEntry
from igengine.audit.errors import AuditError
from igengine.audit.trail import DEFAULT_QUERY_LIMIT, AuditTrail
from igengine.audit.verify import VerifyReport

audit_app = typer.Typer(
    help="The audit trail: verify it, search it, review break-glass decisions.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="IGENGINE_AUDIT_URL",
        help="The trail: sqlite:///path/to/audit.db or postgresql://user@host/db",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _open(store: str, hmac_key: Path | None = None) -> AuditTrail:
    """Open an existing trail for reading; never creates a trail or a key."""
    if hmac_key is not None and not hmac_key.exists():
        _fail(f"there is no pseudonymisation key at {hmac_key}")
    try:
        return AuditTrail.open(store, hmac_key_path=hmac_key, create=False)
    except AuditError as exc:
        _fail(str(exc))


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(code)


@audit_app.command("verify")
def verify_command(
    store: StoreOption,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            envvar="IGENGINE_AUDIT_PUBLIC_KEY",
            help="Checkpoint signing public key (PEM); without it, the keys stored in the "
            "trail are used, which shows integrity but not who signed",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes to walk the chain with (default: one per core when long)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry and signed checkpoint; name the first bad entry and exit 1 if any."""
    trail = _open(store)
    try:
        report = trail.verify(public_key, workers=workers)
    except AuditError as exc:
        _fail(str(exc))
    finally:
        trail.close()
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _show_report(report, trail.description)
    if not report.ok:
        raise typer.Exit(1)


def _show_report(report: VerifyReport, where: str) -> None:
    if report.ok:
        rate = report.entries / report.seconds if report.seconds else 0.0
        out.print(
            f"[green]OK[/green]: {report.entries} entries and {report.checkpoints} signed "
            f"checkpoints in {escape(where)} verified in {report.seconds:.2f} s "
            f"({rate:,.0f} entries/s)"
        )
        for warning in report.warnings:
            out.print(f"[yellow]note[/yellow]: {escape(warning)}")
        return
    where_bad = f"first bad entry: {report.first_bad}" if report.first_bad else "bad checkpoint"
    out.print(f"[bold red]TAMPERED[/bold red] ({where_bad}) in {escape(where)}")
    out.print(escape(report.problem or ""))
    out.print(f"[dim]{report.entries} entries before it verified[/dim]")


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: '{value}' is not a date or time (e.g. 2026-03-31 or 2026-03-31T09:00)", 2)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@audit_app.command("query")
def query_command(
    store: StoreOption,
    person: Annotated[
        str | None, typer.Option(help="The person's identifier (pseudonymised to search)")
    ] = None,
    hmac_key: Annotated[
        Path | None,
        typer.Option("--hmac-key", envvar="IGENGINE_HMAC_KEY", help="Pseudonymisation key"),
    ] = None,
    requester: Annotated[
        str | None, typer.Option(help="A requester's staff id or organisation code")
    ] = None,
    record_type: Annotated[str | None, typer.Option(help="e.g. capacity_assessment")] = None,
    effect: Annotated[str | None, typer.Option(help="permit or deny")] = None,
    since: Annotated[str | None, typer.Option(help="Recorded at or after (ISO-8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded at or before (ISO-8601)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, the newest")] = (
        DEFAULT_QUERY_LIMIT
    ),
    as_json: JsonOption = False,
) -> None:
    """Entries matching every filter given, oldest first, as a table or JSON."""
    if person is not None and hmac_key is None:
        _fail("--person needs --hmac-key: people are stored only as keyed pseudonyms", 2)
    trail = _open(store, hmac_key)
    try:
        entries = trail.query(
            person=person,
            requester=requester,
            record_type=record_type,
            effect=effect,
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            limit=limit,
        )
    finally:
        trail.close()
    _show_entries(entries, as_json, f"{len(entries)} entries")


@audit_app.command("review")
def review_command(
    store: StoreOption,
    mark: Annotated[
        str | None, typer.Option("--mark", help="Record the review of this decision id")
    ] = None,
    reviewer: Annotated[str | None, typer.Option(help="Who reviewed it (with --mark)")] = None,
    note: Annotated[str, typer.Option(help="What the review found (with --mark)")] = "",
    as_json: JsonOption = False,
) -> None:
    """Break-glass decisions awaiting retrospective review; with --mark, record a review."""
    trail = _open(store)
    try:
        if mark is not None:
            if not reviewer:
                _fail("--mark needs --reviewer: a review must say who did it", 2)
            entry = trail.mark_reviewed(mark, reviewer, note)
            out.print(f"[green]Recorded[/green]: review of {mark} is entry {entry.seq}")
            return
        pending = trail.pending_reviews()
    except AuditError as exc:
        _fail(str(exc))
    finally:
        trail.close()
    _show_entries(pending, as_json, f"{len(pending)} break-glass decisions awaiting review")


def _show_entries(entries: list[AuditEntry], as_json: bool, title: str) -> None:
    if as_json:
        print(json.dumps([entry.model_dump(mode="json") for entry in entries], indent=2))
        return
    table = Table(title=title)
    for column in ("seq", "recorded", "kind", "requester", "purpose", "record", "effect"):
        table.add_column(column)
    table.add_column("person (pseudonym)")
    table.add_column("decision id")
    for entry in entries:
        table.add_row(*(escape(cell) for cell in _cells(entry)))
    out.print(table)


def _cells(entry: AuditEntry) -> list[str]:
    who = " ".join(part for part in (entry.requester, entry.role, entry.organisation) if part)
    if entry.review is not None:
        who = f"reviewed by {entry.review.reviewer}"
    return [
        str(entry.seq),
        entry.at.strftime("%Y-%m-%d %H:%M:%S"),
        "break glass" if entry.break_glass else entry.kind,
        who,
        entry.purpose or "",
        entry.record_type or "",
        entry.effect or "",
        (entry.person or "")[:16],
        entry.decision_id,
    ]
