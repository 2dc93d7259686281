"""`python -m runtime describe` on real clips: the sentence, events in frames of the source file,
frame ranges of a long CMU trial, clear errors, and ranking sentences with the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runtime import shared_data
from runtime.model import default_bundle_path

WAVE = "dataset-2_wave-right-hand_active_001.bvh"  # 30 fps, 179 frames


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "runtime", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def cmu_long(cmu_bvh):
    path = cmu_bvh / "mb-fairmotion" / "01_01.bvh"  # 2,752 frames, frame 0 an added rest pose
    return path, shared_data.cmu_fps(path)


def test_describe_a_wave_in_words_and_source_frames(bandai2):
    clip = bandai2 / WAVE
    r = _cli("describe", clip, "--bundle", "no-such-bundle")  # no model needed: never loaded
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "right" in lines[0] and "wave" in lines[0].lower()  # the summary comes first
    captions = lines[lines.index("captions:") + 1: lines.index("captions:") + 6]
    assert len(captions) == 5 and all(c.startswith("  ") and c.strip() for c in captions)  # default: 5
    assert any(ln.split()[:2] == ["wave", "right"] and " frames " in ln for ln in lines)

    r = _cli("describe", clip, "--json", "--captions", 2, "--seed", 3)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["source_fps"] == 30.0 and d["file"].endswith(WAVE) and len(d["captions"]) == 2
    assert (d["start_frame"], d["end_frame"]) == (0, 178)
    wave = next(e for e in d["events"] if e["kind"] == "wave")
    assert wave["side"] == "right"
    # 20 fps frames [start, end) of the clip -> frames of the 30 fps file, last one included
    assert wave["start_frame"] == round(wave["start"] * 1.5) and wave["end_frame"] == round((wave["end"] - 1) * 1.5)
    assert 0 <= wave["start_frame"] < wave["end_frame"] <= 178
    for link in d["captions"][0]["links"]:
        assert link["source_frames"] == [round(link["frames"][0] * 1.5), round((link["frames"][1] - 1) * 1.5)]
    assert json.loads(_cli("describe", clip, "--json", "--captions", 2, "--seed", 3).stdout) == d  # reproducible


def test_a_frame_range_of_a_long_trial(cmu_long):
    path, fps = cmu_long
    r = _cli("describe", path, "--fps", fps, "--start", 600, "--end", 1500, "--json", "--captions", 0)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    step = fps / 20  # source frames per 20 fps frame
    assert abs(d["start_frame"] - 600) <= step / 2 and abs(d["end_frame"] - 1500) <= step / 2
    assert d["end"] - d["start"] == pytest.approx(900 / step, abs=1.5)
    assert d["events"] and d["summary"]
    for e in d["events"]:
        assert d["start"] <= e["start"] < e["end"] <= d["end"]
        assert d["start_frame"] <= e["start_frame"] <= e["end_frame"] <= d["end_frame"]
    whole = json.loads(_cli("describe", path, "--fps", fps, "--json", "--captions", 0).stdout)
    assert whole["start_frame"] == 1  # the rest pose (frame 0) is not motion
    assert 2751 - step < whole["end_frame"] <= 2751  # the last frame on the 20 fps grid
    assert whole["summary"] != d["summary"]


@pytest.mark.parametrize("start, end, message", [
    (600, 610, "too short to describe"),
    (900, 600, "--start 900 must come before --end 600"),
    (0, 99_999, "outside the file's frames 0-2751"),
])
def test_bad_ranges_are_one_error_line_naming_the_file(cmu_long, start, end, message):
    path, fps = cmu_long
    r = _cli("describe", path, "--fps", fps, "--start", start, "--end", end)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith(f"error: {path}: ") and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_or_unreadable_files(tmp_path):
    r = _cli("describe", tmp_path / "missing.bvh")
    assert r.returncode == 1 and "missing.bvh" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    r = _cli("describe", tmp_path / "broken.bvh")
    assert r.returncode == 1 and r.stderr.startswith(f"error: {tmp_path / 'broken.bvh'}")
    assert "Traceback" not in r.stderr


def test_rank_sentences_with_the_model(bandai2, tmp_path):
    sentences = tmp_path / "mine.txt"
    sentences.write_text("a person waves the right hand\n\na person walks forward\n")
    bundle = default_bundle_path()
    r = _cli("describe", bandai2 / WAVE, "--rank", sentences, "--captions", 3, "--json", "--bundle", bundle)
    assert r.returncode == 0, r.stderr
    ranked = json.loads(r.stdout)["ranked"]
    scores = [x["score"] for x in ranked]
    assert scores == sorted(scores, reverse=True)
    whose = {x["text"]: x["from"] for x in ranked}
    assert whose["a person walks forward"] == "yours" and whose["a person waves the right hand"] == "yours"
    assert sum(w == "describer" for w in whose.values()) >= 1
    assert ranked[-1]["text"] == "a person walks forward"  # the one sentence that does not fit the clip

    r = _cli("describe", bandai2 / WAVE, "--rank", sentences, "--captions", 3, "--bundle", bundle)
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("sentences ranked by the model")[1].splitlines()[1:]
    assert len(table) == len(ranked)
    assert all(float(row.split()[0]) == pytest.approx(x["score"], abs=1e-3) for row, x in zip(table, ranked))
    assert {row.split()[1] for row in table} == {"yours", "describer"}
    r = _cli("describe", bandai2 / WAVE, "--rank", tmp_path / "none.txt", "--bundle", bundle)
    assert r.returncode == 1 and "none.txt" in r.stderr
