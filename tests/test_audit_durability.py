"""kill -9 while appending: every decision the caller was told about is in the trail, and the
trail still verifies (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from audit_support import ROOT, store_url

from igengine.audit import AuditTrail

__all__ = ["store_url"]  # fixture used by name below

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from igengine import Engine
    from igengine.audit import AuditTrail

    url, keys, policies = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    trail = AuditTrail.open(url, hmac_key_path=keys / "hmac.key",
                            signing_key_path=keys / "signing.key", checkpoint_every=50)
    engine = Engine.from_directory(policies, audit=trail)
    number = 0
    while True:
        number += 1
        decision = engine.decide({
            "requester": {"role": "social_worker", "organisation": "NGCC"},
            "holder": {"organisation": "RNG"}, "purpose": "direct_care",
            "record_type": "capacity_assessment",
            "subject": {"relationship": "care_team", "id": f"p{number}"},
        })
        if decision.error is None:
            print(decision.decision_id, flush=True)  # the caller has been answered
    """
)


def test_acknowledged_decisions_survive_kill_9(store_url: str, tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_url, str(tmp_path), str(ROOT / "policies")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert writer.stdout is not None
    answered: list[str] = []
    try:
        while len(answered) < 300:
            line = writer.stdout.readline()
            assert line, "the writer stopped before answering 300 decisions"
            answered.append(line.strip())
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    answered += [line.strip() for line in writer.stdout if line.strip()]

    with AuditTrail.open(store_url, create=False) as trail:
        report = trail.verify(public_key_path=tmp_path / "signing.key.pub")
        recorded = {entry.decision_id for entry in trail.query(limit=1_000_000)}
    assert report.ok, report.problem
    assert report.checkpoints >= 6
    assert set(answered) <= recorded
