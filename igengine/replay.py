"""Replay: the recorded requests of an audit trail decided again under another pack, to see
which of the real decisions a change would have turned around.

It only reads the trail. Each request is decided as recorded (the person's pseudonym in place
of their identifier, which no rule tests) at the time it was decided, by an Engine with no
trail of its own, and compared with the recorded answer: effect, legal basis cited and
obligations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from igengine.audit.entry import AuditEntry, ChainRow
from igengine.audit.errors import AuditError
from igengine.audit.store import open_store
from igengine.audit.url import redact_url
from igengine.diff import Answer
from igengine.engine import Engine
from igengine.policy.pack import PolicyPack
from igengine.request import RequestError

Progress = Callable[[int, int], None]
NO_AGREEMENT = "(no agreement)"


@dataclass(frozen=True)
class Turned:
    """One recorded decision that the new pack answers differently."""

    seq: int
    decision_id: str
    at: str
    role: str
    organisation: str
    holder: str
    purpose: str
    record_type: str
    agreement: str
    was: Answer
    now: Answer | None
    # Why the new pack could not decide the request at all (e.g. an organisation removed).
    refused: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "decision_id": self.decision_id,
            "at": self.at,
            "requester": {"role": self.role, "organisation": self.organisation},
            "holder": self.holder,
            "purpose": self.purpose,
            "record_type": self.record_type,
            "agreement": self.agreement,
            "recorded": self.was.to_dict(),
            "now": self.now.to_dict() if self.now else None,
            "refused": self.refused,
        }


@dataclass
class ReplayReport:
    read: int = 0
    replayed: int = 0
    # Decisions recorded as fail-safe errors answered nothing, so there is nothing to compare.
    recorded_errors: int = 0
    turned: list[Turned] = field(default_factory=list)
    by_agreement: Counter[str] = field(default_factory=Counter)
    by_purpose: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries_read": self.read,
            "decisions_replayed": self.replayed,
            "recorded_errors_skipped": self.recorded_errors,
            "changed": len(self.turned),
            "by_agreement": dict(self.by_agreement.most_common()),
            "by_purpose": dict(self.by_purpose.most_common()),
            "decisions": [turned.to_dict() for turned in self.turned],
        }


def replay(
    url: str,
    pack: PolicyPack,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
) -> ReplayReport:
    """Decide the trail's recorded requests (recorded between `since` and `until`, when
    given) under `pack`. Raises AuditError when the trail cannot be read."""
    engine = Engine(pack)
    report = ReplayReport()
    for seq, last, entry in _entries(url):
        report.read += 1
        if _within(entry, since, until):
            _replay_one(engine, entry, report)
        if progress is not None:
            progress(seq, last)
    return report


def _entries(url: str) -> Iterator[tuple[int, int, AuditEntry]]:
    """Each entry of the trail with its number and the last number; AuditError when the store
    cannot be opened or read (each database driver raises its own errors: all are caught)."""
    try:
        store = open_store(url, create=False)
    except AuditError:
        raise
    except Exception as exc:
        raise AuditError(f"{redact_url(url)}: {type(exc).__name__}: {exc}") from None
    try:
        last = store.last_seq()
        for seq, prev_hash, entry_hash, body in store.rows():
            yield seq, last, _entry(ChainRow(seq, prev_hash, entry_hash, body.decode("utf-8")))
    except AuditError:
        raise
    except Exception as exc:
        raise AuditError(f"{redact_url(url)}: {type(exc).__name__}: {exc}") from None
    finally:
        store.close()


def _entry(row: ChainRow) -> AuditEntry:
    try:
        return AuditEntry.from_row(row)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AuditError(f"entry {row.seq} cannot be read as an audit entry ({exc})") from None


def _within(entry: AuditEntry, since: datetime | None, until: datetime | None) -> bool:
    if entry.kind != "decision":
        return False
    return (since is None or entry.at >= since) and (until is None or entry.at <= until)


def _replay_one(engine: Engine, entry: AuditEntry, report: ReplayReport) -> None:
    recorded, request = entry.decision or {}, dict(entry.request or {})
    if recorded.get("error"):
        report.recorded_errors += 1
        return
    was = Answer.from_dict(recorded)
    # Decided for the time it was decided at, as the recorded decision says.
    request["at"] = recorded["at"]
    report.replayed += 1
    try:
        decision = engine.decide(request)
    except RequestError as exc:
        _count(report, _turned(entry, request, was, None, str(exc)))
        return
    now = Answer.of(decision)
    if now != was:
        agreement = decision.agreement.id if decision.agreement else None
        _count(report, _turned(entry, request, was, now, None, agreement))


def _turned(
    entry: AuditEntry,
    request: dict[str, Any],
    was: Answer,
    now: Answer | None,
    refused: str | None,
    new_agreement: str | None = None,
) -> Turned:
    recorded_agreement = (entry.decision or {}).get("agreement") or {}
    return Turned(
        seq=entry.seq,
        decision_id=entry.decision_id,
        at=str(request["at"]),
        role=entry.role or "",
        organisation=entry.organisation or "",
        holder=str(request.get("holder", {}).get("organisation", "")),
        purpose=entry.purpose or "",
        record_type=entry.record_type or "",
        agreement=recorded_agreement.get("id") or new_agreement or NO_AGREEMENT,
        was=was,
        now=now,
        refused=refused,
    )


def _count(report: ReplayReport, turned: Turned) -> None:
    report.turned.append(turned)
    report.by_agreement[turned.agreement] += 1
    report.by_purpose[turned.purpose] += 1
