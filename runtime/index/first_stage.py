"""The first stage of two-stage search: a small per-body-part summary of every window.

A window's patches form a grid, time rows x body parts (patch k is part k % parts). MaxSim asks,
for each query token, for the best patch anywhere in that grid. The first stage keeps one vector
per body part, the mean of that part's patches over time, so its score (for each token the best
part, averaged over tokens) is MaxSim with each part's max over time replaced by its mean: a lower
bound that keeps which body parts a query is about, which the window's single mean vector
(`pooled.npy`) loses. To keep it small and fast, each index chunk stores its part means projected
onto their top principal directions (uncentred, so inner products are what is kept): `basis`
(dims x D float32) and `parts` (W x parts x dims float16), about 0.9 KB per window.

Each chunk has its own basis, fitted to its own windows: a chunk stays self-contained, written
once, and a small chunk (a few new files) keeps nearly everything of its few windows.
"""

from __future__ import annotations

import numpy as np

DIMS = 32  # principal directions kept per chunk


def part_means(patches: np.ndarray, doclens: np.ndarray, num_parts: int) -> np.ndarray:
    """(W, num_parts, D) mean over time of each body part's patches, for windows stored back to back."""
    doclens = np.asarray(doclens, np.int64)
    if len(doclens) and (doclens % num_parts).any():
        raise ValueError(f"window patch counts must be multiples of {num_parts} (time rows x parts)")
    rows = doclens // num_parts
    out = np.empty((len(doclens), num_parts, patches.shape[1]), np.float32)
    start = 0
    for w, r in enumerate(rows):
        out[w] = patches[start: start + r * num_parts].reshape(r, num_parts, -1).mean(0)
        start += r * num_parts
    return out


def summarise(patches: np.ndarray, doclens: np.ndarray, num_parts: int, dims: int = DIMS) -> dict[str, np.ndarray]:
    """The first-stage arrays of one chunk: {"basis": (dims, D) float32, "parts": (W, num_parts, dims) float16}."""
    means = part_means(patches, doclens, num_parts)
    flat = means.reshape(-1, patches.shape[1]).astype(np.float64)
    # top eigenvectors of the (D x D) second-moment matrix = top right singular vectors of `flat`
    values, vectors = np.linalg.eigh(flat.T @ flat)
    keep = np.argsort(values)[::-1][:dims]
    basis = np.zeros((dims, patches.shape[1]), np.float32)
    basis[: len(keep)] = vectors[:, keep].T * (values[keep] > 1e-12 * max(values.max(), 1e-30))[:, None]
    return {"basis": basis, "parts": (means @ basis.T).astype(np.float16)}


class FirstStage:
    """The summaries of all of an index's chunks, laid out to score every window in one pass.

    Args:
        summaries: per chunk, in window order, (basis (dims, D), parts (W, parts, dims)).
    """

    def __init__(self, summaries: list[tuple[np.ndarray, np.ndarray]]):
        self.num_windows = sum(len(p) for _, p in summaries)
        self.bases = np.stack([b for b, _ in summaries]).astype(np.float32) if summaries else None
        # part-major within a chunk, so the max over parts is a max over whole blocks (fast)
        self.parts = [np.ascontiguousarray(p.transpose(1, 0, 2), dtype=np.float32) for _, p in summaries]
        self.bounds = np.concatenate([[0], np.cumsum([len(p) for _, p in summaries])]).astype(np.int64)

    def scores(self, tokens: np.ndarray) -> np.ndarray:
        """(W,) first-stage scores for a query's unit tokens (T, D): for each token the best body
        part (by its mean cosine over time), averaged over tokens."""
        if self.num_windows == 0:
            return np.zeros(0, np.float32)
        tokens = np.asarray(tokens, np.float32)
        q = self.bases @ tokens.T  # (chunks, dims, T): the query in each chunk's basis
        num_parts, dims = self.parts[0].shape[0], self.parts[0].shape[2]
        out = np.empty((num_parts, self.num_windows, len(tokens)), np.float32)
        for c, parts in enumerate(self.parts):
            lo, hi = self.bounds[c], self.bounds[c + 1]
            if hi > lo:
                out[:, lo:hi] = (parts.reshape(-1, dims) @ q[c]).reshape(num_parts, hi - lo, -1)
        return out.max(0).mean(1)


__all__ = ["DIMS", "FirstStage", "part_means", "summarise"]
