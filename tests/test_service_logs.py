"""The service's log: plain text by default, `--log-format json` one object a line, with a
line per decision (never the person's id or free text), reload, audit failure and audit writer
restart."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_support import (
    ADMIN_KEY,
    CALLER_KEY,
    FakeTrail,
    capacity_request,
    running_service,
    settings,
)
from test_audit_writer import writer_pid
from typer.testing import CliRunner

from igengine.cli import app as cli
from service import create_app, logs
from service.settings import SettingsError

CALLER = {"X-API-Key": CALLER_KEY}
PERSON = "9434765919"
FREE_TEXT = "Disclosure of harm at home visit"


@pytest.fixture
def log_to() -> Iterator[io.StringIO]:
    """Where the igengine loggers write, for a test; put back as they were afterwards."""
    logger = logging.getLogger("igengine")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    stream = io.StringIO()
    yield stream
    logger.handlers, logger.level, logger.propagate = saved[0], saved[1], saved[2]


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _safeguarding() -> dict[str, Any]:
    return {
        "requester": {"role": "safeguarding_lead", "organisation": "NGCC"},
        "holder": {"organisation": "NG001"},
        "purpose": "safeguarding",
        "record_type": "gp_summary",
        "subject": {"id": PERSON, "objection": True, "risk_of_serious_harm": True},
        "justification": FREE_TEXT,
    }


def test_json_log_has_one_line_per_decision_without_the_person_or_free_text(
    tmp_path: Path, log_to: io.StringIO
) -> None:
    logs.configure("json", "info", log_to)
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    given = client.post(
        "/v1/decisions", json=_safeguarding(), headers={**CALLER, "X-Request-ID": "ward-7-0042"}
    ).json()
    batch = client.post(
        "/v1/decisions/batch", json=[capacity_request(id=PERSON)] * 2, headers=CALLER
    ).json()
    decisions = [line for line in _lines(log_to) if line.get("event") == "decision"]
    assert len(decisions) == 3
    first = decisions[0]
    assert first["decision_id"] == given["decision_id"]
    assert first["effect"] == given["effect"] and first["endpoint"] == "decisions"
    assert first["request_id"] == "ward-7-0042"
    assert first["policy_version"] == given["policy_version"]
    assert isinstance(first["latency_ms"], float) and first["latency_ms"] > 0
    assert first["time"].startswith(given["at"][:4])  # an ISO time
    assert [line["decision_id"] for line in decisions[1:]] == [d["decision_id"] for d in batch]
    # The batch's decisions share one made-up request id.
    assert decisions[1]["request_id"] == decisions[2]["request_id"] != "ward-7-0042"
    text = log_to.getvalue()
    assert PERSON not in text and FREE_TEXT not in text
    assert "gp_summary" not in text  # nothing of the request but the endpoint


def test_a_request_id_that_is_not_an_identifier_is_replaced_in_the_log(
    tmp_path: Path, log_to: io.StringIO
) -> None:
    logs.configure("json", "info", log_to)
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    client.post(
        "/v1/decisions",
        json=capacity_request(),
        headers={**CALLER, "X-Request-ID": f"NHS number {PERSON}"},
    )
    [line] = _lines(log_to)
    assert PERSON not in json.dumps(line) and len(line["request_id"]) == 32


def test_json_log_lines_for_an_audit_failure_and_a_reload(
    tmp_path: Path, log_to: io.StringIO
) -> None:
    logs.configure("json", "info", log_to)
    trail = FakeTrail()
    client = TestClient(create_app(settings(tmp_path), trail=trail))
    trail.failing = True
    withheld = client.post("/v1/decisions", json=capacity_request(), headers=CALLER).json()
    reloaded = client.post("/v1/policies/reload", headers={"X-API-Key": ADMIN_KEY}).json()
    lines = _lines(log_to)
    [failure] = [line for line in lines if line.get("event") == "audit_failure"]
    assert failure["decision_id"] == withheld["decision_id"] and failure["level"] == "ERROR"
    assert "disk I/O error" in failure["reason"]
    [reload] = [line for line in lines if line.get("event") == "reload"]
    assert reload["result"] == "ok" and reload["trigger"] == "api"
    assert reload["policy_version"] == reloaded["policy_version"]
    assert not [line for line in lines if line.get("event") == "decision"]  # none was given


def test_text_stays_the_default_log_format(tmp_path: Path, log_to: io.StringIO) -> None:
    logs.configure(settings(tmp_path).log_format, "info", log_to)
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    given = client.post("/v1/decisions", json=capacity_request(), headers=CALLER).json()
    [line] = log_to.getvalue().splitlines()
    assert not line.startswith("{")
    assert f"decision {given['decision_id']}: permit at decisions" in line


def test_an_unknown_log_format_is_refused_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="'xml' is not one of: text, json"):
        logs.configure("xml", "info")
    result = CliRunner().invoke(
        cli, ["serve", "--policies", str(tmp_path), "--no-audit", "--log-format", "xml"]
    )
    assert result.exit_code != 0


def test_serve_logs_an_audit_writer_restart_as_a_json_line(tmp_path: Path) -> None:
    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    configured = settings(
        tmp_path, audit_url=audit, hmac_key=tmp_path / "hmac.key", signing_key=None
    )
    log = tmp_path / "service.log"
    options = ("--log-format", "json", "--log-level", "info")
    with running_service(configured, log=log, options=options) as (base, process):
        httpx.post(base + "/v1/decisions", json=capacity_request(), headers=CALLER, trust_env=False)
        first = writer_pid(process.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "audit_writer_restart" not in log.read_text():
            time.sleep(0.2)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [restart] = [line for line in lines if line.get("event") == "audit_writer_restart"]
    assert restart["exit_code"] == -signal.SIGKILL and restart["level"] == "WARNING"
    assert [line["event"] for line in lines if line.get("event") == "decision"] == ["decision"]
