"""Search, explanations and the command line on real clips (plumbing with the tiny bundle)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from runtime.index import LibraryIndex
from runtime.model import Bundle
from runtime.motion import load_motion
from runtime.search import Searcher, explain, explain_motion, rank_captions


@pytest.fixture(scope="module")
def library(tmp_path_factory, bandai2, cmu_bvh):
    lib = tmp_path_factory.mktemp("lib")
    for f in sorted(bandai2.glob("dataset-2_*_active_00[1-3].bvh")):
        shutil.copy(f, lib / f.name)
    shutil.copy(cmu_bvh / "daz-scaled-beemsoft" / "60" / "60_01_scaled.bvh", lib / "60_01_scaled.bvh")
    (lib / "broken.bvh").write_text("HIERARCHY\n")
    return lib


@pytest.fixture(scope="module")
def built(library, tiny_bundle, tmp_path_factory):
    bundle = Bundle.load(tiny_bundle, device="cpu")
    index = LibraryIndex.create(tmp_path_factory.mktemp("idx") / "index", bundle)
    index.update([library], bundle, fps_of=lambda p: 60.0 if p.endswith("60_01_scaled.bvh") else None)
    return bundle, index


def test_exact_and_two_stage_search_agree_when_every_window_is_a_candidate(built):
    bundle, index = built
    searcher = Searcher(index, bundle, candidates=index.num_windows)
    exact = searcher.search("someone waves the right hand energetically", k=10, exact=True)
    staged = searcher.search("someone waves the right hand energetically", k=10, exact=False)
    assert [h.clip_id for h in exact] == [h.clip_id for h in staged]
    assert len({h.clip_id for h in exact}) == 10  # one hit per clip
    assert all(a.score >= b.score for a, b in zip(exact, exact[1:]))
    with pytest.raises(ValueError, match="empty"):
        searcher.search("   ")


def test_hit_frames_are_frames_of_the_source_file(built):
    bundle, index = built
    hits = Searcher(index, bundle).search("a person dances salsa", k=31)
    salsa = next(h for h in hits if h.label == "60_01_scaled")
    entry = next(c for c in index.clips if c.label == "60_01_scaled")
    assert salsa.fps == 60.0 and entry.first_source_frame == 1  # 120 fps claimed, 60 real; rest frame dropped
    # a window of 224 frames at 20 fps spans 224 * 3 - 2 source frames at 60 fps
    assert salsa.end_frame - salsa.start_frame == (salsa.length - 1) * 3
    assert 1 <= salsa.start_frame and salsa.end_frame < entry.source_frames
    assert salsa.start_frame == 1 + salsa.start * 3


@pytest.fixture(scope="module")
def built_shipped(library, tmp_path_factory):
    """The same library indexed with the shipped model: a 40-step tiny model's near-equal
    similarities let int8 rounding flip a word's best patch, a trained model's do not."""
    from runtime.model import default_bundle_path

    bundle = Bundle.load(default_bundle_path(), device="cpu")
    index = LibraryIndex.create(tmp_path_factory.mktemp("idx") / "index", bundle)
    index.update([library], bundle, fps_of=lambda p: 60.0 if p.endswith("60_01_scaled.bvh") else None)
    return bundle, index


def test_explanations_name_a_part_and_frames_for_every_word(built_shipped, bandai2):
    bundle, index = built_shipped
    text = "an energetic person raises the left hand"
    hit = Searcher(index, bundle).search(text, k=1)[0]
    e = explain(bundle, text, hit, index)
    assert [w.word for w in e.words] == text.split()
    for w in e.words:
        assert w.part in {"shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "knee_l", "knee_r", "ankle_l", "ankle_r",
                          "hip_l", "hip_r", "lumbar", "neck", "pelvis_translation", "pelvis_rotation"}
        assert hit.start_frame <= w.start_frame <= w.end_frame <= hit.end_frame
    assert e.heatmap.shape == (22, hit.length) and 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0
    assert max(e.joint_strength.values()) == pytest.approx(1.0)
    direct = explain_motion(bundle, text, load_motion(hit.path))
    assert [w.part for w in direct.words] == [w.part for w in e.words]  # stored (int8) vs fresh patches


def test_motion_to_text_ranks_captions(built, bandai2):
    bundle, _ = built
    ranked = rank_captions(bundle, load_motion(bandai2 / "dataset-2_run_active_001.bvh"),
                           ["a person runs", "someone bows", "a person waves the left hand"])
    assert sorted(c for c, _ in ranked) == sorted(["a person runs", "someone bows", "a person waves the left hand"])
    assert ranked[0][1] >= ranked[1][1] >= ranked[2][1]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *map(str, args)], capture_output=True, text=True)


def test_command_line(library, tiny_bundle, tmp_path):
    idx = tmp_path / "index"
    r = _cli("index", library, "--index", idx, "--bundle", tiny_bundle, "--jobs", 1)
    assert r.returncode == 0, r.stderr
    assert "31 added" in r.stdout and "1 failed" in r.stdout and "broken.bvh" in r.stdout
    r = _cli("search", "a person walks energetically", "--index", idx, "--bundle", tiny_bundle, "--top", 3, "--json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 3 and all(set(h) == {"path", "start_frame", "end_frame", "fps", "score", "description"}
                              for h in hits)
    assert hits[0]["score"] >= hits[1]["score"] and hits[0]["path"].endswith(".bvh")
    assert all(isinstance(h["description"], str) for h in hits) and any(h["description"] for h in hits)
    queries = tmp_path / "q.txt"
    queries.write_text("a person runs\n\nsomeone raises both hands\n")
    r = _cli("search", "--queries", queries, "--index", idx, "--bundle", tiny_bundle, "--top", 2)
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and len(lines) == 2 and all(len(json.loads(ln)) == 2 for ln in lines)
    r = _cli("search", "a person runs", "--index", idx, "--bundle", tiny_bundle)
    assert r.returncode == 0 and " 1. " in r.stdout and "frames" in r.stdout
    png = tmp_path / "why.png"
    r = _cli("explain", "someone raises the right hand", library / "dataset-2_raise-up-right-hand_active_001.bvh",
             "--png", png, "--bundle", tiny_bundle)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "right" in r.stdout
    r = _cli("search", "a person runs", "--index", tmp_path / "nothing", "--bundle", tiny_bundle)
    assert r.returncode == 1 and "no index here" in r.stderr and "Traceback" not in r.stderr
    r = _cli("search", "a person runs", "--index", idx, "--bundle", tmp_path / "no-bundle")
    assert r.returncode == 1 and "model bundle not found" in r.stderr


def test_cuda_request_falls_back_to_cpu_and_says_so(tiny_bundle):
    bundle = Bundle.load(tiny_bundle, device="cuda")  # this machine has no GPU
    assert bundle.provider == "CPUExecutionProvider" and bundle.provider_note.startswith("CPU (")
    assert np.isfinite(bundle.encode_query("a person jumps").tokens).all()
