"""Gathering candidates' rows: which rows hold some of a packed layout's documents, and a large
gather split over both cores.

Copying 2,000 windows' codes at 100k clips (49 MB in ~193k rows of 256 bytes) runs at about 2 GB/s
on one core, far from what memory gives: numpy's `take` releases the GIL while it copies, so a
second thread copying the other half of the rows into the other half of the output takes a third
to two fifths off (22.3 -> 14.5 ms, 25.1 -> 14.3 ms: bench/bench_stages.py). Small gathers stay on
the caller's thread, where a hand-over costs more than it saves.

The helper thread is this module's own (one worker), not the search's pool: a gather runs inside
the search's threads too, and a pool waiting on itself could deadlock.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import numpy as np

SPLIT_GATHER_ROWS = 32_768  # rows (8 MB of int8 codes): fewer, and one thread copies them all

T = TypeVar("T")
_helper: ThreadPoolExecutor | None = None


def packed_rows(offsets: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, offsets) of documents `docs` of a packed layout with `offsets` (document i in rows
    offsets[i]:offsets[i + 1]): the rows that hold them, document after document, and where each
    starts among those rows. One pass over the rows, none over the layout."""
    lens = offsets[docs + 1] - offsets[docs]
    sub = np.concatenate([[0], np.cumsum(lens)])
    return np.repeat(offsets[docs] - sub[:-1], lens) + np.arange(int(sub[-1])), sub


def on_both_cores(copy: Callable[[T], None], first: T, second: T) -> None:
    """copy(first) on the caller's thread while copy(second) runs on the helper thread (an empty
    `second` is run here, after `first`); returns when both are done, raising what either raised."""
    global _helper
    if not _is_empty(second):
        if _helper is None:
            _helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motion-search-gather")
        pending = _helper.submit(copy, second)
        try:
            copy(first)
        finally:
            pending.result()
    else:
        copy(first)


def _is_empty(part) -> bool:
    if isinstance(part, slice):
        return part.start >= part.stop
    return len(part) == 0
