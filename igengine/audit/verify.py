"""Verification: walk the whole chain in sequence order, check every hash and link, check each
signed checkpoint's signature and that the chain still reaches it, and name the first bad entry.

Tampering shows up as follows (N is the entry named in `first_bad`):
- modified: entry N's body no longer hashes to its stored hash;
- deleted: the sequence jumps over N;
- inserted: N hashes correctly but N+1 is still linked to N-1;
- reordered: the entry at N was written at another position, so its links and hash disagree;
- truncated: a signed checkpoint covers entries beyond the end of the chain.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from igengine.audit.checkpoint import Checkpoint, signature_problem
from igengine.audit.entry import GENESIS, chain_hash, timestamp
from igengine.audit.keys import key_id

StoredRow = tuple[int, str, str, bytes]  # seq, prev_hash, entry_hash, body (UTF-8)


class VerifyReport(BaseModel):
    """The outcome of checking a whole trail. `entries` counts the entries found good (all of
    them when `ok`); `first_bad` is the sequence number of the first bad entry, if one is."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str | None = None
    checkpoints: int = 0
    trusted_key: str | None = None
    head_hash: str = GENESIS
    warnings: list[str] = []
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Break:
    first_bad: int
    problem: str


@dataclass(frozen=True, slots=True)
class Walk:
    """How far a walk along the chain got: `good` entries checked, the hash of the last good
    one, the first row's stored prev_hash, and what broke the chain, if anything did."""

    good: int
    head_hash: str
    first_prev: str
    broken: _Break | None


# Walks the whole chain with the given checkpoint pins (seq → head hash).
Walker = Callable[[dict[int, str]], Walk]


def verify(
    walker: Walker,
    checkpoints: Sequence[Checkpoint],
    trusted: Ed25519PublicKey | None,
) -> VerifyReport:
    """Check the signed `checkpoints` (all of them, read before the entries so that appends
    made meanwhile can only lengthen the chain), then walk every entry with `walker`."""
    started = time.perf_counter()
    trusted_id = key_id(trusted) if trusted is not None else None
    ordered = sorted(checkpoints, key=lambda checkpoint: checkpoint.seq)
    for checkpoint in ordered:
        problem = signature_problem(checkpoint, trusted)
        if problem is not None:
            return VerifyReport(ok=False, entries=0, problem=problem, trusted_key=trusted_id)
    walked = walker({checkpoint.seq: checkpoint.head_hash for checkpoint in ordered})
    broken = walked.broken or _truncation(walked.good, ordered)
    seconds = time.perf_counter() - started
    if broken is not None:
        return VerifyReport(
            ok=False,
            entries=walked.good,
            first_bad=broken.first_bad,
            problem=broken.problem,
            checkpoints=len(ordered),
            trusted_key=trusted_id,
            head_hash=walked.head_hash,
            seconds=seconds,
        )
    return VerifyReport(
        ok=True,
        entries=walked.good,
        checkpoints=len(ordered),
        trusted_key=trusted_id,
        head_hash=walked.head_hash,
        warnings=_warnings(walked.good, ordered, trusted_id),
        seconds=seconds,
    )


_HASHED_OPEN = b'{"body":'


