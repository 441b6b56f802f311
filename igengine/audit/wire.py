"""The audit writer's wire format, shared by the writer process (`igengine.audit.writer`) and
the workers' side of it (`igengine.audit.remote`), so that neither imports the other.

Frames on the socket, both ways: a 4-byte big-endian length, then that many bytes.
- worker → writer: an entry body (UTF-8), or an empty frame: "is the store writable?"
- writer → worker, one per frame and in the same order: `+<seq>` once the entry is durable
  (`+0` answers a probe), or `-<reason>` if it is not.
"""

from __future__ import annotations

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


def written(seq: int) -> bytes:
    """The answer for an entry that is durable, numbered `seq`."""
    return b"+%d" % seq


def refused(reason: str) -> bytes:
    """The answer for an entry (or probe) that was not written."""
    return f"-{reason}".encode()


def refusal(answer: bytes) -> str | None:
    """Why the writer did not write the entry an answer is for; None if it did."""
    return None if answer.startswith(b"+") else answer[1:].decode(errors="replace")
