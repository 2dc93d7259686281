"""Files in a library folder that the index does not read are counted and named, never skipped silently."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from types import SimpleNamespace

from runtime import cli
from runtime.io import CACHE_FORMAT, NO_BLENDER, cache_path, find_converter, split_clip_id
from runtime.library import HIDDEN, other_files_text, prune_cache, scan


def _library(root, bandai2):
    (root / "sub").mkdir(parents=True)
    os.symlink(bandai2 / "dataset-2_wave-right-hand_normal_001.bvh", root / "wave.bvh")
    (root / "wave.json").write_text("{}")
    (root / "sub" / "readme.txt").write_text("notes")
    (root / "sub" / "take.fbx").write_bytes(b"Kaydara FBX Binary  \x00")  # Blender would be needed
    (root / "scene.gltf").write_text("{}")
    (root / "scene.bin").write_bytes(b"\x00")  # the glTF's buffer: read with it
    (root / "skeleton.asf").write_text(":version 1.10\n")  # read with AMC files
    (root / ".DS_Store").write_bytes(b"\x00")  # hidden
    return root


def test_scan_sorts_files_into_read_by_us_by_blender_and_not_read(tmp_path, bandai2):
    lib = _library(tmp_path / "lib", bandai2)
    found = scan(lib)
    assert found.motion == [str(lib / "wave.bvh")]
    assert found.scene == [str(lib / "scene.gltf"), str(lib / "sub" / "take.fbx")]
    assert found.other == [str(lib / "wave.json"), str(lib / "sub" / "readme.txt")]
    assert other_files_text(found.other, show=1) == "2 other files not read (1 .json, 1 .txt): wave.json, ... (1 more)"
    assert found.skipped == [(str(lib / ".DS_Store"), HIDDEN)]
    assert split_clip_id(str(lib / "sub" / "take.fbx") + "#Take 001") == (str(lib / "sub" / "take.fbx"), "Take 001")
    assert split_clip_id(str(lib / "wave.bvh")) is None


def test_index_report_names_the_files_it_did_not_read(tmp_path, bandai2, monkeypatch, capsys):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no `blender` to find
    monkeypatch.delenv("MOTION_SEARCH_BLENDER", raising=False)
    assert find_converter() is None  # the main environment has no bpy
    lib = _library(tmp_path / "lib", bandai2)
    index = tmp_path / "index"
    assert cli.main(["index", str(lib), "--index", str(index), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 added, 0 updated, 0 removed, 0 unchanged, 0 failed, 5 files not read" in out
    assert f"{NO_BLENDER}: {lib / 'scene.gltf'}" in out and f"{NO_BLENDER}: {lib / 'sub' / 'take.fbx'}" in out
    assert "2 other files not read (1 .json, 1 .txt): wave.json, readme.txt" in out
    assert "1 hidden file or folders skipped: .DS_Store" in out
    report = json.loads((index / "report.json").read_text())
    assert sorted(map(tuple, report["not_read"])) == sorted([
        (str(lib / "wave.json"), "not a motion file"), (str(lib / "sub" / "readme.txt"), "not a motion file"),
        (str(lib / "scene.gltf"), NO_BLENDER), (str(lib / "sub" / "take.fbx"), NO_BLENDER),
        (str(lib / ".DS_Store"), HIDDEN)])

    assert cli.main(["index", str(lib), "--index", str(index), "--blender", str(tmp_path / "no-blender")]) == 1
    assert "no-blender: Blender not found there" in capsys.readouterr().err


def test_prune_cache_drops_gone_files_and_other_format_versions(tmp_path):
    """Converted files of a clip no longer in the index, or of an older conversion format (never read
    again), are deleted; a live file's current version and its worker's file in progress stay."""
    live, gone = "a" * 40, "b" * 40
    cache = tmp_path / "converted"
    cache.mkdir()
    keep = [cache_path(cache, live), cache / f"{live}-v{CACHE_FORMAT}.npz.123.tmp.npz"]
    drop = [cache_path(cache, gone), cache / f"{live}-v1.npz", cache / f"{live}-v{CACHE_FORMAT - 1}.npz",
            cache / f"{live}-v1.npz.99.tmp.npz"]
    for f in keep + drop:
        f.write_bytes(b"")
    clips = [SimpleNamespace(path="/lib/take.fbx", content_hash=live),
             SimpleNamespace(path="/lib/walk.bvh", content_hash=gone)]  # a BVH keeps no converted file
    assert prune_cache(cache, clips) == len(drop)
    assert sorted(cache.iterdir()) == sorted(keep)
    assert prune_cache(tmp_path / "none", clips) == 0


def test_a_very_deep_folder_tree_is_scanned(tmp_path, bandai2):
    """1,500 nested folders (deeper than Python's recursion limit): the file at the bottom is found."""
    folders = [str(tmp_path / "deep")]
    for _ in range(1500):
        folders.append(os.path.join(folders[-1], "d"))
    for folder in folders:
        os.mkdir(folder)
    try:
        os.symlink(bandai2 / "dataset-2_wave-right-hand_normal_001.bvh", os.path.join(folders[-1], "wave.bvh"))
        found = scan(tmp_path)
        assert found.motion == [os.path.join(folders[-1], "wave.bvh")] and found.skipped == []
    finally:  # bottom up: shutil.rmtree (and pytest's clean-up of old temporary folders) recurses
        for name in ("wave.bvh",):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folders[-1], name))
        for folder in reversed(folders):
            os.rmdir(folder)
