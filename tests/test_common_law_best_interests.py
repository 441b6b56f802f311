"""The common-law basis `best_interests` (added for people who lack capacity) loads and is
spelt out in decisions; an unknown common-law code is still refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import packs
import pytest

from igengine import Engine, PolicyError

ORGS = """
organisations:
  - {code: RNG, name: Northgate Hospitals NHS Foundation Trust, sector: acute}
  - {code: NG001, name: Riverside Medical Practice, sector: gp}
"""

AGREEMENT = """
id: t
title: Test agreement
owner: test
parties: [RNG, NG001]
purposes: [direct_care]
start_date: 2025-01-01
end_date: 2030-01-01
review_date: 2029-01-01
rules:
  - id: lacks-capacity
    effect: permit
    because: The person lacks capacity; sharing is in their best interests.
    when: {has_capacity: false}
    legal_basis:
      article_6: 6(1)(e)
      article_9: 9(2)(h)
      common_law: COMMON_LAW
"""


def _pack(tmp_path: Path, common_law: str) -> Path:
    (tmp_path / "organisations.yaml").write_text(ORGS)
    shutil.copyfile(packs.VOCABULARY, tmp_path / "vocabulary.yaml")
    (tmp_path / "agreement.yaml").write_text(AGREEMENT.replace("COMMON_LAW", common_law))
    return tmp_path


def test_best_interests_is_cited_in_full(tmp_path: Path) -> None:
    engine = Engine.from_directory(_pack(tmp_path, "best_interests"))
    decision = engine.decide(
        {
            "requester": {"role": "gp", "organisation": "NG001"},
            "holder": {"organisation": "RNG"},
            "purpose": "direct_care",
            "record_type": "discharge_summary",
            "subject": {"has_capacity": False},
        }
    )
    assert decision.permitted
    provisions = [basis.provision for basis in decision.legal_basis]
    assert "best interests of a person who lacks capacity (Mental Capacity Act 2005)" in provisions


def test_unknown_common_law_code_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="best_interests"):
        Engine.from_directory(_pack(tmp_path, "best_interest"))
