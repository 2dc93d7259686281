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
    return summarise_means(part_means(patches, doclens, num_parts), dims)


def summarise_means(means: np.ndarray, dims: int = DIMS) -> dict[str, np.ndarray]:
    """The same from the part means (W, parts, D) themselves."""
    flat = means.reshape(-1, means.shape[-1]).astype(np.float64)
    # top eigenvectors of the (D x D) second-moment matrix = top right singular vectors of `flat`
    values, vectors = np.linalg.eigh(flat.T @ flat)
    keep = np.argsort(values)[::-1][:dims]
    basis = np.zeros((dims, means.shape[-1]), np.float32)
    basis[: len(keep)] = vectors[:, keep].T * (values[keep] > 1e-12 * max(values.max(), 1e-30))[:, None]
    return {"basis": basis, "parts": (means @ basis.T).astype(np.float16)}


GLOBAL_DIMS = 32  # directions of the one basis every chunk's summaries are re-projected onto when opened
CODE_OFFSET = 128  # summaries in memory: unsigned bytes offset by 128, one scale per row (as int8 codes)


class FirstStage:
    """The summaries of all of an index's chunks, laid out to score every window in one pass.

    Each chunk stores its summaries in its own basis (self-contained, written once). When an index
    is opened they are re-projected onto one basis for the whole index (the top directions of all
    chunks' summaries together) and kept as one window-major table of bytes, row w * parts + p for
    window w, part p, with one float32 scale per row: the query is projected once, and a query
    reads 32 bytes per part per window (the integer kernel runtime/search/kernels/first_stage_int8.onnx,
    both cores). What the re-projection and the bytes cost in recall: bench/bench_search.py.

    Args:
        summaries: per chunk, in window order, (basis (dims, D), parts (W, parts, dims)).
        dims: directions of the index-wide basis.
    """

    def __init__(self, summaries: list[tuple[np.ndarray, np.ndarray]], dims: int = GLOBAL_DIMS):
        self.num_windows = sum(len(p) for _, p in summaries)
        self.num_parts = summaries[0][1].shape[1] if summaries else 0
        embed_dim = summaries[0][0].shape[1] if summaries else 0
        # second moment of every summary, in the model's space, from each chunk's (dims x dims) one
        moment = np.zeros((embed_dim, embed_dim), np.float64)
        for basis, parts in summaries:
            flat = parts.reshape(-1, parts.shape[-1]).astype(np.float64)
            moment += basis.T.astype(np.float64) @ (flat.T @ flat) @ basis.astype(np.float64)
        self.basis = np.zeros((dims, embed_dim), np.float32)
        if summaries:
            values, vectors = np.linalg.eigh(moment)
            keep = np.argsort(values)[::-1][:dims]
            self.basis[: len(keep)] = vectors[:, keep].T * (values[keep] > 1e-12 * max(values.max(), 1e-30))[:, None]
        self.codes = np.empty((self.num_windows * self.num_parts, dims), np.uint8)
        self.row_scale = np.empty((self.num_windows * self.num_parts, 1), np.float32)
        row = 0
        for basis, parts in summaries:
            x = parts.reshape(-1, parts.shape[-1]).astype(np.float32) @ (basis @ self.basis.T)
            scale = np.maximum(np.abs(x).max(axis=1), 1e-12) / 127.0
            self.codes[row: row + len(x)] = np.clip(np.rint(x / scale[:, None]), -127, 127) + CODE_OFFSET
            self.row_scale[row: row + len(x), 0] = scale
            row += len(x)

    def vectors(self, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """float32 (rows, dims) summaries in the index-wide basis (decoded)."""
        return (self.codes[rows].astype(np.float32) - CODE_OFFSET) * self.row_scale[rows]

    def scores(self, tokens: np.ndarray) -> np.ndarray:
        """(W,) first-stage scores for a query's unit tokens (T, D): for each token the best body
        part (by its mean cosine over time), averaged over tokens. The float reference of what
        runtime.search scores with the integer kernel."""
        if self.num_windows == 0:
            return np.zeros(0, np.float32)
        q = self.basis @ np.asarray(tokens, np.float32).T  # (dims, T)
        sims = (self.vectors() @ q).reshape(self.num_windows, self.num_parts, -1)
        return sims.max(1).mean(1)


__all__ = ["DIMS", "FirstStage", "GLOBAL_DIMS", "part_means", "summarise", "summarise_means"]
