"""Where a trail lives: the interface every back end implements, and the registry that
opens the back end a store URL names.

The stored row is (seq, prev_hash, entry_hash, body). Every queryable column (person, requester,
effect, ...) is computed by the database itself from the hashed body (a generated column in
SQLite, a trigger in PostgreSQL), so it cannot be changed on its own to hide an entry from a
query.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.entry import ChainRow
from igengine.audit.url import parse_url
from igengine.audit.verify import StoredRow

# (head seq before the batch, head seq after it, head hash after it) → a checkpoint to store
# in the same transaction, or None.
CheckpointDue = Callable[[int, int, str], Checkpoint | None]
Signer = Callable[[int, str], Checkpoint]

# The back ends, by the kind of URL that names them: the module and the class in it, taken
# `(location, *, create)`. Named, not imported, so that this interface never imports its
# back ends (they import it), and PostgreSQL's driver is loaded only for a postgresql:// URL.
BACKENDS: dict[str, tuple[str, str]] = {
    "sqlite": ("igengine.audit.sqlite", "SqliteStore"),
    "postgresql": ("igengine.audit.postgres", "PostgresStore"),
}


class Store(Protocol):
    """A durable, append-only home for one hash chain."""

    description: str

    def append(self, bodies: Sequence[str], due: CheckpointDue) -> list[int]:
        """Chain `bodies` onto the stored head in one transaction, committed durably before
        returning their sequence numbers; appends from other processes are serialised."""
        ...

    def checkpoint_head(self, sign: Signer) -> Checkpoint | None:
        """Sign and store the current head (or return the checkpoint already there)."""
        ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def rows(self, first: int = 1, last: int | None = None) -> Iterator[StoredRow]:
        """The entries numbered `first` to `last` (default: every one) in sequence order,
        streamed on a connection of their own; each body as its UTF-8 bytes."""
        ...

    def last_seq(self) -> int:
        """The highest sequence number stored (0 when empty)."""
        ...

    def select(self, where: Filter, limit: int) -> list[ChainRow]: ...

    def pending_reviews(self) -> list[ChainRow]: ...

    def by_decision(self, decision_id: str, *, reviewable: bool = True) -> list[ChainRow]:
        """The entries about one decision, oldest first. With `reviewable` (the default) only
        a break-glass decision and its reviews, which an index finds fast; without, any
        entry, which may mean reading the whole trail."""
        ...

    def keep_meta(self, name: str, value: str) -> str:
        """Store `value` under `name` unless a value is there; return the stored value."""
        ...

    def probe(self, *, durable: bool = False) -> None:
        """Raise unless an entry could be written now: an entry is inserted (so constraints
        and triggers run) and rolled back. With `durable`, a row is also committed to the
        meta table, so a full disk shows too; the chain is never touched."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Filter:
    """What `query` asks for; `person` is already a pseudonym, times are `timestamp()` text."""

    person: str | None = None
    requester: str | None = None
    record_type: str | None = None
    effect: str | None = None
    since: str | None = None
    until: str | None = None


def open_store(url: str, *, create: bool) -> Store:
    """The store a URL names; with `create`, missing files, schemas and tables are made."""
    location = parse_url(url)
    module, name = BACKENDS[location.kind]
    opener: Callable[..., Store] = getattr(importlib.import_module(module), name)
    return opener(location, create=create)
