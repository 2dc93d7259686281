"""The fused search's second thread ("beside" the caller's): the sentence encoder while the caller
runs the text encoder, then, in two-stage search, the description's side (runtime.search.searcher)
while the caller runs MaxSim's stages.

Where the two threads run matters on a small machine. After a pause (a user typing), the two
behaved as if they shared one CPU of this project's two (a likely cause, not traced: each handing
the other the GIL wakes it where the waker runs): with 50 ms idle before each query, MaxSim's
stages took 13.7 ms beside the side's work against 9.4 alone, nearly the two one after the other
(`bench/bench_fusion.py --profile --pause-ms 50`, before this module). So while the two threads work together the
caller is held on the CPU it is on (`holding_caller`, its own CPUs given back after) and each job
submitted here first moves the beside thread off that CPU (`submit_beside`); moving the beside
thread alone did not help. Linux only (`sched_getcpu`, `sched_setaffinity` of one thread);
elsewhere, or with one CPU allowed, the threads run where the system puts them. Figures:
docs/BENCHMARKS.md, "The description's side beside MaxSim's stages".
"""

from __future__ import annotations

import ctypes
import functools
import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from ..model import Bundle, Query

T = TypeVar("T")
_describer: ThreadPoolExecutor | None = None


def _beside() -> ThreadPoolExecutor:
    """The one thread (its own: the sketch stage fills the search's pool and waits on it)."""
    global _describer
    if _describer is None:
        _describer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motion-search-describe")
    return _describer


def submit_beside(fn: Callable[..., T], *args) -> Future:
    """fn(*args) on the beside thread, moved off the CPU the calling thread is on now (the module's
    docstring; the caller inside holding_caller stays there)."""
    return _beside().submit(_away_from, current_cpu(), fn, *args)


@functools.lru_cache(maxsize=1)
def _sched_getcpu() -> Callable[[], int] | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        getcpu = ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (OSError, AttributeError):
        return None
    getcpu.restype, getcpu.argtypes = ctypes.c_int, []
    return getcpu


def current_cpu() -> int | None:
    """The CPU the calling thread runs on now (Linux), or None where that is not known."""
    getcpu = _sched_getcpu()
    if getcpu is None:
        return None
    cpu = getcpu()
    return cpu if cpu >= 0 else None


@functools.lru_cache(maxsize=1)
def _allowed() -> frozenset[int]:
    """The CPUs this process may run on (when the beside thread first asks)."""
    return frozenset(os.sched_getaffinity(0))


def _away_from(cpu: int | None, fn: Callable[..., T], *args) -> T:
    if cpu is not None:
        others = _allowed() - {cpu}
        if others:
            try:
                os.sched_setaffinity(0, others)  # 0: this thread (Linux sets a thread's own mask)
            except OSError:  # a container's rules: run where the system puts it
                pass
    return fn(*args)


def every_cpu() -> None:
    """A pool's thread initializer: the thread may run on every CPU the process may. A thread
    inherits its creator's CPUs, and a pool that makes its threads while a search holds the caller
    (the sketch stage's, at its first large library) would otherwise keep them on that one CPU."""
    if _sched_getcpu() is not None:
        try:
            os.sched_setaffinity(0, _allowed())
        except OSError:
            pass


@contextmanager
def holding_caller() -> Iterator[None]:
    """The calling thread held on the CPU it is on while inside, its own CPUs given back after (also
    when the body raises): jobs submitted inside (submit_beside) run on the others. A pool whose
    threads may be made inside gives them every CPU (every_cpu)."""
    cpu = current_cpu()
    before = os.sched_getaffinity(0) if cpu is not None and len(_allowed()) > 1 else None
    if before is not None:
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError:  # a container's rules: as the system places it
            before = None
    try:
        yield
    finally:
        if before is not None:
            try:
                os.sched_setaffinity(0, before)
            except OSError:  # its CPUs changed meanwhile (taken offline): every CPU the system allows
                try:
                    os.sched_setaffinity(0, range(os.cpu_count() or 1))
                except OSError:  # not even that: left where it is rather than hide the search's own outcome
                    pass


def sentence_beside(bundle: Bundle, text: str) -> Future:
    """`text`'s sentence vector (the bundle's sentence encoder), computed on the beside thread while
    the caller encodes the query's tokens and runs MaxSim (a local index's stages, or the requests to
    a shared library: runtime.studio). The caller waits for it (`.exception()`) even when its own
    part fails, so that nothing is left running."""
    return submit_beside(lambda: bundle.encode_sentences([text])[0])


def encode_beside(bundle: Bundle, text: str) -> tuple[Query, Future]:
    """`text`'s query tokens, encoded here, and its sentence vector (sentence_beside), started first
    so that the two encoders overlap (each on its own CPU: holding_caller): what a fused search needs.
    When the text encoder fails, the sentence encoder is waited for before the error goes on
    (nothing left running)."""
    with holding_caller():
        sentence = sentence_beside(bundle, text)
        try:
            return bundle.encode_query(text), sentence
        except BaseException:
            sentence.exception()
            raise


__all__ = ["current_cpu", "encode_beside", "every_cpu", "holding_caller", "sentence_beside", "submit_beside"]
