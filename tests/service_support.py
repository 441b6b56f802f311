"""Shared set-up for the service tests: keys, settings, requests, a controllable audit trail,
and a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from igengine import Decision, Request
from service import Settings, create_app
from service.auth import Access, digest, key_entry

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
CALLER_KEY = "igk_test_caller_key_0123456789"
ADMIN_KEY = "igk_test_admin_key_9876543210"


def capacity_request(**subject: Any) -> dict[str, Any]:
    """The social worker asking the hospital for a capacity assessment (scenario 1)."""
    return {
        "requester": {"role": "social_worker", "organisation": "NGCC"},
        "holder": {"organisation": "RNG"},
        "purpose": "direct_care",
        "record_type": "capacity_assessment",
        "subject": subject or {"relationship": "care_team"},
    }


def authzen_request(**context: Any) -> dict[str, Any]:
    """The same question as an AuthZEN evaluation (`context` replaces the default facts)."""
    return {
        "subject": {
            "type": "user",
            "id": "staff-0042",
            "properties": {"role": "social_worker", "organisation": "NGCC"},
        },
        "action": {"name": "direct_care"},
        "resource": {
            "type": "capacity_assessment",
            "id": "doc-17",
            "properties": {"holder": "RNG"},
        },
        "context": context or {"relationship": "care_team", "subject_id": "9434765919"},
    }


def write_keys(path: Path) -> Path:
    path.write_text(
        key_entry("ward-ehr", Access.CALLER, digest(CALLER_KEY))
        + key_entry("ig-lead", Access.ADMIN, digest(ADMIN_KEY))
    )
    return path


def settings(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(
        policies=POLICIES,
        audit_url=None,
        keys_file=write_keys(tmp_path / "keys.toml"),
        session_secret="test-session-secret",
        # Never the default audit/signing.key of the checkout: its witness file is another
        # trail's, which a trail refuses to open on.
        signing_key=tmp_path / "signing.key",
    )
    return base.with_changes(**changes)


@pytest.fixture
def trail() -> FakeTrail:
    """A fake audit trail a test can make fail (import this fixture by name)."""
    return FakeTrail()


@pytest.fixture
def client(tmp_path: Path, trail: FakeTrail) -> TestClient:
    """The service (in this process) recording into `trail`."""
    return TestClient(create_app(settings(tmp_path), trail=trail))


class FakeTrail:
    """Stands in for igengine.audit.AuditTrail where a test needs the store to fail."""

    def __init__(self) -> None:
        self.entries: list[tuple[Request, Decision]] = []
        self.failing = False
        self.closed = False
        self._lock = threading.Lock()

    def record(self, request: Request, decision: Decision) -> None:
        if self.failing:
            raise OSError("disk I/O error (the test made the audit store fail)")
        with self._lock:
            self.entries.append((request, decision))

    async def record_async(
        self, request: Request, decision: Decision, *, decision_json: str | None = None
    ) -> None:
        # Like the real trail: completes once written, raises if it could not be.
        self.record(request, decision)

    async def record_many_async(self, entries: Any, *, decision_jsons: Any = None) -> None:
        # One transaction: all of the batch is kept, or none of it.
        if self.failing:
            raise OSError("disk I/O error (the test made the audit store fail)")
        with self._lock:
            self.entries.extend(entries)

    def writable(self) -> bool:
        return not self.failing

    def close(self) -> None:
        self.closed = True


def login_token(client: Any) -> str:
    """The sign-in form's token (GET /login also sets the cookie it is bound to)."""
    match = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert match, "the sign-in form has no token"
    return match.group(1)


def sign_in(client: Any, key: str = CALLER_KEY) -> Any:
    """Sign in through the page's form, as a browser does; returns the response."""
    data = {"key": key, "csrf": login_token(client)}
    return client.post("/login", data=data, follow_redirects=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_service(
    settings: Settings, *, workers: int = 1, log: Path | None = None, options: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The real service, started as users start it (`igengine serve`, so with the audit on,
    its writer process too), in a child process; yields its base URL and process."""
    port = free_port()
    env = {**os.environ, **settings.to_env()}
    command = [
        sys.executable, "-m", "igengine.cli", "serve", "--policies", str(settings.policies),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", *options,
    ]  # fmt: skip
    out = log.open("wb") if log else subprocess.DEVNULL
    # Its own process group, so a test can kill the supervisor and all workers at once.
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with code {process.returncode} at start")
        try:
            if httpx.get(base + "/healthz", timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the service did not answer /healthz within {timeout} s")
