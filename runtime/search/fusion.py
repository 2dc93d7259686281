"""Fused ranking: the late-interaction (MaxSim) score of a clip plus how close the query is, in a
pretrained sentence encoder's space, to the clip's own descriptions.

MaxSim knows the motion (which part moves when); the sentence encoder knows language the motion
model was never trained on (paraphrases, "sprint", "angrily", rare actions the describer names).
Each clip's description vector (runtime/index/descriptions.py: the mean of the unit vectors of its
summary, captions and, for a long clip, each stretch's summary, plus the captions of the
training clips nearest in motion that the bundle's reference lends: runtime/model/reference.py)
is stored in the index, so a query costs one small encoder call and a dot product with every
clip's vector. The products run on int8 copies of the vectors (DescriptionScorer): a quarter of
float32's bytes, which a query reads from memory rather than cache between searches, for cosines
within 0.003 of float32's (bench/bench_fusion.py; docs/BENCHMARKS.md).

Both scores are standardised over the clips scored for the query (mean 0, standard deviation 1;
two-stage search, which scores only some: with every clip's description scores and the MaxSim of a
fixed sample of POPULATION_SAMPLE clips, scored beside the candidates),
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

from ..index import encode
from .code_scores import CodeScorer

WEIGHT = 1.0  # the description's weight, chosen on free-form val (mean of R@1/5/10) with the bundle's reference
# its weight when the query is a motion (find similar, search by video), chosen on validation films
# (docs/VIDEO.md; bench/eval_similar.py) for the describer's texts alone, which a motion query compares
# (runtime.search.similar: without the reference's borrowed captions)
MOTION_WEIGHT = 0.3
EXTRA_CANDIDATES = 16  # two-stage search: the clips best by description are scored exactly too (bench_fusion.py)
# two-stage search: MaxSim's mean and deviation over every clip, estimated from this many clips scored exactly
# (a fixed random sample); standardised over the candidates alone (the best by MaxSim), the two scores were
# weighed otherwise than in exact search (bench_fusion.py: recall@10 against exact search's fused ranking)
POPULATION_SAMPLE = 128
BLOCK = 8_192  # DescriptionScorer: vectors made int8 this many at a time (float32 temporaries of 12 MB)


def standardised(x: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
    """(x - mean) / std over the last axis (0 where it does not vary), the mean and std those of
    `like` (default: x itself)."""
    x = np.asarray(x, np.float64)
    like = x if like is None else np.asarray(like, np.float64)
    sd = like.std(axis=-1, keepdims=True)
    return np.where(sd > 0, (x - like.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)


def description_scores(vectors: np.ndarray, has: np.ndarray, query_vector: np.ndarray) -> np.ndarray:
    """(clips,) the query's mean cosine to each clip's descriptions, in float32; a clip without a
    vector gets the mean of the others (neutral once standardised). Search uses DescriptionScorer."""
    return neutral(vectors @ query_vector.astype(np.float32), has)


class DescriptionScorer:
    """description_scores on int8 copies of the clips' vectors (one unsigned byte per dimension,
    offset 128, and one scale per clip: runtime.index.codec's int8), through the integer kernel
    (runtime.search.code_scores) on one thread, as search scores patches.

    Args:
        vectors: (clips, S) float16 or float32 description vectors (zeros for a clip without one).
        has: (clips,) bool, which clips have one.
    """

    def __init__(self, vectors: np.ndarray, has: np.ndarray):
        self.codes = np.empty(vectors.shape, np.uint8)
        self.scales = np.empty(len(vectors), np.float32)
        for s in range(0, len(vectors), BLOCK):  # block by block: float32 temporaries of a block, not of the library
            self.replace(np.arange(s, min(s + BLOCK, len(vectors))), vectors[s: s + BLOCK])
        self.has = np.asarray(has, bool)
        self._kernel = CodeScorer("int8", threads=1)

    def replace(self, clips: np.ndarray, vectors: np.ndarray) -> None:
        """Hold `vectors` ((n, S)) for the clips at positions `clips` instead."""
        arrays = encode(vectors, "int8")
        self.codes[clips], self.scales[clips] = arrays["codes"], arrays["scales"]

    def scores(self, query_vectors: np.ndarray) -> np.ndarray:
        """(queries, clips) for (queries, S) unit query vectors; (clips,) for one (S,) vector."""
        q = np.asarray(query_vectors, np.float32)
        one = q.ndim == 1
        s = self._kernel.patch_scores(np.atleast_2d(q), self.codes, self.scales).T
        s = np.stack([neutral(row, self.has) for row in s])
        return s[0] if one else s


def neutral(s: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Description scores `s` with each clip without a vector (`has` False) given the mean of the
    others: neutral once standardised."""
    if has.any() and not has.all():
        s = np.where(has, s, s[has].mean())
    return s


def fuse(maxsim: np.ndarray, description: np.ndarray, weight: float = WEIGHT, maxsim_like: np.ndarray | None = None,
         description_like: np.ndarray | None = None) -> np.ndarray:
    """The fused scores of clips (same order in both arrays): standardised MaxSim plus `weight`
    times the standardised description score, over these clips, or with the mean and deviation of
    `maxsim_like` / `description_like` (two-stage search: those of every clip, which only some of
    them are scored for)."""
    if maxsim.shape != description.shape:
        raise ValueError(f"maxsim {maxsim.shape} and description {description.shape} scores differ in shape")
    return standardised(maxsim, maxsim_like) + weight * standardised(description, description_like)


__all__ = ["DescriptionScorer", "EXTRA_CANDIDATES", "MOTION_WEIGHT", "POPULATION_SAMPLE", "WEIGHT",
           "description_scores", "fuse", "neutral", "standardised"]
