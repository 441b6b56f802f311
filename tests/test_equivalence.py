"""The shipped pack decides as it did before its vocabulary moved into vocabulary.yaml."""

from __future__ import annotations

import json
from pathlib import Path

from tests import equivalence

DIGEST = Path(__file__).resolve().parent / "equivalence.digest"


def test_shipped_pack_decides_generated_requests_as_before() -> None:
    recorded = [line for line in DIGEST.read_text().splitlines() if not line.startswith("#")]
    now = equivalence.digest_lines()
    assert len(recorded) == equivalence.COUNT == len(now)
    changed = [
        (i, request)
        for i, (request, before, after) in enumerate(
            zip(equivalence.requests(), recorded, now, strict=True)
        )
        if before != after
    ]
    shown = "\n".join(f"#{i}: {json.dumps(request)}" for i, request in changed[:5])
    assert not changed, f"{len(changed)} of {len(now)} requests now decide differently:\n{shown}"
