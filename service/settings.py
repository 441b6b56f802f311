"""What the service is configured with, from the environment (IGENGINE_*) or `igengine serve`.

Settings travel to uvicorn's worker processes as environment variables, so `from_env` and
`to_env` are exact inverses: every worker of one `serve` sees the same configuration. Reading
and checking the variables is pydantic-settings' work: each setting's type says how its
variable is read (a path, a positive whole number, true or false), an empty value means "none"
for any setting that may be none, and a list is comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import PositiveInt, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_AUDIT_URL = "sqlite:///audit/igengine.db"
PREFIX = "IGENGINE_"


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the setting."""


class Settings(BaseSettings):
    """Everything `create_app` needs. Paths may be relative to the working directory.

    `Settings(...)` holds the values it is given and reads an IGENGINE_* variable for any it is
    not (so `create_app(Settings(policies=...))` honours the environment as `serve` does)."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True)

    policies: Path = Path("policies")
    # None turns the audit trail off (benchmarks only; the service warns about it).
    audit_url: str | None = DEFAULT_AUDIT_URL
    hmac_key: Path = Path("audit/hmac.key")
    signing_key: Path | None = Path("audit/signing.key")
    checkpoint_every: PositiveInt = 1000
    # Every signed head is also appended here (None: beside the signing key, as
    # `signing.key.heads`); `igengine audit verify --public-key` looks for it there.
    audit_witness: Path | None = None
    # While decisions arrive, none waits longer than this many seconds for a signed head.
    sign_every: PositiveInt = 5
    # The Unix socket of the audit writer process that `igengine serve` starts: when set,
    # workers send their entries there instead of appending to the store themselves.
    audit_writer: Path | None = None
    # The Unix socket of `igengine serve`'s reload coordinator (service/reload.py): when set,
    # a policy reload reaches every worker before it is answered.
    reload_socket: Path | None = None
    # API keys file (TOML, hashed keys). Without one, `serve` makes a one-off admin key.
    keys_file: Path | None = None
    # SHA-256 hex digests of extra admin keys, e.g. the one-off key `serve` prints.
    extra_admin_hashes: Annotated[tuple[str, ...], NoDecode] = ()
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
    header_timeout: PositiveInt = 10
    body_timeout: PositiveInt = 30
    # When set, the pack must carry a signature by this Ed25519 key that matches its files
    # (`igengine pack sign`), at start and at every reload.
    pack_public_key: Path | None = None
    # The service's log lines: "text" (the default), or "json", one object a line; and the
    # least severe level logged (uvicorn's names; "info" logs a line per decision).
    log_format: str = "text"
    log_level: str = "info"

    @field_validator("*", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object, info: ValidationInfo) -> object:
        """An empty variable turns off a setting that may be none (IGENGINE_AUDIT_URL=)."""
        field = cls.model_fields.get(info.field_name or "")
        if value == "" and field is not None and _may_be_none(field.annotation):
            return None
        return value

    @field_validator("extra_admin_hashes", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part for part in value.split(",") if part)
        return value

    def with_changes(self, **changes: object) -> Settings:
        """These settings with some changed, checked as the environment's are (SettingsError
        names a bad one)."""
        unknown = set(changes) - set(type(self).model_fields)
        if unknown:
            raise TypeError(f"not a setting: {', '.join(sorted(unknown))}")
        return _checked(type(self), {**dict(self), **changes})

    def to_env(self) -> dict[str, str]:
        """The settings as IGENGINE_* variables (an unset optional value as empty)."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            variable = PREFIX + name.upper()
            if value is None:
                env[variable] = ""
            elif isinstance(value, bool):
                env[variable] = "1" if value else "0"
            elif isinstance(value, tuple):
                env[variable] = ",".join(value)
            else:
                env[variable] = str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read IGENGINE_* variables (from `environ` instead of the process's environment, for
        the settings it has). Raises SettingsError naming the variable of a bad value."""
        given: dict[str, Any] = {}
        if environ is not None:
            variables = ((name, PREFIX + name.upper()) for name in cls.model_fields)
            given = {name: environ[var] for name, var in variables if var in environ}
        return _checked(cls, given)


def _checked(cls: type[Settings], values: dict[str, Any]) -> Settings:
    try:
        return cls(**values)
    except ValidationError as exc:
        raise SettingsError(_worded(exc)) from None


def _may_be_none(annotation: object) -> bool:
    return get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation)


def _worded(error: ValidationError) -> str:
    """Each bad value, named by its variable."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        problems.append(
            f"{PREFIX}{field.upper()}: '{problem['input']}' is not valid ({problem['msg']})"
        )
    return "; ".join(problems)
