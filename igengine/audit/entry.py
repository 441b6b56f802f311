"""One audit entry: what it holds, its encoding, and how entries chain.

An entry's `body` is compact, ASCII-only JSON. Its hash is the SHA-256 of the text
`{"body":<body>,"prev_hash":"<previous entry's hash>","seq":<n>}`, with the body exactly as
stored, so the verifier hashes stored text without parsing any JSON. (For a body in canonical
form, sorted keys as well, that text is the canonical JSON of the three fields; reviews and
checkpoints are canonical, while decision bodies keep the request and the decision in the
contract's field order, encoded by pydantic's compiled serialiser.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from igengine.audit.errors import AuditWriteError
from igengine.audit.scrub import scrub
from igengine.decision import Decision
from igengine.request import Request

GENESIS = "0" * 64
BREAK_GLASS_OBLIGATION = "retrospective_review"


# Built once: `json.dumps` with options constructs a new encoder on every call. The output is
# byte-for-byte that of `json.dumps(value, sort_keys=True, separators=(",", ":"),
# allow_nan=False)`; bodies are built from plain dumps, never circular, so the circular-reference
# check is skipped (a cycle would still fail, with RecursionError).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), allow_nan=False, check_circular=False
)


# Compact and ASCII-only, in the order given (for the small request part of a decision body).
_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False)


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, no whitespace, ASCII only): the encoding of reviews,
    checkpoints, and decision bodies whose pack wording is not ASCII."""
    return _CANONICAL.encode(value)


def chain_hash(seq: int, prev_hash: str, body: str) -> str:
    """The entry hash; `body` is the body's text exactly as stored (see the module docstring)."""
    text = f'{{"body":{body},"prev_hash":"{prev_hash}","seq":{seq}}}'.encode()
    return hashlib.sha256(text).hexdigest()


def timestamp(moment: datetime) -> str:
    """A fixed-width UTC time, so stored times sort and compare as text."""
    # The same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), at a third of the cost: isoformat
    # with microseconds is fixed-width, and the naive UTC time has no offset to append.
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True, slots=True)
class Head:
    """The newest entry of a chain (seq 0 and the genesis hash when it is empty)."""

    seq: int = 0
    entry_hash: str = GENESIS


@dataclass(frozen=True, slots=True)
class ChainRow:
    """An entry as stored: position, links and canonical body."""

    seq: int
    prev_hash: str
    entry_hash: str
    body: str


def link(head: Head, bodies: Sequence[str]) -> list[ChainRow]:
    """Chain `bodies` onto `head`, in order."""
    rows: list[ChainRow] = []
    seq, prev = head.seq, head.entry_hash
    for body in bodies:
        seq += 1
        entry_hash = chain_hash(seq, prev, body)
        rows.append(ChainRow(seq, prev, entry_hash, body))
        prev = entry_hash
    return rows


def decision_body(
    request: Request,
    decision: Decision,
    pseudonym: Callable[[str], str] | None,
    now: datetime,
    decision_json: str | None = None,
) -> str:
    """The body recording one decision; the subject's identifier is pseudonymised.
    `decision_json` is the decision's `model_dump_json()` when the caller has it already (the
    service sends the same text as its answer)."""
    stored_request = request.model_dump(mode="json")
    _pseudonymise(stored_request, request.subject.id, pseudonym)
    # Each fact is stored once: who, what and the outcome are read from the request and the
    # decision (the stores index them there), so they cannot disagree within an entry.
    # The decision, nine tenths of the entry, is encoded by pydantic's compiled serialiser: a
    # third of the cost of sorting its keys through `json` (a service worker's largest audit
    # cost). Its text is ASCII unless the pack's own wording is not; then the whole body takes
    # the canonical form, which escapes it.
    glass = "true" if BREAK_GLASS_OBLIGATION in decision.obligations else "false"
    if decision_json is None:
        decision_json = decision.model_dump_json()
    body = (
        f'{{"at":"{timestamp(now)}","break_glass":{glass},"decision":{decision_json},'
        f'"kind":"decision","request":{_COMPACT.encode(stored_request)}}}'
    )
    return body if body.isascii() else canonical(json.loads(body))


def decision_bodies(
    entries: Sequence[tuple[Request, Decision]],
    pseudonym: Callable[[str], str] | None,
    now: datetime,
    decision_jsons: Sequence[str | None] | None = None,
) -> list[str]:
    """A batch's bodies (`decision_body` each, one time for all); `decision_jsons`, when
    given, holds each decision's JSON in order."""
    jsons = decision_jsons or [None] * len(entries)
    return [
        decision_body(request, decision, pseudonym, now, text)
        for (request, decision), text in zip(entries, jsons, strict=True)
    ]


def _pseudonymise(
    stored: dict[str, Any], identifier: str | None, pseudonym: Callable[[str], str] | None
) -> None:
    """Replace the subject's identifier in the stored request by its pseudonym, in place, and
    every identifier the justification quotes (see `scrub`)."""
    person = None
    if identifier is not None:
        if pseudonym is None:
            raise AuditWriteError(
                "the request names a person (subject.id) but the audit trail has no "
                "pseudonymisation key, so it cannot be recorded"
            )
        person = pseudonym(identifier)
        stored["subject"]["id"] = person
    # Staff sometimes quote identifiers in free text; none may reach the store raw.
    justification = stored.get("justification")
    if isinstance(justification, str) and justification:
        stored["justification"] = scrub(justification, identifier, pseudonym, person)


def review_body(reviewed: AuditEntry, reviewer: str, note: str, now: datetime) -> str:
    """The canonical body recording the retrospective review of a break-glass decision."""
    return canonical(
        {
            "kind": "review",
            "at": timestamp(now),
            "break_glass": False,
            "review": {
                "decision_id": reviewed.decision_id,
                "person": reviewed.person,
                "reviewer": reviewer,
                "note": note,
                "reviewed_seq": reviewed.seq,
            },
        }
    )


class Review(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision_id: str
    person: str | None
    reviewer: str
    note: str
    reviewed_seq: int


class AuditEntry(BaseModel):
    """One entry read back from the trail. `request` holds pseudonyms, never raw identifiers."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    kind: Literal["decision", "review"]
    decision_id: str
    person: str | None
    requester: str | None = None
    organisation: str | None = None
    role: str | None = None
    record_type: str | None = None
    purpose: str | None = None
    effect: str | None = None
    policy_version: str | None = None
    break_glass: bool
    rules: list[str]
    request: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    review: Review | None = None
    prev_hash: str
    entry_hash: str

    @classmethod
    def from_row(cls, row: ChainRow) -> AuditEntry:
        body = json.loads(row.body)
        fields: dict[str, Any] = {
            "seq": row.seq,
            "at": body["at"],
            "kind": body["kind"],
            "break_glass": body["break_glass"],
            "prev_hash": row.prev_hash,
            "entry_hash": row.entry_hash,
        }
        if body["kind"] == "review":
            review = body["review"]
            fields.update(decision_id=review["decision_id"], person=review["person"])
            fields.update(review=review, rules=[])
            return cls.model_validate(fields)
        request, decision = body["request"], body["decision"]
        requester = request["requester"]
        fields.update(
            decision_id=decision["decision_id"],
            person=request["subject"].get("id"),
            requester=requester.get("id"),
            organisation=requester["organisation"],
            role=requester["role"],
            record_type=request["record_type"],
            purpose=request["purpose"],
            effect=decision["effect"],
            policy_version=decision["policy_version"],
            rules=[rule["id"] for rule in decision["rules"]],
            request=request,
            decision=decision,
        )
        return cls.model_validate(fields)
