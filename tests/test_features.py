"""The scenarios in features/, run against the shipped pack by pytest-bdd.

Every step goes through the same phrase book as `igengine test` (igengine.scenarios.bdd), so
a scenario that passes here passes there. Decisions are made as on a fixed date, so that the
suite does not start failing when today's date passes an agreement's end date.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_bdd import scenarios

from igengine import Engine
from igengine.scenarios.phrases import World
from igengine.scenarios.words import Words

pytest_plugins = ["igengine.scenarios.bdd"]

ROOT = Path(__file__).resolve().parent.parent
# A date on which every shipped agreement is in force.
ON = "2026-06-01T12:00:00+00:00"

scenarios(".")


@pytest.fixture(scope="session")
def ig_engine() -> Engine:
    return Engine.from_directory(ROOT / "policies")


@pytest.fixture
def ig_world(ig_engine: Engine) -> World:
    return World(ig_engine, Words(ig_engine.pack), default_at=ON)
