"""The two keys of an audit trail: the HMAC key that pseudonymises people, and the Ed25519 key
that signs checkpoints. Both are files; a missing file is created (mode 0600) on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from igengine.audit.errors import AuditError

HMAC_KEY_BYTES = 32


class Pseudonymiser:
    """Keyed HMAC-SHA256 of a person's identifier: stable for one key, unlinkable without it."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, identifier: str) -> str:
        # Whitespace is formatting ("943 476 5919" and "9434765919" are one NHS number).
        mac = self._base.copy()
        mac.update("".join(identifier.split()).encode())
        return mac.hexdigest()

    def key_check(self) -> str:
        """A value that identifies the key without revealing it, kept in the trail so that a
        trail reopened with a different key is refused instead of silently unsearchable."""
        return self("igengine audit pseudonym key check")


def pseudonymiser(path: Path) -> Pseudonymiser:
    """The pseudonymiser for the key file at `path`, creating a random key if there is none."""
    if not path.exists():
        _create_exclusively(path, secrets.token_bytes(HMAC_KEY_BYTES))
    key = path.read_bytes()
    if len(key) < HMAC_KEY_BYTES:
        raise AuditError(
            f"{path}: the pseudonymisation key is {len(key)} bytes; it must be at least "
            f"{HMAC_KEY_BYTES} random bytes (delete the file to have a new one made)"
        )
    return Pseudonymiser(key)


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at `path`, creating one if there is none.
    A new key's public half is written beside it as `<path>.pub` for `audit verify`."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if _create_exclusively(path, pem):
            public_path(path).write_bytes(public_pem(key.public_key()))
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise AuditError(f"{path}: the checkpoint signing key must be an Ed25519 private key")
    return loaded


def public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key file is accepted too)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the public key ({exc.strerror})") from None
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        else:
            loaded = serialization.load_pem_public_key(data)
            if isinstance(loaded, Ed25519PublicKey):
                return loaded
    except ValueError as exc:
        raise AuditError(f"{path}: not a PEM key ({exc})") from None
    raise AuditError(f"{path}: not an Ed25519 key")


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def _create_exclusively(path: Path, content: bytes) -> bool:
    """Write `content` to a new file readable by its owner only. Several service workers may
    start at once: the file appears complete or not at all, and the first writer wins.
    Returns False if another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
