"""Motion -> motion search ("find similar"): the library's clips ranked by how alike their motion is.

The query is a motion (a file, a frame range of one, a Blender action, or a clip of the index);
its windows go through the bundle's motion encoder, and its patch embeddings (one body part over 0.8 s each) play the part a sentence's tokens play in
text search. Late interaction scores a library window against one query window from the cosines
of each query patch with the window's patches of the same body part (a left elbow is compared
with left elbows: no credit for a mirrored motion, and 14 times less arithmetic than every patch
with every patch), in both directions:

    forward  = mean over the query's patches of their best cosine in the window
    backward = mean over the window's patches of their best cosine in the query
    score    = (forward + backward) / 2

Forward alone (text search's MaxSim) favours long windows, where every query patch finds some
match; backward alone favours short ones. Their mean is symmetric (the score of A for B is the
score of B for A) and 1 for a window against itself. Both come from the same products, so the
symmetry costs one more reduction, not a second product. A query with several windows (a long
file) scores each library window by its best query window: a clip is alike if it looks like some
stretch of the query. bench/eval_similar.py compares these choices on real clips.

Fused with descriptions, as text search is (runtime.search.fusion): when the index holds description
vectors, the query motion is described too (runtime.index.description_texts: the describer's summary,
its captions and stretch summaries, embedded by the bundle's sentence encoder), and each clip's
best-window score is standardised over the clips scored and added to MOTION_WEIGHT times its
standardised description agreement: the dot product of the query's vector with the clip's describer
vector (runtime.index.describer_vectors: its description vector without the captions the bundle's
reference lends; a clip of the index as the query brings its own). Borrowed captions follow the
nearest training clips in motion, which the late interaction already scores, and for a raise and a
wave of the same arm they are near repeats: compared too, they made raises filmed from 45 degrees come
back as waves (docs/VIDEO.md). The describer reads what the late interaction weighs no more than any
other patch: whether a hand swings side to side (a wave) or only goes up (a raise), whether the feet
leave the ground together (a run). A motion read from a film (BlazePose's jitter, elbows and knees
read straighter) scores within a few thousandths of both neighbours by patches, while its description
still names the action more often than not: the best hit of a rendered test film is of the same
content for 82% / 72% (front / 45 degrees, 40 films each) instead of 55% / 48% (docs/VIDEO.md; the
weight chosen on validation films), and a clip of the test split as the query finds the same content
first for 98.3% instead of 92.0% (bench/eval_similar.py). The describer vectors are made at the first
fused motion query of a searcher, from the stored motion vectors (one reference call for every clip:
about 30-35 microseconds a clip, bench/bench_similar.py). `fusion=False` (`--no-fusion`) ranks by the late
interaction alone. A query that cannot be described (too short) is ranked by the late interaction
alone too.

Speed reuses text search's two stages (runtime.search): the per-body-part first stage
(runtime.index.first_stage) ranks windows with the query's 14 part means as its tokens (for each, the
best body part of the window), then the candidates are scored exactly on their stored int8 / int4
codes (runtime.search.code_scores). bench/bench_similar.py measures latency and the first stage's recall.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..hashing import content_hash
from ..index import describer_blocks, description_texts, description_vector, motion_vector
from ..motion import NUM_PARTS, Motion
from .fusion import MOTION_WEIGHT, DescriptionScorer
from .maxsim import segment_max
from .searcher import Hit, Searcher

BLOCK_WINDOWS = 2048  # library windows scored per product (bounds the cosine matrix to ~100 MB)


@dataclass(frozen=True)
class MotionQuery:
    """An encoded query motion.

    Attributes:
        name: what it is called in messages (a file, an action, a clip).
        windows: per query window, its unit patch embeddings (n_k, D) float32, time-major.
        description: the mean unit sentence vector of its descriptions (runtime.index.descriptions),
            for fused ranking; None when it was not described (fusion off, or too short to describe).
    """

    name: str
    windows: list[np.ndarray]
    description: np.ndarray | None = None

    def part_means(self, k: int) -> np.ndarray:
        """(14, D) mean over time of each body part's patches of query window k."""
        w = self.windows[k]
        return w.reshape(-1, NUM_PARTS, w.shape[1]).mean(0)


