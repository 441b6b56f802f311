"""kill -9 of the service under load: every decision a client was given is in the audit
trail afterwards, with the effect the client saw, and the trail still verifies."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from service_support import CALLER_KEY, capacity_request, running_service, settings

from igengine.audit import AuditTrail

CLIENTS = 8
LOAD_SECONDS = 2.0
# Mixed answers, so a recorded effect that differs from the one sent would show.
REQUESTS = [
    capacity_request(relationship="care_team", id="9434765919"),
    capacity_request(relationship="none", id="4010232137"),
]


def _client(base: str, received: dict[str, str], stop: threading.Event) -> None:
    with httpx.Client(base_url=base, trust_env=False, timeout=5.0) as client:
        for i in range(1_000_000):
            if stop.is_set():
                return
            try:
                response = client.post(
                    "/v1/decisions", json=REQUESTS[i % 2], headers={"X-API-Key": CALLER_KEY}
                )
            except httpx.HTTPError:
                return  # the service is gone: only answers already received count
            if response.status_code == 200:
                body = response.json()
                received[body["decision_id"]] = body["effect"]


def test_kill_9_under_load_loses_no_acknowledged_decision(tmp_path: Path) -> None:
    configured = settings(
        tmp_path,
        audit_url=f"sqlite:///{tmp_path / 'audit.db'}",
        hmac_key=tmp_path / "hmac.key",
        signing_key=tmp_path / "signing.key",
        checkpoint_every=200,
    )
    received: dict[str, str] = {}
    stop = threading.Event()
    with running_service(configured, workers=2, log=tmp_path / "service.log") as (base, process):
        clients = [
            threading.Thread(target=_client, args=(base, received, stop)) for _ in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        time.sleep(LOAD_SECONDS)
        # SIGKILL the supervisor and both workers at once, mid-flight, with no shutdown.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        stop.set()
        for thread in clients:
            thread.join(timeout=10)
        # Nothing may still be answering: every worker died with the supervisor.
        with pytest.raises(httpx.TransportError):
            httpx.get(base + "/healthz", timeout=2.0, trust_env=False)
    assert process.returncode == -signal.SIGKILL
    assert len(received) >= 100, f"only {len(received)} decisions were answered under load"

    trail = AuditTrail.open(
        configured.audit_url or "",
        hmac_key_path=configured.hmac_key,
        signing_key_path=configured.signing_key,
        create=False,
    )
    try:
        report = trail.verify()
        recorded = {entry.decision_id: entry.effect for entry in trail.query(limit=10_000_000)}
    finally:
        trail.close()
    assert report.ok, f"the trail no longer verifies: entry {report.first_bad}: {report.problem}"
    missing = sorted(set(received) - set(recorded))
    assert not missing, f"{len(missing)} acknowledged decisions are not in the trail"
    assert all(recorded[decision] == effect for decision, effect in received.items())
    assert report.entries >= len(received)
