"""Signed packs: an Ed25519 signature over a pack's version and the hash of each of its files.

The signature file sits in the pack directory. It is not a policy file (not .yaml), so it is
not part of the version it signs. It lists each file's SHA-256 as well as the version, all
under the signature, so that a pack that no longer matches can be told apart file by file:
verify names the file that changed, was added or was removed since signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from igengine.audit import keys
from igengine.audit.errors import AuditError
from igengine.policy.load import pack_files

SIGNATURE_FILE = "pack.signature.json"
FORMAT = "igengine-pack-signature/1"


class PackSignatureError(Exception):
    """A pack that is not signed, or not signed by the key given, or changed since signing;
    or a key or signature file that cannot be used. The message says which."""


@dataclass(frozen=True)
class Contents:
    """What a signature covers: the pack's version and each policy file's SHA-256 (hex)."""

    version: str
    files: dict[str, str]

    def message(self) -> bytes:
        """The bytes signed: the contents as canonical JSON."""
        body = {"format": FORMAT, "version": self.version, "files": self.files}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def contents(root: Path) -> Contents:
    """The version and file hashes of the pack at `root`, computed as `load_directory`
    computes the version (each file's path relative to the pack, then its bytes)."""
    if not root.is_dir():
        raise PackSignatureError(f"{root}: is not a directory, so not a policy pack")
    digest = hashlib.sha256()
    files: dict[str, str] = {}
    inside = root.resolve()
    for path in pack_files(root):
        relative = path.relative_to(root).as_posix()
        if not path.resolve().is_relative_to(inside):
            # A link out of the pack is refused when the pack loads; it is not part of it.
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise PackSignatureError(
                f"{root.name}/{relative}: cannot be read ({exc.strerror})"
            ) from None
        digest.update(relative.encode() + b"\0" + raw + b"\0")
        files[relative] = hashlib.sha256(raw).hexdigest()
    if not files:
        raise PackSignatureError(f"{root}: has no .yaml policy files, so it is not a policy pack")
    return Contents("sha256:" + digest.hexdigest(), files)


def make_key(path: Path) -> Path:
    """Write a new Ed25519 private key (PEM, 0600) to `path` and its public half beside it
    (`<path>.pub`); refuses to replace a key that exists. Returns the public key's path."""
    if path.exists():
        raise PackSignatureError(f"{path}: a file is already there; choose another path")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public = keys.public_path(path)
    public.write_bytes(keys.public_pem(key.public_key()))
    return public


def _private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PackSignatureError(f"{path}: cannot read the signing key ({exc.strerror})") from None
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PackSignatureError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise PackSignatureError(f"{path}: the pack signing key must be an Ed25519 private key")
    return loaded


def public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file at `path` (a private key file is accepted too)."""
    try:
        return keys.public_key(path)
    except AuditError as exc:
        raise PackSignatureError(str(exc)) from None


def sign(root: Path, key_path: Path) -> Path:
    """Sign the pack at `root` with the private key at `key_path`; returns the signature file."""
    key = _private_key(key_path)
    found = contents(root)
    signed = {
        "format": FORMAT,
        "version": found.version,
        "files": found.files,
        "key_id": keys.key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(found.message())).decode(),
    }
    target = root / SIGNATURE_FILE
    temporary = target.with_name(f".{SIGNATURE_FILE}.{os.getpid()}")
    temporary.write_text(json.dumps(signed, indent=2, sort_keys=True) + "\n")
    temporary.replace(target)
    return target


def verify(root: Path, public: Ed25519PublicKey | Path, version: str | None = None) -> Contents:
    """Check the pack at `root` against its signature file and the public key; returns what
    was signed. With `version` (the version of the pack as loaded), that must be the version
    signed too. Raises PackSignatureError naming the problem, and the files that changed."""
    key = public_key(public) if isinstance(public, Path) else public
    signed = _read_signature(root)
    _check_signature(signed, key, root)
    now = contents(root)
    changes = _changed_files(signed.files, now.files, root.name)
    if changes:
        raise PackSignatureError(
            f"{root}: the pack has changed since it was signed: {'; '.join(changes)}. "
            "Review the change, then sign the pack again"
        )
    if now.version != signed.version or (version is not None and version != signed.version):
        raise PackSignatureError(
            f"{root}: the pack's version does not match the version signed ({signed.version}); "
            "sign the pack again"
        )
    return Contents(signed.version, signed.files)


@dataclass(frozen=True)
class _Signed(Contents):
    signature: str
    key_id: str | None


def _read_signature(root: Path) -> _Signed:
    path = root / SIGNATURE_FILE
    if not root.is_dir():
        raise PackSignatureError(f"{root}: is not a directory, so not a policy pack")
    try:
        data: Any = json.loads(path.read_text())
    except FileNotFoundError:
        raise PackSignatureError(
            f"{path}: missing, so the pack is not signed; sign it with "
            "`igengine pack sign DIR --key KEY`"
        ) from None
    except (OSError, ValueError) as exc:
        raise PackSignatureError(f"{path}: cannot be read as a signature file ({exc})") from None
    if not _well_formed(data):
        raise PackSignatureError(
            f"{path}: is not an igengine pack signature ({FORMAT}); sign the pack again"
        )
    return _Signed(data["version"], dict(data["files"]), data["signature"], data.get("key_id"))


def _well_formed(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("format") == FORMAT
        and isinstance(data.get("version"), str)
        and isinstance(data.get("signature"), str)
        and isinstance(data.get("files"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in data["files"].items())
    )


def _check_signature(signed: _Signed, key: Ed25519PublicKey, root: Path) -> None:
    try:
        raw = base64.b64decode(signed.signature, validate=True)
        key.verify(raw, Contents(signed.version, signed.files).message())
    except (InvalidSignature, ValueError):
        expected = keys.key_id(key)
        if signed.key_id and signed.key_id != expected:
            reason = f"it was signed with another key (key id {signed.key_id}, not {expected})"
        else:
            reason = "the signature does not match: the signature file was altered"
        raise PackSignatureError(f"{root / SIGNATURE_FILE}: {reason}") from None


def _changed_files(signed: dict[str, str], now: dict[str, str], name: str) -> list[str]:
    changes = [
        f"{name}/{path} was changed"
        for path in sorted(signed)
        if path in now and now[path] != signed[path]
    ]
    changes += [f"{name}/{path} was added" for path in sorted(now) if path not in signed]
    changes += [f"{name}/{path} was removed" for path in sorted(signed) if path not in now]
    return changes
