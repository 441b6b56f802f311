"""The commands that make a change to a pack safe to approve and to deploy: `igengine lint`,
`igengine diff`, `igengine replay` and `igengine pack sign|verify|keygen`.

Exit codes: 0 nothing to report (or warnings only), 1 findings, changes or a failed check,
2 bad arguments. Bad input gets one message, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from time import perf_counter
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from igengine import diff, lint, packsign, replay
from igengine.audit.cli import fail, moment
from igengine.audit.errors import AuditError
from igengine.packsign import PackSignatureError
from igengine.policy.errors import PolicyError
from igengine.policy.pack import PolicyPack
from igengine.policy.validate import load_pack

pack_app = typer.Typer(
    help="Sign a policy pack, and check a pack's signature.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

PackArgument = Annotated[Path, typer.Argument(help="Policy pack directory")]


@pack_app.command("keygen")
def keygen_command(
    key: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM, 0600)")],
) -> None:
    """Make an Ed25519 key pair for signing packs: KEY (keep it private) and KEY.pub."""
    try:
        public = packsign.make_key(key)
    except (PackSignatureError, OSError) as exc:
        fail(str(exc))
    out.print(f"Private key {escape(str(key))}; give {escape(str(public))} to the service")


@pack_app.command("sign")
def sign_command(
    directory: PackArgument,
    key: Annotated[Path, typer.Option("--key", help="The Ed25519 private key (PEM)")],
) -> None:
    """Sign the pack: write pack.signature.json over its version and each file's hash."""
    try:
        path = packsign.sign(directory, key)
        signed = packsign.verify(directory, packsign.public_key(key))
    except (PackSignatureError, OSError) as exc:
        fail(str(exc))
    out.print(
        f"[green]Signed[/green] {len(signed.files)} files, version {signed.version}: "
        f"{escape(str(path))}"
    )


@pack_app.command("verify")
def verify_command(
    directory: PackArgument,
    public_key: Annotated[
        Path,
        typer.Option(
            "--public-key", envvar="IGENGINE_PACK_PUBLIC_KEY", help="The signer's public key"
        ),
    ],
) -> None:
    """Check the pack's signature against the public key; name any file changed since
    signing and exit 1."""
    try:
        signed = packsign.verify(directory, public_key)
    except PackSignatureError as exc:
        fail(str(exc))
    out.print(
        f"[green]OK[/green]: {len(signed.files)} files match the signature, "
        f"version {signed.version}"
    )


def load_or_fail(directory: Path, what: str) -> PolicyPack:
    """The pack at `directory`, or one message naming its problems and exit 2."""
    try:
        return load_pack(directory)
    except PolicyError as exc:
        fail(f"{what} {directory} is not a policy pack that loads:\n{exc}", 2)