def walk(
    rows: Iterable[StoredRow], pinned: dict[int, str], first: int = 1, prev: str | None = GENESIS
) -> Walk:
    """Check `rows` in order, starting at entry `first` linked to `prev`. With `prev` None
    (one segment of a parallel walk) the first row's stored link is taken as given; the
    caller checks it against the previous segment."""
    rows = iter(rows)
    if prev is None:
        head = next(rows, None)
        if head is None:
            return Walk(0, "", "", None)
        prev, rows = head[1], itertools.chain([head], rows)
    first_prev = prev
    # The hot loop: one comparison chain and one SHA-256 per entry, nothing parsed or decoded.
    # The hash is `chain_hash` written out in place, because a call per entry costs a tenth of
    # the loop's time (tests check the two agree on every entry they write); the body's bytes
    # are fed to it as they came from the store, not copied into one text first.
    sha256 = hashlib.sha256
    expected, earlier, last_pinned = first, "", 0
    for seq, prev_hash, entry_hash, body in rows:
        digest = sha256(_HASHED_OPEN)
        digest.update(body)
        digest.update(f',"prev_hash":"{prev}","seq":{seq}}}'.encode())
        if seq != expected or prev_hash != prev or digest.hexdigest() != entry_hash:
            problem = _diagnose((seq, prev_hash, entry_hash, body), expected, prev, earlier)
            return Walk(expected - first, prev, first_prev, problem)
        pin = pinned.get(seq)
        if pin is not None:
            if pin != entry_hash:
                return Walk(expected - first, prev, first_prev, _rewritten(seq, last_pinned))
            last_pinned = seq
        earlier, prev = prev, entry_hash
        expected += 1
    return Walk(expected - first, prev, first_prev, None)


def _diagnose(row: StoredRow, expected: int, prev: str, earlier: str) -> _Break:
    """Say what is wrong at the first row that does not fit the chain."""
    seq, prev_hash, entry_hash, stored = row
    body = stored.decode(errors="replace")
    if seq > expected:
        gap = (
            f"entry {expected} is"
            if seq == expected + 1
            else f"entries {expected} to {seq - 1} are"
        )
        after = f"entry {expected - 1}" if expected > 1 else "the start"
        return _Break(expected, f"{gap} missing: the trail goes from {after} to entry {seq}")
    if seq < expected:
        return _Break(seq, f"entry {seq} appears more than once")
    if prev_hash == prev:
        return _Break(
            seq,
            f"entry {seq} has been altered: its contents no longer match its hash "
            "(or it was inserted without one)",
        )
    if earlier and prev_hash == earlier:
        return _Break(
            seq - 1,
            f"entry {seq - 1} was inserted: entry {seq} is still linked to entry {seq - 2}",
        )
    for written_as in (seq + 1, seq - 1):
        if written_as > 0 and chain_hash(written_as, prev_hash, body) == entry_hash:
            return _Break(
                seq,
                f"entry {seq} is out of place: it was written as entry {written_as}, so entries "
                "have been removed, inserted or reordered here",
            )
    return _Break(seq, f"entry {seq} has been altered: it is no longer linked to entry {seq - 1}")


def _rewritten(seq: int, last_pinned: int) -> _Break:
    return _Break(
        last_pinned + 1,
        f"the chain was rewritten: entry {seq} no longer matches the signed checkpoint at "
        f"entry {seq}, so an entry from {last_pinned + 1} to {seq} was changed and the hashes "
        "recomputed",
    )


def _truncation(good: int, checkpoints: Sequence[Checkpoint]) -> _Break | None:
    if not checkpoints or checkpoints[-1].seq <= good:
        return None
    latest = checkpoints[-1]
    return _Break(
        good + 1,
        f"the trail has been cut short: it ends at entry {good}, but the checkpoint signed "
        f"{timestamp(latest.at)} covers {latest.seq} entries, so the entries from entry "
        f"{good + 1} to entry {latest.seq} have been removed",
    )


def _warnings(good: int, checkpoints: Sequence[Checkpoint], trusted: str | None) -> list[str]:
    if not checkpoints:
        return (
            [
                "there are no signed checkpoints, so removing the newest entries or rewriting the "
                "whole chain would not be detected"
            ]
            if good
            else []
        )
    notes: list[str] = []
    if checkpoints[-1].seq < good:
        notes.append(
            f"entries {checkpoints[-1].seq + 1} to {good} are not yet covered by a signed "
            "checkpoint"
        )
    if trusted is None:
        notes.append(
            "checkpoint signatures were checked against the public keys stored in the trail; "
            "give the public key to check they were made with your key"
        )
    return notes
