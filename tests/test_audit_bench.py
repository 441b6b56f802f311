"""bench/audit.py runs end to end and prints its numbers (tiny sizes; not a measurement)."""

from __future__ import annotations

import subprocess
import sys

from audit_support import ROOT


def test_audit_benchmark_prints_its_numbers() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "bench/audit.py",
            "--entries",
            "300",
            "--single",
            "50",
            "--threads",
            "4",
            "--process-entries",
            "200",
            "--stores",
            "sqlite",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "raw hashlib chain" in result.stdout
    assert "sqlite" in result.stdout and "300 entries" in result.stdout
    assert "verify" in result.stdout and "ratio" in result.stdout
    assert "200 more from 2 processes" in result.stdout
