"""Search a shared library (runtime/studio/qdrant_store.py) the way runtime.search searches a local
index: the same Hit (a clip at its best window, frames of the source file, its description), the
same MaxSim scale (the mean over query tokens: Qdrant's MAX_SIM sums over them, so its score is
divided by the token count), the same fused ranking, explanations and find similar.

Text search: up to EXACT_UP_TO windows, every window's MaxSim on the int8 copies, rescored on the
float16 originals (`exact=True`: the originals only); above it two stages in one request: the 14
part means of each window as a small MaxSim multivector (Qdrant's prefetch, a scan of their int8
copies, `first` windows kept, runtime.search.candidate_counts) and MaxSim on the patches of those
(10k clips: recall@10 0.998 against float exact; with the part vectors' HNSW instead, 0.989:
bench/bench_qdrant.py, docs/STUDIO.md). Fused search (a bundle with a
sentence encoder, a library with description vectors) ranks the clips of MaxSim's best windows,
the EXTRA_CANDIDATES clips best by description and a fixed sample of POPULATION_SAMPLE clips,
scored exactly in one more request; both scores are standardised with the sample's mean and
deviation (where MaxSim's best windows leave clips out), as the local two-stage search's are with
its sample's and every clip's (runtime.search.fusion). Find similar: the query's part means find
candidate windows (Qdrant), whose patches are fetched and scored here with the local score
(symmetric, same body part: runtime.search.similar), fused with the query motion's own description
vector as the local find similar is (in two stages with the EXTRA_CANDIDATES clips best by
description and the population sample, whose windows are fetched once per searcher). Explain:
the hit's patches are fetched by its point id.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, replace

import numpy as np

from ..io import split_clip_id
from ..model import Bundle, Query
from ..motion import NUM_PARTS, Motion
from ..search import (EXACT_UP_TO, EXTRA_CANDIDATES, FUSION_WEIGHT, MOTION_FUSION_WEIGHT, POPULATION_SAMPLE,
                      Explanation, Hit, MotionQuery, candidate_counts, encode_beside, explain_patches, fuse, neutral,
                      query_description, segment_max, sentence_beside, similar_candidates)
from .backends import DESCRIBER, DESCRIPTION, PARTS, PATCHES, Found, Where
from .qdrant_store import QdrantStore
from .spec import StoreError

HIT_PAYLOAD = ["library", "clip_key", "content_hash", "start", "length", "label", "source_fps", "source_frames",
               "first_source_frame", "description", "has_description"]
FUSED_WINDOWS = 200  # fused search: MaxSim's best windows whose clips are fused (local two-stage keeps ~300)
# find similar in two stages: per query window, the windows whose patches are fetched and scored here,
# the best by Qdrant's MaxSim of the query window's patches among the part vectors' candidates. Receiving
# patches is slow in Python (lists of floats): every candidate's (404 at 10k clips) took 0.7 s a query; 128
# take 0.26 s and keep 0.94 of the local exact fused top 10 (docs/STUDIO.md: bench/bench_qdrant.py --fused)
LIKE_FETCHED = 128


@dataclass(frozen=True)
class StoreHit(Hit):
    """A hit from a shared library: `path` is the clip's file on this machine ("" when its library
    is not mounted here), `library` and `clip_key` say where it is in the library."""

    library: str = ""
    clip_key: str = ""
    point_id: str = ""
    source_first_frame: int = 0

    def to_json(self) -> dict:
        return dict(super().to_json(), library=self.library, clip_key=self.clip_key)


class StoreSearcher:
    """Search a QdrantStore with a bundle's encoders (arguments as runtime.search.Searcher's).

    Args:
        store: the opened store (made with the same bundle).
        bundle: the model bundle.
        library: search only this library (None: all of the collection's).
        candidates: windows the first stage keeps in two-stage search (0: the local table's).
        fusion: rank by the fused score when the store and bundle allow it.
    """

    def __init__(self, store: QdrantStore, bundle: Bundle, library: str | None = None, candidates: int = 0,
                 fusion: bool = True, fusion_weight: float = FUSION_WEIGHT):
        if store.model_id != bundle.model_id:
            raise StoreError(f"{store.spec.where}: built with model {store.model_id}, the model in use is "
                             f"{bundle.model_id}")
        self.store, self.bundle, self.library = store, bundle, library
        self.candidates, self.fusion, self.fusion_weight = candidates, fusion, fusion_weight
        self.motion_weight = MOTION_FUSION_WEIGHT  # the description's weight for a motion query (find similar)
        self._num_windows: int | None = None
        self._sample: list[tuple[str, str]] | None = None  # population_sample()
        self._sample_found: list[Found] | None = None  # its windows, for find similar (_sample_windows)
        self.like_fetched = LIKE_FETCHED
        self.exact_up_to = EXACT_UP_TO  # windows: above it, two stages (Qdrant's prefetch on the part vectors)
        self.prefetch_scan = True  # the first stage scans every window's int8 part vectors (False: their HNSW)

    @property
    def num_windows(self) -> int:
        if self._num_windows is None:
            self._num_windows = self.store.num_windows(self.library)
        return self._num_windows

    @property
    def fused(self) -> bool:
        return bool(self.fusion and getattr(self.bundle, "sentence_session", None) is not None
                    and self.store.has_descriptions and self.store.meta.get("sentence_encoder") == self.bundle.sentence_id)

    @property
    def motion_vector_name(self) -> str:
        """The vector a motion query's description is compared with: the describer's (without the
        captions the reference lends: runtime.search.similar), or, in a collection made before
        those, the description vector (the query's own borrowed captions then added: encode)."""
        return DESCRIBER if self.store.has_describer else DESCRIPTION

    def _where(self, **kw) -> Where:
        return Where(library=self.library, **kw)

    # ------------------------------------------------------------------------------ text search

    def window_scores(self, query: Query, limit: int, exact: bool | None = None, where: Where | None = None,
                      vectors: list[str] | None = None) -> list[Found]:
        """The `limit` best windows by MaxSim (mean over the query's tokens), best first."""
        n = self.num_windows
        if n == 0:
            return []
        tokens = np.asarray(query.tokens, np.float32)
        where = where or self._where()
        two_stage = not exact and n > self.exact_up_to and where.clip_keys is None
        prefetch = None
        if two_stage:
            first = self.candidates or candidate_counts(n, 10)[0]
            prefetch = (tokens, PARTS, max(first, limit), self.prefetch_scan)
        found = self.store.backend.query(tokens, PATCHES, min(limit, n), where, prefetch=prefetch,
                                         exact=bool(exact), payload=HIT_PAYLOAD, vectors=vectors)
        for f in found:
            f.score /= len(tokens)
        return found

    def search(self, text: str, k: int = 10, exact: bool | None = None) -> list[StoreHit]:
        """The `k` best clips for `text`, best first (ValueError for an empty text)."""
        if not self.fused or k < 1:
            return self.search_query(self.bundle.encode_query(text), k, exact)
        query, sentence = encode_beside(self.bundle, text)  # the sentence encoder on its own thread
        return self._search_fused(query, k, exact, sentence)

    def search_query(self, query: Query, k: int = 10, exact: bool | None = None) -> list[StoreHit]:
        if k < 1:
            raise ValueError(f"the number of hits must be 1 or more, not {k}")
        if self.fused:
            return self._search_fused(query, k, exact, sentence_beside(self.bundle, query.text))
        limit = max(8 * k, 64)
        while True:  # enough windows for k clips (a clip has several)
            found = self.window_scores(query, limit, exact)
            best = _best_per_clip(found)
            if len(best) >= k or limit >= self.num_windows:
                return [self._hit(f, f.score) for f in best[:k]]
            limit *= 4

    def _search_fused(self, query: Query, k: int, exact: bool | None, sentence: Future) -> list[StoreHit]:
        """`sentence`: the query's sentence vector, computed on a second thread (sentence_beside)
        while the first request runs (its time is mostly the server's). Where MaxSim's best windows
        leave clips out, the clips best by description and the population sample are scored exactly
        in one more request, and the scores are standardised with the sample's mean and deviation."""
        limit = max(FUSED_WINDOWS, 8 * k)
        try:
            found = self.window_scores(query, limit, exact, vectors=[DESCRIPTION])
        finally:
            sentence.exception()  # waited for even when the request failed: nothing left running
        qv = sentence.result()
        have = _clip_keys(found)
        partial = len(found) < self.num_windows  # MaxSim's best windows: not every clip's best
        sample = self.population_sample() if partial else []
        extra = self._clips_by_description(qv, have, frozenset(), self._where())
        todo = extra + [c for c in sample if c not in have and c not in extra]
        for lib in sorted({lib for lib, _ in todo}):  # their best windows, scored exactly
            clip_keys = [c for lb, c in todo if lb == lib]
            found += self.window_scores(query, 64 * len(clip_keys), True,
                                        Where(library=lib, clip_keys=clip_keys), vectors=[DESCRIPTION])
        best = _best_per_clip(found)
        return self._fused_hits(best, qv, k, self.fusion_weight, sample) if best else []

    def population_sample(self) -> list[tuple[str, str]]:
        """POPULATION_SAMPLE clips (library, clip key) whose scores stand for every clip's when a fused
        search scores only some: those of the first windows in the store's order of point ids (uuid5
        hashes of each window's identity: an even pick, the same for every searcher of the same
        windows), read once per searcher. A clip with more windows is likelier to be picked than in
        the local search's sample (one clip in every clip with windows alike)."""
        if self._sample is None:
            picked: dict[tuple[str, str], None] = {}
            for f in self.store.backend.scroll(self._where(), ["library", "clip_key"], page=POPULATION_SAMPLE):
                picked[(f.payload["library"], f.payload["clip_key"])] = None
                if len(picked) == POPULATION_SAMPLE:
                    break
            self._sample = list(picked)
        return self._sample

    def _sample_windows(self) -> list[Found]:
        """The population sample's windows with their patches and the vectors a motion query's
        description is compared with (motion_vector_name), fetched once per searcher (as the sample
        is picked once)."""
        if self._sample_found is None:
            self._sample_found = self._clip_windows(self.population_sample(), self.motion_vector_name)
        return self._sample_found

    def _fused_hits(self, best: list[Found], query_vector: np.ndarray, k: int, weight: float,
                    sample=(), using: str = DESCRIPTION) -> list[StoreHit]:
        """The `k` best of `best` (each clip's best window, its score the late interaction, fetched
        with its `using` vector: DESCRIPTION or DESCRIBER) by the fused score (runtime.search.fusion),
        standardised over them or, given the population `sample` ((library, clip key) pairs scored
        among them), with the sample's mean and deviation."""
        sampled = set(sample)
        like = [i for i, f in enumerate(best) if (f.payload["library"], f.payload["clip_key"]) in sampled]
        like = like if len(like) > 1 else None
        maxsim = np.array([f.score for f in best], np.float64)
        desc = np.array([float(np.asarray(f.vectors[using], np.float32) @ query_vector)
                         if using in f.vectors else np.nan for f in best])
        has = np.array([bool(f.payload.get("has_description")) for f in best]) & np.isfinite(desc)
        desc = np.nan_to_num(neutral(desc, has))  # a clip without a vector: neutral
        fused = fuse(maxsim, desc, weight) if like is None else \
            fuse(maxsim, desc, weight, maxsim_like=maxsim[like], description_like=desc[like])
        return [replace(self._hit(best[i], float(fused[i])), maxsim=float(maxsim[i]), description_score=float(desc[i]))
                for i in np.argsort(-fused, kind="stable")[:k]]

    def _hit(self, f: Found, score: float) -> StoreHit:
        p = f.payload
        start, length, fps = int(p["start"]), int(p["length"]), float(p["source_fps"])
        first = int(p.get("first_source_frame", 0))
        a = int(round(first + start * fps / 20.0))
        b = int(round(first + (start + length - 1) * fps / 20.0))
        b = min(b, max(int(p.get("source_frames", 0)) - 1, 0))
        key, lib = p["clip_key"], p["library"]
        file_key = key.split("#", 1)[0] if _is_scene_key(key) else key
        path = self.store.spec.mounts.resolve(lib, file_key) or ""
        clip_id = (path + key[len(file_key):]) if path else f"{lib}:{key}"
        return StoreHit(clip_id, path, p.get("label", key), score, -1, start, length, a, b, fps,
                        p.get("description", ""), library=lib, clip_key=key, point_id=f.id,
                        source_first_frame=first)

    # ---------------------------------------------------------------------------------- explain

    def hit_patches(self, hit: StoreHit) -> np.ndarray:
        """The hit window's patches (n, D) float32, fetched by its point id."""
        got = self.store.backend.retrieve([hit.point_id], [PATCHES], payload=False)
        if not got or PATCHES not in got[0].vectors:
            raise StoreError(f"{self.store.spec.where}: {hit.library}:{hit.clip_key} is no longer in the library "
                             "(it was updated since this search): search again")
        return got[0].vectors[PATCHES]

    def explain(self, text: str, hit: StoreHit) -> Explanation:
        """Why `hit` matched `text` (runtime.search.explain) from its stored patches."""
        fps, first = hit.fps, hit.source_first_frame
        return explain_patches(self.bundle, self.bundle.encode_query(text), self.hit_patches(hit), hit.start,
                               hit.length, hit.clip_id, lambda f: first + f * fps / 20.0)

    # ---------------------------------------------------------------------------- find similar

    def encode(self, motion: Motion, name: str = "") -> MotionQuery:
        """A Motion (already cut to the frames wanted) as a query, described when searches are fused."""
        _, patches = self.bundle.encode_motion(motion)
        borrowed = None if self.store.has_describer else patches
        description = query_description(self.bundle, motion, borrowed) if self.fused else None
        return MotionQuery(name or motion.source, patches, description)

    def clip_query(self, library: str, clip_key: str) -> MotionQuery:
        """A clip of the library as a query, from its stored patches and description vector (nothing
        read or encoded)."""
        using = self.motion_vector_name
        vectors = [PATCHES, using] if self.fused else [PATCHES]
        found = sorted(self.store.backend.scroll(Where(library=library, clip_keys=[clip_key]),
                                                 ["start", "label", "has_description"], vectors),
                       key=lambda f: f.payload["start"])
        if not found:
            raise StoreError(f"{self.store.spec.where}: {library}:{clip_key} is not in the library")
        first = found[0]
        description = first.vectors.get(using) if self.fused and first.payload.get("has_description") else None
        return MotionQuery(first.payload.get("label") or clip_key, [f.vectors[PATCHES] for f in found],
                           None if description is None else np.asarray(description, np.float32))

    def search_like(self, query: MotionQuery, k: int = 10, exclude: set[tuple[str, str]] | frozenset = frozenset(),
                    exact: bool | None = None) -> list[StoreHit]:
        """The `k` clips most alike `query`, best first, leaving out the clips in `exclude`
        ((library, clip_key) pairs: the query itself when it is in the library)."""
        if k < 1:
            raise ValueError(f"the number of hits must be 1 or more, not {k}")
        n = self.num_windows
        if n == 0 or not query.windows:
            return []
        count = self.candidates or similar_candidates(n, k)
        if exact is None:
            exact = n <= count
        skip = [c for _, c in exclude]
        where = self._where(not_clip_keys=skip or None)
        fused = self.fused and query.description is not None
        using = self.motion_vector_name
        vectors = [PATCHES, using] if fused else [PATCHES]
        if exact:
            found = list(self.store.backend.scroll(where, HIT_PAYLOAD, vectors))
            found = [f for f in found if (f.payload["library"], f.payload["clip_key"]) not in exclude]
        else:
            by_id: dict[str, Found] = {}
            for w in query.windows:  # the part vectors' candidates, ranked by MaxSim of the window's patches
                means = w.reshape(-1, NUM_PARTS, w.shape[1]).mean(0)
                got = self.store.backend.query(w, PATCHES, min(self.like_fetched, count), where,
                                               prefetch=(means, PARTS, count, self.prefetch_scan),
                                               payload=HIT_PAYLOAD, vectors=vectors)
                for f in got:
                    by_id.setdefault(f.id, f)
            found = [f for f in by_id.values() if (f.payload["library"], f.payload["clip_key"]) not in exclude]
            if fused:  # the clips best by description are candidates too, and the population sample
                found += self._best_by_description(query.description, found, exclude, where, using)
                skip = _clip_keys(found) | set(exclude)
                found += [replace(f) for f in self._sample_windows()  # copies: scored per query
                          if (f.payload["library"], f.payload["clip_key"]) not in skip]
        if not found:
            return []
        patches = [f.vectors[PATCHES] for f in found]
        scores = like_scores(query.windows, patches)
        for f, s in zip(found, scores):
            f.score = float(s)
        found.sort(key=lambda f: -f.score)
        best = _best_per_clip(found)
        if not fused:
            return [self._hit(f, f.score) for f in best[:k]]
        return self._fused_hits(best, query.description, k, self.motion_weight,
                                () if exact else self.population_sample(), using)

    def _clips_by_description(self, vector: np.ndarray, have: set, exclude, where: Where,
                              using: str = DESCRIPTION) -> list[tuple[str, str]]:
        """(library, clip key) of the EXTRA_CANDIDATES clips best by description (their `using`
        vector) that are neither in `have` nor in `exclude` (two-stage search scores them too, as the
        local one does)."""
        extra: list[tuple[str, str]] = []
        for f in self.store.backend.query(vector, using, EXTRA_CANDIDATES * 8, where,
                                          payload=["clip_key", "library"]):
            key = (f.payload["library"], f.payload["clip_key"])
            if key not in have and key not in exclude and key not in extra:
                extra.append(key)
            if len(extra) == EXTRA_CANDIDATES:
                break
        return extra

    def _best_by_description(self, description: np.ndarray, found: list[Found], exclude, where: Where,
                             using: str) -> list[Found]:
        """The windows of the EXTRA_CANDIDATES clips best by description that `found` lacks (two-stage
        find similar, as the local one)."""
        return self._clip_windows(self._clips_by_description(description, _clip_keys(found), exclude, where, using),
                                  using)

    def _clip_windows(self, clips: list[tuple[str, str]], using: str = DESCRIPTION) -> list[Found]:
        """Every window of the given clips ((library, clip key)), with their patches and `using` vectors."""
        out: list[Found] = []
        for lib in sorted({lib for lib, _ in clips}):
            out += self.store.backend.scroll(Where(library=lib, clip_keys=[c for lb, c in clips if lb == lib]),
                                             HIT_PAYLOAD, [PATCHES, using])
        return out


def _clip_keys(found: list[Found]) -> set[tuple[str, str]]:
    return {(f.payload["library"], f.payload["clip_key"]) for f in found}


def like_scores(query_windows: list[np.ndarray], windows: list[np.ndarray]) -> np.ndarray:
    """The symmetric same-part score of runtime.search.similar (its module docstring) of each
    library window (patches (n_w, D), time-major) against the query's windows (best query window)."""
    doclens = np.array([len(w) for w in windows], np.int64)
    rows = doclens // NUM_PARTS
    offsets = np.concatenate([[0], np.cumsum(rows)])
    q_rows = [len(w) // NUM_PARTS for w in query_windows]
    q_bounds = np.concatenate([[0], np.cumsum(q_rows)])
    forward = np.zeros((len(q_rows), len(windows)), np.float32)
    backward = np.zeros((len(q_rows), len(windows)), np.float32)
    for p in range(NUM_PARTS):
        lib = np.concatenate([w[p::NUM_PARTS] for w in windows]).astype(np.float32)
        tokens = np.concatenate([w[p::NUM_PARTS] for w in query_windows]).astype(np.float32)
        sims = lib @ tokens.T  # (library patches of part p, query patches of part p)
        for k, (a, b) in enumerate(zip(q_bounds[:-1], q_bounds[1:])):
            part = sims[:, a:b]
            forward[k] += segment_max(part.T, offsets).sum(axis=0)
            backward[k] += np.add.reduceat(part.max(axis=1), offsets[:-1])
    q_len = np.array([len(w) for w in query_windows], np.float32)[:, None]
    return (0.5 * (forward / q_len + backward / doclens[None, :])).max(axis=0)


def _best_per_clip(found: list[Found]) -> list[Found]:
    """Each clip's best window, best first (`found` best first)."""
    seen, out = set(), []
    for f in sorted(found, key=lambda f: -f.score):
        key = (f.payload["library"], f.payload["clip_key"])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _is_scene_key(key: str) -> bool:
    return split_clip_id(key) is not None


__all__ = ["StoreHit", "StoreSearcher", "like_scores"]
