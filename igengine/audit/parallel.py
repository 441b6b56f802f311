"""Verify a long chain on every core. Python hashes one entry at a time on one core, so a long
trail is cut into contiguous segments, each walked by its own process; the segments must then
join up (each one's first entry linked to the previous one's last). Any problem, in a segment
or at a seam, sends the caller back to the single sequential walk, which names the first bad
entry exactly: tampering is rare, and its report must be precise.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from igengine.audit.entry import GENESIS
from igengine.audit.store import open_store
from igengine.audit.verify import Walk, walk

# Below this, starting processes costs more than it saves.
MIN_ENTRIES = 200_000
MAX_WORKERS = 8


def workers_for(count: int) -> int:
    """How many processes are worth using for a chain of `count` entries (1: sequential)."""
    if count < MIN_ENTRIES:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


def parallel_walk(url: str, count: int, pinned: dict[int, str], workers: int) -> Walk | None:
    """Walk entries 1..count of the trail at `url` in `workers` processes. Returns the walk if
    every segment is sound and they join up, else None (walk sequentially to find out why)."""
    size = -(-count // workers)
    bounds = [(first, min(first + size - 1, count)) for first in range(1, count + 1, size)]
    pins = [{s: h for s, h in pinned.items() if first <= s <= last} for first, last in bounds]
    # Spawned, not forked: the parent may hold open connections and a writer thread.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(bounds), mp_context=context) as pool:
        segments = list(
            pool.map(
                _segment,
                [url] * len(bounds),
                [first for first, _ in bounds],
                [last for _, last in bounds],
                pins,
            )
        )
    prev = GENESIS
    for (first, last), segment in zip(bounds, segments, strict=True):
        if segment.broken or segment.good != last - first + 1 or segment.first_prev != prev:
            return None
        prev = segment.head_hash
    return Walk(count, prev, GENESIS, None)


def _segment(url: str, first: int, last: int, pinned: dict[int, str]) -> Walk:
    store = open_store(url, create=False)
    try:
        return walk(store.rows(first, last), pinned, first=first, prev=None)
    finally:
        store.close()
