"""Building a pack without the cyclic garbage collector's pauses.

Loading and compiling a large pack creates millions of long-lived objects (parsed YAML, line
maps, pydantic models, rule conditions). Each time enough of them pile up, CPython's cyclic
collector scans them all again; at 10,000 rules that was a third of the load time, for nothing:
none of them is garbage yet. Reference counting still frees everything as usual meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Pause the cyclic collector for the block, then restore it as it was. Nested or
    concurrent uses are safe: the collector is re-enabled only by a block that found it on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
