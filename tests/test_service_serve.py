"""`igengine serve` and `igengine api-key`: the README's commands, run for real."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from service_support import ROOT, capacity_request, free_port
from typer.testing import CliRunner

from igengine.audit import AuditTrail
from igengine.cli import app
from service.auth import KeyStore


def _one_off_key(process: subprocess.Popen[str], deadline: float) -> str:
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        # Its output is not a terminal, so the key is in a private file it names.
        if match := re.search(r"read it from (\S+),", line):
            return Path(match.group(1)).read_text().strip()
        if not line and process.poll() is not None:
            break
    raise AssertionError("serve did not print a one-off key")


def _wait_ready(base: str, deadline: float) -> httpx.Response:
    while time.monotonic() < deadline:
        try:
            response = httpx.get(base + "/readyz", timeout=1.0, trust_env=False)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the service never became ready")


def test_serve_starts_two_workers_with_a_one_off_key_records_and_signs_on_shutdown(
    tmp_path: Path,
) -> None:
    port = free_port()
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    command = [
        sys.executable, "-m", "igengine.cli", "serve", "--policies", str(ROOT / "policies"),
        "--port", str(port), "--workers", "2", "--audit", audit,
        "--audit-hmac-key", str(tmp_path / "hmac.key"),
        "--audit-signing-key", str(tmp_path / "signing.key"), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        key = _one_off_key(process, deadline)
        ready = _wait_ready(base, deadline).json()
        assert ready["checks"]["audit"] == "writable"
        decision_ids = set()
        for _ in range(6):
            response = httpx.post(
                base + "/v1/decisions",
                json=capacity_request(),
                headers={"X-API-Key": key},
                trust_env=False,
            )
            assert response.status_code == 200
            decision_ids.add(response.json()["decision_id"])
        # Two workers answered; /metrics adds up both (prometheus multiprocess mode).
        metrics = httpx.get(base + "/metrics", trust_env=False).text
        assert 'igengine_decisions_total{effect="permit",endpoint="decisions"} 6.0' in metrics
        assert httpx.post(base + "/v1/policies/reload", headers={"X-API-Key": key},
                          trust_env=False).status_code == 200  # fmt: skip
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    trail = AuditTrail.open(
        audit,
        hmac_key_path=tmp_path / "hmac.key",
        signing_key_path=tmp_path / "signing.key",
        create=False,
    )
    try:
        report = trail.verify()
        ids = [entry.decision_id for entry in trail.query()]
    finally:
        trail.close()
    assert set(ids) == decision_ids and len(ids) == 6
    assert report.ok and report.checkpoints >= 1  # the shutdown checkpoint


def test_serve_refuses_a_broken_pack_naming_the_problem(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--policies", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "is not a directory" in result.output


def test_api_key_prints_the_key_once_and_stores_its_digest(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    result = CliRunner().invoke(app, ["api-key", "ward-ehr", "--keys-file", str(keys)])
    assert result.exit_code == 0
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("igk_") and key not in keys.read_text()
    found = KeyStore.load(keys).authenticate(key)
    assert found is not None and found.name == "ward-ehr" and found.access.value == "caller"
    again = CliRunner().invoke(app, ["api-key", "ward-ehr", "--keys-file", str(keys)])
    assert again.exit_code == 1


def test_serve_refuses_to_start_when_its_audit_writer_cannot_open_the_trail(
    tmp_path: Path,
) -> None:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    AuditTrail.open(audit, hmac_key_path=tmp_path / "original.key").close()
    command = [
        sys.executable, "-m", "igengine.cli", "serve", "--policies", str(ROOT / "policies"),
        "--port", str(free_port()), "--audit", audit,
        "--audit-hmac-key", str(tmp_path / "other.key"), "--log-level", "warning",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    # The writer says what is wrong; serve says it did not start because of it.
    assert "is not the pseudonymisation key this trail was written with" in result.stderr
    assert "the audit trail could not be opened" in result.stderr
    assert "Traceback" not in result.stderr
