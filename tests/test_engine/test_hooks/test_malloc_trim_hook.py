"""MallocTrimHook hands the heap's free pages back after test iterations."""
import ctypes
import os

import pytest

from hdr_mm.engine.hooks import MallocTrimHook
from hdr_mm.engine.hooks.malloc_trim_hook import glibc_malloc_trim

CHUNK = 100 * 1024  # below glibc's mmap threshold: served from the heap


def resident_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


@pytest.mark.skipif(
    glibc_malloc_trim() is None or not os.path.exists('/proc/self/statm'),
    reason='needs glibc and /proc (Linux)')
def test_releases_free_pages_between_live_chunks():
    libc = ctypes.CDLL(None)  # the allocator the hook trims
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    chunks = []
    try:
        for _ in range(400):
            p = libc.malloc(CHUNK)
            assert p, 'malloc failed'
            ctypes.memset(p, 1, CHUNK)  # make its pages resident
            chunks.append(p)
        # every other chunk freed: ~19.5 MB of free pages, each between two
        # live chunks, so free() cannot give them back
        for p in chunks[::2]:
            libc.free(p)
        before = resident_mb()
        hook = MallocTrimHook()
        hook.after_train_iter(None, 0)  # training is left alone
        assert resident_mb() > before - 5
        hook.after_test_iter(None, 0)
        assert resident_mb() < before - 10
    finally:
        for p in chunks[1::2]:
            libc.free(p)


def test_interval_and_modes(monkeypatch):
    calls = []
    hook = MallocTrimHook(interval=2)
    monkeypatch.setattr(hook, '_trim', calls.append)
    for i in range(4):
        hook.after_val_iter(None, i)
    assert calls == [0, 0]  # after iterations 2 and 4
    hook.after_test_epoch(None)
    hook.after_train_iter(None, 1)
    hook.after_train_epoch(None)
    assert len(calls) == 3


def test_without_glibc_it_says_so_and_does_nothing(monkeypatch):
    import hdr_mm.engine.hooks.malloc_trim_hook as module
    monkeypatch.setattr(module, 'glibc_malloc_trim', lambda: None)
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    hook = MallocTrimHook()
    hook.after_test_iter(None, 0)
    assert len(logged) == 1 and 'no malloc_trim' in logged[0]


@pytest.mark.parametrize('interval', [0, -1, 1.5, None])
def test_bad_interval(interval):
    with pytest.raises(ValueError, match='interval must be a positive int'):
        MallocTrimHook(interval=interval)
