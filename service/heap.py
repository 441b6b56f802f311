"""Keeping Python's full garbage collections short in a service worker.

A worker's heap is mostly long-lived: the web framework, the validation models and the loaded
pack. CPython's oldest-generation collection walks all of it, which measured 50-60 ms on the
shipped pack under `bench/service.py`: every request in flight on that worker waited that long,
and those stalls were most of the p99 latency. Freezing the heap once it is built moves those
objects out of the collector's sight; they are still freed as usual when nothing refers to them.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then freeze the rest. Call once the worker is set up and
    again after a reload, when the old pack has become garbage; unfreezing first lets any
    reference cycles the old pack left be collected rather than frozen for good."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
