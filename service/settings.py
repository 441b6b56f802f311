"""What the service is configured with, from the environment (IGENGINE_*) or `igengine serve`.

Settings travel to uvicorn's worker processes as environment variables, so `from_env` and
`to_env` are exact inverses: every worker of one `serve` sees the same configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_AUDIT_URL = "sqlite:///audit/igengine.db"
PREFIX = "IGENGINE_"


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs. Paths may be relative to the working directory."""

    policies: Path = Path("policies")
    # None turns the audit trail off (benchmarks only; the service warns about it).
    audit_url: str | None = DEFAULT_AUDIT_URL
    hmac_key: Path = Path("audit/hmac.key")
    signing_key: Path | None = Path("audit/signing.key")
    checkpoint_every: int = 1000
    # Every signed head is also appended here (None: beside the signing key, as
    # `signing.key.heads`); `igengine audit verify --public-key` looks for it there.
    audit_witness: Path | None = None
    # While decisions arrive, none waits longer than this many seconds for a signed head.
    sign_every: int = 5
    # The Unix socket of the audit writer process that `igengine serve` starts: when set,
    # workers send their entries there instead of appending to the store themselves.
    audit_writer: Path | None = None
    # The Unix socket of `igengine serve`'s reload coordinator (service/reload.py): when set,
    # a policy reload reaches every worker before it is answered.
    reload_socket: Path | None = None
    # API keys file (TOML, hashed keys). Without one, `serve` makes a one-off admin key.
    keys_file: Path | None = None
    # SHA-256 hex digests of extra admin keys, e.g. the one-off key `serve` prints.
    extra_admin_hashes: tuple[str, ...] = ()
    jwt_public_key: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # When true, the requester's role and organisation must come from a verified token.
    jwt_required: bool = False
    # Signs the page's form tokens; all workers of one service must share it.
    session_secret: str = ""
    # The page's session store (SQLite) that all workers share; `serve` makes one per run.
    # None keeps sessions in the memory of one process.
    session_store: Path | None = None
    # Set Secure on the page's cookie (turn on behind HTTPS).
    secure_cookies: bool = False
    # Seconds a request may take to send its headers (counted from its first byte, or from
    # connecting), and then its body; a slower one is answered 408 and its connection closed.
    header_timeout: int = 10
    body_timeout: int = 30
    # When set, the pack must carry a signature by this Ed25519 key that matches its files
    # (`igengine pack sign`), at start and at every reload.
    pack_public_key: Path | None = None
    # The service's log lines: "text" (the default), or "json", one object a line; and the
    # least severe level logged (uvicorn's names; "info" logs a line per decision).
    log_format: str = "text"
    log_level: str = "info"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The settings as IGENGINE_* variables (unset optional values are left out)."""
        env: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            name = PREFIX + item.name.upper()
            if value is None:
                env[name] = ""
            elif isinstance(value, bool):
                env[name] = "1" if value else "0"
            elif isinstance(value, tuple):
                env[name] = ",".join(value)
            else:
                env[name] = str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read IGENGINE_* variables; an empty value means 'none' for optional settings."""
        source = os.environ if environ is None else environ
        base = cls()
        values: dict[str, object] = {}
        for item in fields(cls):
            raw = source.get(PREFIX + item.name.upper())
            if raw is None:
                continue
            values[item.name] = _parse(item.name, raw, getattr(base, item.name))
        return replace(base, **values)  # type: ignore[arg-type]


_OPTIONAL = {
    "audit_url",
    "audit_witness",
    "audit_writer",
    "reload_socket",
    "session_store",
    "signing_key",
    "keys_file",
    "jwt_public_key",
    "jwt_issuer",
    "jwt_audience",
    "pack_public_key",
}
_PATHS = {
    "policies",
    "hmac_key",
    "signing_key",
    "keys_file",
    "jwt_public_key",
    "audit_writer",
    "reload_socket",
    "session_store",
    "audit_witness",
    "pack_public_key",
}


def _parse(name: str, raw: str, default: object) -> object:
    raw = raw.strip()
    if name in _OPTIONAL and raw == "":
        return None
    if name in _PATHS:
        return Path(raw)
    if isinstance(default, bool):
        if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise SettingsError(f"{PREFIX}{name.upper()}: '{raw}' is not true or false")
        return raw.lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        if not raw.isdigit() or int(raw) < 1:
            raise SettingsError(f"{PREFIX}{name.upper()}: '{raw}' is not a positive whole number")
        return int(raw)
    if isinstance(default, tuple):
        return tuple(part for part in raw.split(",") if part)
    return raw