class SimilarSearcher(Searcher):
    """Find clips of an index whose motion is alike a query motion (same arguments as Searcher; the
    description's weight is a motion query's, MOTION_WEIGHT)."""

    _flat_parts: list[np.ndarray] | None = None  # the first stage's part summaries, window-major
    _describers: DescriptionScorer | None = None  # the clips' describer vectors, made at the first fused motion query

    def __init__(self, *args, fusion_weight: float = MOTION_WEIGHT, **kwargs):
        super().__init__(*args, fusion_weight=fusion_weight, **kwargs)

    def encode(self, motion: Motion, name: str = "") -> MotionQuery:
        """A Motion (already cut to the frames wanted) as a query, described when searches are fused."""
        _, patches = self.bundle.encode_motion(motion)
        description = query_description(self.bundle, motion) if self.fused else None
        return MotionQuery(name or motion.source, patches, description)

    def clip_query(self, clip: int) -> MotionQuery:
        """A clip of the index as a query, from its stored patches (nothing is read or encoded)."""
        e = self.index.clips[clip]
        if e.status != "ok" or not e.window_count:
            raise ValueError(f"{e.path or e.id}: this clip has no motion in the index ({e.error or 'no windows'})")
        patches, offsets = self.index.window_patches(np.arange(e.window_start, e.window_start + e.window_count))
        description = self.describer_vector(clip) if self.fused and self.index.has_sentence[clip] else None
        return MotionQuery(e.label or e.id, [patches[a:b] for a, b in zip(offsets[:-1], offsets[1:])], description)

    def describer_scores(self, vector: np.ndarray) -> np.ndarray:
        """(clips,) a query motion's description vector against every clip's describer vector
        (runtime.index.describer_vectors: without the captions the bundle's reference lends), on int8
        copies as text search's description scores are."""
        return self._describer_scorer().scores(vector)

    def describer_vector(self, clip: int) -> np.ndarray:
        """(S,) float32 one clip's describer vector (its int8 copy, decoded)."""
        return self._describer_scorer().vector(clip)

    def _describer_scorer(self) -> DescriptionScorer:
        """The describer vectors' int8 copies, made at the first fused motion query; text search's
        own where the bundle has no reference (the index's vectors are the describer's then)."""
        if getattr(self.bundle, "reference", None) is None:
            return self._description_scorer()
        if self._describers is None:  # the index's vectors, each clip's replaced a chunk at a time (no full copy)
            scorer = DescriptionScorer(self.index.sentence_vectors, self.index.has_sentence)
            for clips, vectors in describer_blocks(self.index, self.bundle):
                scorer.replace(clips, vectors)
            self._describers = scorer
        return self._describers

    def clip_index(self, clip_id: str) -> int | None:
        """Position in the index of the clip with this id (None if it is not there)."""
        for i, e in enumerate(self.index.clips):
            if e.id == clip_id:
                return i
        return None

    def clips_of_file(self, path: str | os.PathLike) -> set[int]:
        """The index's clips that are this file: the same path, or the same contents elsewhere."""
        path = os.path.abspath(path)
        digest = content_hash(path)
        return {i for i, e in enumerate(self.index.clips) if e.path == path or e.content_hash == digest}

    def window_scores_like(self, query: MotionQuery, window_ids: np.ndarray) -> np.ndarray:
        """Symmetric same-part late-interaction scores of the given library windows (module docstring)."""
        out = np.empty(len(window_ids), np.float32)
        for s in range(0, len(window_ids), BLOCK_WINDOWS):
            block = window_ids[s: s + BLOCK_WINDOWS]
            out[s: s + len(block)] = self._score_block(query, block)
        return out

    def _score_block(self, query: MotionQuery, block: np.ndarray) -> np.ndarray:
        rows_per_part = self.index.doclens[block] // NUM_PARTS  # time rows of each window
        offsets = np.concatenate([[0], np.cumsum(rows_per_part)])  # of each window among one part's patches
        codes, scales, patches = self._stored(block, rows_per_part)
        q_rows = [len(w) // NUM_PARTS for w in query.windows]
        q_bounds = np.concatenate([[0], np.cumsum(q_rows)])  # of each query window among one part's patches
        forward = np.zeros((len(q_rows), len(block)), np.float32)  # sums over the query window's patches
        backward = np.zeros((len(q_rows), len(block)), np.float32)  # sums over the library window's patches
        n = int(offsets[-1])
        for p in range(NUM_PARTS):
            tokens = np.concatenate([w[p::NUM_PARTS] for w in query.windows])  # the query's patches of part p
            rows = slice(p * n, (p + 1) * n)
            if patches is None:
                sims = self._scorer.patch_scores(tokens, codes[rows], scales[rows])  # (n, query patches of p)
            else:
                sims = patches[rows] @ tokens.T
            for k, (a, b) in enumerate(zip(q_bounds[:-1], q_bounds[1:])):
                part = sims[:, a:b]
                forward[k] += segment_max(part.T, offsets).sum(axis=0)
                backward[k] += np.add.reduceat(part.max(axis=1), offsets[:-1])
        q_len = np.array([len(w) for w in query.windows], np.float32)[:, None]
        score = 0.5 * (forward / q_len + backward / self.index.doclens[block][None, :])
        return score.max(axis=0)

    def _stored(self, block: np.ndarray, rows_per_part: np.ndarray):
        """The block's stored patches grouped by body part: part 0 of every window (window after
        window, time in order), then part 1, ... As (codes, scales, None) for the integer kernel,
        else (None, None, float32 patches)."""
        starts = np.concatenate([[0], np.cumsum(self.index.doclens[block])[:-1]])
        first = np.repeat(starts - NUM_PARTS * np.concatenate([[0], np.cumsum(rows_per_part)[:-1]]), rows_per_part)
        base = first + NUM_PARTS * np.arange(int(rows_per_part.sum()))  # each window's part-0 patches, in time
        order = (base[None, :] + np.arange(NUM_PARTS)[:, None]).ravel()
        if self._scorer is not None:
            codes, scales, _ = self.index.window_codes(block)
            return np.take(codes, order, axis=0), np.take(scales, order), None
        patches, _ = self.index.window_patches(block)
        return None, None, np.take(patches, order, axis=0)

    def candidates_like(self, query: MotionQuery, count: int) -> np.ndarray:
        """The first stage: the `count` windows whose per-body-part summaries best match the part
        means of some query window, part for part (runtime.index.first_stage; the same-part counterpart
        of its text score, and 14 times less arithmetic)."""
        fs = self.index.first_stage
        if self._flat_parts is None:  # decoded once: (windows, parts * dims), one matrix-vector product
            self._flat_parts = fs.vectors().reshape(fs.num_windows, -1)
        sims = np.full(fs.num_windows, -np.inf, np.float32)
        for k in range(len(query.windows)):
            q = fs.basis @ query.part_means(k).T  # (dims, parts): the part means in the index's basis
            np.maximum(sims, self._flat_parts @ q.T.ravel() / NUM_PARTS, out=sims)
        count = min(count, len(sims))
        return np.sort(np.argpartition(-sims, count - 1)[:count])

    def search_like(self, query: MotionQuery, k: int = 10, exclude: set[int] | frozenset = frozenset(),
                    exact: bool | None = None) -> list[Hit]:
        """The `k` clips most alike `query`, best first, leaving out the clips in `exclude`
        (positions in index.clips: the query itself when it is in the index)."""
        if k < 1:
            raise ValueError(f"the number of hits must be 1 or more, not {k}")
        n = self.index.num_windows
        if n == 0 or not query.windows:
            return []
        if exact is None:  # exact scoring costs ~14 times a text query's per window: only for small libraries
            exact = n <= similar_candidates(n, k)
        skip = sum(self.index.clips[c].window_count for c in exclude)
        windows = np.arange(n) if exact else \
            self.candidates_like(query, (self.candidates or similar_candidates(n, k)) + skip)
        if exclude:
            windows = windows[~np.isin(self._clip_of_window[windows], list(exclude))]
        if self.fused and query.description is not None:
            return self._search_like_fused(query, k, windows, exclude, exact)
        scores = self.window_scores_like(query, windows)
        clips = self._clip_of_window[windows]
        hits, seen = [], set()
        for i in np.argsort(-scores, kind="stable"):  # best window per clip
            c = int(clips[i])
            if c not in seen:
                seen.add(c)
                hits.append(self._hit(int(windows[i]), float(scores[i])))
                if len(hits) == k:
                    break
        return hits

    def _search_like_fused(self, query: MotionQuery, k: int, windows: np.ndarray, exclude, exact: bool) -> list[Hit]:
        """The windows' late-interaction scores (plus, in two-stage search, the windows of the clips
        best by description), each clip at its best window, ranked by runtime.search.fusion.fuse."""
        desc = self.describer_scores(query.description)
        if not exact:  # the clips best by description are candidates too, and the population sample
            extra = np.union1d(self._description_windows(desc, exclude),
                               self._clip_windows([c for c in self.population_sample().tolist() if c not in exclude]))
            windows = np.union1d(windows, extra.astype(windows.dtype))
        if len(windows) == 0:
            return []
        return self._fused_hits(windows, self.window_scores_like(query, windows), desc, k, two_stage=not exact)


def query_description(bundle, motion: Motion, patches: list[np.ndarray] | None = None) -> np.ndarray | None:
    """A query motion's description vector, made as the index makes a clip's describer vector
    (runtime.index.descriptions: the describer's texts, without the captions a bundle's reference
    lends); with its windows' `patches`, those captions too, as the index's own vectors hold them (a
    shared library made before it stored describer vectors compares with those). None when it cannot
    be described (too short)."""
    texts = description_texts(motion)
    if not texts:
        return None
    return description_vector(bundle, texts, None if patches is None else motion_vector(patches))


def similar_candidates(num_windows: int, k: int) -> int:
    """Windows scored exactly after the first stage: enough for recall@10 = 1.0 against exact search
    at 10k clips in bench/bench_similar.py (docs/BENCHMARKS.md). Fewer than text search needs: a
    motion's part means say more about its patches than a sentence's words do."""
    return int(max(40 * k, min(2000, 0.04 * num_windows)))


__all__ = ["MotionQuery", "SimilarSearcher", "query_description", "similar_candidates"]
