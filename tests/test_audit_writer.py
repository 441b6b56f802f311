"""The audit writer process that `igengine serve` runs for its workers, and the workers' side of
it (RemoteTrail): entries sent by several workers are committed and answered in order; a store
failure, an unreachable writer or a lost connection withholds the decision; a writer that dies
under a running service is restarted and loses nothing that was acknowledged."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from audit_support import capacity_request, open_trail, store_url
from fastapi.testclient import TestClient
from service_support import CALLER_KEY, POLICIES, running_service, settings
from service_support import capacity_request as service_request

from igengine import Decision, Engine, Request
from igengine.audit import AuditTrail, AuditWriteError
from igengine.audit.keys import pseudonymiser
from igengine.audit.remote import RemoteTrail
from igengine.audit.writer import Writer
from igengine.request import parse_request
from service.app import create_app

__all__ = ["store_url"]  # fixture used by name below


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_directory(POLICIES)


def listening(path: Path) -> socket.socket:
    """A Unix socket listening at `path`: a writer's, or a stand-in that never answers."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    return listener


@contextmanager
def writer_for(trail: AuditTrail, path: Path) -> Iterator[Writer]:
    """A writer serving `trail` on the Unix socket `path`, in a thread of this process."""
    listener = listening(path)
    listener.setblocking(False)
    writer = Writer(trail, listener)
    thread = threading.Thread(target=writer.run)
    thread.start()
    try:
        yield writer
    finally:
        writer.stop()
        thread.join()
        writer.close()
        listener.close()


def decided(engine: Engine, count: int) -> list[tuple[Request, Decision]]:
    requests = [parse_request(capacity_request(person=f"94347659{n:02d}")) for n in range(count)]
    return [(request, engine.decide(request)) for request in requests]


async def record_all(
    remotes: list[RemoteTrail], decisions: list[tuple[Request, Decision]]
) -> list[Exception | None]:
    """Record every decision, taking the remotes in turn as workers would; the outcomes."""

    async def outcome(remote: RemoteTrail, request: Request, decision: Decision) -> None:
        await remote.record_async(request, decision)

    outcomes: list[asyncio.Task[None]] = []
    for number, (request, decision) in enumerate(decisions):
        remote = remotes[number % len(remotes)]
        outcomes.append(asyncio.ensure_future(outcome(remote, request, decision)))
        if number % 7 == 0:
            await asyncio.sleep(0)  # let some go out in separate writes
    answers = await asyncio.gather(*outcomes, return_exceptions=True)
    return [answer if isinstance(answer, Exception) else None for answer in answers]


def test_entries_from_several_workers_are_committed_and_each_is_answered(
    engine: Engine, tmp_path: Path, store_url: str
) -> None:
    trail = open_trail(store_url, tmp_path, checkpoint_every=50)
    path = tmp_path / "writer.sock"
    decisions = decided(engine, 300)
    key = pseudonymiser(tmp_path / "hmac.key")
    with writer_for(trail, path):
        remotes = [RemoteTrail(path, key), RemoteTrail(path, key)]
        outcomes = asyncio.run(record_all(remotes, decisions))
        assert all(remote.writable() for remote in remotes)
    try:
        assert outcomes == [None] * len(decisions)
        recorded = [entry.decision_id for entry in trail.query()]
        assert sorted(recorded) == sorted(decision.decision_id for _, decision in decisions)
        # The person is stored as the trail's pseudonym, found by the raw identifier.
        assert [e.decision_id for e in trail.query(person="9434765907")] == [
            decisions[7][1].decision_id
        ]
        report = trail.verify()
        # A checkpoint is signed by each commit that passes a multiple of 50.
        assert report.ok and report.entries == 300 and report.checkpoints >= 1
    finally:
        trail.close()


