"""durable_host's process-level set-up: large blocks stay on glibc's heap (see
_keep_growing_pools_on_the_heap), unless the user has chosen the threshold themselves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

POLICIES = Path(__file__).resolve().parent.parent / "policies"

# Loads a pack, then says where a fresh 16 MiB block (larger than any free space the heap is
# likely to hold) comes from: the heap, below its end, or a mapping of its own (glibc's default
# for blocks over 128 KiB).
WHERE_BIG_BLOCKS_GO = """
import ctypes, sys
from igengine import Engine
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.sbrk.restype = ctypes.c_void_p
libc.sbrk.argtypes = [ctypes.c_ssize_t]
Engine.from_directory(sys.argv[1])
block = libc.malloc(16 << 20)
print("heap" if block < libc.sbrk(0) else "mapped")
"""

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="the allocator setting is made on glibc only",
)


def _where_big_blocks_go(**env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", WHERE_BIG_BLOCKS_GO, str(POLICIES)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@glibc_only
def test_loading_a_pack_keeps_large_blocks_on_the_heap() -> None:
    assert _where_big_blocks_go() == "heap"


@glibc_only
def test_a_threshold_the_user_set_is_left_alone() -> None:
    assert _where_big_blocks_go(MALLOC_MMAP_THRESHOLD_="131072") == "mapped"
