"""Keep freed CPU memory in the process (glibc ``mallopt``), for the CLI and benchmark.

An epoch of ``Mod(97, +)`` allocates and frees buffers of a few MB (the ``(2048, 512)``
hidden activations of an evaluation chunk, for instance). glibc serves blocks above its
mmap threshold with fresh ``mmap`` calls and returns them on ``free``, so every such
buffer is page-faulted in again: measured, a ``(2048, 512)`` row gather costs 0.7 ms
instead of 0.1 ms. Raising the mmap and trim thresholds keeps the memory in the heap for
reuse. This changes no numbers, only speed; it is a no-op where glibc is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc ``mallopt`` parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap; freed heap memory above twice it is trimmed.
MMAP_THRESHOLD_BYTES = 256 * 2**20


def keep_freed_memory() -> bool:
    """Raise glibc's mmap/trim thresholds; return True if it took effect."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok_mmap = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        ok_trim = libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        return False
    return bool(ok_mmap and ok_trim)
