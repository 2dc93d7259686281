"""Scene files as people export them: a pelvis connected to its root bone (Blender then ignores the
pelvis's location keys: the walk's root motion is lost unless the converter frees it), and a
single take with a generic name ("Scene", "Take 001") shown under its file's name."""

from __future__ import annotations

import contextlib
import io

import bpy
import numpy as np
import pytest

from runtime.hashing import content_hash
from runtime.index import LibraryIndex
from runtime.io import Converter, convert_files, find_converter
from runtime.model import Bundle, default_bundle_path
from runtime.motion import J, clip_motion, load_motion

from .conftest import import_bvh, make_active

WALK = "dataset-2_walk_normal_001.bvh"  # Bandai 2: about 10 m of root motion, all on the Hips bone


def _travel(positions) -> float:
    p = positions[:, J["pelvis"]]
    return float(np.linalg.norm(p[-1, [0, 2]] - p[0, [0, 2]]))


@pytest.fixture(scope="module")
def connected_walk(addon, bandai2, tmp_path_factory):
    """A .blend whose Hips bone is connected to joint_Root (its head on the root's tail), keyed
    with the BVH's Hips location: what an FBX importer makes of a pelvis sitting on its root."""
    out = tmp_path_factory.mktemp("connected")
    bpy.ops.wm.read_homefile(use_empty=True)
    obj = import_bvh(bandai2 / WALK)
    make_active(obj)
    bpy.ops.object.mode_set(mode='EDIT')
    bones = obj.data.edit_bones
    bones["joint_Root"].tail = bones["Hips"].head
    bones["Hips"].use_connect = True
    bpy.ops.object.mode_set(mode='OBJECT')
    with contextlib.redirect_stdout(io.StringIO()):
        bpy.ops.wm.save_as_mainfile(filepath=str(out / "connected_walk.blend"), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    return out / "connected_walk.blend"


def test_a_connected_pelvis_keeps_its_root_motion(connected_walk, bandai2, tmp_path):
    converter = find_converter()
    assert converter is not None
    path = str(connected_walk)
    got = convert_files([(path, content_hash(path))], converter, tmp_path / "cache")[path]
    assert got.clips, got.error
    clip = got.clips[0]
    motion = clip_motion(clip, f"{path}#{clip.name}")
    want = _travel(load_motion(bandai2 / WALK).positions)
    assert want > 5.0 and _travel(motion.positions) == pytest.approx(want, rel=0.05)


def test_a_single_generic_take_is_shown_with_its_file_name(connected_walk, tmp_path):
    """The .blend's one action is named after the BVH ("dataset-2_walk_normal_001"); a take named
    "Scene" is shown as the file's name, its id keeps the take's name."""
    bpy.ops.wm.open_mainfile(filepath=str(connected_walk))
    (action,) = [a for a in bpy.data.actions]
    action.name = "Scene"
    with contextlib.redirect_stdout(io.StringIO()):
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "take.blend"), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    bundle = Bundle.load(default_bundle_path(), device="cpu")
    index = LibraryIndex.create(tmp_path / "index", bundle)
    index.update([str(tmp_path / "take.blend")], bundle, converter=find_converter())
    (clip,) = index.ok_clips
    assert clip.id == f"{tmp_path / 'take.blend'}#Scene" and clip.label == "take"


def test_a_failed_take_is_retried_and_a_library_bone_map_remaps_indexed_takes(connected_walk, tmp_path):
    """A file whose conversion failed (here: the Blender died at once) is tried again at the next
    update; takes of scene files already indexed follow a changed library bone map (read from the
    conversion cache, no Blender needed)."""
    bundle = Bundle.load(default_bundle_path(), device="cpu")
    index = LibraryIndex.create(tmp_path / "index", bundle)
    files = [str(connected_walk)]
    r = index.update(files, bundle, converter=Converter("/bin/false", is_python=True))
    assert len(r.failed) == 1 and r.failed[0][0] == files[0] and not index.ok_clips
    r = index.update(files, bundle, converter=find_converter())  # not the file's fault: tried again
    assert r.failed == [] and len(index.ok_clips) == 1
    swapped = {"left_wrist": ["Hand_R"], "right_wrist": ["Hand_L"]}  # a deliberate, visible change
    r = index.update(files, bundle, converter=None, rig_overrides=swapped)  # the cache is enough
    assert (r.updated, r.unchanged, r.failed) == (1, 0, [])
    (clip,) = index.ok_clips
    assert clip.rig_map != ""
    assert index.update(files, bundle, converter=None, rig_overrides=swapped).unchanged == 1
    r = index.update(files, bundle, converter=None)  # the map removed: mapped by names again
    assert r.updated == 1 and index.ok_clips[0].rig_map == ""
