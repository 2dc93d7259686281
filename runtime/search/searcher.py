"""Text -> motion search over an index (and motion -> text over a list of captions).

Exact search scores every window with MaxSim on the stored codes, chunk by chunk where they lie.
Above EXACT_UP_TO windows the search has three stages, each reading more per window than the one
before and keeping fewer windows:
1. the first stage ranks every window by the cells (centroids of the bundle's codebook) its
   patches fall in: each query token walks the inverted lists of its best cells only
   (runtime.index.cells); an index without cells for the bundle's codebook (built before them,
   until its next update) uses its per-body-part summaries (runtime.index.first_stage) instead;
2. the sketches of the windows it keeps (each patch on the index's top 16 directions,
   runtime.index.sketch, 18 bytes per patch) rank them by an approximate MaxSim, in two threads
   when there are many;
3. the best few hundred to few thousand are scored exactly on their int8 codes (runtime.search.code_scores);
4. the best REFINE_WINDOWS of those are scored again with each query token rounded to int8 twice
   (the rounding and its remainder): float32 MaxSim to ~1e-5, where one rounding of the query
   reorders near-ties (the same in a small library, where every window is scored exactly).
How many windows each stage keeps is a table measured against exact float32 MaxSim on 309 varied
queries (CELLS_TABLE, CANDIDATE_TABLE; bench/bench_search.py --sweep). The older first stage on
pooled vectors (the query's mean token against each window's mean patch) is kept as an option for
comparison. Hits are clips (a clip's best window), with the frames of the source file that window
covers and the clip's one-sentence description from the index ("" for a clip not described yet:
an index upgraded from v2 before its next update, see runtime.index).
With a bundle that has a sentence encoder and an index that stores description vectors (v6), the
clips are ranked by the fused score (runtime.search.fusion); `fusion=False` ranks by MaxSim alone.
"""

from __future__ import annotations

import functools
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from ..index import LibraryIndex, other_model_error, packed_rows
from ..model import Bundle, Query
from ..motion import Motion
from .beside import encode_beside, every_cpu, holding_caller, sentence_beside, submit_beside
from .blas_threads import one_blas_thread
from .code_scores import CODECS as INTEGER_CODECS
from .code_scores import CodeScorer, FirstStageScorer, sketch_maxsim
from .fusion import EXTRA_CANDIDATES, POPULATION_SAMPLE, WEIGHT, DescriptionScorer, fuse
from .maxsim import maxsim_packed, segment_max

log = logging.getLogger(__name__)

EXACT_UP_TO = 4000  # windows: up to this (the default library), every window is scored exactly
DENSE_CACHE_PATCHES = 400_000  # decoded patches kept in memory for exact search (float32: ~400 MB)
STREAM_WINDOWS = 8192  # larger libraries are scored exactly block by block
SPLIT_SKETCHES = 4000  # windows: more, and the sketch stage's blocks run in two threads (numpy releases
# the GIL while it copies, multiplies and reduces; 4,994 windows at 100k: 17.3 -> 14.4 ms, bench/bench_stages.py)
REFINE_WINDOWS = 64  # windows best by the integer kernel scored again to float32 precision (measured:
# bench/bench_search.py --refine, docs/BENCHMARKS.md)
SKETCH_BLOCK = 1024  # windows whose sketches are scored at once: a block's products (~2.5 MB for a
# 6-token query) stay in the CPU's cache between the passes over them (4,994 windows at 100k, two
# threads: 22.1 ms in blocks of 8,192, 14.4 ms in blocks of 1,024: bench/bench_stages.py)
_threads: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="motion-search", initializer=every_cpu)
    return _threads


