"""Prometheus metrics: decisions by effect, decision latency, audit write failures.

Each app gets its own registry (tests build many apps in one process). Under several uvicorn
workers `serve` sets PROMETHEUS_MULTIPROC_DIR, and /metrics then adds up every worker's values.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Decisions take well under a millisecond to compute; the audit write adds a disk flush.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self._multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode values live in shared files, so nothing registers here.
        target = None if self._multiprocess else CollectorRegistry()
        self._registry = target
        self.decisions = Counter(
            "igengine_decisions",
            "Decisions returned, by effect (permit, deny, what_if: an answer for another time).",
            ["effect", "endpoint"],
            registry=target,
        )
        self.latency = Histogram(
            "igengine_decision_seconds",
            "Time to decide and record one decision, in seconds.",
            buckets=_LATENCY_BUCKETS,
            registry=target,
        )
        self.audit_failures = Counter(
            "igengine_audit_write_failures",
            "Decisions withheld because the audit trail could not be written.",
            registry=target,
        )
        self.rejected = Counter(
            "igengine_requests_rejected",
            "Requests refused before a decision, by HTTP status (401, 403, 422, 400).",
            ["status"],
            registry=target,
        )
        self.reloads = Counter(
            "igengine_policy_reloads",
            "Policy reloads, by result (ok or failed).",
            ["result"],
            registry=target,
        )
        self.rules_loaded = Gauge(
            "igengine_rules_loaded",
            "Rules in the loaded policy pack.",
            registry=target,
            multiprocess_mode="max",
        )

    def render(self) -> bytes:
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
