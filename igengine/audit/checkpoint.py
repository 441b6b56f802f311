"""Signed checkpoints: "the chain's entry N has hash H", signed with the trail's Ed25519 key.

A checkpoint pins everything up to N: rewriting earlier entries (even re-hashing the chain) or
cutting the chain short of N can no longer go unnoticed by anyone holding the public key.
"""

from __future__ import annotations

from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from igengine.audit.entry import canonical, timestamp
from igengine.audit.keys import key_id, raw_public


class Checkpoint(BaseModel):
    """A signed statement of the chain's head. `public_key` and `signature` are hex."""

    model_config = ConfigDict(frozen=True)

    seq: int
    head_hash: str
    at: datetime
    key_id: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        return signed_message(self.seq, self.head_hash, self.at, self.key_id)


def signed_message(seq: int, head_hash: str, at: datetime, signer: str) -> bytes:
    """The bytes a checkpoint signature covers (named, so it cannot pass for anything else)."""
    return canonical(
        {
            "statement": "igengine audit checkpoint",
            "seq": seq,
            "head_hash": head_hash,
            "at": timestamp(at),
            "key_id": signer,
        }
    ).encode()


def sign(key: Ed25519PrivateKey, seq: int, head_hash: str, at: datetime) -> Checkpoint:
    public = key.public_key()
    signer = key_id(public)
    signature = key.sign(signed_message(seq, head_hash, at, signer))
    return Checkpoint(
        seq=seq,
        head_hash=head_hash,
        at=at,
        key_id=signer,
        public_key=raw_public(public).hex(),
        signature=signature.hex(),
    )


def signature_problem(checkpoint: Checkpoint, trusted: Ed25519PublicKey | None) -> str | None:
    """Why the checkpoint's signature cannot be accepted, or None if it can. With no trusted
    key, the key stored beside the checkpoint is used (which proves integrity, not origin)."""
    where = f"the checkpoint at entry {checkpoint.seq} (signed {timestamp(checkpoint.at)})"
    if trusted is not None and key_id(trusted) != checkpoint.key_id:
        return (
            f"{where} was signed by key {checkpoint.key_id}, not by the given public key "
            f"{key_id(trusted)}"
        )
    try:
        key = trusted or Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key))
        if key_id(key) != checkpoint.key_id:
            return f"{where} names key {checkpoint.key_id} but carries a different public key"
        key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        return f"{where} has an invalid signature: it was altered or forged"
    return None
