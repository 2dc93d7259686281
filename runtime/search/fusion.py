"""Fused ranking: the late-interaction (MaxSim) score of a clip plus how close the query is, in a
pretrained sentence encoder's space, to the clip's own descriptions.

MaxSim knows the motion (which part moves when); the sentence encoder knows language the motion
model was never trained on (paraphrases, "sprint", "angrily", rare actions the describer names).
Each clip's description vector (runtime/index/descriptions.py: the mean of the unit vectors of its
summary, captions and, for a long clip, each stretch's summary) is stored in the index, so a
query costs one small encoder call and a dot product with every clip's vector.

Both scores are standardised over the clips scored for the query (mean 0, standard deviation 1),
then added with the description's weight WEIGHT:

    fused = z(MaxSim of the clip's best window) + WEIGHT * z(query . description vector)

Standardising puts two scales on one footing; only the ratio of the two deviations matters for
the order, so the query's overall level drops out. WEIGHT, the choice of texts (summary, captions,
stretches) and of the mean of cosines over their best one were chosen on the free-form
validation queries only (training/fusion_eval.py; docs/RESULTS.md). A clip without a vector (an
index upgraded from an older format before its next update, a failed clip) gets the mean description score:
neutral. Explanations still come from MaxSim (the hit's window is MaxSim's best window).
"""

from __future__ import annotations

import numpy as np

WEIGHT = 0.3  # the description's weight, chosen on free-form val (mean of R@1/5/10)
EXTRA_CANDIDATES = 16  # two-stage search: the clips best by description are scored exactly too (bench_fusion.py)


def standardised(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std over the last axis (0 where x does not vary)."""
    x = np.asarray(x, np.float64)
    sd = x.std(axis=-1, keepdims=True)
    return np.where(sd > 0, (x - x.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)


def description_scores(vectors: np.ndarray, has: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
    """(clips,) the query's mean cosine to each clip's descriptions; a clip without a vector gets
    the mean of the others (neutral once standardised)."""
    s = vectors @ query_vector.astype(np.float32)
    if has.any() and not has.all():
        s = np.where(has, s, s[has].mean())
    return s


def fuse(maxsim: np.ndarray, description: np.ndarray, weight: float = WEIGHT) -> np.ndarray:
    """The fused scores of clips (same order in both arrays): standardised MaxSim plus `weight`
    times the standardised description score, over these clips."""
    if maxsim.shape != description.shape:
        raise ValueError(f"maxsim {maxsim.shape} and description {description.shape} scores differ in shape")
    return standardised(maxsim) + weight * standardised(description)


__all__ = ["EXTRA_CANDIDATES", "WEIGHT", "description_scores", "fuse", "standardised"]
