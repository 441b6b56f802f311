"""Store URLs: what names an audit store, and how to print one without its password.

`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (or a plain file path) and
`postgresql://user@host:port/db`; options in the query string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from igengine.audit.errors import AuditError

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,40}")


@dataclass(frozen=True)
class Location:
    """A parsed store URL. `kind` names the back end (see `igengine.audit.store.BACKENDS`);
    `target` is the SQLite file, or the libpq URL without our options."""

    kind: Literal["sqlite", "postgresql"]
    target: str
    prefix: str
    schema: str | None
    timeout: float


def parse_url(url: str) -> Location:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, a plain file path, or
    `postgresql://user@host:port/db`. Options in the query string: `table_prefix` (both),
    `schema` (PostgreSQL), `timeout` (seconds to wait for a lock; default 5)."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    prefix = _identifier(options.pop("table_prefix", "audit_"), "table_prefix", url)
    schema = options.pop("schema", None)
    timeout = _seconds(options.pop("timeout", "5"), url)
    if parts.scheme in ("postgresql", "postgres"):
        target = urlunsplit(parts._replace(query=urlencode(options)))
        checked = _identifier(schema, "schema", url) if schema is not None else None
        return Location("postgresql", target, prefix, checked, timeout)
    if parts.scheme == "sqlite" or (parts.scheme == "" and parts.path):
        return Location("sqlite", _sqlite_path(url, parts.scheme, options), prefix, None, timeout)
    raise AuditError(
        f"'{url}' is not an audit store URL; use sqlite:///path/to/audit.db or "
        "postgresql://user@host:5432/database"
    )


def _sqlite_path(url: str, scheme: str, leftover: dict[str, str]) -> str:
    if leftover:
        raise AuditError(f"'{url}': unknown SQLite option(s) {', '.join(sorted(leftover))}")
    path = url.split("?", 1)[0]
    if scheme == "sqlite":
        if not path.startswith("sqlite:///"):
            raise AuditError(
                f"'{url}': write sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        path = path.removeprefix("sqlite:///")
    if not path or path == ":memory:":
        raise AuditError(f"'{url}': an audit trail needs a file, not an in-memory database")
    return str(Path(path))


def _identifier(value: str, option: str, url: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise AuditError(
            f"'{url}': {option} '{value}' must be lower-case letters, digits and underscores"
        )
    return value


def _seconds(value: str, url: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise AuditError(f"'{url}': timeout '{value}' must be a number of seconds")
    return seconds


def redact_url(url: str) -> str:
    """`url` fit to print: a password in it (user:password@host, or ?password=...) is
    replaced by ***."""
    parts = urlsplit(url)
    options = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and all(name != "password" for name, _ in options):
        return url  # nothing to hide (and a sqlite:/// URL is kept exactly as written)
    netloc = parts.netloc
    if parts.password is not None:
        host = netloc.rsplit("@", 1)[-1]
        netloc = f"{parts.username or ''}:***@{host}"
    query = urlencode([(k, "***" if k == "password" else v) for k, v in options], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))
