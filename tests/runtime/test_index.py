"""The library index: incremental updates, failures kept and reported, atomic chunks that survive
a killed update, and clear errors for damaged or mismatched indexes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from runtime.errors import LibraryIndexError, StaleIndexError
from runtime.hashing import motion_hash
from runtime.index import LibraryIndex, write_metadata
from runtime.library import MotionItem
from runtime.model import Bundle
from runtime.motion import load_motion


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return Bundle.load(tiny_bundle, device="cpu")


@pytest.fixture()
def library(tmp_path, bandai2, cmu_bvh):
    """20 real Bandai clips, one long CMU clip, one broken file."""
    lib = tmp_path / "library"
    (lib / "sub").mkdir(parents=True)
    for f in sorted(bandai2.glob("dataset-2_*_normal_00[1-2].bvh")):
        shutil.copy(f, lib / f.name)
    shutil.copy(cmu_bvh / "mb-fairmotion" / "01_01.bvh", lib / "sub" / "01_01.bvh")
    (lib / "sub" / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    return lib


def test_build_search_data_and_report(library, bundle, tmp_path):
    index = LibraryIndex.create(tmp_path / "idx", bundle)
    seen = []
    report = index.update([library], bundle, progress=lambda d, t, n: seen.append((d, t)))
    assert report.added == 21 and len(report.failed) == 1  # the broken file is failed, not added
    assert "broken.bvh:4: OFFSET needs 3 numbers" in report.failed[0][1]
    assert seen[-1] == (22, 22)
    index = LibraryIndex.open(tmp_path / "idx", bundle)
    ok = index.ok_clips
    assert len(index.clips) == 22 and len(ok) == 21
    failed = [c for c in index.clips if c.status == "failed"]
    assert failed[0].path.endswith("broken.bvh") and "OFFSET" in failed[0].error
    cmu = next(c for c in ok if c.label == "01_01")
    assert cmu.window_count == 4 and cmu.first_source_frame == 1  # 458 frames: 4 overlapping windows
    for c in ok:
        w = index.windows[c.window_start: c.window_start + c.window_count]
        assert (index.windows[c.window_start: c.window_start + c.window_count, 0] == index.clips.index(c)).all()
        assert w[:, 1].min() == 0 and (w[:, 1] + w[:, 2]).max() == c.frames
    # stored patches decode close to what the encoder gives (int8 codec)
    clip = next(c for c in ok if c.label.startswith("dataset-2_walk_normal_001"))
    _, fresh = bundle.encode_motion(load_motion(clip.path))
    stored, _ = index.window_patches([clip.window_start])
    assert stored.shape == fresh[0].shape
    assert np.abs(np.sum(stored * fresh[0], axis=1) - 1).max() < 3e-3  # int8 with a per-patch scale
    assert json.loads((tmp_path / "idx" / "report.json").read_text())["added"] == 21


def test_updates_are_incremental(library, bundle, tmp_path):
    index = LibraryIndex.create(tmp_path / "idx", bundle)
    index.update([library], bundle)
    again = index.update([library], bundle)
    # the broken file is tried again (a failure may not be the file's fault) and is still listed as failed
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 21)
    assert [p for p, _ in again.failed] == [str(library / "sub" / "broken.bvh")]
    walk = library / "dataset-2_walk_normal_001.bvh"
    os.utime(walk, ns=(1, 1))  # touched, same content: hashed, still unchanged
    assert index.update([library], bundle).unchanged == 21
    with open(walk, "a") as f:
        f.write("\n")  # new content
    r = index.update([library], bundle)
    assert (r.added, r.updated, r.unchanged) == (0, 1, 20)
    (library / "dataset-2_run_normal_001.bvh").unlink()
    r = index.update([library], bundle)
    assert r.removed == 1 and len(LibraryIndex.open(tmp_path / "idx").clips) == 21
    # a frame-rate override is part of a clip's identity
    r = index.update([library], bundle, fps_of=lambda p: 60.0 if p.endswith("01_01.bvh") else None)
    assert r.updated == 1
    assert next(c for c in index.clips if c.label == "01_01").source_fps == 60.0


def test_in_memory_motions_are_indexed_by_id(library, bundle, tmp_path):
    m = load_motion(library / "dataset-2_wave-left-hand_normal_001.bvh")
    item = MotionItem("blend:Wave", m, motion_hash(m), "Wave")
    index = LibraryIndex.create(tmp_path / "idx", bundle)
    r = index.update([], bundle, motions=[item])
    assert r.added == 1 and index.clips[0].id == "blend:Wave" and index.clips[0].path == ""
    assert index.update([], bundle, motions=[item]).unchanged == 1
    assert index.update([], bundle, motions=[]).removed == 1


def test_cancel_keeps_what_was_done(library, bundle, tmp_path):
    index = LibraryIndex.create(tmp_path / "idx", bundle)
    calls = []
    r = index.update([library], bundle, chunk_clips=5, should_stop=lambda: len(calls) >= 7,
                     progress=lambda d, t, n: calls.append(d))
    assert r.cancelled and len(LibraryIndex.open(tmp_path / "idx").clips) == 7
    r = index.update([library], bundle)
    assert r.added + len(r.failed) == 15 and r.unchanged == 7


KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from runtime.model import Bundle
    from runtime.index import LibraryIndex
    saves = []
    real_save = np.save
    def save(path, arr, *a, **k):
        saves.append(str(path))
        if str(path).endswith("codes.npy") and sum(s.endswith("codes.npy") for s in saves) == 3:
            real_save(path, arr[: len(arr) // 2])       # half a file, then the power goes out
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(path, arr, *a, **k)
    np.save = save
    bundle = Bundle.load(sys.argv[1], device="cpu")
    LibraryIndex.open_or_create(sys.argv[2], bundle).update([sys.argv[3]], bundle, chunk_clips=4)
""")


