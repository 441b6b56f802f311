"""Who is calling: API keys (stored as SHA-256 digests), verified bearer tokens, page sessions.

Calling systems present `X-API-Key`. A verified bearer JWT (`Authorization: Bearer ...`)
signed by the configured issuer key says who the requester is: its `role` and `organisation`
claims replace whatever the request body claims, so a caller cannot give itself a role.
The page signs in once with a key and then holds an HttpOnly cookie naming a server-side
session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from service.settings import SettingsError


class Access(StrEnum):
    """What a key may do. An admin key may also do everything a caller key may."""

    CALLER = "caller"
    ADMIN = "admin"


class AuthError(Exception):
    """The call is not authenticated; the message says what was missing or wrong."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    access: Access
    digest: str


@dataclass(frozen=True)
class TokenRequester:
    """The requester as a verified token states it."""

    role: str
    organisation: str
    id: str | None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, and the requester a verified token vouches for (if any)."""

    name: str
    access: Access
    requester: TokenRequester | None = None


def digest(key: str) -> str:
    """SHA-256 hex digest of a key: what the keys file stores instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits), so a fast hash is enough to store it safely."""
    return "igk_" + secrets.token_urlsafe(32)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def key_entry(name: str, access: Access, key_digest: str) -> str:
    """One `[[keys]]` table for the keys file."""
    if not _NAME.match(name):
        raise SettingsError(f"key name '{name}': use letters, digits, '.', '_' or '-'")
    return f'\n[[keys]]\nname = "{name}"\nrole = "{access.value}"\nsha256 = "{key_digest}"\n'


class KeyStore:
    """The API keys the service accepts, looked up by digest."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_digest = {key.digest: key for key in keys}

    def __len__(self) -> int:
        return len(self._by_digest)

    def names(self) -> set[str]:
        return {key.name for key in self._by_digest.values()}

    @classmethod
    def load(cls, path: Path | None, extra_admin: tuple[str, ...] = ()) -> KeyStore:
        keys = _read_keys_file(path) if path is not None else []
        for i, extra in enumerate(extra_admin):
            if not _HEX64.match(extra):
                raise SettingsError(f"extra admin key {i}: not a SHA-256 hex digest")
            keys.append(ApiKey(name=f"one-off-admin-{i}", access=Access.ADMIN, digest=extra))
        return cls(keys)

    def authenticate(self, presented: str) -> ApiKey | None:
        return self._by_digest.get(digest(presented))

    def by_digest(self, key_digest: str) -> ApiKey | None:
        return self._by_digest.get(key_digest)


def _read_keys_file(path: Path) -> list[ApiKey]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the API keys file: {exc}") from None
    entries = data.get("keys", [])
    if not isinstance(entries, list):
        raise SettingsError(f"{path}: 'keys' must be a list of [[keys]] tables")
    keys = [_key(path, i, entry) for i, entry in enumerate(entries)]
    names = [key.name for key in keys]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SettingsError(f"{path}: key names used twice: {', '.join(duplicates)}")
    return keys


def _key(path: Path, i: int, entry: Any) -> ApiKey:
    where = f"{path}: keys[{i}]"
    if not isinstance(entry, dict):
        raise SettingsError(f"{where}: expected a table with name, role and sha256")
    name, role, key_digest = entry.get("name"), entry.get("role"), entry.get("sha256")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SettingsError(f"{where}.name: expected a name of letters, digits, '.', '_', '-'")
    if role not in {a.value for a in Access}:
        raise SettingsError(f"{where}.role: '{role}' is not a role; valid values: caller, admin")
    if not isinstance(key_digest, str) or not _HEX64.match(key_digest):
        raise SettingsError(f"{where}.sha256: expected 64 lowercase hex digits")
    return ApiKey(name=name, access=Access(role), digest=key_digest)


