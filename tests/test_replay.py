"""`igengine replay`: a trail's recorded requests decided again under a changed pack; exactly
the decisions the change turns around are listed, and the trail is only read."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from audit_support import open_trail, store_url  # noqa: F401  (a fixture)
from service_support import POLICIES
from test_diff import _random_request, flipped_copy
from typer.testing import CliRunner

from igengine import Engine, replay
from igengine.cli import app
from igengine.diff import Answer
from igengine.policy.validate import load_pack

runner = CliRunner()


def _recorded_trail(url: str, keys: Path) -> list[tuple[str, dict[str, Any]]]:
    """Record 300 decisions made under the shipped pack; (decision id, request) of each."""
    trail = open_trail(url, keys)
    engine = Engine.from_directory(POLICIES, audit=trail)
    rng = random.Random(7)
    codes = sorted(engine.pack.organisations)
    made = []
    try:
        for i in range(300):
            request = _random_request(rng, codes)
            request["subject"]["id"] = f"943 476 {i:04d}"
            made.append((engine.decide(request).decision_id, request))
    finally:
        trail.close()
    return made


def test_replay_lists_exactly_the_decisions_the_changed_rule_turns_around(
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    made = _recorded_trail(store_url, tmp_path)
    flipped = flipped_copy(tmp_path)
    old, new = Engine.from_directory(POLICIES), Engine.from_directory(flipped)
    expected = {
        decision_id
        for decision_id, request in made
        if Answer.of(old.decide(request)) != Answer.of(new.decide(request))
    }
    assert expected  # the sample reaches the change
    report = replay.replay(store_url, load_pack(flipped))
    assert {turned.decision_id for turned in report.turned} == expected
    assert report.replayed == len(made)
    assert report.by_purpose == {"direct_care": len(expected)}
    assert set(report.by_agreement) == {"ntg-int-care"}
    # Under the pack that made them, no recorded decision changes.
    assert replay.replay(store_url, load_pack(POLICIES)).turned == []


def test_replay_reads_only_and_exits_1_listing_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/audit.db"
    _recorded_trail(url, tmp_path)
    database = tmp_path / "audit.db"
    before = database.read_bytes()
    flipped = flipped_copy(tmp_path)
    result = runner.invoke(app, ["replay", "--store", url, "--policies", str(flipped), "--json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["changed"] == len(body["decisions"]) > 0
    assert body["by_agreement"] == {"ntg-int-care": body["changed"]}
    assert database.read_bytes() == before
    window = runner.invoke(
        app,
        ["replay", "--store", url, "--policies", str(flipped), "--since", "2000-01-01",
         "--until", "2000-01-02"],
    )  # fmt: skip
    assert window.exit_code == 0 and "0 of 0 recorded decisions" in window.output


def test_a_store_that_cannot_be_read_gets_one_message(tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["replay", "--store", f"sqlite:///{tmp_path}/none.db", "--policies", str(POLICIES)]
    )
    assert missing.exit_code == 1
    assert "the audit trail cannot be read" in " ".join(missing.output.split())
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    junk = runner.invoke(
        app, ["replay", "--store", f"sqlite:///{tmp_path}/junk.db", "--policies", str(POLICIES)]
    )
    assert junk.exit_code == 1, junk.output
    assert "Traceback" not in junk.output
    assert junk.exception is None or isinstance(junk.exception, SystemExit)
