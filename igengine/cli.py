"""The `igengine` command: check a pack, decide a request, (and the commands other edges add).

Exit codes: 0 success (and, for decide, a permit or a deny alike), 1 a broken pack or a failed
check, 2 a malformed request or bad arguments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from igengine.audit.cli import audit_app
from igengine.changecli import diff_command, lint_command, pack_app, replay_command
from igengine.decision import Decision
from igengine.engine import Engine
from igengine.explain import change_words, details
from igengine.packsign import PackSignatureError
from igengine.policy.errors import PolicyError
from igengine.policy.pack import PolicyPack
from igengine.policy.validate import load_pack
from igengine.request import RequestError, parse_json
from igengine.vocabulary import Effect, Vocabulary

app = typer.Typer(
    help="igengine: can I share this? Decisions from data-sharing agreements.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(audit_app, name="audit")
app.add_typer(pack_app, name="pack")
app.command("lint")(lint_command)
app.command("diff")(diff_command)
app.command("replay")(replay_command)
out = Console()
err = Console(stderr=True)

PoliciesOption = Annotated[
    Path, typer.Option("--policies", "-p", help="The policy pack directory.")
]


@app.command()
def check(
    directory: Annotated[Path, typer.Argument(help="Policy pack directory")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) on warnings as well as problems.")
    ] = False,
) -> None:
    """Validate a policy pack; list every problem with file:line and exit 1 if there are any.
    Warnings (things that load but deserve a look) are listed too; `--strict` fails on them."""
    try:
        pack = load_pack(directory)
    except PolicyError as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    for warning in pack.warnings:
        err.print(f"[yellow]warning[/yellow]: {escape(str(warning))}")
    if strict and pack.warnings:
        count = len(pack.warnings)
        err.print(f"{count} warning{'s' if count != 1 else ''}; failing because of --strict")
        raise typer.Exit(1)
    out.print(
        f"[green]OK[/green]: {len(pack.agreements)} agreements, {len(pack.rules)} rules "
        f"({len(pack.restrictions)} of them restrictions), "
        f"{len(pack.organisations)} organisations ({pack.version})"
    )


def _request_from_options(
    file: Path | None,
    role: str | None,
    org: str | None,
    holder: str | None,
    purpose: str | None,
    record: str | None,
    subject: list[str],
    justification: str | None,
    at: str | None,
) -> dict[str, Any]:
    if file is not None:
        # Parsed as strictly as the service parses a body: a repeated key is an error.
        loaded: Any = parse_json(_request_text(file))
        if not isinstance(loaded, dict):
            raise RequestError([("request", "expected a JSON object")])
        return loaded
    # An option not given is left out, so the request's checks say it is missing rather than
    # that "None" is not a code.
    request: dict[str, Any] = _given(
        requester=_given(role=role, organisation=org),
        holder=_given(organisation=holder),
        purpose=purpose,
        record_type=record,
        subject=_subject(subject),
    )
    if justification:
        request["justification"] = justification
    if at:
        request["at"] = at
    return request


# The flag that gives each field of a request built from flags, for "is required" messages.
_OPTION_OF = {
    "requester.role": "--role",
    "requester.organisation": "--org",
    "holder.organisation": "--holder",
    "purpose": "--purpose",
    "record_type": "--record",
}


def _request_text(file: Path) -> str | bytes:
    """The request file's text (`-` is standard input), or a RequestError saying why not."""
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or "cannot be read"
        raise RequestError([("--file", f"cannot read '{file}': {reason}")]) from None


def _given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _subject(pairs: list[str]) -> dict[str, Any]:
    """`--subject relationship=care_team --subject objection=true` → a subject object."""
    subject: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise RequestError(
                [(f"subject.{pair}", "write it as name=value, e.g. relationship=care_team")]
            )
        subject[name.strip()] = _scalar(value.strip())
    return subject


def _scalar(value: str) -> Any:
    lowered = value.lower()
    if lowered in {"true", "yes"}:
        return True
    if lowered in {"false", "no"}:
        return False
    return int(value) if value.isdigit() else value