@dataclass(frozen=True)
class Hit:
    """A search result: one clip, at its best-matching window."""

    clip_id: str
    path: str
    label: str
    score: float
    window: int  # global window index in the index
    start: int  # first frame of the window, 20 fps frames of the clip
    length: int  # frames of the window (20 fps)
    start_frame: int  # first frame of the window in the source file
    end_frame: int  # last frame of the window in the source file (inclusive)
    fps: float  # the source file's frame rate
    description: str = ""  # what the whole clip does, in one sentence (runtime.describe), from the index
    maxsim: float | None = None  # fused search: the MaxSim score of the window (`score` is then the fused one)
    description_score: float | None = None  # fused search: the query . the clip's description vector

    @property
    def duration_s(self) -> float:
        return self.length / 20.0

    def to_json(self) -> dict:
        return {"path": self.path or self.clip_id, "start_frame": self.start_frame, "end_frame": self.end_frame,
                "fps": self.fps, "score": round(float(self.score), 6), "label": self.label, "id": self.clip_id,
                "description": self.description, "maxsim": _rounded(self.maxsim),
                "description_score": _rounded(self.description_score)}


class Searcher:
    """Search an index with a bundle's encoders.

    Args:
        index: the library index (built with the same bundle).
        bundle: the model bundle.
        candidates: windows scored exactly in the two-stage search (0: automatic).
        integer_kernel: score int8/int4 indexes on their codes (False: decode to float first; for
            measuring what the kernel's query rounding costs).
        first_stage: "auto" (cells where the index has them for the bundle's codebook, else parts),
            "cells" (runtime.index.cells; falls back to parts without them), "parts" (per-body-part
            summaries) or "pooled" (one mean vector per window).
        fusion: rank by MaxSim fused with the description score when the index and bundle allow
            it (see `fused`); False: MaxSim alone.
        fusion_weight: the description's weight in the fused score.
    """

    def __init__(self, index: LibraryIndex, bundle: Bundle, candidates: int = 0, integer_kernel: bool = True,
                 first_stage: str = "auto", fusion: bool = True, fusion_weight: float = WEIGHT):
        if first_stage not in ("auto", "cells", "parts", "pooled"):
            raise ValueError(f"first_stage must be 'auto', 'cells', 'parts' or 'pooled', not {first_stage!r}")
        if index.meta["model_id"] != bundle.model_id:
            raise other_model_error(index.path, index.meta["model_id"], bundle.model_id)
        self.index = index
        self.bundle = bundle
        self.candidates = candidates
        self.first_stage = first_stage
        self.fusion = fusion
        self.fusion_weight = fusion_weight
        self._clip_of_window = index.windows[:, 0] if index.num_windows else np.zeros(0, np.int64)
        self._dense: tuple[np.ndarray, np.ndarray] | None = None
        self._scorer: CodeScorer | None = None
        self._first: FirstStageScorer | None = None
        self._descriptions: DescriptionScorer | None = None
        self._sample: np.ndarray | None = None  # population_sample()
        self._sample_held: tuple | None = None  # _sample_codes()
        self._side_scorer: CodeScorer | None = None  # sample_maxsim's
        self.sketch_block, self.split_sketches = SKETCH_BLOCK, SPLIT_SKETCHES  # (benchmarks compare others)
        self.refine_windows = REFINE_WINDOWS
        self.min_postings = cells_postings(index.num_windows)  # the cells stage's (CELLS_TABLE)
        self._cells = index.cell_stage(getattr(bundle, "codebook_id", None), getattr(bundle, "codebook", None),
                                       getattr(bundle, "codebook_cosines", None)) \
            if first_stage in ("auto", "cells") else None
        # "cells" without cells for this codebook falls back to the parts, as "auto" does
        self.first_stage = "cells" if self._cells is not None else \
            ("parts" if first_stage in ("auto", "cells") else first_stage)
        try:
            if self.first_stage == "parts":
                self._first = FirstStageScorer(index.first_stage)
            if integer_kernel and index.codec in INTEGER_CODECS:
                self._scorer = CodeScorer(index.codec)
        except Exception as e:  # a broken onnxruntime install: numpy on decoded values instead
            log.warning("integer kernels unavailable (%s); decoding to float", e)

    def score_windows(self, query: Query, window_ids: np.ndarray) -> np.ndarray:
        """Exact MaxSim of `query` against the given windows (the integer kernel's scores, the best
        `refine_windows` of them scored again to float32 precision: `_refined`)."""
        if self._scorer is not None:
            codes, scales, offsets = self.index.window_codes(window_ids, reuse="exact", two_threads=True)
            scores = self._scorer.maxsim(query.tokens, codes, scales, offsets)
            return self.refine_gathered(query, scores, codes, scales, offsets)
        patches, offsets = self.index.window_patches(window_ids)
        return maxsim_packed(query.tokens, patches, offsets)

    def refine_gathered(self, query: Query, scores: np.ndarray, codes: np.ndarray, scales: np.ndarray,
                        offsets: np.ndarray) -> np.ndarray:
        """`_refined` for windows whose codes are gathered back to back (as score_windows has them)."""
        return self._refined(query, scores, lambda top: _subset(codes, scales, offsets, top))

    def _refined(self, query: Query, scores: np.ndarray, codes_of) -> np.ndarray:
        """`scores` of the integer kernel with the best `refine_windows` replaced by their MaxSim with
        the query's tokens rounded twice (CodeScorer's `fine`: float32 MaxSim on the decoded codes, what
        recall is measured against, to ~1e-5), `codes_of(positions)` giving those windows' (codes,
        scales, offsets). One rounding of the query is an error of up to ~1/254 of a token's largest
        component per dimension, which reorders windows whose scores lie within ~0.001 of each other
        (bench_search.py --where-lost: 9 of 1M's 25 missed clips before this)."""
        r = min(self.refine_windows, len(scores))
        if r == 0:
            return scores
        top = np.argpartition(-scores, r - 1)[:r]
        scores[top] = self._scorer.maxsim(query.tokens, *codes_of(top), fine=True)
        return scores

    def _all_patches(self) -> tuple[np.ndarray, np.ndarray]:
        if self._dense is None:  # decoded once; small libraries only (see EXACT_UP_TO)
            self._dense = self.index.window_patches(range(self.index.num_windows))
        return self._dense

    def window_scores(self, query: Query, exact: bool | None = None, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(window ids, MaxSim scores) of the windows scored for `query`."""
        n = self.index.num_windows
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        cand = self._two_stage_candidates(query, exact, k)
        if cand is None:
            if self._scorer is None and int(self.index.doclens.sum()) <= DENSE_CACHE_PATCHES:
                patches, offsets = self._all_patches()
                return np.arange(n), maxsim_packed(query.tokens, patches, offsets)
            return np.arange(n), self._exact_scores(query)
        return cand, self.score_windows(query, cand)

    def _every_window(self, exact: bool | None) -> bool:
        """Whether a search scores every window: `exact`, or (None) a library of up to EXACT_UP_TO windows."""
        return self.index.num_windows <= EXACT_UP_TO if exact is None else bool(exact)

    def _two_stage_candidates(self, query: Query, exact: bool | None, k: int) -> np.ndarray | None:
        """The windows the first stage and the sketches keep for exact scoring (sorted), or None
        where every window is scored (`exact`; None: exact up to EXACT_UP_TO windows).

        With numpy's BLAS on one thread: the stages' products are small (the sketches' split over
        two threads of their own), and on two cores OpenBLAS's second thread, spinning after each
        product, took the core that a fused search's description side runs on (docs/BENCHMARKS.md,
        "The description's side beside MaxSim's stages"; MaxSim alone as fast either way)."""
        if self._every_window(exact):
            return None
        first, middle = candidate_counts(self.index.num_windows, k, self.first_stage == "cells")
        with one_blas_thread():
            cand = self.candidate_windows(query, self.candidates or first)
            if self.index.sketch_basis is not None and len(cand) > middle:
                cand = self.sketch_candidates(query, cand, middle)
        return cand

    def sketch_candidates(self, query: Query, windows: np.ndarray, count: int) -> np.ndarray:
        """The middle stage: of `windows`, the `count` best by MaxSim on their sketches (each patch
        on the index's top 16 directions, runtime.index.sketch)."""
        projected = query.tokens @ self.index.sketch_basis.T
        sims = self._sketch_blocks(projected, windows)
        count = min(count, len(sims))
        return np.sort(windows[np.argpartition(-sims, count - 1)[:count]])

    def _sketch_blocks(self, projected: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """_sketch_scores of `windows` in blocks of at most `sketch_block`, on two threads above
        `split_sketches` windows."""
        block = self.sketch_block
        if len(windows) > self.split_sketches and (os.cpu_count() or 1) > 1:  # two threads, blocks of bounded size
            parts = np.array_split(windows, max(2, 2 * -(-len(windows) // (2 * block))))
            with one_blas_thread():  # each thread's products on its own core (runtime.search.blas_threads)
                return np.concatenate(list(_pool().map(lambda part: self._sketch_scores(projected, part), parts)))
        return np.concatenate([self._sketch_scores(projected, windows[s: s + block])
                               for s in range(0, len(windows), block)]) if len(windows) else np.zeros(0, np.float32)

    def _sketch_scores(self, projected: np.ndarray, windows: np.ndarray) -> np.ndarray:
        codes, scales, offsets = self.index.window_sketches(windows, reuse="sketch")  # this thread's buffers
        return sketch_maxsim(projected, codes, scales, offsets)

    def _exact_scores(self, query: Query) -> np.ndarray:
        """MaxSim of every window: chunk by chunk on the stored codes in place (nothing gathered or
        decoded; a dropped window is scored with its chunk and left out), or decoded block by block
        without the integer kernel."""
        n = self.index.num_windows
        scores = np.empty(n, np.float32)
        if self._scorer is None:
            for s in range(0, n, STREAM_WINDOWS):
                block = np.arange(s, min(n, s + STREAM_WINDOWS))
                scores[block] = self.score_windows(query, block)
            return scores
        for first, arrays, offsets, live in self.index.chunk_codes():
            sims = self._scorer.patch_scores(query.tokens, arrays["codes"], arrays["scales"])
            chunk = segment_max(sims.T, offsets).mean(axis=0)
            scores[first: first + int(live.sum())] = chunk[live]
        return self._refined(query, scores, lambda top: self.index.window_codes(top, hold=False))

    def candidate_windows(self, query: Query, count: int) -> np.ndarray:
        """The first stage: the `count` windows with the best first-stage scores."""
        if self.first_stage == "cells":
            sims = self._cells.scores(query.tokens, min_postings=self.min_postings)
        elif self.first_stage == "parts":
            fs = self._first or self.index.first_stage
            sims = fs.scores(query.tokens)
        else:
            qv = query.tokens.mean(0)
            qv /= max(np.linalg.norm(qv), 1e-9)
            sims = self.index.pooled @ qv
        count = min(count, len(sims))
        return np.sort(np.argpartition(-sims, count - 1)[:count])

    @property
    def fused(self) -> bool:
        """Whether searches rank by the fused score: fusion on, a bundle with a sentence encoder,
        and an index whose description vectors that encoder made (an index upgraded from v4, or
        made with another sentence encoder, has them after its next update)."""
        return bool(self.fusion and getattr(self.bundle, "sentence_session", None) is not None
                    and self.index.sentence_vectors is not None
                    and self.index.meta.get("sentence_encoder") == self.bundle.sentence_id)

    def search(self, text: str, k: int = 10, exact: bool | None = None) -> list[Hit]:
        """The `k` best clips for `text`, best first (ValueError for an empty text)."""
        if not self.fused or k < 1:
            return self.search_query(self.bundle.encode_query(text), k, exact)
        query, sentence = encode_beside(self.bundle, text)  # the sentence encoder on its own thread
        return self._search_fused(query, k, exact, sentence)

    def search_query(self, query: Query, k: int = 10, exact: bool | None = None) -> list[Hit]:
        if k < 1:
            raise ValueError(f"the number of hits must be 1 or more, not {k}")
        if self.fused:
            return self._search_fused(query, k, exact, sentence_beside(self.bundle, query.text))
        windows, scores = self.window_scores(query, exact, k)
        if len(windows) == 0:
            return []
        clips = self._clip_of_window[windows]
        order = np.argsort(-scores, kind="stable")
        hits, seen = [], set()
        for i in order:  # best window per clip
            c = int(clips[i])
            if c in seen:
                continue
            seen.add(c)
            hits.append(self._hit(int(windows[i]), float(scores[i])))
            if len(hits) == k:
                break
        return hits

    # ------------------------------------------------------------------ fused ranking (issue 20)

    def _search_fused(self, query: Query, k: int, exact: bool | None, sentence: Future) -> list[Hit]:
        """MaxSim's windows (plus, in two-stage search, the windows of the clips best by
        description, scored with the candidates), each clip at its best window, ranked by
        runtime.search.fusion.fuse.

        `sentence`: the query's sentence vector, being computed on a second thread (the sentence
        encoder on one thread that does not spin) while the text encoder and MaxSim's stages run.
        In two-stage search that thread then goes on with the rest of the description's side (the
        description scores, the clips best by them, the population sample's MaxSim: _description_side)
        while MaxSim's stages run here (with numpy's BLAS on one thread: _two_stage_candidates)."""
        side, scores = None, None
        try:
            if self.index.num_windows == 0:
                return []
            if self._every_window(exact):
                windows, scores = self.window_scores(query, True, k)
            else:
                self._sample_codes()  # held once per searcher, gathered here rather than beside
                with holding_caller():  # this thread on its CPU, the side on another (runtime.search.beside)
                    side = submit_beside(self._description_side, query, sentence)  # after the sentence encoder
                    windows = self._two_stage_candidates(query, False, k)
        finally:  # both waited for even when MaxSim failed: nothing left running
            sentence.exception()
            if side is not None:
                side.exception()
        if scores is None:  # two-stage: the best by description are candidates too
            desc, extra, sample_maxsim = side.result()
            windows = np.union1d(windows, extra)
            return self._fused_hits(windows, self.score_windows(query, windows), desc, k, two_stage=True,
                                    maxsim_like=sample_maxsim)
        return self._fused_hits(windows, scores, self.description_scores(sentence.result()), k)

    def _description_side(self, query: Query, sentence: Future) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What two-stage fused search needs besides MaxSim's candidates, made on the sentence
        encoder's thread while the stages run: every clip's description score, the windows of the
        clips best by it, and the MaxSim of each clip of the population sample."""
        desc = self.description_scores(sentence.result())
        return desc, self._description_windows(desc), self.sample_maxsim(query)

    def sample_maxsim(self, query: Query) -> np.ndarray:
        """(POPULATION_SAMPLE,) MaxSim of each clip of the population sample (its best window), on
        codes held by the searcher (float32 precision: the query rounded twice, CodeScorer's `fine`)."""
        held, starts = self._sample_codes()
        if self._scorer is not None:
            if self._side_scorer is None:  # the kernel on one thread: the other core runs MaxSim's stages
                self._side_scorer = CodeScorer(self._scorer.codec, threads=1)
            scores = self._side_scorer.maxsim(query.tokens, *held, fine=True)
        else:
            scores = maxsim_packed(query.tokens, *held)
        return np.maximum.reduceat(scores, starts) if len(starts) else scores

    def _sample_codes(self) -> tuple[tuple, np.ndarray]:
        """The population sample's windows' codes (codes, scales, offsets; or patches, offsets without
        the integer kernel), gathered once (the sample is fixed), and where each clip's windows start."""
        if self._sample_held is None:
            windows = self._clip_windows(self.population_sample())
            held = self.index.window_codes(windows, hold=False) if self._scorer is not None else \
                self.index.window_patches(windows)
            counts = [self.index.clips[c].window_count for c in self.population_sample()]
            self._sample_held = held, np.concatenate([[0], np.cumsum(counts)])[: len(counts)].astype(np.int64)
        return self._sample_held

    def description_scores(self, vector: np.ndarray) -> np.ndarray:
        """(clips,) the query vector's cosine to every clip's description vector (fusion.DescriptionScorer,
        made at the first fused search)."""
        return self._description_scorer().scores(vector)

    def _description_scorer(self) -> DescriptionScorer:
        if self._descriptions is None:
            self._descriptions = DescriptionScorer(self.index.sentence_vectors, self.index.has_sentence)
        return self._descriptions

    def _description_windows(self, desc: np.ndarray, exclude=()) -> np.ndarray:
        """The windows of the EXTRA_CANDIDATES clips best by description score `desc` (clips in
        `exclude` left out): two-stage search scores them too, so a clip its first stages missed can
        still rank by the fused score."""
        count = min(EXTRA_CANDIDATES + len(exclude), len(desc))
        if count == 0:
            return np.zeros(0, np.int64)
        top = np.argpartition(-desc, count - 1)[:count]
        top = top[np.argsort(-desc[top], kind="stable")]
        return self._clip_windows([c for c in top.tolist() if c not in exclude][:EXTRA_CANDIDATES])

    def population_sample(self) -> np.ndarray:
        """POPULATION_SAMPLE clips with windows (a fixed random choice, sorted) whose MaxSim a two-stage
        fused search scores exactly, for MaxSim's mean and deviation over every clip."""
        if self._sample is None:
            with_windows = np.flatnonzero(self._has_windows)
            count = min(POPULATION_SAMPLE, len(with_windows))
            self._sample = np.sort(np.random.default_rng(0).choice(with_windows, count, replace=False))
        return self._sample

    @functools.cached_property
    def _has_windows(self) -> np.ndarray:
        return np.bincount(self._clip_of_window, minlength=len(self.index.clips)) > 0

    def _clip_windows(self, clips) -> np.ndarray:
        """The window ids of the given clips, clip after clip."""
        return np.concatenate([np.arange(self.index.clips[c].window_start,
                                         self.index.clips[c].window_start + self.index.clips[c].window_count)
                               for c in clips] or [np.zeros(0, np.int64)])

    def _fused_hits(self, windows: np.ndarray, scores: np.ndarray, desc: np.ndarray, k: int,
                    two_stage: bool = False, maxsim_like: np.ndarray | None = None) -> list[Hit]:
        """The `k` best clips of the scored `windows`, each at its best window, by the fused score of
        that window's score and the clip's description score `desc[clip]` (runtime.search.fusion),
        each standardised over the clips scored (every clip with windows, in exact search) or, in
        `two_stage` search, with the mean and deviation of every clip's description score and of the
        population sample's MaxSim: `maxsim_like` (sample_maxsim), or the sample's clips among
        `windows` (find similar scores them with the candidates)."""
        clips = self._clip_of_window[windows]
        order = np.lexsort((-scores, clips))  # by clip, best window first
        first = order[np.concatenate([[True], np.diff(clips[order]) != 0])]
        best_windows, best_scores, best_clips = windows[first], scores[first], clips[first]
        if two_stage:
            if maxsim_like is None:
                sampled = np.isin(best_clips, self.population_sample())
                maxsim_like = best_scores[sampled]
            fused = fuse(best_scores, desc[best_clips], self.fusion_weight,
                         maxsim_like=maxsim_like if len(maxsim_like) > 1 else None,
                         description_like=desc[self._has_windows])
        else:
            fused = fuse(best_scores, desc[best_clips], self.fusion_weight)
        hits = []
        for i in np.argsort(-fused, kind="stable")[:k]:
            hit = self._hit(int(best_windows[i]), float(fused[i]))
            hits.append(replace(hit, maxsim=float(best_scores[i]), description_score=float(desc[best_clips[i]])))
        return hits

    def _hit(self, window: int, score: float) -> Hit:
        clip_index, start, length = (int(v) for v in self.index.windows[window])
        e = self.index.clips[clip_index]
        first = int(round(e.source_frame(start)))
        last = int(round(e.source_frame(start + length - 1)))
        return Hit(e.id, e.path, e.label, score, window, start, length, first, min(last, max(e.source_frames - 1, 0)),
                   e.source_fps, e.description or "")


# windows -> (first-stage candidates, sketch candidates) measured against exact float32 MaxSim on the
# 309 queries of bench/queries (bench/bench_search.py --sweep, docs/BENCHMARKS.md): recall@10 0.994
# at 10.9k windows, 0.991 at 109k. Between rows on a log scale; beyond the last, the same share of
# the library for the first stage.
CANDIDATE_TABLE = ((4_000, 2_000, 300), (10_900, 4_000, 300), (109_000, 30_000, 4_000))
# the same with the cells first stage (runtime.index.cells, 16,384 cells), and a fourth column: the postings
# a query token walks at least (CellStage.scores' min_postings). With the best 64 windows scored again to
# float32 precision (REFINE_WINDOWS): recall@10 0.995 at 10.9k windows (600 / 300 the same), 0.997 at 109k
# (3,500 / 1,250: 0.998; 3,000 / 600: 0.994; walking 32,768 postings instead of 16,384 lets 3,500 first-stage
# candidates keep what 5,000 kept); at 1.09M windows 0.990 (25,000 / 4,000: 0.972; 40,000 / 4,500: 0.995):
# the composed 1M library repeats each real body region in ~300 clips, and its misses are near-ties lost
# at the first stage and the sketches (bench_search.py --candidates, --where-lost; docs/BENCHMARKS.md)
CELLS_TABLE = ((4_000, 600, 200, 16_384), (10_900, 600, 200, 16_384), (109_000, 3_500, 600, 32_768),
               (1_090_000, 35_000, 5_000, 16_384))


def candidate_counts(num_windows: int, k: int, cells: bool = False) -> tuple[int, int]:
    """(windows kept by the first stage, windows of those kept by the sketches) for a library of
    `num_windows` windows and `k` hits (`cells`: the cells first stage); more hits, proportionally
    more of both."""
    table = CELLS_TABLE if cells else CANDIDATE_TABLE
    first, middle = _from_table(table, 1, num_windows), _from_table(table, 2, num_windows)
    if num_windows > table[-1][0]:  # beyond the table: the same share of the library
        first *= num_windows / table[-1][0]
    scale = max(1.0, k / 10)
    return min(num_windows, round(first * scale)), min(num_windows, round(middle * scale))


def cells_postings(num_windows: int) -> int:
    """Postings each query token walks at least in the cells first stage of a library of `num_windows`
    windows (CELLS_TABLE's fourth column, between rows on a log scale)."""
    return round(_from_table(CELLS_TABLE, 3, num_windows))


def _from_table(table, column: int, num_windows: int) -> float:
    """`column` of a (windows, ...) table at `num_windows`, between rows on a log scale (the last
    row's value beyond it)."""
    sizes, values = np.log([row[0] for row in table]), np.log([row[column] for row in table])
    return float(np.exp(np.interp(np.log(max(num_windows, 1)), sizes, values)))


def _subset(codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray, docs: np.ndarray) -> tuple:
    """The codes, scales and offsets of documents `docs` of packed (codes, scales, offsets)."""
    rows, sub = packed_rows(offsets, docs)
    return codes[rows], scales[rows], sub


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def default_candidates(num_windows: int, k: int) -> int:
    """Windows scored exactly in two-stage search (after the sketches)."""
    return candidate_counts(num_windows, k)[1]


def rank_captions(bundle: Bundle, motion: Motion, captions: list[str]) -> list[tuple[str, float]]:
    """Motion -> text: the captions ranked for a clip (its best window per caption)."""
    _, patches = bundle.encode_motion(motion)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in patches])])
    packed = np.concatenate(patches)
    scores = [float(maxsim_packed(q.tokens, packed, offsets).max()) for q in bundle.encode_queries(captions)]
    order = np.argsort(scores)[::-1]
    return [(captions[i], scores[i]) for i in order]


__all__ = ["CANDIDATE_TABLE", "EXACT_UP_TO", "REFINE_WINDOWS", "Hit", "Searcher", "candidate_counts",
           "default_candidates", "rank_captions"]
