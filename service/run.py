"""Start the service under uvicorn (what `igengine serve` does), and make API keys.

Each uvicorn worker builds its own app from IGENGINE_* variables, so the settings are put in
the environment before uvicorn starts, together with anything made up for this run (a one-off
admin key when no keys file is given, the session secret every worker must share).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import uvicorn

from igengine.policy.validate import load_pack
from service.auth import Access, KeyStore, digest, key_entry, new_key
from service.settings import Settings, SettingsError


def prepare(settings: Settings) -> Settings:
    """Check what can be checked before any worker starts, and fill in run-time secrets.

    Raises PolicyError or SettingsError with a message naming the problem."""
    load_pack(settings.policies)
    keys = KeyStore.load(settings.keys_file, settings.extra_admin_hashes)
    if len(keys) == 0 and settings.jwt_public_key is None:
        one_off = new_key()
        settings = settings.with_changes(extra_admin_hashes=(digest(one_off),))
        print(
            "No --keys-file given, so this run has a one-off admin key (it works until the "
            f"service stops; make lasting keys with `igengine api-key`):\n\n    {one_off}\n",
            file=sys.stderr,
        )
    if not settings.session_secret:
        settings = settings.with_changes(session_secret=secrets.token_hex(32))
    return settings


def serve(settings: Settings, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Run until interrupted. Several workers share one audit trail and one metrics view."""
    os.environ.update(settings.to_env())
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = tempfile.mkdtemp(prefix="igengine-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
        atexit.register(shutil.rmtree, shared, True)
    print(
        f"igengine: the page is at http://{host}:{port}/ and the API at "
        f"http://{host}:{port}/v1/decisions (policies: {settings.policies}, audit: "
        f"{settings.audit_url or 'OFF'})",
        file=sys.stderr,
    )
    uvicorn.run(
        "service.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # Per-request access lines cost more than a decision; the audit trail is the record.
        access_log=False,
        server_header=False,
    )


def add_key(keys_file: Path, name: str, access: Access) -> str:
    """Make a key, append its digest to `keys_file`, and return the key (shown only once)."""
    existing = KeyStore.load(keys_file) if keys_file.exists() else KeyStore([])
    if name in existing.names():
        raise SettingsError(f"{keys_file}: there is already a key named '{name}'")
    key = new_key()
    entry = key_entry(name, access, digest(key))
    header = (
        ""
        if keys_file.exists()
        else "# igengine API keys: only SHA-256 digests are kept here, never the keys.\n"
    )
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    with keys_file.open("a") as handle:
        handle.write(header + entry)
    return key
