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
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
    # The witness file checked (signed heads kept outside the store), how many heads it
    # held, and how many entries come after the newest signed head (in it, else in the store).
    witness: str | None = None
    witness_heads: int = 0
    uncovered: int = 0
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


@dataclass(frozen=True, slots=True)
class Witnessed:
    """The signed heads read from a witness file (see `igengine.audit.witness`)."""

    path: str
    heads: Sequence[Checkpoint]


def verify(
    walker: Walker,
    checkpoints: Sequence[Checkpoint],
    trusted: Ed25519PublicKey | None,
    witnessed: Witnessed | None = None,
) -> VerifyReport:
    """Check the signed `checkpoints` and the `witnessed` heads (all of them, read before the
    entries so that appends made meanwhile can only lengthen the chain), then walk every
    entry with `walker`: each signed head pins the hash its entry must have."""
    started = time.perf_counter()
    trusted_id = key_id(trusted) if trusted is not None else None
    ordered = sorted(checkpoints, key=lambda checkpoint: checkpoint.seq)
    heads = sorted(witnessed.heads, key=lambda head: head.seq) if witnessed else []
    failed = _bad_signature(ordered, heads, trusted, witnessed)
    if failed is not None:
        return VerifyReport(ok=False, entries=0, problem=failed, trusted_key=trusted_id)
    pinned = {checkpoint.seq: checkpoint.head_hash for checkpoint in ordered}
    # The witness's heads are pinned last: kept outside the store, they are the ones trusted.
    pinned.update({head.seq: head.head_hash for head in heads})
    walked = walker(pinned)
    newest = heads[-1] if heads else None
    broken = walked.broken or _behind(walked.good, newest) or _truncation(walked.good, ordered)
    covered = newest.seq if newest else (ordered[-1].seq if ordered else 0)
    report = VerifyReport(
        ok=broken is None,
        entries=walked.good,
        first_bad=broken.first_bad if broken else None,
        problem=broken.problem if broken else None,
        checkpoints=len(ordered),
        trusted_key=trusted_id,
        head_hash=walked.head_hash,
        witness=witnessed.path if witnessed else None,
        witness_heads=len(heads),
        uncovered=max(0, walked.good - covered) if broken is None else 0,
        seconds=time.perf_counter() - started,
    )
    if broken is None:
        warnings = _warnings(walked.good, ordered, trusted_id, witnessed, newest)
        report = report.model_copy(update={"warnings": warnings})
    return report


def _bad_signature(
    checkpoints: Sequence[Checkpoint],
    heads: Sequence[Checkpoint],
    trusted: Ed25519PublicKey | None,
    witnessed: Witnessed | None,
) -> str | None:
    for checkpoint in checkpoints:
        problem = signature_problem(checkpoint, trusted)
        if problem is not None:
            return problem
    if witnessed is None:
        return None
    assert trusted is not None, "a witness is only checked against a trusted key"
    pins: dict[int, str] = {}
    for head in heads:
        problem = signature_problem(head, trusted)
        if problem is not None:
            return f"the witness file {witnessed.path}: {problem}"
        if pins.setdefault(head.seq, head.head_hash) != head.head_hash:
            return (
                f"the witness file {witnessed.path} holds two different signed heads for "
                f"entry {head.seq}: the signing key signed two different histories"
            )
    return None


def _behind(good: int, newest: Checkpoint | None) -> _Break | None:
    if newest is None or newest.seq <= good:
        return None
    return _Break(
        good + 1,
        f"the trail has been cut short (the store is behind the witness file): the newest "
        f"signed head there (signed "
        f"{timestamp(newest.at)}) covers {newest.seq} entries, but the chain ends at entry "
        f"{good}, so the entries from entry {good + 1} to entry {newest.seq} have been removed",
    )


def seq_and_time(seq: int, body: bytes) -> tuple[int, datetime]:
    """An entry's number and recorded time (any time at all for a body that has none, which
    a forged entry may lack: the earliest possible, so it fails the recency check)."""
    try:
        moment = datetime.fromisoformat(json.loads(body)["at"])
    except (ValueError, KeyError, TypeError):
        return seq, datetime.min.replace(tzinfo=UTC)
    return seq, moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def unsigned_tail(
    times: Iterable[tuple[int, datetime]], now: datetime, grace: float
) -> _Break | None:
    """The entries after the newest signed head may only be recent ones, recorded within
    `grace` seconds of `now`, that the writer has not signed yet (it signs a head within
    seconds). An older one, or one from the future, was added by something else."""
    for seq, moment in times:
        age = (now - moment).total_seconds()
        if age > grace or age < -grace:
            when = "in the future" if age < 0 else f"{age:,.0f} s ago"
            return _Break(
                seq,
                f"entry {seq} comes after the newest signed head yet is recorded {when} "
                f"({timestamp(moment)}): the trail's writer signs a head within seconds of "
                "each entry, so it was appended by something other than the trail (or the "
                "writer stopped before signing it: start it again, then verify again)",
            )
    return None


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


def _warnings(
    good: int,
    checkpoints: Sequence[Checkpoint],
    trusted: str | None,
    witnessed: Witnessed | None,
    newest: Checkpoint | None,
) -> list[str]:
    notes: list[str] = []
    if trusted is None:
        notes.append(
            "signatures were NOT checked against your public key (none was given), only "
            "against keys stored in the trail itself, which whoever rewrites the trail can "
            "replace: this shows the chain is consistent, not that it is unaltered; give "
            "--public-key"
        )
    if witnessed is not None:
        covered = newest.seq if newest else 0
        if covered < good:
            notes.append(
                f"entries {covered + 1} to {good} are not yet covered by any signed head in "
                f"the witness file {witnessed.path}"
            )
        return notes
    if not checkpoints:
        if good:
            notes.append(
                "there are no signed checkpoints, so removing the newest entries or rewriting "
                "the whole chain would not be detected"
            )
        return notes
    if checkpoints[-1].seq < good:
        notes.append(
            f"entries {checkpoints[-1].seq + 1} to {good} are not yet covered by a signed "
            "checkpoint"
        )
    return notes
