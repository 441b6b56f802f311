"""Tampering with a stored trail in each of the five ways is caught, and the first bad entry
is named, by `AuditTrail.verify` and by `igengine audit verify`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from audit_support import Tamper, capacity_request, engine, open_trail, store_url
from typer.testing import CliRunner

from igengine import Engine
from igengine.audit import AuditTrail
from igengine.cli import app

__all__ = ["engine", "store_url"]  # fixtures used by name below

ENTRIES = 30
CHECKPOINT_EVERY = 10


def _filled(url: str, keys: Path, engine: Engine) -> None:
    """A trail of ENTRIES decisions with signed checkpoints at 10, 20 and 30."""
    trail = open_trail(url, keys, checkpoint_every=CHECKPOINT_EVERY)
    audited = Engine(engine.pack, audit=trail)
    for number in range(ENTRIES):
        decision = audited.decide(capacity_request(f"person-{number}", care_team=number % 3 > 0))
        assert decision.error is None
    trail.close()


TAMPERING: dict[str, tuple[Callable[[Tamper], None], int, str]] = {
    "modify": (lambda t: t.modify(17), 17, "altered"),
    "delete": (lambda t: t.delete(17), 17, "missing"),
    "insert": (lambda t: t.insert(17), 17, "inserted"),
    "reorder": (lambda t: t.reorder(17), 17, "out of place"),
    "truncate": (lambda t: t.truncate(25), 26, "cut short"),
}


@pytest.mark.parametrize("way", sorted(TAMPERING))
def test_verify_names_the_first_bad_entry(
    way: str, store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    trail = AuditTrail.open(store_url, create=False)
    assert trail.verify().ok

    tamper, first_bad, words = TAMPERING[way]
    tamperer = Tamper(store_url)
    tamper(tamperer)
    tamperer.close()

    report = trail.verify(public_key_path=tmp_path / "signing.key.pub")
    # Walked in three processes, the segments or their seams fail and the sequential walk
    # gives the same, exact report.
    in_parallel = trail.verify(public_key_path=tmp_path / "signing.key.pub", workers=3)
    trail.close()
    assert in_parallel.model_dump(exclude={"seconds"}) == report.model_dump(exclude={"seconds"})
    assert not report.ok
    assert report.first_bad == first_bad
    assert report.problem is not None and words in report.problem
    assert f"entry {first_bad}" in report.problem

    result = CliRunner().invoke(app, ["audit", "verify", "--store", store_url])
    assert result.exit_code == 1, result.output
    assert f"first bad entry: {first_bad}" in result.output
    assert words in result.output


def test_an_untampered_trail_verifies_from_the_command_line(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "verify",
            "--store",
            store_url,
            "--public-key",
            str(tmp_path / "signing.key.pub"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"OK: {ENTRIES} entries and 3 signed checkpoints" in result.output


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_a_chain_walked_in_several_processes_verifies_as_one(
    workers: int, store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    with AuditTrail.open(store_url, create=False) as trail:
        sequential = trail.verify(workers=1)
        parallel = trail.verify(workers=workers)
    assert sequential.ok and parallel.ok
    assert parallel.model_dump(exclude={"seconds"}) == sequential.model_dump(exclude={"seconds"})


def test_a_consistently_rehashed_chain_is_caught_by_the_signed_checkpoints(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    """An insider who edits entry 15 and recomputes every later hash passes the chain check,
    but not the checkpoint signed at entry 20: entries 11 to 20 are named as suspect."""
    _filled(store_url, tmp_path, engine)
    tamperer = Tamper(store_url)
    tamperer.rewrite_from(15)
    tamperer.close()
    with AuditTrail.open(store_url, create=False) as trail:
        report = trail.verify()
    assert not report.ok
    assert report.first_bad == 11
    assert report.problem is not None and "rewritten" in report.problem


def test_checkpoints_signed_with_another_key_are_refused(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    other = tmp_path / "other"
    open_trail(f"sqlite:///{other}/unrelated.db", other).close()  # makes another key pair
    with AuditTrail.open(store_url, create=False) as trail:
        trusted = trail.verify(public_key_path=tmp_path / "signing.key.pub")
        foreign = trail.verify(public_key_path=other / "signing.key.pub")
    assert trusted.ok and trusted.checkpoints == 3
    assert not foreign.ok
    assert foreign.problem is not None and "not by the given public key" in foreign.problem


def test_a_forged_checkpoint_signature_is_refused(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    tamperer = Tamper(store_url)
    checkpoints = tamperer.entries.replace("entries", "checkpoints")
    tamperer.execute(f"UPDATE {checkpoints} SET head_hash = ? WHERE seq = 20", ("0" * 64,))
    tamperer.close()
    with AuditTrail.open(store_url, create=False) as trail:
        report = trail.verify()
    assert not report.ok
    assert report.problem is not None and "checkpoint at entry 20" in report.problem