def test_a_killed_update_leaves_a_usable_index(library, tiny_bundle, bundle, tmp_path):
    idx = tmp_path / "idx"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(tiny_bundle), str(idx), str(library)],
                          capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    assert any(p.name.startswith(".tmp-") for p in idx.iterdir())  # the interrupted chunk
    index = LibraryIndex.open(idx, bundle)
    assert len(index.clips) == 8  # the two chunks written before the kill
    r = index.update([library], bundle)
    assert r.added + len(r.failed) == 14 and r.unchanged == 8
    assert not any(p.name.startswith(".tmp-") for p in idx.iterdir())
    assert len(LibraryIndex.open(idx, bundle).clips) == 22


def test_damaged_or_foreign_indexes_are_refused_clearly(library, bundle, tiny_bundle, tmp_path):
    idx = tmp_path / "idx"
    LibraryIndex.create(idx, bundle).update([library], bundle)
    chunk = next(p for p in idx.iterdir() if p.name.startswith("chunk-"))
    codes = chunk / "codes.npy"
    data = codes.read_bytes()
    codes.write_bytes(data[: len(data) // 3])
    with pytest.raises(LibraryIndexError, match="codes.npy: damaged index file.*--rebuild"):
        LibraryIndex.open(idx, bundle)
    with pytest.raises(LibraryIndexError, match="damaged index file"):  # never replaced on its own
        LibraryIndex.open_or_create(idx, bundle, replace_stale=True)
    (idx / "metadata.json").write_text("{ not json")
    with pytest.raises(LibraryIndexError, match="unreadable"):
        LibraryIndex.open(idx, bundle)
    with pytest.raises(LibraryIndexError, match="no index here"):
        LibraryIndex.open(tmp_path / "elsewhere")
    other = tmp_path / "idx2"
    LibraryIndex.create(other, bundle)
    meta = json.loads((other / "metadata.json").read_text())
    meta["model_id"] = "0123456789abcdef"
    write_metadata(other, meta)
    with pytest.raises(StaleIndexError, match="built with model 0123456789abcdef.*encode the library again"):
        LibraryIndex.open(other, bundle)
    meta["model_id"], meta["format_version"] = bundle.model_id, 7
    write_metadata(other, meta)
    with pytest.raises(LibraryIndexError, match="format v7 is newer"):
        LibraryIndex.open(other, bundle)
    with pytest.raises(LibraryIndexError, match="format v7 is newer"):  # a newer index is never thrown away
        LibraryIndex.open_or_create(other, bundle, replace_stale=True)


def test_an_index_of_another_model_is_replaced_when_updating(library, bundle, tmp_path):
    idx = tmp_path / "idx"
    LibraryIndex.create(idx, bundle, codec="int4").update([library], bundle)
    meta = json.loads((idx / "metadata.json").read_text())
    write_metadata(idx, dict(meta, model_id="0123456789abcdef"))
    with pytest.raises(StaleIndexError):
        LibraryIndex.open_or_create(idx, bundle)
    index = LibraryIndex.open_or_create(idx, bundle, replace_stale=True)
    assert index.replaced.startswith("0123456789abcdef") and index.codec == "int4" and not index.clips
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "library"]  # the old one is gone
    assert sorted(p.name for p in idx.iterdir()) == [".lock", "metadata.json"]
    report = index.update([library], bundle)
    assert report.added == len(LibraryIndex.open(idx, bundle).ok_clips) == 21 and report.unchanged == 0


def test_a_users_bone_map_lets_an_unknown_rig_in(bundle, bandai2, tmp_path):
    import re

    lib = tmp_path / "custom"
    lib.mkdir()
    text = (bandai2 / "dataset-2_walk_normal_001.bvh").read_text()
    (lib / "custom.bvh").write_text(re.sub(r"\bUpperLeg_L\b", "ThighLeft", text))
    index = LibraryIndex.create(tmp_path / "idx", bundle)
    r = index.update([lib], bundle)
    assert r.added == 0 and "left_hip" in r.failed[0][1] and "--rig-map" in r.failed[0][1]
    r = index.update([lib], bundle, rig_overrides={"left_hip": ["ThighLeft"]})
    assert r.updated == 1 and not r.failed  # the map changes how the file reads: read again
    assert index.clips[0].status == "ok" and index.clips[0].rig == "bandai+user"
    assert index.update([lib], bundle, rig_overrides={"left_hip": ["ThighLeft"]}).unchanged == 1
