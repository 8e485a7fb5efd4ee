"""The C allocator of a long-running service process: large buffers kept out of the heap.

asyncio reads a socket with `recv(256 KiB)` and cuts the buffer down to what arrived: uvicorn's
HTTP connections and asyncpg's connections both read this way, several times per command.
glibc serves a block of at least its mmap threshold with a mapping of its own, but it raises
that threshold (up to 32 MiB) the first time a larger mapped block is freed; from then on every
read's 256 KiB is carved from the heap, and its unused part is handed to whatever is allocated
next, objects that outlive the request among them. The holes they leave are too small for the
next read, so the heap keeps growing while the memory in use stays flat. A fixed threshold
(`SIGHTLINE_MALLOC_MMAP_THRESHOLD_BYTES`) keeps such buffers out of the heap for good.
"""

from __future__ import annotations

import ctypes
import platform

#: mallopt() parameter of glibc's <malloc.h>; setting it also switches the dynamic raise off
M_MMAP_THRESHOLD = -3


def set_mmap_threshold(nbytes: int) -> bool:
    """Fix glibc's mmap threshold at `nbytes`; False (nothing done) for 0 or another libc."""
    if nbytes <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the C library the interpreter is linked with
    return bool(libc.mallopt(M_MMAP_THRESHOLD, nbytes))
