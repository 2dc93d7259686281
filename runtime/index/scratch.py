"""Reusable per-thread buffers for the arrays a query gathers and computes.

A query at 100k clips gathers tens of megabytes (candidates' sketches and codes) and computes as
much again; fresh arrays of that size cost more in page faults than the arithmetic on this kind of
VM (a 54 MB float32 array: 10.7 ms through `astype`, 3.1 ms copied into a buffer already touched:
`bench/bench_kernels.py`). Buffers are per thread, so two threads searching never share one, and
what a buffer holds is valid until the same thread asks for the same name again.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def buffer(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An array of `shape` and `dtype` over this thread's buffer `name` (grown, never shrunk:
    its size is that of the largest query so far)."""
    dtype = np.dtype(dtype)
    need = int(np.prod(shape)) * dtype.itemsize
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    raw = pool.get(name)
    if raw is None or raw.nbytes < need:
        raw = pool[name] = np.empty(max(need, int(need * 1.25)), np.uint8)
    return raw[:need].view(dtype).reshape(shape)
