"""The service process's allocator: asyncio's 256 KiB socket reads stay out of the heap.

glibc serves a block of at least its mmap threshold (128 KiB at start) with a mapping of its
own, and raises the threshold to the size of a larger mapped block once one is freed; a fixed
threshold (`SIGHTLINE_MALLOC_MMAP_THRESHOLD_BYTES`, 128 KiB by default) switches that raise
off. Each case runs in a fresh interpreter: the allocator's state is per process.
"""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.runtime import serve as serve_module
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
KIB = 1024
#: what an asyncio transport asks of `recv()` per read (README, "Configuration")
READ_SIZE = 256 * KIB
# After a large block was mapped and freed (a warm process has done so long before), how many
# bytes the allocator maps for a 256 KiB read, as mallinfo2() counts them.
PROBE = """
import ctypes, sys
from shared.runtime.allocator import set_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
set_mmap_threshold(int(sys.argv[1]))
big = bytearray(8 << 20)
del big
before = libc.mallinfo2().hblkhd
buffer = bytearray(int(sys.argv[2]))
print(libc.mallinfo2().hblkhd - before)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")


def mapped_for_a_read(threshold: int) -> int:
    out = subprocess.run(  # fixed argv, no shell
        [sys.executable, "-c", PROBE, str(threshold), str(READ_SIZE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


@glibc_only
def test_with_the_default_threshold_a_read_buffer_gets_its_own_mapping() -> None:
    default = Settings().malloc_mmap_threshold_bytes
    assert default == 128 * KIB
    assert mapped_for_a_read(default) >= READ_SIZE


@glibc_only
def test_left_dynamic_a_read_buffer_is_carved_from_the_heap() -> None:
    # what every process did before the setting: the heap then grows with every read's hole
    assert mapped_for_a_read(0) == 0


def test_serve_fixes_the_threshold_from_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1:1/x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("SIGHTLINE_MALLOC_MMAP_THRESHOLD_BYTES", str(192 * KIB))
    monkeypatch.setattr(serve_module, "set_mmap_threshold", lambda n: calls.append(("mallopt", n)))
    monkeypatch.setattr(serve_module, "configure_logging", lambda *a: None)
    monkeypatch.setattr(serve_module.uvicorn, "run", lambda app, **kw: calls.append(("run", kw)))
    monkeypatch.setattr(serve_module.gc, "freeze", lambda: None)  # not the test session's heap
    serve_module.serve("pipeline", "api")
    assert calls[0] == ("mallopt", 192 * KIB)
    assert calls[1][0] == "run"


def test_serve_hands_what_startup_built_to_the_permanent_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen: list[int] = []
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@127.0.0.1:1/x")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setattr(serve_module, "set_mmap_threshold", lambda n: None)
    monkeypatch.setattr(serve_module, "configure_logging", lambda *a: None)
    monkeypatch.setattr(
        serve_module.uvicorn, "run", lambda app, **kw: frozen.append(gc.get_freeze_count())
    )
    gc.unfreeze()
    try:
        serve_module.serve("pipeline", "api")
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 10_000, "the app's objects were frozen before uvicorn ran"
