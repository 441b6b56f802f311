"""What can go wrong with an audit trail, in words an operator can act on."""

from __future__ import annotations


class AuditError(Exception):
    """The audit trail cannot be opened or used as asked (bad URL, wrong key, missing store)."""


class AuditWriteError(AuditError):
    """An entry could not be made durable. Nothing is acknowledged; earlier entries are intact."""
