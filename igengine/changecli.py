"""The commands that make a change to a pack safe to approve and to deploy: `igengine lint`,
`igengine diff`, `igengine replay` and `igengine pack sign|verify|keygen`.

Exit codes: 0 nothing to report (or warnings only), 1 findings, changes or a failed check,
2 bad arguments. Bad input gets one message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from igengine import packsign
from igengine.packsign import PackSignatureError

pack_app = typer.Typer(
    help="Sign a policy pack, and check a pack's signature.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)

PackArgument = Annotated[Path, typer.Argument(help="Policy pack directory")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]{escape(message)}[/red]")
    raise typer.Exit(code)


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
