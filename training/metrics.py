"""Retrieval metrics in numpy on a similarity matrix (TMR's layout): both directions, stable keys.

`relevance[i, j]` says whether motion j is a correct answer for text i. The rank of a query is
1 + the number of candidates scored strictly above its best correct candidate (optimistic ties:
candidates tied with the best correct one do not count against it, as in TMR's default).

Protocols (which relevance matrix):
- "All" (the paper's): the whole test gallery; a text counts every clip whose caption is identical.
- diagonal (TMR's stricter variant): only the clip the caption was written for.
- label: any clip with the same labels (content and style for Bandai-Namco).
- batches of 32: the "All" relevance inside random batches of 32 pairs, averaged.
"""

from __future__ import annotations

import numpy as np

KS = (1, 2, 3, 5, 10)


def ranks(sim: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """1-based rank of the best relevant candidate for each row (query) of `sim`."""
    assert sim.shape == relevance.shape and relevance.any(axis=1).all(), "every query needs a relevant candidate"
    best = np.where(relevance, sim, -np.inf).max(axis=1, keepdims=True)
    return 1 + (sim > best).sum(axis=1)


def metrics_from_ranks(r: np.ndarray, prefix: str) -> dict[str, float]:
    out = {f"{prefix}_R@{k}": 100.0 * float((r <= k).mean()) for k in KS}
    out[f"{prefix}_MedR"] = float(np.median(r))
    return out


def all_metrics(sim: np.ndarray, relevance: np.ndarray) -> dict[str, float]:
    """text->motion on `sim` (texts x motions) and motion->text on its transpose."""
    return metrics_from_ranks(ranks(sim, relevance), "t2m") | metrics_from_ranks(ranks(sim.T, relevance.T), "m2t")


def identical_caption_relevance(captions: list[str]) -> np.ndarray:
    """(n, n): text i and motion j match if their captions are identical (the paper's "All")."""
    norm = [c.strip().lower().rstrip(".") for c in captions]
    return np.array([[a == b for b in norm] for a in norm])


def label_relevance(labels: list[str]) -> np.ndarray:
    return np.array([[a == b for b in labels] for a in labels])


def batched_metrics(sim: np.ndarray, relevance: np.ndarray, batch: int = 32, seed: int = 0) -> dict[str, float]:
    """Metrics inside random batches of `batch` (text, motion) pairs, averaged over batches."""
    n = sim.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    parts = [order[s: s + batch] for s in range(0, n - batch + 1, batch)] or [order]
    t2m = np.concatenate([ranks(sim[np.ix_(p, p)], relevance[np.ix_(p, p)]) for p in parts])
    m2t = np.concatenate([ranks(sim[np.ix_(p, p)].T, relevance[np.ix_(p, p)].T) for p in parts])
    return metrics_from_ranks(t2m, "t2m") | metrics_from_ranks(m2t, "m2t")


def protocol_metrics(sim: np.ndarray, captions: list[str], labels: list[str] | None) -> dict[str, dict[str, float]]:
    """Every protocol for a square test set (caption i was written for clip i)."""
    same_caption = identical_caption_relevance(captions)
    out = {
        "all": all_metrics(sim, same_caption),
        "diagonal": all_metrics(sim, np.eye(len(captions), dtype=bool)),
        "batch32": batched_metrics(sim, same_caption),
    }
    if labels is not None:
        out["label"] = all_metrics(sim, label_relevance(labels))
    return out
