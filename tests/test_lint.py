"""`igengine lint`: planted problems are found at their file:line; the shipped pack is clean."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

from service_support import POLICIES
from typer.testing import CliRunner

from igengine.cli import app
from igengine.lint import lint

runner = CliRunner()
ON = date(2026, 6, 1)

PLANTED = """\
id: planted
title: Planted problems
owner: test
parties: [RNG, RNC]
purposes: [direct_care, research]
start_date: 2025-01-01
end_date: 2030-12-31
review_date: 2026-01-31
rules:
  - id: no-team-no-records
    effect: deny
    because: Not in the care team.
    when:
      relationship: none
  - id: shadowed-permit
    effect: permit
    because: Shadowed.
    requester: {roles: [gp]}
    purposes: [direct_care]
    when: {relationship: none}
    legal_basis: {article_6: 6(1)(e), article_9: 9(2)(h), common_law: implied_consent}
  - id: research-deny
    effect: deny
    because: Research needs s251.
    purposes: [research]
    when: {s251_support: false}
  - id: override-never
    effect: permit
    because: Cannot meet the deny it overrides.
    purposes: [direct_care]
    when: {relationship: care_team}
    overrides: [research-deny]
    legal_basis: {article_6: 6(1)(e), article_9: 9(2)(j), common_law: implied_consent}
"""


def _planted(tmp_path: Path) -> Path:
    pack = tmp_path / "policies"
    shutil.copytree(POLICIES, pack)
    (pack / "agreements" / "planted.yaml").write_text(PLANTED)
    return pack


def _line(text: str) -> int:
    return PLANTED.splitlines().index(text) + 1


def test_planted_problems_are_found_at_their_lines(tmp_path: Path) -> None:
    found = {(f.check, f.line) for f in lint(_planted(tmp_path), ON) if "planted" in f.file}
    assert ("shadowed-rule", _line("  - id: shadowed-permit")) in found
    assert ("override-never-applies", _line("    overrides: [research-deny]")) in found
    assert ("legal-basis-mismatch", _line("    legal_basis: {article_6: 6(1)(e), "
            "article_9: 9(2)(j), common_law: implied_consent}")) in found  # fmt: skip
    assert ("past-review", _line("review_date: 2026-01-31")) in found


def test_the_shipped_pack_has_no_errors_and_cli_exits() -> None:
    assert [f for f in lint(POLICIES, ON) if f.severity == "error"] == []
    assert runner.invoke(app, ["lint", str(POLICIES), "--on", "2026-06-01"]).exit_code == 0


def test_cli_exit_1_on_errors_json_and_strict(tmp_path: Path) -> None:
    pack = _planted(tmp_path)
    result = runner.invoke(app, ["lint", str(pack), "--on", "2026-06-01", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert {"shadowed-rule", "override-never-applies", "past-review"} <= {f["check"] for f in body}
    text = runner.invoke(app, ["lint", str(pack), "--on", "2026-06-01"]).output
    assert "planted.yaml:" in text and "shadowed-rule:" in text
    later = runner.invoke(app, ["lint", str(POLICIES), "--on", "2027-06-01"])
    assert later.exit_code == 0 and "past-review" in later.output
    strict = runner.invoke(app, ["lint", str(POLICIES), "--on", "2027-06-01", "--strict"])
    assert strict.exit_code == 1
    missing = runner.invoke(app, ["lint", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
