"""The audit writer's wire format, shared by the writer process (`igengine.audit.writer`) and
the workers' side of it (`igengine.audit.remote`), so that neither imports the other.

Frames on the socket, both ways: a 4-byte big-endian length, then that many bytes.
- worker → writer: an entry body (UTF-8, a JSON object), a batch (a JSON array of entry
  bodies, all committed in one transaction), or an empty frame: "is the store writable?"
- writer → worker, one per frame and in the same order: `+<seq>` once the entry is durable
  (`+<seq>,<seq>,...` for a batch; `+0` answers a probe), or `-<reason>` if it is not.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator

LENGTH = struct.Struct(">I")
PROBE = b""
WRITABLE = b"+0"


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload


def frames(buffer: bytearray) -> Iterator[bytes]:
    """Take every complete frame off the front of `buffer` (what is left is a partial one)."""
    start = 0
    while len(buffer) - start >= LENGTH.size:
        (size,) = LENGTH.unpack_from(buffer, start)
        end = start + LENGTH.size + size
        if end > len(buffer):
            break
        yield bytes(buffer[start + LENGTH.size : end])
        start = end
    del buffer[:start]


def batch_payload(bodies: list[str]) -> bytes:
    """A batch frame's payload: the entries' bodies as one JSON array."""
    return json.dumps(bodies, ensure_ascii=False).encode()


def entries(payload: bytes) -> list[str]:
    """The entry bodies a frame carries: one, or a batch's."""
    if payload.startswith(b"["):
        bodies: list[str] = json.loads(payload)
        return bodies
    return [payload.decode()]


def joined(outcomes: list[bytes]) -> bytes:
    """One answer for a frame's entries (all share one transaction's outcome)."""
    if not outcomes:
        return b"+"
    if len(outcomes) == 1 or outcomes[0].startswith(b"-"):
        return outcomes[0]
    return b"+" + b",".join(outcome[1:] for outcome in outcomes)


def written(seq: int) -> bytes:
    """The answer for an entry that is durable, numbered `seq`."""
    return b"+%d" % seq


def refused(reason: str) -> bytes:
    """The answer for an entry (or probe) that was not written."""
    return f"-{reason}".encode()


def refusal(answer: bytes) -> str | None:
    """Why the writer did not write the entry an answer is for; None if it did."""
    return None if answer.startswith(b"+") else answer[1:].decode(errors="replace")
