"""The witness file: every signed head of the chain, also kept outside the store.

Checkpoints in the store can be deleted by whoever can write to the store, and with them the
proof of how long the chain was. So each head the trail signs is also appended to a file, one
JSON line per head (the same signed statement as a checkpoint), by default beside the signing
key (`audit/signing.key` → `audit/signing.key.heads`). `igengine audit verify --public-key`
finds it beside the public key the same way and fails when the store is behind it or
disagrees with it. Like a transparency log's signed tree heads kept by its clients, the file
is only as trustworthy as where it is kept: whoever can both sign and rewrite it can rewrite
history.

Each line also names the chain its head was signed for (the hash of the chain's entry 1), so
two trails that share a signing key, and with it the file beside it, cannot be mistaken for one
another: a trail refuses to open, and verify fails saying so, when the file holds another
chain's heads (lines written before heads were labelled name no chain and are taken as the
trail's own). The label is not signed: changing it can only make a trail refuse the file or
fail verify, never let a chain pass that the signed heads would fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.errors import AuditError

SUFFIX = ".heads"
# Enough of the file's end to hold its last line many times over.
_TAIL_BYTES = 1 << 16


def default_path(key_path: Path) -> Path:
    """The witness file beside a signing key, found the same way from its public key
    (`signing.key`, `signing.key.pub` → `signing.key.heads`)."""
    return key_path.with_name(key_path.name.removesuffix(".pub") + SUFFIX)


def append(path: Path, head: Checkpoint, chain: str) -> None:
    """Add one signed head of the chain whose entry 1 has hash `chain`, durably, as one write
    (appends from several processes do not interleave). The file is created readable by its
    owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The label goes first and the signed head's own fields follow unchanged, so a reader that
    # knows nothing of labels still reads the head.
    line = f'{{"chain":{json.dumps(chain)},'.encode() + head.model_dump_json().encode()[1:] + b"\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def newest_seq(path: Path) -> int:
    """The highest entry number a head in the file covers (0 if there is no file)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the witness file ({exc.strerror})") from None
    lines = tail.splitlines()
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first may be the end of a line cut in two
    heads = [head for head in map(_parsed, lines) if head is not None]
    return max((head.seq for head in heads), default=0)


def read(path: Path) -> list[Checkpoint]:
    """Every head in the file. Raises AuditError naming the first line that is not one."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the witness file ({exc.strerror})") from None
    heads: list[Checkpoint] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        head = _parsed(line)
        if head is None:
            raise AuditError(
                f"the witness file {path} has been altered: line {number} is not a signed head"
            )
        heads.append(head)
    return heads


def other_chain(path: Path, chain: str | None) -> tuple[Checkpoint, str] | None:
    """The first head in the file signed for a chain other than the one whose entry 1 has hash
    `chain` (None: an empty chain), with the label it carries; None if every labelled head is
    this chain's or there is no file. Raises AuditError as `read` does."""
    if not path.exists():
        return None
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise AuditError(f"{path}: cannot read the witness file ({exc.strerror})") from None
    for line in lines:
        label = _label(line)
        if label is not None and label != chain:
            head = _parsed(line)
            if head is None:
                raise AuditError(f"the witness file {path} has been altered: a line is not a head")
            return head, label
    return None


def _label(line: bytes) -> str | None:
    try:
        fields = json.loads(line)
    except ValueError:
        return None
    label = fields.get("chain") if isinstance(fields, dict) else None
    if label is None or isinstance(label, str):
        return label
    # A label that is not text is still a claim about another chain: it never equals a hash.
    return repr(label)


def _parsed(line: bytes) -> Checkpoint | None:
    try:
        return Checkpoint.model_validate_json(line)
    except ValidationError:
        return None
