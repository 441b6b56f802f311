"""Tampering with a stored trail in each of the five ways is caught, and the first bad entry
is named, by `AuditTrail.verify` and by `igengine audit verify`, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_support import (
    Tamper,
    append_forged,
    capacity_request,
    delete_checkpoints_after,
    engine,
    open_trail,
    store_url,
)
from typer.testing import CliRunner

from igengine import Engine
from igengine.audit import AuditTrail, checkpoint, keys
from igengine.audit.entry import timestamp
from igengine.audit.errors import AuditError
from igengine.cli import app

__all__ = ["engine", "store_url"]  # fixtures used by name below

ENTRIES = 30
CHECKPOINT_EVERY = 10


def _filled(url: str, keys: Path, engine: Engine, entries: int = ENTRIES, **options: Any) -> None:
    """A trail of `entries` decisions with signed checkpoints at 10, 20, 30 and the end."""
    trail = open_trail(url, keys, checkpoint_every=CHECKPOINT_EVERY, **options)
    audited = Engine(engine.pack, audit=trail)
    for number in range(entries):
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


def _cut_back_to(seq: int) -> Callable[[Tamper], None]:
    """Delete every entry after `seq` and every checkpoint that covered them."""

    def cut(tamperer: Tamper) -> None:
        delete_checkpoints_after(tamperer, seq)
        tamperer.truncate(seq)

    return cut


def _rehash_without_checkpoints(tamperer: Tamper) -> None:
    tamperer.rewrite_from(5)
    delete_checkpoints_after(tamperer, 0)


def _append_backdated(tamperer: Tamper) -> None:
    append_forged(tamperer, timestamp(datetime.now(UTC) - timedelta(hours=2)))


# The tamperings that once passed `audit verify --public-key`: the checkpoints in the store
# went with the entries. The witness file beside the key still holds every signed head.
SILENT: dict[str, tuple[Callable[[Tamper], None], str]] = {
    "truncate_to_an_earlier_checkpoint": (_cut_back_to(20), "cut short"),
    "delete_the_tail_after_the_last_checkpoint": (_cut_back_to(30), "cut short"),
    "rehash_the_chain_and_delete_every_checkpoint": (_rehash_without_checkpoints, "rewritten"),
    "append_a_forged_entry_at_the_end": (
        _append_backdated,
        "comes after the newest signed head",
    ),
}


@pytest.mark.parametrize("way", sorted(SILENT))
def test_tampering_that_takes_the_checkpoints_too_is_caught_by_the_witness_file(
    way: str, store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine, entries=35)
    tamper, words = SILENT[way]
    tamperer = Tamper(store_url)
    tamper(tamperer)
    tamperer.close()
    public_key = str(tmp_path / "signing.key.pub")
    result = CliRunner().invoke(
        app, ["audit", "verify", "--store", store_url, "--public-key", public_key]
    )
    assert result.exit_code == 1, result.output
    assert "TAMPERED" in result.output
    assert words in " ".join(result.output.split())


def test_a_trail_and_witness_re_signed_with_another_key_fail_against_the_real_one(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    tamperer = Tamper(store_url)
    tamperer.rewrite_from(5)
    delete_checkpoints_after(tamperer, 0)
    tamperer.close()
    # The insider signs the rewritten head with a key of their own, into the store and over
    # the witness file.
    forger = keys.signing_key(tmp_path / "forger" / "signing.key")
    with AuditTrail.open(store_url, create=False) as trail:
        head = trail.verify(workers=1).head_hash
    forged = checkpoint.sign(forger, ENTRIES, head, datetime.now(UTC))
    (tmp_path / "signing.key.heads").write_text(forged.model_dump_json() + "\n")
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
    assert result.exit_code == 1, result.output
    assert "not by the given public key" in " ".join(result.output.split())


def test_verify_finds_the_witness_beside_the_key_and_reports_what_it_does_not_cover(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    tamperer = Tamper(store_url)
    # Recorded just now: the writer may not have signed it yet, so it passes, named as not
    # yet covered; with no grace at all it fails.
    append_forged(tamperer, timestamp(datetime.now(UTC)))
    tamperer.close()
    public_key = str(tmp_path / "signing.key.pub")
    verify = ["audit", "verify", "--store", store_url, "--public-key", public_key]
    result = CliRunner().invoke(app, verify)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert f"{ENTRIES} signed heads in the witness file" not in flat  # heads, not entries
    assert "agree with the store; 1 entries after the newest" in flat
    assert f"entries {ENTRIES + 1} to {ENTRIES + 1} are not yet covered" in flat
    strict = CliRunner().invoke(app, [*verify, "--tail-grace", "0"])
    assert strict.exit_code == 1, strict.output


def test_verify_with_a_public_key_fails_without_the_witness_file(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    (tmp_path / "signing.key.heads").unlink()
    public_key = str(tmp_path / "signing.key.pub")
    verify = ["audit", "verify", "--store", store_url, "--public-key", public_key]
    result = CliRunner().invoke(app, verify)
    assert result.exit_code == 1, result.output
    assert "no witness file" in " ".join(result.output.split())
    assert CliRunner().invoke(app, [*verify, "--no-witness"]).exit_code == 0


def test_verify_without_a_public_key_says_plainly_that_signatures_were_not_checked(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    result = CliRunner().invoke(app, ["audit", "verify", "--store", store_url])
    assert result.exit_code == 0, result.output
    assert "signatures were NOT checked" in " ".join(result.output.split())


# Two trails signed with one key share the witness file beside it. Each chain's heads there
# used to be taken for the other's: the second trail never wrote its own heads (the first's
# were further along) and its verify reported an untouched chain as rewritten at the first
# head they shared a number with (bench/audit.py's PostgreSQL row, after its SQLite row).


def test_a_trail_refuses_to_open_on_the_witness_file_of_another_trail_with_its_key(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(f"sqlite:///{tmp_path}/first.db", tmp_path, engine)
    with pytest.raises(AuditError) as refused:
        open_trail(store_url, tmp_path, checkpoint_every=CHECKPOINT_EVERY)
    said = " ".join(str(refused.value).split())
    assert "holds signed heads of another chain" in said
    assert "give each trail its own signing key or witness file" in said
    # Its own witness file beside the same key, and the trail writes and verifies.
    own = tmp_path / "second.heads"
    _filled(store_url, tmp_path, engine, witness_path=own)
    with open_trail(store_url, tmp_path, witness_path=own) as trail:
        report = trail.verify()
    assert report.ok, report.problem
    assert report.witness == str(own) and report.witness_heads >= ENTRIES // CHECKPOINT_EVERY


def test_verify_says_the_witness_holds_another_trails_heads_not_that_the_chain_was_rewritten(
    store_url: str, tmp_path: Path, engine: Engine
) -> None:
    _filled(store_url, tmp_path, engine)
    other = tmp_path / "other.heads"
    _filled(f"sqlite:///{tmp_path}/other.db", tmp_path, engine, witness_path=other)
    # The other trail's heads end up in this trail's witness file (as when both kept theirs
    # beside the one key).
    witness = tmp_path / "signing.key.heads"
    witness.write_bytes(witness.read_bytes() + other.read_bytes())
    public_key = str(tmp_path / "signing.key.pub")
    verify = ["audit", "verify", "--store", store_url, "--public-key", public_key]
    result = CliRunner().invoke(app, verify)
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert "holds signed heads of another chain" in flat
    assert "two trails share one signing key" in flat
    assert "the chain was rewritten" not in flat
