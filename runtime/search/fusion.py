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
within 0.003 of float32's, through an integer kernel whose fast path is exact on CPUs without VNNI
too (bench/bench_fusion.py; docs/BENCHMARKS.md).

Both scores are standardised over the clips scored for the query (mean 0, standard deviation 1;
two-stage search, which scores only some: with every clip's description scores and the MaxSim of a
fixed sample of POPULATION_SAMPLE clips, both made on the sentence encoder's thread while MaxSim's
stages run: runtime.search.searcher),
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
from .code_scores import kernel_session

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
QUERY_LEVELS = 63  # DescriptionScorer's query bytes: -63..63 (offset 64: at most 127, exact without VNNI)


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
    """description_scores on int8 copies of the clips' vectors (runtime.index.codec's int8: a byte per
    dimension and a scale per clip), held transposed as signed bytes, through the integer kernel
    runtime/search/kernels/description_scores_int8.onnx (exporter/make_kernels.py) on one thread.
    The query is quantised to 7-bit bytes twice, the vector and what its rounding leaves (two rows of
    one product, summed), so the copies alone set the error.

    Args:
        vectors: (clips, S) float16 or float32 description vectors (zeros for a clip without one).
        has: (clips,) bool, which clips have one.
    """

    def __init__(self, vectors: np.ndarray, has: np.ndarray):
        n, dim = vectors.shape
        self.codes_t = np.empty((dim, n), np.int8)
        self.scales = np.empty((1, n), np.float32)
        for s in range(0, n, BLOCK):  # block by block: float32 temporaries of a block, not of the library
            self.replace(slice(s, min(s + BLOCK, n)), vectors[s: s + BLOCK])
        self.has = np.asarray(has, bool)
        self._session = kernel_session("description_scores_int8.onnx", 1)

    def replace(self, clips: np.ndarray | slice, vectors: np.ndarray) -> None:
        """Hold `vectors` ((n, S)) for the clips at positions `clips` instead."""
        arrays = encode(vectors, "int8")  # unsigned bytes offset by 128: flipping the top bit makes them signed
        self.codes_t[:, clips] = (arrays["codes"] ^ np.uint8(128)).view(np.int8).T
        self.scales[0, clips] = arrays["scales"]

    def vector(self, clip: int) -> np.ndarray:
        """(S,) float32 the int8 copy of one clip's vector, decoded."""
        return self.codes_t[:, clip].astype(np.float32) * self.scales[0, clip]

    def scores(self, query_vectors: np.ndarray) -> np.ndarray:
        """(queries, clips) for (queries, S) unit query vectors; (clips,) for one (S,) vector."""
        q = np.asarray(query_vectors, np.float32)
        one = q.ndim == 1
        q = np.atleast_2d(q)
        first, first_scale = _query_bytes(q)
        rest, rest_scale = _query_bytes(q - (first.astype(np.float32) - (QUERY_LEVELS + 1)) * first_scale)
        both = self._session.run(None, {"q": np.concatenate([first, rest]), "codes_t": self.codes_t,
                                        "token_scale": np.concatenate([first_scale, rest_scale]),
                                        "clip_scale": self.scales})[0]
        s = np.stack([neutral(row, self.has) for row in both[: len(q)] + both[len(q):]])
        return s[0] if one else s


def _query_bytes(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, S) float -> (L, S) bytes (-QUERY_LEVELS..QUERY_LEVELS offset by QUERY_LEVELS + 1) and (L, 1) scales."""
    scale = np.maximum(np.abs(q).max(axis=1, keepdims=True), 1e-12) / QUERY_LEVELS
    levels = np.clip(np.rint(q / scale), -QUERY_LEVELS, QUERY_LEVELS) + (QUERY_LEVELS + 1)
    return levels.astype(np.uint8), scale.astype(np.float32)


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
