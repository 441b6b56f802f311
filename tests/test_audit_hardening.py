"""Hardening of the audit trail: a writer thread that survives any failure of its store,
identifiers scrubbed from free text, signed heads kept outside the store, secrets kept out of
command lines and logs, and readiness that follows the writes."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit_support import capacity_request, engine

from igengine import Engine
from igengine.audit import AuditTrail
from igengine.audit.store import CheckpointDue, open_store

__all__ = ["engine"]  # fixtures used by name below


class _StoreDown(BaseException):
    """Not an Exception: what a driver interrupted in a bad way, or a caller's store, may raise."""


class _FailingOnce:
    """A real store whose next append raises `_StoreDown` while `down` is set."""

    def __init__(self, url: str) -> None:
        self._store = open_store(url, create=True)
        self.down = False

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        if self.down:
            raise _StoreDown("the store went away")
        return self._store.append(bodies, due)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_the_library_trail_fails_closed_while_its_store_raises_and_recovers_after(
    tmp_path: Path, engine: Engine
) -> None:
    store = _FailingOnce(f"sqlite:///{tmp_path}/audit.db")
    trail = AuditTrail(store, pseudonymiser=None, signing_key=None, checkpoint_every=1000)
    audited = Engine(engine.pack, audit=trail)
    assert audited.decide(capacity_request()).permitted
    store.down = True
    refused = audited.decide(capacity_request())
    assert not refused.permitted and refused.error is not None
    assert "_StoreDown" in refused.error
    store.down = False
    again = audited.decide(capacity_request())
    assert again.permitted and again.error is None
    report = trail.verify()
    trail.close()
    assert report.ok and report.entries == 2


def test_a_new_keys_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    from service.auth import Access
    from service.run import add_key

    keys_file = tmp_path / "keys.toml"
    add_key(keys_file, "ward-ehr", Access.CALLER)
    add_key(keys_file, "ig-lead", Access.ADMIN)
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert "ig-lead" in keys_file.read_text()
