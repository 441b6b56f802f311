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
from igengine.audit.trail import DEFAULT_QUERY_LIMIT, DEFAULT_TAIL_GRACE_SECONDS, AuditTrail
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
# Where `igengine serve` keeps its signing key unless told otherwise.
DEFAULT_SIGNING_KEY = Path("audit/signing.key")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _open(store: str, hmac_key: Path | None = None, signing_key: Path | None = None) -> AuditTrail:
    """Open an existing trail; never creates a trail or a key."""
    if hmac_key is not None and not hmac_key.exists():
        fail(f"there is no pseudonymisation key at {hmac_key}")
    if signing_key is not None and not signing_key.exists():
        fail(f"there is no signing key at {signing_key}")
    try:
        return AuditTrail.open(
            store, hmac_key_path=hmac_key, signing_key_path=signing_key, create=False
        )
    except AuditError as exc:
        fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a problem in red on stderr and leave with `code` (no traceback)."""
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
            help="The signing public key (PEM). Without it signatures are NOT checked against "
            "your key, only against keys stored in the trail, which anyone rewriting the "
            "trail can replace",
        ),
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            "--witness",
            envvar="IGENGINE_AUDIT_WITNESS",
            help="The witness file of signed heads kept outside the store (default: beside "
            "the public key, signing.key.pub → signing.key.heads)",
        ),
    ] = None,
    no_witness: Annotated[
        bool,
        typer.Option(
            "--no-witness",
            help="Check without a witness file (then a trail cut short, or rewritten with its "
            "checkpoints deleted, can pass)",
        ),
    ] = False,
    tail_grace: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds an entry after the newest signed head may be old and still pass as "
            "not yet signed",
        ),
    ] = DEFAULT_TAIL_GRACE_SECONDS,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes to walk the chain with (default: one per core when long)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry, signed checkpoint and witnessed head; name the first bad entry and
    exit 1 if any. With --public-key, the witness file beside it must be there too."""
    if witness is not None and (public_key is None or no_witness):
        fail("--witness needs --public-key (its heads are checked against it)", 2)
    trail = _open(store)
    try:
        report = trail.verify(
            public_key,
            workers=workers,
            witness_path=None if no_witness else witness,
            require_witness=public_key is not None and not no_witness,
            tail_grace=tail_grace,
            use_witness=not no_witness,
        )
    except AuditError as exc:
        fail(str(exc))
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
        if report.witness is not None:
            out.print(
                f"{report.witness_heads} signed heads in the witness file "
                f"{escape(report.witness)} agree with the store; {report.uncovered} entries "
                "after the newest"
            )
        for warning in report.warnings:
            out.print(f"[yellow]note[/yellow]: {escape(warning)}")
        return
    where_bad = f"first bad entry: {report.first_bad}" if report.first_bad else "bad checkpoint"
    out.print(f"[bold red]TAMPERED[/bold red] ({where_bad}) in {escape(where)}")
    out.print(escape(report.problem or ""))
    out.print(f"[dim]{report.entries} entries before it verified[/dim]")


def moment(value: str | None, option: str) -> datetime | None:
    """A --since/--until value as an aware time (UTC when none is given), or exit 2."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: '{value}' is not a date or time (e.g. 2026-03-31 or 2026-03-31T09:00)", 2)
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
        fail("--person needs --hmac-key: people are stored only as keyed pseudonyms", 2)
    trail = _open(store, hmac_key)
    try:
        entries = trail.query(
            person=person,
            requester=requester,
            record_type=record_type,
            effect=effect,
            since=moment(since, "--since"),
            until=moment(until, "--until"),
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
    signing_key: Annotated[
        Path | None,
        typer.Option(
            "--signing-key",
            envvar="IGENGINE_SIGNING_KEY",
            help="Signs a head covering the review (with --mark; default "
            f"{DEFAULT_SIGNING_KEY} when it exists), so that verify accepts it",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Break-glass decisions awaiting retrospective review; with --mark, record a review."""
    if signing_key is None and mark is not None and DEFAULT_SIGNING_KEY.exists():
        signing_key = DEFAULT_SIGNING_KEY
    trail = _open(store, signing_key=signing_key if mark is not None else None)
    try:
        if mark is not None:
            if not reviewer:
                fail("--mark needs --reviewer: a review must say who did it", 2)
            entry = trail.mark_reviewed(mark, reviewer, note)
            out.print(f"[green]Recorded[/green]: review of {mark} is entry {entry.seq}")
            return
        pending = trail.pending_reviews()
    except AuditError as exc:
        fail(str(exc))
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