def test_a_store_failure_is_answered_as_not_written_and_the_writer_carries_on(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = open_trail(f"sqlite:///{tmp_path}/audit.db", tmp_path)
    path = tmp_path / "writer.sock"
    first, second = decided(engine, 6)[:3], decided(engine, 6)[3:]
    key = pseudonymiser(tmp_path / "hmac.key")
    real_append = trail.append_many

    def failing(bodies: list[str]) -> list[int]:
        raise AuditWriteError("the entry could not be written: OSError: disk I/O error")

    try:
        with writer_for(trail, path):
            remote = RemoteTrail(path, key)
            monkeypatch.setattr(trail, "append_many", failing)
            monkeypatch.setattr(trail, "writable", lambda: False)
            failed = asyncio.run(record_all([remote], first))
            assert not remote.writable()
            monkeypatch.setattr(trail, "append_many", real_append)
            monkeypatch.undo()
            written = asyncio.run(record_all([RemoteTrail(path, key)], second))
        assert all(isinstance(outcome, AuditWriteError) for outcome in failed)
        assert all(
            str(outcome) == "the entry could not be written: OSError: disk I/O error"
            for outcome in failed
        )
        assert written == [None, None, None]
        assert [entry.decision_id for entry in trail.query()] == [d.decision_id for _, d in second]
    finally:
        trail.close()


def test_an_unreachable_writer_refuses_at_once(engine: Engine, tmp_path: Path) -> None:
    remote = RemoteTrail(tmp_path / "nobody.sock", pseudonymiser(tmp_path / "hmac.key"))
    [(request, decision)] = decided(engine, 1)

    async def record() -> None:
        await remote.record_async(request, decision)

    with pytest.raises(AuditWriteError, match=r"cannot reach the audit writer at .*nobody\.sock"):
        asyncio.run(record())
    assert not remote.writable()


def test_entries_unanswered_when_the_connection_is_lost_count_as_not_written(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "writer.sock"
    listener = listening(path)
    remote = RemoteTrail(path, pseudonymiser(tmp_path / "hmac.key"))
    decisions = decided(engine, 2)

    async def record_then_lose() -> list[Exception | None]:
        pending = asyncio.ensure_future(record_all([remote], decisions))
        await asyncio.sleep(0.05)
        # A writer that reads the entries and dies before answering.
        conn, _ = listener.accept()
        conn.recv(1 << 16)
        conn.close()
        return await asyncio.wait_for(pending, 5)

    outcomes = asyncio.run(record_then_lose())
    listener.close()
    assert all(isinstance(outcome, AuditWriteError) for outcome in outcomes)
    assert all("lost the audit writer" in str(outcome) for outcome in outcomes)


def test_the_service_withholds_decisions_while_its_writer_is_unreachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    remote = RemoteTrail(tmp_path / "nobody.sock", pseudonymiser(tmp_path / "hmac.key"))
    client = TestClient(create_app(settings(tmp_path), trail=remote))
    response = client.post(
        "/v1/decisions", json=service_request(), headers={"X-API-Key": CALLER_KEY}
    )
    assert response.status_code == 503
    assert "audit trail could not be written" in response.json()["error"]
    # The caller is told what to do; the log says why, for whoever runs the service.
    assert "cannot reach the audit writer" in caplog.text
    assert "effect" not in response.json()
    assert client.get("/readyz").status_code == 503


def writer_pid(supervisor: int) -> int:
    # Each thread lists the children it started (the watchdog thread starts a replacement).
    tasks = Path(f"/proc/{supervisor}/task").iterdir()
    children = [child for task in tasks for child in (task / "children").read_text().split()]
    for child in children:
        if "igengine.audit.writer" in Path(f"/proc/{child}/cmdline").read_text():
            return int(child)
    raise AssertionError(f"no audit writer among the children of {supervisor}")


def test_a_writer_killed_under_a_running_service_is_restarted_and_loses_nothing(
    tmp_path: Path,
) -> None:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    configured = settings(
        tmp_path, audit_url=audit, hmac_key=tmp_path / "hmac.key", signing_key=None
    )
    answered: dict[str, str] = {}
    statuses: set[int] = set()
    with running_service(configured, log=tmp_path / "service.log") as (base, process):
        first = writer_pid(process.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=base, trust_env=False, timeout=5.0) as client:
            while time.monotonic() < deadline:
                response = client.post(
                    "/v1/decisions", json=service_request(), headers={"X-API-Key": CALLER_KEY}
                )
                statuses.add(response.status_code)
                if response.status_code == 200:
                    answered[response.json()["decision_id"]] = response.json()["effect"]
                    if len(answered) >= 20:
                        break
                else:
                    time.sleep(0.05)
        assert writer_pid(process.pid) != first
    assert statuses <= {200, 503} and len(answered) >= 20
    trail = AuditTrail.open(audit, hmac_key_path=tmp_path / "hmac.key", create=False)
    try:
        recorded = {entry.decision_id: entry.effect for entry in trail.query()}
        assert trail.verify().ok
    finally:
        trail.close()
    assert all(recorded.get(decision) == effect for decision, effect in answered.items())


def test_entries_a_stuck_writer_never_answers_are_given_up_after_the_timeout(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "writer.sock"
    listener = listening(path)  # connections are accepted (by the kernel), never answered
    remote = RemoteTrail(path, pseudonymiser(tmp_path / "hmac.key"), answer_timeout=0.3)
    started = time.monotonic()
    outcomes = asyncio.run(asyncio.wait_for(record_all([remote], decided(engine, 3)), 5))
    waited = time.monotonic() - started
    listener.close()
    assert all(isinstance(outcome, AuditWriteError) for outcome in outcomes)
    assert all("no answer within 0.3 s" in str(outcome) for outcome in outcomes)
    assert 0.3 <= waited < 3


def test_a_batch_sent_among_single_entries_is_committed_in_one_transaction(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's batch (one frame) is never split across the writer's transactions, even
    when it arrives among enough single entries to fill one; it is answered once, for all."""
    trail = open_trail(f"sqlite:///{tmp_path}/audit.db", tmp_path)
    path = tmp_path / "writer.sock"
    made = decided(engine, 99)
    singles, batch = made[:95], made[95:]
    key = pseudonymiser(tmp_path / "hmac.key")
    transactions: list[str] = []
    real_append = trail.append_many

    def counted(bodies: list[str]) -> list[int]:
        transactions.append("".join(bodies))
        return real_append(bodies)

    monkeypatch.setattr(trail, "append_many", counted)
    # Small transactions, so that the batch lands where one ends.
    monkeypatch.setattr("igengine.audit.writer.MAX_BATCH", 10)

    async def send_all() -> list[BaseException | None]:
        remote = RemoteTrail(path, key)
        sending: list[asyncio.Task[None]] = []
        for number, (request, decision) in enumerate(singles):
            sending.append(asyncio.create_task(remote.record_async(request, decision)))
            if number == 8:
                sending.append(asyncio.create_task(remote.record_many_async(batch)))
        gathered = asyncio.gather(*sending, return_exceptions=True)
        return list(await asyncio.wait_for(gathered, 10))

    try:
        with writer_for(trail, path):
            outcomes = asyncio.run(send_all())
        assert outcomes == [None] * (len(singles) + 1)
        # Ten frames a transaction, and the batch of four (one frame) all in one of them.
        batch_ids = [decision.decision_id for _, decision in batch]
        [holding] = [text for text in transactions if batch_ids[0] in text]
        assert all(decision_id in holding for decision_id in batch_ids)
        assert len(transactions) >= 10
        assert trail.verify().ok
        recorded = {entry.decision_id for entry in trail.query(limit=200)}
        assert {decision.decision_id for _, decision in batch} <= recorded
    finally:
        trail.close()
