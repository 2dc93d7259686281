"""numpy's BLAS held to one thread while search runs its own two.

The sketch stage scores its blocks, on two threads of its own in a large library, each with a
small matrix product (query tokens by 16 sketch directions by ~90,000 patches). OpenBLAS, numpy's
BLAS on Linux, splits each such product over its own threads too, and on a 2-core machine the two
kinds of threads wait on each other: at 1M clips the stage's 35,000 windows took 168-170 ms a
query, 104-112 ms with OpenBLAS on one thread (bench/bench_search.py's stage line,
docs/BENCHMARKS.md).

OpenBLAS can be told at run time through its `openblas_set_num_threads` (named with a suffix in
numpy's own build), found in the libraries this process has loaded. Elsewhere (another BLAS, a
system without /proc/self/maps) this is a no-op. The setting is the process's, so it is changed
only while some search is inside `one_blas_thread` and put back when the last one leaves.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

_NAMES = ("openblas", "scipy_openblas")  # prefixes of the exported functions ...
_SUFFIXES = ("64_", "")  # ... and suffixes (numpy's wheels: openblas_set_num_threads64_)
_lock = threading.Lock()
_inside = 0
_before = 0


@functools.lru_cache(maxsize=1)
def openblas_threads() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) of the loaded OpenBLAS's thread count, or None where there is none to set."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _NAMES:
            for suffix in _SUFFIXES:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                    return (lambda: int(get())), (lambda n: put(int(n)))
    return None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """OpenBLAS on one thread inside (the count it had is put back when the last caller inside leaves)."""
    global _inside, _before
    blas = openblas_threads()
    if blas is None:
        yield
        return
    get, put = blas
    with _lock:
        if _inside == 0:
            _before = get()
            put(1)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                put(_before)