class TokenVerifier:
    """Verifies bearer JWTs against one issuer public key; never accepts HMAC or 'none'."""

    def __init__(self, public_key_pem: bytes, *, issuer: str | None, audience: str | None):
        key = load_pem_public_key(public_key_pem)
        if isinstance(key, rsa.RSAPublicKey):
            self._algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            self._algorithms = ["ES256", "ES384", "ES512"]
        elif isinstance(key, ed25519.Ed25519PublicKey):
            self._algorithms = ["EdDSA"]
        else:
            raise SettingsError("JWT issuer key: use an RSA, EC or Ed25519 public key (PEM)")
        self._key = key
        self._issuer = issuer
        self._audience = audience

    @classmethod
    def from_path(cls, path: Path, *, issuer: str | None, audience: str | None) -> TokenVerifier:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read the JWT issuer key: {exc}") from None
        try:
            return cls(pem, issuer=issuer, audience=audience)
        except ValueError as exc:
            raise SettingsError(f"{path}: not a PEM public key: {exc}") from None

    def verify(self, token: str) -> TokenRequester:
        """The requester the token vouches for; AuthError if it is not valid now."""
        required = ["exp", "role", "organisation"] + (["iss"] if self._issuer else [])
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": required, "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"the bearer token is not valid: {exc}") from None
        role, organisation, subject = claims["role"], claims["organisation"], claims.get("sub")
        if not isinstance(role, str) or not isinstance(organisation, str):
            raise AuthError("the bearer token's role and organisation claims must be strings")
        return TokenRequester(
            role=role, organisation=organisation, id=subject if isinstance(subject, str) else None
        )


class Sessions:
    """Page sessions, kept on the server: the cookie holds only a random session id, and the
    store (a small SQLite file all of `serve`'s workers share, or memory in one process)
    holds which key it belongs to and until when. So signing out ends the session for every
    worker, the key's digest never leaves the server, and removing a key from the keys file
    ends its sessions (the key is looked up again on every use).

    The store lives as long as the running service; a restart signs everyone out."""

    LIFETIME = 8 * 3600  # one shift

    def __init__(self, secret: str, store: Path | None = None) -> None:
        # An empty secret means one process that made its own (see create_app).
        self._secret = (secret or secrets.token_hex(32)).encode()
        # One connection for the process, used from the event loop and test threads alike.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(store) if store is not None else ":memory:",
            isolation_level=None,
            check_same_thread=False,
            timeout=10.0,
        )
        with self._lock:
            # Losing sessions in a crash only means signing in again: no fsync needed.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS sessions "
                "(id TEXT PRIMARY KEY, key_digest TEXT NOT NULL, expires INTEGER NOT NULL)"
            )

    def issue(self, key: ApiKey, *, now: float | None = None) -> str:
        """A new session for `key`; returns the cookie value (a random id)."""
        at = now if now is not None else time.time()
        cookie = secrets.token_urlsafe(32)
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires < ?", (int(at),))
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?)",
                (_session_id(cookie), key.digest, int(at + self.LIFETIME)),
            )
        return cookie

    def read(
        self, cookie: str | None, keys: KeyStore, *, now: float | None = None
    ) -> ApiKey | None:
        """The key a live session belongs to; None if there is no such session (never made,
        ended, expired) or its key is no longer accepted."""
        if not cookie:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT key_digest, expires FROM sessions WHERE id = ?", (_session_id(cookie),)
            ).fetchone()
        if row is None or row[1] < (now if now is not None else time.time()):
            return None
        return keys.by_digest(str(row[0]))

    def revoke(self, cookie: str) -> None:
        """End a session everywhere."""
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (_session_id(cookie),))

    def csrf_token(self, cookie: str) -> str:
        """A token bound to one session, for the page's forms."""
        return self._sign("csrf:" + cookie)

    def login_token(self, nonce: str) -> str:
        """The sign-in form's token, bound to a random value the browser holds in a cookie:
        another site can neither read that cookie nor make the browser send it (SameSite)."""
        return self._sign("login:" + nonce)

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()


def _session_id(cookie: str) -> str:
    # Stored hashed, so the store's file holds nothing that works as a cookie.
    return hashlib.sha256(cookie.encode()).hexdigest()