@app.command()
def vocabulary(
    directory: Annotated[Path, typer.Argument(help="The policy pack directory.")] = Path(
        "policies"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the vocabulary as JSON.")] = False,
) -> None:
    """List a pack's vocabulary: its sectors, roles, record types, purposes, obligations and
    facts about the person, with the words each is shown with. A table on a terminal, plain
    lines when piped; JSON with --json."""
    try:
        pack = load_pack(directory)
    except PolicyError as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    listing = vocabulary_listing(pack.vocabulary)
    if as_json:
        print(json.dumps(listing, indent=2, ensure_ascii=False))
    elif out.is_terminal:
        for title, rows in _vocabulary_rows(listing).items():
            table = Table(title=title, title_justify="left")
            for column in rows[0]:
                table.add_column(column)
            for row in rows[1:]:
                table.add_row(*(escape(cell) for cell in row))
            out.print(table)
    else:
        for title, rows in _vocabulary_rows(listing).items():
            print(f"{title}:")
            for row in rows[1:]:
                print("  " + "\t".join(row))


def vocabulary_listing(words: Vocabulary) -> dict[str, Any]:
    """A pack's vocabulary as plain JSON: each kind's entries, and the facts about the
    person with their type, question, default and (for a choice) codes."""
    listing: dict[str, Any] = {
        kind: [
            {"code": code, "label": words.label(kind, code)}
            | ({"clinical": True} if kind == "roles" and words.roles[code].clinical else {})
            for code in words.codes(kind)
        ]
        for kind in ("sectors", "roles", "record_types", "purposes")
    }
    listing["obligations"] = [{"code": o.code, "text": o.text} for o in words.obligations.values()]
    listing["person"] = [
        {
            "name": fact.name,
            "type": fact.type,
            "question": fact.question,
            "default": fact.default,
            "own_choice": fact.own_choice,
        }
        | (
            {"choices": [{"code": c.code, "label": c.words} for c in fact.choices]}
            if fact.choices
            else {}
        )
        for fact in words.person.values()
    ]
    return listing


def _vocabulary_rows(listing: dict[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """Each part of the listing as a header row and one row per entry."""
    rows: dict[str, list[tuple[str, ...]]] = {}
    for kind in ("sectors", "roles", "record_types", "purposes"):
        title = kind.replace("_", " ").capitalize()
        rows[title] = [("code", "label")] + [
            (entry["code"], entry["label"] + (" (clinical)" if entry.get("clinical") else ""))
            for entry in listing[kind]
        ]
    rows["Obligations"] = [("code", "text")] + [
        (entry["code"], entry["text"]) for entry in listing["obligations"]
    ]
    rows["Facts about the person"] = [("name", "type", "values", "default", "question")] + [
        (
            fact["name"],
            fact["type"] + (" (the person's own choice)" if fact["own_choice"] else ""),
            ", ".join(c["code"] for c in fact.get("choices", [])),
            json.dumps(fact["default"]),
            fact["question"],
        )
        for fact in listing["person"]
    ]
    return rows


@app.command()
def decide(
    policies: PoliciesOption = Path("policies"),
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Request JSON file, or - for stdin.")
    ] = None,
    role: Annotated[
        str | None, typer.Option(help="Role of whoever asks for the record, e.g. social_worker")
    ] = None,
    org: Annotated[
        str | None, typer.Option(help="Organisation code of whoever asks for the record")
    ] = None,
    holder: Annotated[
        str | None, typer.Option(help="Organisation code of whoever holds (and would share) it")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="Why they need it, e.g. direct_care")] = None,
    record: Annotated[str | None, typer.Option(help="Record type they ask for")] = None,
    subject: Annotated[
        list[str] | None,
        typer.Option(
            "--subject",
            "-s",
            help="About the person, name=value (repeatable); for a yes/no fact write "
            "true or false (yes and no mean the same)",
        ),
    ] = None,
    care_team: Annotated[
        bool, typer.Option("--care-team", help="Shorthand for --subject relationship=care_team")
    ] = False,
    justification: Annotated[str | None, typer.Option(help="Break-glass justification")] = None,
    at: Annotated[str | None, typer.Option(help="ISO-8601 time of the sharing")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the contract's JSON")] = False,
    detail: Annotated[
        bool,
        typer.Option(
            "--detail",
            help="Also show the details: every matched rule and where it is written, the "
            "rule's reason in full, the law, what was assumed",
        ),
    ] = False,
) -> None:
    """Decide one request, from flags or a JSON file; a readable answer, or JSON with --json."""
    pairs = [*(subject or []), *(["relationship=care_team"] if care_team else [])]
    try:
        engine = Engine.from_directory(policies)
    except PolicyError as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        request = _request_from_options(
            file, role, org, holder, purpose, record, pairs, justification, at
        )
        decision = engine.decide(request)
    except RequestError as exc:
        err.print("[red]The request is not valid:[/red]")
        for field, message in exc.errors:
            hint = _OPTION_OF.get(field) if file is None and message == "is required" else None
            said = f"{message}; give {hint}" if hint else message
            err.print(f"  {escape(field)}: {escape(said)}", soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(decision.to_dict(), indent=2))
    else:
        show(decision, engine.pack, detail=detail or False)


@app.command()
def explain(
    policies: PoliciesOption = Path("policies"),
    file: Annotated[
        Path, typer.Option("--file", "-f", help="Request JSON file, or - for stdin.")
    ] = Path("-"),
) -> None:
    """Like decide, with the details shown: every matched rule, its role and its file:line,
    the deciding rule's reason in full, the law, what was assumed."""
    decide(policies=policies, file=file, subject=None, as_json=False, detail=True)


def show(decision: Decision, pack: PolicyPack, *, detail: bool) -> None:
    """Print a decision the way a nurse reads it, for whoever would share the record; the
    pack gives the words for each obligation code, for the answers that would change it and,
    with `detail`, the trace."""
    obligations = pack.obligations
    vocabulary = pack.vocabulary
    if decision.what_if:
        # An answer for another time (--at) permits nothing now, whatever its effect.
        effect = "PERMITTED" if decision.effect is Effect.PERMIT else "NOT PERMITTED"
        when = decision.at.date().isoformat()
        out.print(f"[bold yellow]WHAT-IF[/bold yellow]: {effect} on {when}, not a permission now.")
    elif decision.effect is Effect.PERMIT:
        out.print("[bold green]PERMITTED[/bold green]: you may share this.")
    else:
        out.print("[bold red]NOT PERMITTED[/bold red]: do not share this.")
    out.print(escape(decision.rationale))
    if decision.legal_basis and not detail:  # the details cite it, with the rules
        # On a deny the cited provisions are the grounds for refusing, not a basis to share.
        title = "Legal basis" if decision.permitted else "Grounds for refusing"
        out.print(f"\n[bold]{title}[/bold]")
        for basis in decision.legal_basis:
            summary = f" ({basis.summary})" if basis.summary else ""
            out.print(f"  • {escape(basis.framework)} {escape(basis.provision)}{escape(summary)}")
    if decision.obligations:
        out.print("\n[bold]What you must do[/bold]")
        for code in decision.obligations:
            out.print(f"  • {escape(obligations.get(code, code))} [dim]({code})[/dim]")
    if decision.would_permit_if:
        out.print("\n[bold]It would be permitted if[/bold]")
        for change in decision.would_permit_if:
            out.print("  • " + escape(change_words(change, vocabulary)), soft_wrap=True)
    if detail:
        out.print("\n[bold]Details[/bold]")
        for line in details(decision, pack):
            out.print(f"  • {escape(line)}")
    out.print(f"\n[dim]policy {decision.policy_version} · decision {decision.decision_id}[/dim]")


@app.command()
def serve(
    policies: PoliciesOption = Path("policies"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (about one per core).")] = 1,
    audit: Annotated[
        str | None, typer.Option(help="Audit store URL (sqlite:///... or postgresql://...).")
    ] = None,
    no_audit: Annotated[
        bool, typer.Option("--no-audit", help="Do not record decisions (benchmarks only).")
    ] = False,
    audit_hmac_key: Annotated[
        Path | None, typer.Option(help="Key file for pseudonymising people in the trail.")
    ] = None,
    audit_signing_key: Annotated[
        Path | None, typer.Option(help="Ed25519 key file that signs audit checkpoints.")
    ] = None,
    audit_witness: Annotated[
        Path | None,
        typer.Option(help="File that keeps every signed head (default: beside the signing key)."),
    ] = None,
    keys_file: Annotated[
        Path | None, typer.Option(help="API keys file (make keys with `igengine api-key`).")
    ] = None,
    jwt_public_key: Annotated[
        Path | None, typer.Option(help="PEM public key of the bearer-token issuer.")
    ] = None,
    jwt_issuer: Annotated[str | None, typer.Option(help="Required `iss` of tokens.")] = None,
    jwt_audience: Annotated[str | None, typer.Option(help="Required `aud` of tokens.")] = None,
    jwt_required: Annotated[
        bool, typer.Option(help="Take the requester only from a verified bearer token.")
    ] = False,
    pack_public_key: Annotated[
        Path | None,
        typer.Option(help="Serve only a pack signed by this Ed25519 key (`igengine pack sign`)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    log_format: Annotated[
        str | None,
        typer.Option(
            help="The service's log lines: text (the default), or json, one object a line "
            "for log collectors (a line per decision, reload, audit writer restart and audit "
            "failure; never a person's id or free text).",
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Reload the policy pack in every worker when its files change; a pack that "
            "does not check is not loaded (its problems are logged).",
        ),
    ] = False,
) -> None:
    """Run the HTTP service and the frontline page (settings also from IGENGINE_* variables)."""
    from service.run import prepare
    from service.run import serve as run_service
    from service.settings import Settings, SettingsError

    given: dict[str, object] = {
        "policies": policies,
        "audit_url": None if no_audit else audit,
        "hmac_key": audit_hmac_key,
        "signing_key": audit_signing_key,
        "audit_witness": audit_witness,
        "keys_file": keys_file,
        "jwt_public_key": jwt_public_key,
        "jwt_issuer": jwt_issuer,
        "jwt_audience": jwt_audience,
        "pack_public_key": pack_public_key,
        "log_format": log_format,
    }
    try:
        settings = Settings.from_env().with_changes(
            **{name: value for name, value in given.items() if value is not None}
        )
        if no_audit:
            settings = settings.with_changes(audit_url=None)
        if jwt_required:
            settings = settings.with_changes(jwt_required=True)
        settings = prepare(settings)
    except (PolicyError, SettingsError, PackSignatureError) as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        run_service(
            settings, host=host, port=port, workers=workers, log_level=log_level, watch=watch
        )
    except (SettingsError, PackSignatureError) as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None


@app.command("api-key")
def api_key(
    name: Annotated[str, typer.Argument(help="Who the key is for, e.g. ward-ehr or ig-lead.")],
    keys_file: Annotated[Path, typer.Option(help="The keys file to add it to.")] = Path(
        "keys.toml"
    ),
    admin: Annotated[bool, typer.Option(help="May also reload policies.")] = False,
) -> None:
    """Make an API key for the service: its digest goes in the keys file, the key is shown once."""
    from service.auth import Access
    from service.run import add_key
    from service.settings import SettingsError

    try:
        key = add_key(keys_file, name, Access.ADMIN if admin else Access.CALLER)
    except SettingsError as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    err.print(f"Added '{escape(name)}' to {keys_file}. The key (shown only now):")
    print(key)


@app.command("test")
def test_scenarios(
    features: Annotated[Path, typer.Argument(help="A .feature file or a directory of them.")],
    policies: PoliciesOption = Path("policies"),
    on: Annotated[
        str | None, typer.Option(help="Date (YYYY-MM-DD) for scenarios that give none.")
    ] = None,
    require_coverage: Annotated[
        bool, typer.Option(help="Also fail if any rule of the pack is exercised by no scenario.")
    ] = False,
) -> None:
    """Run Gherkin scenarios against a pack: each passed or failed, and rule coverage; exit 1
    on any failure."""
    from datetime import date

    from igengine.scenarios import run_features
    from igengine.scenarios.report import report_lines

    try:
        engine = Engine.from_directory(policies)
        day = date.fromisoformat(on) if on else None
    except PolicyError as exc:
        err.print(escape(str(exc)), soft_wrap=True)
        raise typer.Exit(1) from None
    except ValueError:
        err.print(f"--on: '{escape(str(on))}' is not a date; write it as YYYY-MM-DD")
        raise typer.Exit(2) from None
    report = run_features(features, engine, on=day)
    for line in report_lines(report):
        out.print(_coloured(line), highlight=False, soft_wrap=True)
    if not report.ok or (require_coverage and report.unexercised):
        raise typer.Exit(1)


def _coloured(line: str) -> str:
    styles = {"  PASS": "green", "  FAIL": "bold red", "  ERROR": "bold red", "ERROR": "bold red"}
    for prefix, style in styles.items():
        if line.startswith(prefix):
            return f"[{style}]{escape(line)}[/{style}]"
    return escape(line)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
