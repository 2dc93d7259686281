"""Per-thread reusable buffers (runtime/index/scratch.py): the same memory for the same name in one
thread, grown when a larger array is asked for, never shared between threads."""

from __future__ import annotations

import threading

import numpy as np

from runtime.index import scratch


def test_a_name_reuses_its_memory_grows_and_keeps_the_shape_asked_for():
    a = scratch.buffer("test_a", (100, 16), np.float32)
    a[:] = 1.0
    b = scratch.buffer("test_a", (50, 16), np.float32)
    assert b.shape == (50, 16) and np.shares_memory(a, b) and b.flags["C_CONTIGUOUS"]
    c = scratch.buffer("test_a", (400, 16), np.uint8)  # as many bytes as 100 x 16 float32: the same memory
    assert np.shares_memory(a, c)
    d = scratch.buffer("test_a", (1000, 16), np.float32)  # larger: new memory
    assert d.shape == (1000, 16) and not np.shares_memory(a, d)
    assert not np.shares_memory(d, scratch.buffer("test_b", (10,), np.float32))


def test_threads_never_share_a_buffer():
    mine = scratch.buffer("test_c", (64,), np.float64)
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(scratch.buffer("test_c", (64,), np.float64)))
    t.start()
    t.join()
    assert not np.shares_memory(mine, theirs[0])
