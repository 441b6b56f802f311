"""The tamper-evident audit trail: every decision, hash-chained, with signed checkpoints.

    from igengine.audit import AuditTrail
    trail = AuditTrail.open("sqlite:///audit/igengine.db", hmac_key_path=Path("audit/hmac.key"),
                            signing_key_path=Path("audit/signing.key"))
    engine = Engine.from_directory("policies", audit=trail)

The engine records through `trail.record`, which returns once the entry is durable. Code on an
event loop records at its own edge instead, without blocking the loop:

    request, decision = engine.decide_unrecorded(body)
    await trail.record_async(request, decision)  # completes once durable, else AuditWriteError

Stores: SQLite (embedded, zero set-up) and PostgreSQL (several instances, one trail).
"""

from igengine.audit.checkpoint import Checkpoint
from igengine.audit.entry import AuditEntry, Review
from igengine.audit.errors import AuditError, AuditWriteError
from igengine.audit.trail import AuditTrail
from igengine.audit.verify import VerifyReport

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditTrail",
    "AuditWriteError",
    "Checkpoint",
    "Review",
    "VerifyReport",
]
