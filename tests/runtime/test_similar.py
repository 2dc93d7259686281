"""Find similar (motion -> motion search) with the shipped model on a handful of real Bandai-Namco clips."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from runtime.index import LibraryIndex
from runtime.model import Bundle, default_bundle_path
from runtime.search import SimilarSearcher

WAVE_R = "dataset-2_wave-right-hand_normal_001.bvh"
LIBRARY = [WAVE_R, "dataset-2_wave-right-hand_normal_002.bvh", "dataset-2_wave-left-hand_normal_001.bvh",
           "dataset-2_wave-both-hands_normal_001.bvh", "dataset-2_raise-up-right-hand_normal_001.bvh",
           "dataset-2_walk_normal_001.bvh", "dataset-2_run_normal_001.bvh", "dataset-2_walk-turn-left_normal_001.bvh"]


@pytest.fixture(scope="module")
def library(tmp_path_factory, bandai2):
    lib = tmp_path_factory.mktemp("lib")
    for name in LIBRARY:
        shutil.copy(bandai2 / name, lib / name)
    return lib


@pytest.fixture(scope="module")
def index_path(library, tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "index"
    r = _cli("index", library, "--index", path, "--jobs", 1)
    assert r.returncode == 0 and f"{len(LIBRARY)} added" in r.stdout, r.stderr
    return path


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *map(str, args)], capture_output=True, text=True)


def _like(index_path, *args):
    r = _cli("search", "--index", index_path, "--json", "--like", *args)
    assert r.returncode == 0, r.stderr
    return [h["path"].rsplit("/", 1)[-1] for h in json.loads(r.stdout)], r


def test_a_take_finds_another_take_and_not_itself(library, index_path):
    names, r = _like(index_path, library / WAVE_R, "--top", 20)
    assert names[0] == "dataset-2_wave-right-hand_normal_002.bvh", names
    assert WAVE_R not in names and len(names) == len(LIBRARY) - 1
    assert "left out" in r.stderr and WAVE_R in r.stderr
    scores = [h["score"] for h in json.loads(r.stdout)]
    assert scores == sorted(scores, reverse=True)


def test_a_frame_range_is_the_query(library, index_path, bandai2):
    # the wave itself (frames 40-150 of 187): still the other wave-right-hand take first
    names, _ = _like(index_path, library / WAVE_R, "--start", 40, "--end", 150)
    assert names[0] == "dataset-2_wave-right-hand_normal_002.bvh", names
    # the first 2 s of a walk (of a take outside the library: nothing left out) are a walk's, turning or not
    names, r = _like(index_path, bandai2 / "dataset-2_walk_normal_002.bvh", "--start", 0, "--end", 60, "--top", 3)
    assert set(names[:2]) == {"dataset-2_walk_normal_001.bvh", "dataset-2_walk-turn-left_normal_001.bvh"}, names
    assert "left out" not in r.stderr
    names, _ = _like(index_path, bandai2 / "dataset-2_walk_normal_002.bvh")  # the whole take: the straight walk
    assert names[0] == "dataset-2_walk_normal_001.bvh", names
    r = _cli("search", "--index", index_path, "--like", library / WAVE_R, "--start", 150, "--end", 40)
    assert r.returncode == 1 and WAVE_R in r.stderr and "must come before" in r.stderr


def test_a_bad_file_is_an_error_naming_it(index_path, tmp_path):
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\n")
    for path in (broken, tmp_path / "missing.bvh"):
        r = _cli("search", "--index", index_path, "--like", path)
        assert r.returncode == 1 and str(path) in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_the_score_is_symmetric_and_two_stage_agrees_with_exact(index_path):
    bundle = Bundle.load(default_bundle_path(), device="cpu")
    searcher = SimilarSearcher(LibraryIndex.open(index_path, bundle), bundle)
    n = len(searcher.index.clips)
    queries = [searcher.clip_query(i) for i in range(n)]
    windows = np.array([searcher.index.clips[i].window_start for i in range(n)])  # every clip has one window
    scores = np.stack([searcher.window_scores_like(q, windows) for q in queries])
    assert np.allclose(scores, scores.T, atol=2e-3)  # int8 codes: the query side is quantised again
    assert np.allclose(np.diag(scores), 1.0, atol=2e-3) and (scores < np.diag(scores)[:, None] + 1e-6).all()
    searcher.candidates = 4  # of 8 windows (one more for the query itself, left out)
    exact = searcher.search_like(queries[0], 3, exclude={0}, exact=True)
    staged = searcher.search_like(queries[0], 3, exclude={0}, exact=False)
    assert [h.clip_id for h in exact] == [h.clip_id for h in staged]


def test_fused_ranking_adds_the_query_motions_descriptions(library, index_path):
    """With description vectors in the index, a query motion is described too and each clip's
    best-window score is fused with its description agreement over the clips scored; off, the late
    interaction alone ranks, as before. A motion query and the clips are compared on what the
    describer said of them: the captions the bundle's reference lends (which follow the motion's
    nearest training clips) are left out on both sides."""
    from runtime.index import describer_vectors, description_texts, description_vector
    from runtime.motion import load_motion
    from runtime.search import MOTION_FUSION_WEIGHT, description_scores, fuse

    bundle = Bundle.load(default_bundle_path(), device="cpu")
    assert bundle.reference is not None  # the shipped bundle lends captions to the index's vectors
    index = LibraryIndex.open(index_path, bundle)
    fused, plain = SimilarSearcher(index, bundle), SimilarSearcher(index, bundle, fusion=False)
    assert fused.fused and not plain.fused
    motion = load_motion(library / WAVE_R)
    query = fused.encode(motion)
    assert plain.encode(motion).description is None
    own = fused.clips_of_file(library / WAVE_R)
    texts_only = description_vector(bundle, description_texts(motion))
    assert np.abs(query.description - texts_only).max() < 1e-6  # the describer's texts alone
    assert np.abs(index.sentence_vectors[min(own)] - texts_only).max() > 0.01  # the index's: borrowed captions too
    describer = describer_vectors(index, bundle)  # the index's less what the reference lent, per clip
    for c, e in enumerate(index.clips):
        made = description_vector(bundle, description_texts(load_motion(e.path)))
        assert np.abs(describer[c].astype(np.float32) - made).max() < 3e-3, e.path  # float16 as stored
    assert np.abs(fused.clip_query(min(own)).description - texts_only).max() < 1e-2  # its int8 copy
    assert plain.clip_query(min(own)).description is None

    n = len(LIBRARY) - 1
    hits = fused.search_like(query, n, exclude=own, exact=True)
    alone = {h.clip_id: h.score for h in plain.search_like(query, n, exclude=own, exact=True)}
    assert len(hits) == n and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    maxsim = np.array([h.maxsim for h in hits])
    assert np.allclose(maxsim, [alone[h.clip_id] for h in hits], atol=1e-6)  # the same windows' late interaction
    desc = fused.describer_scores(query.description)  # on int8 copies of the vectors: near float32's
    floats = description_scores(describer.astype(np.float32), index.has_sentence, query.description)
    assert np.abs(desc - floats).max() < 5e-3
    rows = [next(i for i, e in enumerate(index.clips) if e.id == h.clip_id) for h in hits]
    assert np.allclose([h.description_score for h in hits], desc[rows], atol=1e-6)
    assert np.allclose([h.score for h in hits], fuse(maxsim, desc[rows], MOTION_FUSION_WEIGHT), atol=1e-5)
    assert hits[0].label.startswith("dataset-2_wave-right-hand")  # the other take: same moves, same words
    assert all(h.maxsim is None for h in plain.search_like(query, 3, exclude=own))


def test_describer_vectors_follow_their_clips_when_clips_are_dropped(library, tmp_path):
    """A file gone from the library is dropped from its chunk (its rows stay, marked): each remaining
    clip's describer vector is still its own, the borrowed captions of its own motion taken out."""
    from runtime.index import describer_vectors, description_texts, description_vector
    from runtime.motion import load_motion

    lib = tmp_path / "lib"
    shutil.copytree(library, lib)
    bundle = Bundle.load(default_bundle_path(), device="cpu")
    index = LibraryIndex.create(tmp_path / "index", bundle)
    index.update([lib], bundle)
    (lib / LIBRARY[0]).unlink()
    (lib / LIBRARY[3]).unlink()
    index.update([lib], bundle)
    index = LibraryIndex.open(tmp_path / "index", bundle)
    assert any(index.meta["dropped"].values()) and len(index.clips) == len(LIBRARY) - 2
    describer = describer_vectors(index, bundle)
    for c, e in enumerate(index.clips):
        made = description_vector(bundle, description_texts(load_motion(e.path)))
        assert np.abs(describer[c].astype(np.float32) - made).max() < 3e-3, e.path


def test_no_fusion_on_the_command_line_ranks_by_the_late_interaction_alone(library, index_path):
    r = _cli("search", "--index", index_path, "--json", "--like", library / WAVE_R, "--no-fusion")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert all("maxsim" not in h and "description_score" not in h for h in hits)
    r = _cli("search", "--index", index_path, "--json", "--like", library / WAVE_R)
    fused = json.loads(r.stdout)
    assert all(h["maxsim"] is not None and h["description_score"] is not None for h in fused)  # fused: both scores
    by_path = {h["path"]: h["score"] for h in hits}
    assert np.allclose([by_path[h["path"]] for h in fused], [h["maxsim"] for h in fused], atol=1e-5)
