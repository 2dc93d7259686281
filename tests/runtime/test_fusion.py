"""Fused search (issue 20): the index's v6 fields (each clip's description texts and sentence
vector), the in-place upgrade of a v4 index, and the ranking with fusion on and off, on real
Bandai-Namco clips with the shipped bundle (its int8 sentence encoder)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from runtime.index import (INDEX_VERSION, LibraryIndex, chunk_checksums, clip_motion_vectors, description_texts,
                           description_vector, write_metadata)
from runtime.model import Bundle, default_bundle_path
from runtime.motion import load_motion
from runtime.search import Searcher, fuse, standardised

CLIPS = ("dataset-1_kick_normal_001.bvh", "dataset-1_punch_normal_001.bvh", "dataset-1_slash_normal_001.bvh",
         "dataset-1_walk_normal_001.bvh", "dataset-1_run_normal_001.bvh", "dataset-1_bow_normal_001.bvh",
         "dataset-1_dash_normal_001.bvh")


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load(default_bundle_path(), device="cpu")


@pytest.fixture(scope="module")
def library(tmp_path_factory, bandai1):
    lib = tmp_path_factory.mktemp("lib")
    for name in CLIPS:
        shutil.copy(bandai1 / name, lib / name)
    return lib


@pytest.fixture(scope="module")
def built(library, bundle, tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "index"
    report = LibraryIndex.create(path, bundle).update([library], bundle)
    assert report.added == len(CLIPS) and not report.failed
    return path


def test_the_bundle_has_a_pretrained_sentence_encoder_and_keeps_its_model_id(bundle):
    manifest = json.loads((default_bundle_path() / "manifest.json").read_text())
    assert bundle.sentence_id == f"{manifest['sentence_encoder']['id']}+{manifest['reference']['id']}"
    assert bundle.sentence_dim == 384
    assert "sentence_encoder.onnx" in manifest["files"]
    v = bundle.encode_sentences(["a person kicks", "someone kicks with the leg", "a person bows politely"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    assert v[0] @ v[1] > v[0] @ v[2]  # pretrained sentence knowledge: the paraphrase is closer
    bundle._sentence_cache.clear()  # encoded again, not remembered
    assert np.array_equal(bundle.encode_sentences(["a person kicks"])[0], v[0])  # alone or not: the same


def test_a_text_met_before_is_not_encoded_again_and_the_cache_is_bounded(bundle, monkeypatch):
    from runtime.model import bundle as bundle_module

    texts = [f"a person walks {n} steps forward" for n in range(6)]
    fresh = bundle.encode_sentences(texts)
    calls = []
    session = bundle.sentence_session
    monkeypatch.setattr(bundle, "sentence_session", type("Counting", (), {
        "run": lambda self, *a, **k: calls.append(1) or session.run(*a, **k)})())
    again = bundle.encode_sentences(texts[::-1] + ["a person bows politely"])
    assert np.array_equal(again[:6], fresh[::-1]) and len(calls) <= 1  # only the new text is encoded
    monkeypatch.setattr(bundle_module, "SENTENCE_CACHE", 3)
    bundle.encode_sentences(["one", "two", "three", "four"])
    assert len(bundle._sentence_cache) == 3 and "one" not in bundle._sentence_cache  # the oldest goes


def test_stored_vectors_match_a_fresh_encode(built, bundle, library):
    index = LibraryIndex.open(built, bundle)
    meta = json.loads((built / "metadata.json").read_text())
    assert meta["format_version"] == INDEX_VERSION == 6 and meta["sentence_encoder"] == bundle.sentence_id
    assert index.sentence_vectors.shape == (len(CLIPS), bundle.sentence_dim) and index.has_sentence.all()
    assert index.sentence_vectors.dtype == np.float16  # held as stored: half float32's memory
    motion = clip_motion_vectors(index.pooled, index.windows[:, 0], len(index.clips))
    for k, clip in enumerate(index.clips):
        texts = description_texts(load_motion(clip.path))
        assert clip.captions == texts and clip.description == texts[0] and len(texts) >= 5
        fresh = description_vector(bundle, texts, motion[k])  # with the captions the reference lends
        assert np.abs(index.sentence_vectors[k] - fresh).max() < 2e-3  # stored as float16
        assert np.abs(fresh - description_vector(bundle, texts)).max() > 0.01
    kick = next(c for c in index.clips if "kick" in c.label)
    assert any("kick" in t for t in kick.captions)


@pytest.mark.parametrize("query,clip", [("someone kicks a ball", "kick"), ("a quick dash", "dash")])
def test_fusion_on_and_off(built, bundle, query, clip):
    """Off: the MaxSim order. On: the order of the fused score, made from the two scores each hit
    carries; the clip whose descriptions say it ("kicks", "dashes") moves up to first."""
    index = LibraryIndex.open(built, bundle)
    off = Searcher(index, bundle, fusion=False)
    on = Searcher(index, bundle)
    assert on.fused and not off.fused
    plain = off.search(query, k=len(CLIPS))
    fused = on.search(query, k=len(CLIPS))
    assert [h.score for h in plain] == sorted([h.score for h in plain], reverse=True)
    assert all(h.maxsim is None for h in plain)
    by_id = {h.clip_id: h for h in plain}
    for h in fused:  # the same window (explanations come from MaxSim) and its MaxSim score
        assert h.window == by_id[h.clip_id].window and h.maxsim == pytest.approx(by_id[h.clip_id].score, abs=1e-6)
    m = np.array([h.maxsim for h in fused])
    d = np.array([h.description_score for h in fused])
    assert np.allclose([h.score for h in fused], fuse(m, d), atol=1e-5)
    assert [h.score for h in fused] == sorted([h.score for h in fused], reverse=True)
    assert f"_{clip}_" in fused[0].label and f"_{clip}_" not in plain[0].label
    assert d[0] == d.max()
    j = fused[0].to_json()
    assert {"score", "maxsim", "description_score"} <= set(j)


def test_standardised_and_fuse_shapes():
    assert np.allclose(standardised(np.array([1.0, 1.0, 1.0])), 0.0)
    with pytest.raises(ValueError, match="differ in shape"):
        fuse(np.zeros(3), np.zeros(4))


def test_cli_json_has_both_scores_and_no_fusion_turns_it_off(built):
    base = [sys.executable, "-m", "runtime", "search", "someone kicks a ball", "--index", str(built),
            "--bundle", str(default_bundle_path()), "--json", "--top", "3"]
    on = json.loads(subprocess.run(base, capture_output=True, text=True, check=True).stdout)
    off = json.loads(subprocess.run(base + ["--no-fusion"], capture_output=True, text=True, check=True).stdout)
    assert all("maxsim" in h and "description_score" in h for h in on)
    assert all("maxsim" not in h for h in off)
    assert "_kick_" in on[0]["path"] and "_kick_" not in off[0]["path"]


def test_a_v5_index_is_upgraded_in_place_and_described_without_encoding(built, library, bundle, tmp_path,
                                                                       monkeypatch):
    old = tmp_path / "v5"
    shutil.copytree(built, old)
    meta = json.loads((old / "metadata.json").read_text())
    for chunk in meta["chunks"]:  # what v5 wrote: no texts, no vectors
        d = old / chunk
        (d / "sentences.npy").unlink()
        clips = d / "clips.json"
        clips.write_text(json.dumps([{k: v for k, v in c.items() if k != "captions"}
                                     for c in json.loads(clips.read_text())]))
        meta["checksums"][chunk] = chunk_checksums(d)
    meta = {k: v for k, v in meta.items() if k not in ("sentence_encoder", "sentences_files")}
    write_metadata(old, dict(meta, format_version=5))
    patches = {p.relative_to(old): p.read_bytes() for p in old.glob("chunk-*/*.npy")}

    index = LibraryIndex.open(old, bundle)  # upgraded in place: the metadata only
    upgraded = json.loads((old / "metadata.json").read_text())
    assert upgraded["format_version"] == 6 and upgraded["sentence_encoder"] is None
    assert index.sentence_vectors is None and all(c.captions is None for c in index.clips)
    searcher = Searcher(index, bundle)
    assert not searcher.fused and len(searcher.search("a kick", k=3)) == 3  # MaxSim alone meanwhile

    encoded = []
    real = bundle.encode_windows
    monkeypatch.setattr(bundle, "encode_windows", lambda *a, **k: encoded.append(1) or real(*a, **k))
    report = index.update([library], bundle)
    assert not encoded and (report.added, report.unchanged, report.described) == (0, len(CLIPS), len(CLIPS))
    fresh = LibraryIndex.open(old, bundle)
    want = LibraryIndex.open(built, bundle)
    assert np.abs(fresh.sentence_vectors - want.sentence_vectors).max() < 1e-6
    assert [c.captions for c in fresh.clips] == [c.captions for c in want.clips]
    assert Searcher(fresh, bundle).fused
    kept = {p.relative_to(old): p.read_bytes() for p in old.glob("chunk-*/*.npy") if not p.name.startswith("sentences")}
    assert kept == patches  # no patch encoded or rewritten
    assert fresh.update([library], bundle).described == 0  # once only


def test_a_clip_borrows_the_captions_of_the_training_clips_nearest_in_motion(built, library, bundle, tmp_path):
    """The bundle's reference (runtime/model/reference.py): a clip's description vector adds the
    reference's weight times the unit mean caption vector of its `neighbours` nearest training clips
    by motion, and a kick borrows words about kicking. A bundle without the reference makes other
    vectors under another id: an index described with one is described again by the other, never mixed."""
    reference = bundle.reference
    assert reference is not None and reference.neighbours >= 1 and reference.weight > 0
    index = LibraryIndex.open(built, bundle)
    motion = clip_motion_vectors(index.pooled, index.windows[:, 0], len(index.clips))
    assert np.allclose(np.linalg.norm(motion, axis=1), 1.0, atol=1e-5)
    kick = next(k for k, c in enumerate(index.clips) if "kick" in c.label)
    graph = onnx.load(default_bundle_path() / bundle.manifest["reference"]["file"])  # its matrices, by hand
    constants = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in graph.graph.initializer}
    clip_motion, clip_captions = constants["clip_motion"], constants["clip_captions"]
    assert len(clip_motion) == len(clip_captions) == reference.clips > 2000
    nearest = np.argsort(-(clip_motion @ motion[kick]))[: reference.neighbours]
    want = clip_captions[nearest].mean(axis=0)
    want /= np.linalg.norm(want)
    np.testing.assert_allclose(reference.caption_vectors(motion[kick])[0], want, atol=1e-6)
    said = bundle.encode_sentences(["a person kicks", "a person bows", "a person walks"])
    assert np.argmax(said @ want) == 0
    assert not reference.caption_vectors(np.zeros((2, bundle.embed_dim), np.float32)).any()  # no windows: nothing lent

    plain = tmp_path / "bundle"
    shutil.copytree(default_bundle_path(), plain)
    manifest = json.loads((plain / "manifest.json").read_text())
    (plain / manifest["reference"]["file"]).unlink()
    del manifest["files"][manifest["reference"]["file"]], manifest["reference"]
    (plain / "manifest.json").write_text(json.dumps(manifest))
    other = Bundle.load(plain, device="cpu")
    assert other.reference is None and other.model_id == bundle.model_id
    assert other.sentence_id == manifest["sentence_encoder"]["id"] != bundle.sentence_id
    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    index = LibraryIndex.open(copy, other)
    assert not Searcher(index, other).fused  # vectors with the reference's captions are not this bundle's
    assert index.update([library], other).described == len(CLIPS)
    again = LibraryIndex.open(copy, other)
    assert Searcher(again, other).fused
    for k, clip in enumerate(again.clips):
        assert np.abs(again.sentence_vectors[k] - description_vector(other, clip.captions)).max() < 2e-3


def test_vectors_of_another_sentence_encoder_are_redone(built, library, bundle, tmp_path):
    copy = tmp_path / "other"
    shutil.copytree(built, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    write_metadata(copy, dict(meta, sentence_encoder="another-encoder"))
    index = LibraryIndex.open(copy, bundle)
    assert not Searcher(index, bundle).fused  # vectors of another encoder are never mixed with this one's
    assert index.update([library], bundle).described == len(CLIPS)
    assert Searcher(LibraryIndex.open(copy, bundle), bundle).fused
    assert len(list((copy / meta["chunks"][0]).glob("sentences*.npy"))) == 1  # the old file is gone


def test_two_stage_search_adds_the_clips_best_by_description(built, bundle, monkeypatch):
    """In two-stage search the first stage picks the candidates; fusion scores the windows of the
    clips best by description too, so a clip the first stage missed can still come first."""
    import runtime.search.searcher as searcher_module

    index = LibraryIndex.open(built, bundle)
    kick = next(k for k, c in enumerate(index.clips) if "_kick_" in c.label)
    others = np.array([w for w in range(index.num_windows) if index.windows[w, 0] != kick][:2])
    searcher = Searcher(index, bundle, candidates=2)
    monkeypatch.setattr(searcher, "candidate_windows", lambda query, count: others)  # a first stage without it
    monkeypatch.setattr(searcher_module, "EXTRA_CANDIDATES", 1)
    monkeypatch.setattr(searcher_module, "POPULATION_SAMPLE", 0)  # (a sample of 7 clips would hold the kick)
    hits = searcher.search("someone kicks a ball", k=3, exact=False)
    assert "_kick_" in hits[0].label
    plain = Searcher(index, bundle, candidates=2, fusion=False)
    monkeypatch.setattr(plain, "candidate_windows", lambda query, count: others)
    assert all("_kick_" not in h.label for h in plain.search("someone kicks a ball", k=3, exact=False))


def test_two_stage_fused_search_makes_the_description_side_beside_the_stages_on_one_blas_thread(
        built, bundle, monkeypatch, openblas_two_threads):
    """The description scores and the population sample's MaxSim are made on the sentence encoder's
    thread while MaxSim's stages run on the caller's, with numpy's OpenBLAS held to one thread there
    (its second thread, spinning, took the side's core: searcher._two_stage_candidates) and given
    back after; the ranking is that of the same work done in turn."""
    import threading

    import runtime.search.searcher as searcher_module

    get, _ = openblas_two_threads
    monkeypatch.setattr(searcher_module, "candidate_counts", lambda n, k, cells: (2, 2))
    monkeypatch.setattr(searcher_module, "POPULATION_SAMPLE", 3)
    searcher = Searcher(LibraryIndex.open(built, bundle), bundle)
    seen, stages, side = {}, searcher.candidate_windows, searcher.sample_maxsim

    def first_stage(query, count):
        seen["stages"] = threading.current_thread().name, get()
        return stages(query, count)

    def sample_maxsim(query):
        seen["side"] = threading.current_thread().name
        return side(query)

    monkeypatch.setattr(searcher, "candidate_windows", first_stage)
    monkeypatch.setattr(searcher, "sample_maxsim", sample_maxsim)
    query = "someone kicks a ball"
    hits = searcher.search(query, len(CLIPS), exact=False)
    assert seen["stages"] == (threading.current_thread().name, 1) and get() == 2
    assert seen["side"].startswith("motion-search-describe")
    tokens = bundle.encode_query(query)
    desc = searcher.description_scores(bundle.encode_sentences([query])[0])
    windows = np.union1d(searcher._two_stage_candidates(tokens, False, len(CLIPS)), searcher._description_windows(desc))
    in_turn = searcher._fused_hits(windows, searcher.score_windows(tokens, windows), desc, len(CLIPS), two_stage=True,
                                   maxsim_like=side(tokens))
    assert [(h.clip_id, h.score) for h in hits] == [(h.clip_id, h.score) for h in in_turn]


def test_the_caller_and_the_beside_thread_work_on_different_cpus_and_the_caller_gets_its_cpus_back(monkeypatch):
    """While a fused search's two threads work together the caller is held on its CPU and each job
    of the second thread first moves that thread off it (after a pause the two shared one CPU:
    runtime.search.beside); after, also after an error, the caller has its own CPUs again, and the
    threads of a pool made meanwhile have every CPU."""
    import os

    from runtime.search.beside import current_cpu, holding_caller, submit_beside

    if current_cpu() is None or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs Linux's sched_getcpu and two CPUs this process may use")
    allowed = os.sched_getaffinity(0)
    for _ in range(5):
        with holding_caller():
            held = os.sched_getaffinity(0)
            beside, mask = submit_beside(lambda: (current_cpu(), os.sched_getaffinity(0))).result()
            assert len(held) == 1 and held | mask == allowed and not held & mask and beside in mask
            assert current_cpu() in held
        assert os.sched_getaffinity(0) == allowed
    with pytest.raises(ZeroDivisionError), holding_caller():
        1 / 0
    assert os.sched_getaffinity(0) == allowed

    import runtime.search.searcher as searcher_module  # a pool made while the caller is held (the
    monkeypatch.setattr(searcher_module, "_threads", None)  # sketch stage's, at a first large library)
    with holding_caller():
        pool = searcher_module._pool()
        masks = list(pool.map(lambda _: os.sched_getaffinity(0), range(4)))
    pool.shutdown()
    assert masks == [allowed] * 4  # its threads did not inherit the one CPU


def test_two_stage_fused_search_standardises_as_over_every_clip(built, bundle, monkeypatch):
    """Two-stage search scores only some clips; its fused score standardises MaxSim with the mean and
    deviation of a fixed random sample of clips (scored beside the stages), and the descriptions with
    every clip's, as exact search does over every clip (standardised over the candidates, the best by
    MaxSim, it kept 0.669 of exact search's fused top 10 at 10k clips: bench/bench_fusion.py). With
    every clip in the sample it gives exact search's scores."""
    import runtime.search.searcher as searcher_module

    index = LibraryIndex.open(built, bundle)
    monkeypatch.setattr(searcher_module, "candidate_counts", lambda n, k, cells: (2, 2))  # two candidate windows
    query = "someone kicks a ball"
    searcher = Searcher(index, bundle)
    assert len(searcher.population_sample()) == len(CLIPS)  # a sample of 128: every clip of 7
    exact, two = searcher.search(query, len(CLIPS), exact=True), searcher.search(query, len(CLIPS), exact=False)
    assert [h.clip_id for h in two] == [h.clip_id for h in exact]
    np.testing.assert_allclose([h.score for h in two], [h.score for h in exact], atol=1e-5)

    monkeypatch.setattr(searcher_module, "POPULATION_SAMPLE", 3)
    monkeypatch.setattr(searcher_module, "EXTRA_CANDIDATES", 1)
    searcher = Searcher(index, bundle)
    sample = searcher.population_sample()
    assert len(sample) == 3 and list(sample) == sorted(sample) and np.array_equal(sample, searcher.population_sample())
    hits = searcher.search(query, len(CLIPS), exact=False)
    row = {c.id: k for k, c in enumerate(index.clips)}
    desc = searcher.description_scores(bundle.encode_sentences([query])[0])
    alone = Searcher(index, bundle, fusion=False).search(query, len(CLIPS), exact=True)
    every = {row[h.clip_id]: h.score for h in alone}
    sampled = np.array([every[c] for c in sample.tolist()])  # the sample's MaxSim, as exact search scores it
    np.testing.assert_allclose(searcher.sample_maxsim(bundle.encode_query(query)), sampled, atol=1e-5)
    assert len(hits) < len(CLIPS)  # the candidates and the best by description only
    maxsim, described = np.array([h.maxsim for h in hits]), np.array([h.description_score for h in hits])
    want = fuse(maxsim, described, searcher.fusion_weight, maxsim_like=sampled, description_like=desc)
    np.testing.assert_allclose([h.score for h in hits], want, atol=1e-5)
    assert want[0] != fuse(maxsim, described)[0]


def test_a_description_vector_that_is_not_finite_counts_as_none(built, bundle, tmp_path, monkeypatch):
    """A stored description vector with a NaN or inf (nothing this version writes; a file written by
    something else, its checksum made to match) is read as no vector: the clip is neutral and every
    other clip keeps its fused score, where NaN would have made every standardised score NaN."""
    import runtime.index.store as store_module

    copy = tmp_path / "nan"
    shutil.copytree(built, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    chunk = meta["chunks"][0]
    name = meta.get("sentences_files", {}).get(chunk, "sentences.npy")
    vectors = np.load(copy / chunk / name)
    kick = next(k for k, c in enumerate(LibraryIndex.open(built, bundle).clips) if "_kick_" in c.label)
    nan, inf = [k for k in range(len(CLIPS)) if k != kick][:2]
    vectors[nan, 5], vectors[inf, :] = np.nan, np.inf
    np.save(copy / chunk / name, vectors)
    meta["checksums"][chunk] = chunk_checksums(copy / chunk)
    write_metadata(copy, meta)
    monkeypatch.setattr(store_module, "SENTENCE_BLOCK", 2)  # checked a few vectors at a time: the same
    index = LibraryIndex.open(copy, bundle)
    assert index.has_sentence.tolist() == [k not in (nan, inf) for k in range(len(CLIPS))]
    assert np.isfinite(index.sentence_vectors.astype(np.float32)).all()
    hits = Searcher(index, bundle).search("someone kicks a ball", k=len(CLIPS))
    assert len(hits) == len(CLIPS) and all(np.isfinite(h.score) for h in hits) and "_kick_" in hits[0].label


def test_description_scores_on_int8_copies_match_float32_and_a_clip_without_vector_is_neutral(built, bundle,
                                                                                             monkeypatch):
    """Search scores descriptions on int8 copies of the vectors (fusion.DescriptionScorer): within
    0.005 of float32's cosines, the same order here, and a clip without a vector gets the others' mean."""
    import runtime.search.fusion as fusion_module
    from runtime.search import DescriptionScorer, description_scores

    index = LibraryIndex.open(built, bundle)
    vectors, has = index.sentence_vectors.copy(), index.has_sentence.copy()
    queries = bundle.encode_sentences(["someone kicks a ball", "a quick dash", "a polite bow"])
    scorer = DescriptionScorer(vectors, has)
    got = scorer.scores(queries)
    want = np.stack([description_scores(vectors, has, q) for q in queries])
    assert got.shape == (3, len(index.clips)) and np.abs(got - want).max() < 5e-3
    assert all((np.argsort(-g) == np.argsort(-w)).all() for g, w in zip(got, want))
    np.testing.assert_allclose(scorer.scores(queries[0]), got[0])  # one vector: (clips,)
    monkeypatch.setattr(fusion_module, "BLOCK", 2)  # the copies made a few vectors at a time: the same bytes
    blocked = DescriptionScorer(vectors, has)
    assert np.array_equal(blocked.codes_t, scorer.codes_t) and np.array_equal(blocked.scales, scorer.scales)
    assert np.abs(scorer.vector(3) - vectors[3].astype(np.float32)).max() < 5e-3  # a copy, decoded
    vectors[2], has[2] = 0.0, False
    one = DescriptionScorer(vectors, has).scores(queries[0])
    assert one[2] == pytest.approx(np.delete(one, 2).mean(), abs=1e-6)


def test_a_fused_search_fails_as_maxsim_fails_and_leaves_nothing_running(built, bundle, monkeypatch):
    """The query's sentence vector is encoded on a second thread while MaxSim runs: an error in
    MaxSim's stages reaches the caller (after the encoding ended), and the next search works."""
    from runtime.search.beside import submit_beside

    index = LibraryIndex.open(built, bundle)
    searcher = Searcher(index, bundle)
    calls = []

    def broken(query, exact=None, k=10):
        calls.append(query.text)
        raise OSError("disk gone")

    monkeypatch.setattr(searcher, "window_scores", broken)
    bundle.forget_sentences()
    with pytest.raises(OSError, match="disk gone"):
        searcher.search("someone kicks a ball")
    assert calls and submit_beside(lambda: 1).result(timeout=5) == 1  # the thread is free
    assert "someone kicks a ball" in bundle._sentence_cache  # the encoding finished before the error came back
    monkeypatch.undo()
    assert "_kick_" in searcher.search("someone kicks a ball")[0].label

    side = []  # two-stage: the description's side runs beside the stages, and is waited for too
    monkeypatch.setattr(searcher, "candidate_windows", lambda query, count: broken(query))
    monkeypatch.setattr(searcher, "_description_side", lambda *a: side.append(time.sleep(0.2)) or 1 / 0)
    with pytest.raises(OSError, match="disk gone"):
        searcher.search("someone bows", exact=False)
    assert side and submit_beside(lambda: 1).result(timeout=5) == 1
    monkeypatch.undo()
    assert "_kick_" in searcher.search("someone kicks a ball", exact=False)[0].label


def test_the_encoders_a_search_runs_do_not_spin_and_the_sentence_encoder_takes_one_thread(bundle):
    """The text encoder runs just before the search's stages and the sentence encoder beside them:
    threads busy-waiting after a call would take a core from them (bench/bench_fusion.py)."""
    for session in (bundle.text_session, bundle.sentence_session):
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert bundle.sentence_session.get_session_options().intra_op_num_threads == 1
