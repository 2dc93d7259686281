"""Late-interaction scores in numpy (the same definitions as `training.losses`, held by a parity test).

MaxSim(q, d) = mean over the query's valid tokens of the best cosine over the document's valid
patches. All vectors are unit length.

Two layouts, as in ColBERT:
- padded: Q (Bq, L, D) + mask (Bq, L), docs (Bd, N, D) + mask (Bd, N) -> (Bq, Bd);
- packed: one query's valid tokens (L, D) against documents stored back to back (sum N, D) with
  their lengths -> (num_docs,). The index stores patches packed; nothing is padded.
"""

from __future__ import annotations

import numpy as np


def maxsim_padded(q: np.ndarray, q_mask: np.ndarray, d: np.ndarray, d_mask: np.ndarray) -> np.ndarray:
    assert q.ndim == 3 and d.ndim == 3 and q.shape[-1] == d.shape[-1]
    sim = np.einsum("ald,bnd->abln", q, d)
    sim = np.where(d_mask[None, :, None, :], sim, -np.inf)
    best = sim.max(axis=-1)
    w = q_mask.astype(best.dtype)[:, None, :]
    return np.where(w > 0, best, 0.0).sum(-1) / np.maximum(w.sum(-1), 1.0)


def segment_max(x: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Max over consecutive column segments: x (L, sum N), offsets (num_docs + 1,) -> (L, num_docs)."""
    if x.shape[1] == 0:
        return np.zeros((x.shape[0], len(offsets) - 1), x.dtype)
    return np.maximum.reduceat(x, offsets[:-1], axis=1)


def maxsim_packed(q: np.ndarray, patches: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """MaxSim of one query (L valid tokens, D) against packed documents.

    Args:
        q: (L, D) the query's valid token embeddings.
        patches: (sum N, D) every document's valid patches, back to back (float32, float16 or
            already dequantised).
        offsets: (num_docs + 1,) start of each document in `patches`; all documents non-empty.

    Returns:
        (num_docs,) scores.
    """
    sims = q.astype(np.float32) @ patches.T.astype(np.float32, copy=False)
    return segment_max(sims, offsets).mean(axis=0)


def token_patch_argmax(q: np.ndarray, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query token, the best patch of one document and its cosine (the explanation)."""
    sims = q.astype(np.float32) @ patches.T.astype(np.float32)
    best = sims.argmax(axis=1)
    return best, sims[np.arange(len(q)), best]