def _day(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--on: '{value}' is not a date; write it as YYYY-MM-DD", 2)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal (stderr); nothing when the output is piped."""
    with Progress(console=err, disable=not err.is_terminal, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def diff_command(
    old_dir: Annotated[Path, typer.Argument(help="The pack as it is (e.g. a checkout of main)")],
    new_dir: Annotated[Path, typer.Argument(help="The pack as changed")],
    on: Annotated[
        str | None,
        typer.Option(
            help="Decide as on this date (YYYY-MM-DD; default today): agreements "
            "in force then apply"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for tools")] = False,
) -> None:
    """Every kind of request the two packs answer differently: effect, legal basis cited or
    obligations, grouped and in IG words. Exit 1 when any answer changes, 0 when none does.

    It covers the whole request space both packs define: every role, every pair of
    organisations (requester and holder) in both packs, every purpose and record type, and
    every combination of the person's facts that the rules which could apply test (ages on
    each side of every age limit); facts no such rule tests keep their default. Organisations
    with the same sector and agreements, named by no rule, are asked once for all of them.
    Only requests some changed rule could apply to are decided (the rest cannot differ).
    Codes or organisations found in one pack only are reported first.
    """
    day = _day(on)
    old = load_or_fail(old_dir, "OLD_DIR")
    new = load_or_fail(new_dir, "NEW_DIR")
    started = perf_counter()
    with progress_bar("Deciding the requests the change could affect") as advance:
        report = diff.diff_packs(old, new, day, advance)
    seconds = perf_counter() - started
    space = diff.common_space(old, new)
    if as_json:
        print(json.dumps({**diff.to_json(report, space), "seconds": round(seconds, 3)}, indent=2))
    else:
        _show_diff(report, space, seconds)
    if report.changed:
        raise typer.Exit(1)


def _show_diff(report: diff.Report, space: diff.Space, seconds: float) -> None:
    for title, codes in (("Added", report.added), ("Removed", report.removed)):
        for kind, listed in codes.items():
            out.print(f"[bold]{title} {kind}[/bold]: {escape(', '.join(listed))}")
    for group in report.groups:
        out.print("• " + escape(diff.describe(group, space)), highlight=False)
    changed = sum(len(group.changes) for group in report.groups)
    verdict = "[bold yellow]CHANGED[/bold yellow]" if report.changed else "[green]SAME[/green]"
    out.print(
        f"{verdict}: {changed} kinds of request answered differently on {report.on}, in "
        f"{len(report.groups)} groups ({report.cells} parts of the request space the change "
        f"could reach, {report.decided} requests decided in each pack, {seconds:.2f} s)"
    )


def replay_command(
    store: Annotated[
        str,
        typer.Option(
            "--store",
            envvar="IGENGINE_AUDIT_URL",
            help="The trail: sqlite:///path/to/audit.db or postgresql://user@host/db",
        ),
    ],
    policies: Annotated[
        Path, typer.Option("--policies", "-p", help="The pack to decide them under")
    ],
    since: Annotated[str | None, typer.Option(help="Recorded at or after (ISO-8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Recorded at or before (ISO-8601)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for tools")] = False,
) -> None:
    """Decide the trail's recorded requests again under another pack (at the time each was
    decided) and list those answered differently, with counts by agreement and by purpose.
    Reads the trail only. Exit 1 when any decision would change."""
    pack = load_or_fail(policies, "--policies")
    first, last = moment(since, "--since"), moment(until, "--until")
    try:
        with progress_bar("Replaying the recorded decisions") as advance:
            report = replay.replay(store, pack, first, last, advance)
    except AuditError as exc:
        fail(f"the audit trail cannot be read: {exc}")
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _show_replay(report)
    if report.turned:
        raise typer.Exit(1)


def _show_replay(report: replay.ReplayReport) -> None:
    for turned in report.turned:
        now = f"refused: {turned.refused}" if turned.refused else _words(turned.now)
        out.print(
            f"entry {turned.seq} ({turned.at[:19]}) {turned.role} at {turned.organisation} "
            f"asking {turned.holder} for {turned.record_type} ({turned.purpose}): "
            f"{_words(turned.was)} → {escape(now)}",
            highlight=False,
        )
    for title, counts in (("agreement", report.by_agreement), ("purpose", report.by_purpose)):
        if counts:
            listed = ", ".join(f"{name} {count}" for name, count in counts.most_common())
            out.print(f"[bold]By {title}[/bold]: {escape(listed)}")
    out.print(
        f"{len(report.turned)} of {report.replayed} recorded decisions would change "
        f"({report.read} entries read, {report.recorded_errors} recorded errors not replayed)"
    )


def _words(answer: diff.Answer | None) -> str:
    if answer is None:
        return "no answer"
    return answer.effect.upper() + (
        f" ({', '.join(answer.legal_basis)})" if answer.legal_basis else ""
    )


def lint_command(
    directory: PackArgument,
    today: Annotated[
        str | None,
        typer.Option("--on", help="Check review and end dates as on this date (default today)"),
    ] = None,
    soon: Annotated[int, typer.Option(help="Days ahead an ending agreement is flagged")] = 90,
    strict: Annotated[bool, typer.Option(help="Exit 1 on warnings too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for tools")] = False,
) -> None:
    """What a careful IG lead would flag, each as `file:line: check: problem; what to do`:
    rules that can never decide, overrides that can never apply, legal bases that do not fit
    the rule (errors); agreements due for review or ending soon, organisations and obligations
    nothing uses (warnings). Exit 1 on any error (with --strict, any warning too)."""
    day = _day(today)
    load_or_fail(directory, "DIR")
    findings = lint.lint(directory, day, soon)
    if as_json:
        print(json.dumps([finding.to_dict() for finding in findings], indent=2))
    else:
        for finding in findings:
            colour = "red" if finding.severity == "error" else "yellow"
            out.print(f"[{colour}]{finding.severity}[/{colour}] {escape(str(finding))}")
        errors = sum(f.severity == "error" for f in findings)
        out.print(f"{errors} errors, {len(findings) - errors} warnings")
    if any(f.severity == "error" or strict for f in findings):
        raise typer.Exit(1)
