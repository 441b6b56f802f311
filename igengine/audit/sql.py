"""The SQL both back ends share: the query columns derived from each body, table names, and
the statements that read the chain, its checkpoints and the entries an auditor asks for.

Statements take the driver's placeholder (`mark`) and its spelling of true, so each back end
fills in its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.entry import timestamp
from igengine.audit.store import Filter

# The query columns the database derives from each body: name → (type, JSON paths tried in
# turn). Decisions hold them in their request and decision; reviews in their review.
QUERY_COLUMNS: dict[str, tuple[Literal["text", "bool"], tuple[tuple[str, ...], ...]]] = {
    "at": ("text", (("at",),)),
    "kind": ("text", (("kind",),)),
    "decision_id": ("text", (("decision", "decision_id"), ("review", "decision_id"))),
    "person": ("text", (("request", "subject", "id"), ("review", "person"))),
    "requester": ("text", (("request", "requester", "id"),)),
    "organisation": ("text", (("request", "requester", "organisation"),)),
    "record_type": ("text", (("request", "record_type"),)),
    "effect": ("text", (("decision", "effect"),)),
    "break_glass": ("bool", (("break_glass",),)),
}
INDEXED = ("person", "decision_id", "requester")
# The entries a retrospective review looks up by decision id; `{true}` is the driver's true.
REVIEWABLE = "(break_glass = {true} OR kind = 'review')"


@dataclass(frozen=True)
class Tables:
    """The (possibly schema-qualified, quoted) names of a trail's three tables."""

    entries: str
    checkpoints: str
    meta: str

    @classmethod
    def named(cls, prefix: str, schema: str | None = None) -> Tables:
        qualify = f'"{schema}".' if schema else ""
        return cls(
            entries=f'{qualify}"{prefix}entries"',
            checkpoints=f'{qualify}"{prefix}checkpoints"',
            meta=f'{qualify}"{prefix}meta"',
        )


def select_sql(tables: Tables, where: Filter, mark: str) -> tuple[str, list[Any]]:
    """The newest matching entries first; `mark` is the driver's placeholder."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("person", where.person),
        ("record_type", where.record_type),
        ("effect", where.effect),
    ):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if where.requester is not None:
        # A requester is named by staff id or by organisation code.
        clauses.append(f"(requester = {mark} OR organisation = {mark})")
        params += [where.requester, where.requester]
    if where.since is not None:
        clauses.append(f"at >= {mark}")
        params.append(where.since)
    if where.until is not None:
        clauses.append(f"at <= {mark}")
        params.append(where.until)
    condition = " AND ".join(clauses) or "1 = 1"
    sql = (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} "
        f"WHERE {condition} ORDER BY seq DESC LIMIT {mark}"
    )
    return sql, params


def pending_sql(tables: Tables, true: str) -> str:
    return (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} AS d "
        f"WHERE d.break_glass = {true} AND d.kind = 'decision' AND NOT EXISTS ("
        f"SELECT 1 FROM {tables.entries} AS r "
        "WHERE r.decision_id = d.decision_id AND r.kind = 'review') ORDER BY d.seq"
    )


def by_decision_sql(tables: Tables, mark: str, true: str, reviewable: bool) -> str:
    # The reviewable condition is written exactly as the SQLite index's, so it is used.
    only = f" AND {REVIEWABLE.format(true=true)}" if reviewable else ""
    return (
        f"SELECT seq, prev_hash, entry_hash, body FROM {tables.entries} "
        f"WHERE decision_id = {mark}{only} ORDER BY seq"
    )


HEAD_SQL = "SELECT seq, entry_hash FROM {entries} ORDER BY seq DESC LIMIT 1"
# The chain for verification, bodies as UTF-8 bytes (`{body}` is the store's expression for
# that): hashed as they come, with no text decoded and encoded again.
ROWS_SQL = (
    "SELECT seq, prev_hash, entry_hash, {body} FROM {entries} "
    "WHERE seq >= {mark} AND seq <= {mark} ORDER BY seq"
)
LAST_SQL = "SELECT coalesce(max(seq), 0) FROM {entries}"
CHECKPOINT_COLUMNS = "seq, head_hash, at, key_id, public_key, signature"
# The entry a probe inserts and rolls back: below every real sequence number.
PROBE_ENTRY_SQL = (
    "INSERT INTO {entries} (seq, prev_hash, entry_hash, body) VALUES (-1, '', '', '{{}}')"
)


def checkpoint_values(checkpoint: Checkpoint) -> tuple[int, str, str, str, str, str]:
    return (
        checkpoint.seq,
        checkpoint.head_hash,
        timestamp(checkpoint.at),
        checkpoint.key_id,
        checkpoint.public_key,
        checkpoint.signature,
    )


def checkpoint_from(row: Sequence[Any]) -> Checkpoint:
    seq, head_hash, at, signer, public_key, signature = row
    return Checkpoint(
        seq=seq,
        head_hash=head_hash,
        at=at,
        key_id=signer,
        public_key=public_key,
        signature=signature,
    )
