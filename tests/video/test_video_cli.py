"""`python -m runtime video` and `search --like-video` end to end, with the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from runtime import shared_data
from runtime.index import LibraryIndex
from runtime.model import Bundle
from runtime.motion import load_motion

# one take of each content of Bandai-Namco dataset 2, from the test split (the rendered wave is another take)
LIBRARY = ["dataset-2_raise-up-both-hands_normal_006", "dataset-2_raise-up-left-hand_normal_001",
           "dataset-2_raise-up-right-hand_normal_016", "dataset-2_run_normal_020", "dataset-2_walk_normal_002",
           "dataset-2_walk-turn-left_normal_007", "dataset-2_walk-turn-right_normal_017",
           "dataset-2_wave-both-hands_normal_019", "dataset-2_wave-left-hand_normal_002",
           "dataset-2_wave-right-hand_normal_014"]


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    data = shared_data.extracted("bandai-namco-2") / "data"
    files = [data / f"{name}.bvh" for name in LIBRARY]
    missing = [f.name for f in files if not f.is_file()]
    assert not missing, f"test clips missing from the data: {missing}"
    bundle = Bundle.load(None, device="cpu")
    path = tmp_path_factory.mktemp("idx") / "index"
    LibraryIndex.create(path, bundle).update(files, bundle)
    return path


def test_video_writes_a_bvh_of_what_was_understood(cam01, tmp_path):
    out = tmp_path / "cam01.bvh"
    done = run("video", str(cam01), "--out", str(out), "--end", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert "61 frames (60 fps), a person in 61" in done.stderr
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["frames"] == 61 and report["mirrored_frames"] == 0 and report["trimmed"] == 0
    back = load_motion(out)
    assert back.rig == "smpl" and back.source_fps == 20 and back.num_frames == 21
    assert 0.6 < np.ptp(back.positions[:, :, 1]) < 2.2  # a person's height, in metres


def test_video_onto_another_skeleton(cam01, tmp_path):
    target = shared_data.extracted("bandai-namco-1") / "data" / "dataset-1_bow_active_001.bvh"
    out = tmp_path / "on_bandai.bvh"
    done = run("video", str(cam01), "--out", str(out), "--end", "0.5", "--onto", str(target), "--out-fps", "30")
    assert done.returncode == 0, done.stderr
    assert f"on the skeleton of {target}" in done.stdout
    back = load_motion(out)
    assert back.rig == "bandai" and back.source_fps == 30


def test_search_like_video_ranks_the_library(rendered_wave, index_dir):
    video, _ = rendered_wave
    done = run("search", "--like-video", str(video), "--index", str(index_dir), "--top", "3", "--json")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)
    assert len(hits) == 3 and all(h["path"].endswith(".bvh") for h in hits)
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    # a right-hand wave, filmed from the front: another take of a right-hand wave comes first
    assert "wave-right-hand" in hits[0]["path"], [h["path"] for h in hits]
    # ranked with the film's own descriptions too (the describer reads the filmed motion), unless asked not to
    assert all(h.get("description_score") is not None and h.get("maxsim") is not None for h in hits)
    assert hits[0]["description_score"] == max(h["description_score"] for h in hits)
    plain = run("search", "--like-video", str(video), "--index", str(index_dir), "--top", "3", "--json", "--no-fusion")
    assert plain.returncode == 0, plain.stderr
    assert all("maxsim" not in h for h in json.loads(plain.stdout))
    text = run("search", "--like-video", str(video), "--index", str(index_dir), "--top", "2",
               "--start", "0.5", "--end", "2.5")
    assert text.returncode == 0, text.stderr
    assert f'"like the video {video} 0.5-2.5 s"' in text.stdout


def test_search_like_video_errors_are_short_and_name_the_film(index_dir, tmp_path):
    missing = run("search", "--like-video", str(tmp_path / "nope.mp4"), "--index", str(index_dir))
    assert missing.returncode == 1 and "nope.mp4: video file not found" in missing.stderr
    both = run("search", "--like", "a.bvh", "--like-video", "b.mp4")
    assert both.returncode == 2 and "not both" in both.stderr
    frames = run("search", "--like", "a.bvh", "--start", "1.5")
    assert frames.returncode == 2 and "--start with --like is a frame number, not 1.5" in frames.stderr
    wrong_out = run("video", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "x.fbx"))
    assert wrong_out.returncode == 1 and "--out writes a BVH file" in wrong_out.stderr
