"""Sketches: every patch projected onto the index's top 16 directions, one byte per direction.

The middle stage of search. MaxSim computed on sketches instead of the full 256-dim patches keeps
the exact top 10 among its best 300 windows for 99% of queries at 10k clips
(bench/bench_search.py --sweep), far fewer than the per-body-part first stage needs. A sketch costs 18 bytes per
patch (16 directions as unsigned bytes offset by 128, and a float16 scale), 7% of an int8 patch, so
scoring many windows on sketches and only a few hundred on their codes reads far fewer bytes.

One basis for the whole index (fitted on the patches of its first chunk, kept in metadata.json as
`sketch_basis`) so that a query is projected once; the model's patches do not drift between
chunks of one index (a new model means a new index).
"""

from __future__ import annotations

import numpy as np

SKETCH_DIMS = 16
OFFSET = 128


def fit_sketch_basis(patches: np.ndarray, dims: int = SKETCH_DIMS) -> list[list[float]]:
    """The top `dims` principal directions (uncentred) of `patches` (P, D), as JSON-ready rows of
    7-decimal floats: what is stored is exactly what projects (sketch_basis_array)."""
    x = np.asarray(patches, np.float64)
    values, vectors = np.linalg.eigh(x.T @ x)
    keep = np.argsort(values)[::-1][:dims]
    rows = np.zeros((dims, x.shape[1]))
    rows[: len(keep)] = vectors[:, keep].T
    return [[round(float(v), 7) for v in row] for row in rows]


def sketch_basis_array(basis: list[list[float]]) -> np.ndarray:
    return np.asarray(basis, np.float32)


def encode_sketches(patches: np.ndarray, basis: np.ndarray) -> dict[str, np.ndarray]:
    """{"sketch": (P, dims) uint8, "sketch_scales": (P,) float16} of float patches (P, D)."""
    x = np.asarray(patches, np.float32) @ basis.T
    scale = (np.maximum(np.abs(x).max(axis=1), 1e-12) / 127.0).astype(np.float16)
    safe = np.maximum(scale.astype(np.float32), 1e-12)[:, None]
    codes = np.clip(np.rint(x / safe), -127, 127) + OFFSET
    return {"sketch": codes.astype(np.uint8), "sketch_scales": scale}
