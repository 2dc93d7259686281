"""Cells: each patch's nearest centroid in the bundle's codebook, and the first stage of search
that ranks every window by them (PLAID's centroid interaction, pruned through inverted lists).

The bundle ships a codebook (`codebook.onnx`, C unit centroids fitted by spherical k-means on the
patches of the clips the model was trained on: exporter/make_codebook.py). An index stores, per
window, the set of cells its patches fall in (`cells-<codebook id>.npy`: uint16, window after
window, sorted; `cell_counts-<id>.npy`: uint16 per window), about a third as many as it has
patches (neighbouring patches of one part fall in one cell), 2 bytes each.

Scoring, for query tokens q_t and S[t, c] = q_t . centroid_c:
    cells(w) = mean_t max_{c in cells of w} S[t, c]       (the centroid interaction)
approximates MaxSim (a patch's centroid is within cosine ~0.99 of it). Computing it for every
window reads every window's cells; instead each token looks only at its PROBES best cells (more
in a small index, until their lists hold MIN_POSTINGS windows) and walks their inverted lists (the
windows holding them): a window holding one of them gets its best such cell's score, any other
window the best score of a cell outside them (`floor`), which no cell it holds can beat. So the
score is an upper bound of the centroid interaction, equal to it for a window that has one of each
token's best cells, and a query reads a few inverted lists per token instead of the whole index.
How many windows it must keep for the exact top 10 to survive is measured (runtime.search.searcher's
CELLS_TABLE; docs/BENCHMARKS.md): with 16,384 cells about 5.5% of the windows at 10k and 3.2% at
100k clips (with 4,096 cells, 9% and 15%), where each token walks at least 32,768 postings (the
table's fourth column).
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

PROBES = 64  # cells per query token whose inverted lists are walked (measured: bench/bench_search.py --sweep)
MIN_POSTINGS = 16_384  # ... or more cells, until their inverted lists hold this many windows (see scores;
# runtime.search passes its own per library size)
ASSIGN_BLOCK = 16384  # patches per matrix product when assigning cells


def codebook_id(codebook: np.ndarray) -> str:
    """What an index records of the codebook that made its cells (its values' hash: -0.0 counts as
    0.0, which the bundle's graph gives back for it)."""
    values = np.ascontiguousarray(codebook, np.float16) + np.float16(0)  # -0.0 + 0.0 = 0.0
    return hashlib.sha256(values.tobytes()).hexdigest()[:16]


def fit_codebook(patches: np.ndarray, cells: int, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """(cells, D) float32 unit centroids: spherical k-means on unit patches (P, D), seeded from
    distinct random patches; a cell left empty is moved to the patch its centroid fits worst."""
    x = np.asarray(patches, np.float32)
    rng = np.random.default_rng(seed)
    centroids = x[rng.choice(len(x), cells, replace=False)].copy()
    for _ in range(iterations):
        best, fit = _nearest(x, centroids)
        counts = np.bincount(best, minlength=cells)
        order = np.argsort(best, kind="stable")
        sums = np.zeros_like(centroids)
        used = np.flatnonzero(counts)
        sums[used] = np.add.reduceat(x[order], np.concatenate([[0], np.cumsum(counts)[:-1]])[used], axis=0)
        empty = np.flatnonzero(counts == 0)
        sums[empty] = x[np.argsort(fit)[: len(empty)]]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids


def _nearest(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    best = np.empty(len(x), np.int64)
    fit = np.empty(len(x), np.float32)
    for s in range(0, len(x), ASSIGN_BLOCK):
        sims = x[s: s + ASSIGN_BLOCK] @ centroids.T
        best[s: s + ASSIGN_BLOCK] = np.argmax(sims, axis=1)
        fit[s: s + ASSIGN_BLOCK] = sims[np.arange(len(sims)), best[s: s + ASSIGN_BLOCK]]
    return best, fit


def assign_cells(patches: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """(P,) uint16: each patch's nearest centroid (largest dot product; a patch's scale does not
    change which, so decoded int8 codes or float patches give the same cells)."""
    return _nearest(np.asarray(patches, np.float32), np.asarray(codebook, np.float32))[0].astype(np.uint16)


def window_cells(assigned: np.ndarray, doclens: np.ndarray) -> dict[str, np.ndarray]:
    """{"cells": (U,) uint16 each window's distinct cells (window after window, sorted),
    "cell_counts": (W,) uint16 how many each window has} from every patch's cell."""
    doclens = np.asarray(doclens, np.int64)
    window = np.repeat(np.arange(len(doclens), dtype=np.int64), doclens)
    key = np.unique(window * 65536 + assigned.astype(np.int64))
    counts = np.bincount(key // 65536, minlength=len(doclens))
    return {"cells": (key % 65536).astype(np.uint16), "cell_counts": counts.astype(np.uint16)}


class CellStage:
    """The first stage over an open index's live windows (see the module docstring).

    Args:
        codebook: (C, D) float32 unit centroids.
        chunks: per chunk with live windows, (cells, cell_counts, live): its stored arrays and which
            of its windows are live, in the order the index numbers windows.
        cosines: tokens (T, D) -> (T, C) their cosines with the centroids (the bundle's
            codebook_cosines; by default numpy's product).
    """

    def __init__(self, codebook: np.ndarray, chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 cosines: Callable[[np.ndarray], np.ndarray] | None = None):
        self.codebook = np.ascontiguousarray(codebook, np.float32)
        self.cosines = cosines or (lambda tokens: tokens @ self.codebook.T)
        cells, counts = [], []
        for c, n, live in chunks:
            n = n.astype(np.int64)
            cells.append(c[np.repeat(live, n)])
            counts.append(n[live])
        cells = np.concatenate(cells) if cells else np.zeros(0, np.uint16)
        counts = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        self.num_windows = len(counts)
        window = np.repeat(np.arange(self.num_windows, dtype=np.int32), counts)
        order = np.argsort(cells, kind="stable")
        self.postings = window[order]  # window ids, grouped by cell (inverted lists)
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(cells, minlength=len(self.codebook)))])
        self.lengths = np.diff(self.starts)  # each inverted list's length
        self.nbytes = int(self.postings.nbytes + self.starts.nbytes)  # what it holds

    def scores(self, tokens: np.ndarray, probes: int = PROBES, min_postings: int = MIN_POSTINGS) -> np.ndarray:
        """(W,) float32: each live window's upper bound of the centroid interaction with `tokens`.

        Each token probes its `probes` best cells, or more until their inverted lists hold
        `min_postings` windows: in a small index every cell (the exact centroid interaction), where
        few probed cells would leave most windows on the floor, tied (search passes its own per
        library size: runtime.search's CELLS_TABLE)."""
        sims = self.cosines(np.ascontiguousarray(tokens, np.float32))  # (T, C)
        cells_total = sims.shape[1]
        # sort only the best cells a token can need (twice the cells an average list length asks for):
        # a full sort of 16,384 cosines per token cost more than the rest of the stage
        guess = min(cells_total - 1, max(probes, int(2 * min_postings * cells_total / max(len(self.postings), 1))))
        total = np.zeros(self.num_windows, np.float32)
        best = np.empty(self.num_windows, np.float32)
        for t in range(len(sims)):
            row = sims[t]
            order = _best_first(row, guess + 1)
            sizes = np.cumsum(self.lengths[order])
            n = min(cells_total, max(probes, int(np.searchsorted(sizes, min_postings)) + 1))
            if n >= len(order) and len(order) < cells_total:  # longer than guessed: every cell in order
                order = _best_first(row, cells_total)
            cells = order[:n]
            floor = row[order[n]] if n < cells_total else np.float32(-1.0)  # no cell outside `cells` scores above it
            lengths = self.lengths[cells]
            firsts = self.starts[cells] - (np.cumsum(lengths) - lengths)  # inverted lists back to back
            windows = self.postings[np.repeat(firsts, lengths) + np.arange(int(lengths.sum()))]
            best.fill(floor)
            np.maximum.at(best, windows, np.repeat(row[cells], lengths))
            total += best
        return total / max(len(sims), 1)


def _best_first(row: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` largest values of `row`, largest first."""
    if n >= len(row):
        return np.argsort(-row, kind="stable")
    top = np.argpartition(-row, n - 1)[:n]
    return top[np.argsort(-row[top], kind="stable")]
