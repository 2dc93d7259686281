"""Bone maps in files (Save / Load Bone Map, the library bone map preference) and keys on the
mapped bones only. Real bpy, real Bandai-Namco clips, the shipped model for indexing."""

from __future__ import annotations

import json
import os
import re

import bpy
import numpy as np
import pytest

from runtime.index import LibraryIndex
from runtime.model import default_bundle_path
from runtime.motion import JOINTS

from .conftest import WALK, WAVE, drive_timer, submodule
from .rigs import make_plain_armature, make_rigify_armature
from .test_any_rig import NUMBERED, UNREAL, _wave_and_check


def _entries(obj) -> dict[str, str]:
    obj = bpy.data.objects[obj if isinstance(obj, str) else obj.name]  # undo invalidates references
    return {j: getattr(obj.data.motion_search, j) for j in JOINTS}


def test_save_then_load_round_trips_and_applies(empty_scene, bandai2, tmp_path):
    """A numbered rig mapped by its shape: Save writes every joint, Load sets them all as the
    user's entries (the map no longer depends on detection), and Apply works from them."""
    obj = make_plain_armature("Armature", NUMBERED)
    assert submodule("apply").resolve_map(obj).convention == "shape"
    obj.data.motion_search.head = NUMBERED["head"]  # one entry of the user's own
    path = tmp_path / "numbered map.json"
    assert bpy.ops.motionsearch.bone_map_save('EXEC_DEFAULT', filepath=str(path)) == {'FINISHED'}
    assert json.loads(path.read_text(encoding="utf-8")) == NUMBERED
    assert bpy.ops.motionsearch.bone_map_clear() == {'FINISHED'}
    assert not any(_entries(obj).values())

    bpy.ops.ed.undo_push(message="baseline")
    assert bpy.ops.motionsearch.bone_map_load('EXEC_DEFAULT', True, filepath=str(path)) == {'FINISHED'}
    assert _entries(obj) == NUMBERED
    rigmap = submodule("apply").resolve_map(obj)
    assert submodule("bonemap").describe(rigmap, _entries(obj)) == "Bone map: set by hand"
    assert bpy.ops.ed.undo.poll()
    bpy.ops.ed.undo()  # loading is one undo step
    assert not any(_entries("Armature").values())
    bpy.ops.ed.redo()
    assert _entries("Armature") == NUMBERED
    _wave_and_check(bpy.data.objects["Armature"], bandai2, NUMBERED["right_wrist"], NUMBERED["head"],
                    [NUMBERED[j] for j in ("left_ankle", "right_ankle", "left_foot", "right_foot")])


def test_load_replaces_entries_and_matches_names_as_the_runtime_does(empty_scene, tmp_path):
    """A file written for another export of the rig (`ue:` namespace, other case) loads onto the
    armature's own names; joints left out of the file go back to detection; a joint between two
    bones is left to detection with a warning."""
    obj = make_plain_armature("SK_Mannequin", UNREAL, root="root")
    obj.data.motion_search.left_knee = "calf_l"
    path = tmp_path / "ue.json"
    path.write_text(json.dumps({"left_hip": "ue:THIGH_L", "spine2": ["lerp", "spine_01", "spine_03", 0.5]}))
    assert bpy.ops.motionsearch.bone_map_load('EXEC_DEFAULT', filepath=str(path)) == {'FINISHED'}
    assert {j: b for j, b in _entries(obj).items() if b} == {"left_hip": "thigh_l"}


@pytest.mark.parametrize("case", ["malformed json", "not an object", "unknown joint", "bad entry", "missing bone",
                                  "missing file", "empty"])
def test_bad_bone_map_files_report_and_change_nothing(empty_scene, tmp_path, case):
    obj = make_plain_armature("Armature", NUMBERED)
    obj.data.motion_search.head = NUMBERED["head"]
    path = tmp_path / f"{case}.json"
    content, expected = {
        "malformed json": ('{"left_hip": "Bone.003",', "not valid JSON .*Expecting"),
        "not an object": ('["Bone.003"]', "must hold a JSON object"),
        "unknown joint": ('{"left_thumb": "Bone.003"}', "unknown canonical joint 'left_thumb'"),
        "bad entry": ('{"left_hip": 3}', "entry for 'left_hip' must be a bone name"),
        "missing bone": ('{"left_hip": "Bone.003", "head": "Skull", "left_wrist": "Hand_L"}',
                         "names bones the armature lacks: head -> 'Skull', left_wrist -> 'Hand_L'"),
        "missing file": (None, "cannot read it .*No such file"),
        "empty": ("{}", "holds no joints"),
    }[case]
    if content is not None:
        path.write_text(content)
    bpy.ops.ed.undo_push(message="baseline")
    before = _entries(obj)
    with pytest.raises(RuntimeError, match=f"Bone map file '{re.escape(str(path))}'.*{expected}"):
        bpy.ops.motionsearch.bone_map_load('EXEC_DEFAULT', True, filepath=str(path))
    assert _entries(obj) == before


def test_save_of_an_unmappable_rig_writes_nothing(empty_scene, tmp_path):
    obj = make_plain_armature("SK_Mannequin", UNREAL, root="root")
    obj.data.bones["thigh_l"].name = "qx7"
    obj.data.bones["calf_l"].name = "qx8"
    path = tmp_path / "map.json"
    with pytest.raises(RuntimeError, match="Nothing saved: .*no bone found for Left Hip, Left Knee"):
        bpy.ops.motionsearch.bone_map_save('EXEC_DEFAULT', filepath=str(path))
    assert not path.exists()


# ---------------------------------------------------------------------------------------------
# Apply keys the mapped bones only

FINGERS = {"index_01_l": ("left_wrist", "left_wrist"), "thumb_01_r": ("right_wrist", "right_wrist"),
           "upperarm_twist_01_r": ("right_shoulder", "right_shoulder"), "calf_twist_01_l": ("left_knee", "left_knee"),
           "weapon_r": ("right_wrist", "right_wrist")}


def _channels(action):
    actions = submodule("actions")
    return actions.pose_channels(actions.action_fcurves(action))


def _keyed(action) -> dict[str, set[str]]:
    return {bone: set(ch) for bone, ch in _channels(action).items()}


@pytest.mark.parametrize("as_strip", [False, True])
def test_apply_keys_only_the_mapped_bones(empty_scene, bandai2, as_strip):
    """Fingers, twist bones and a prop get no keys: the pose the user gave them stays."""
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    obj = make_plain_armature("SK_Mannequin", UNREAL, root="root", extra=FINGERS)
    curl = tuple(np.array([0.9, 0.3, 0.2, 0.1]) / np.linalg.norm([0.9, 0.3, 0.2, 0.1]))
    for bone in FINGERS:
        obj.pose.bones[bone].rotation_quaternion = curl
    done = submodule("apply").apply_clip(obj, scene, str(bandai2 / WAVE), as_strip=as_strip)
    keyed = _keyed(bpy.data.actions[done.action])
    assert set(keyed) == set(UNREAL.values()) | {"root"}  # the map's bones and the bone above them
    assert keyed["pelvis"] == {"rotation_quaternion", "location", "scale"}
    for f in (scene.frame_start + 20, done.frame_end - 5):
        scene.frame_set(f)
        for bone in FINGERS:
            assert np.allclose(obj.pose.bones[bone].rotation_quaternion, curl, atol=1e-6), bone
        assert not np.allclose(obj.pose.bones["upperarm_r"].rotation_quaternion, (1, 0, 0, 0), atol=1e-2)


def test_bones_between_mapped_ones_are_keyed_at_rest(empty_scene, bandai2):
    """Rigify's DEF-pelvis.L/R (pelvis to thigh) and DEF-spine.005 (neck to head) are on the map's
    chains: a pose left on them would bend the clip, so they are keyed at their rest pose."""
    scene = empty_scene
    obj = make_rigify_armature(yaw_deg=0.0, scale=1.0, location=(0.0, 0.0, 0.0))
    obj.pose.bones["DEF-spine.005"].rotation_quaternion = (0.9, 0.4, 0.0, 0.0)
    submodule("apply").apply_clip(obj, scene, str(bandai2 / WALK))
    channels = _channels(obj.animation_data.action)
    assert {"DEF-pelvis.L", "DEF-pelvis.R", "DEF-spine.005"} <= set(channels)
    rot = channels["DEF-spine.005"]["rotation_quaternion"]
    assert [rot[i].evaluate(scene.frame_start) for i in range(4)] == [1.0, 0.0, 0.0, 0.0]
    scene.frame_set(scene.frame_start + 5)
    assert np.allclose(obj.pose.bones["DEF-spine.005"].rotation_quaternion, (1.0, 0.0, 0.0, 0.0))


# ---------------------------------------------------------------------------------------------
# Update Index with the library bone map preference

RENAMED = {"UpperLeg_L": "qx7", "LowerArm_R": "zz_02"}  # two joints no table names; too few for the shape
LIBRARY_MAP = {"left_hip": "qx7", "right_elbow": "zz_02"}


@pytest.fixture
def renamed_library(empty_scene, bandai2, tmp_path):
    """A library folder of real Bandai-Namco clips whose left thigh and right forearm were renamed,
    preferences pointing at it and at a fresh index."""
    library = tmp_path / "library"
    library.mkdir()
    for name in (WAVE, WALK):
        text = (bandai2 / name).read_text()
        text = re.sub(r"((?:ROOT|JOINT)\s+)(\S+)", lambda m: m.group(1) + RENAMED.get(m.group(2), m.group(2)), text)
        (library / name).write_text(text)
    bpy.context.scene.motion_search.use_blend_actions = False
    prefs = submodule("preferences").prefs()
    engine = submodule("engine")
    engine.forget()
    saved = (prefs.bundle_path, prefs.index_path, prefs.device, prefs.library_bone_map)
    prefs.bundle_path, prefs.index_path, prefs.device = str(default_bundle_path()), str(tmp_path / "index"), 'CPU'
    folder = prefs.library_folders.add()
    folder.path = str(library)
    yield library
    engine.stop()
    engine.forget()
    prefs.library_folders.clear()
    prefs.bundle_path, prefs.index_path, prefs.device, prefs.library_bone_map = saved
    bpy.context.window_manager.motion_search.index_failed.clear()


def _update_index():
    assert bpy.ops.motionsearch.index_update() == {'FINISHED'}
    drive_timer(submodule("engine").poll_job, timeout=300)
    return bpy.context.window_manager.motion_search


def _ok_clips(tmp_path) -> list[str]:
    return sorted(os.path.basename(c.path) for c in LibraryIndex.open(tmp_path / "index").ok_clips)


def test_library_bone_map_indexes_renamed_rigs(renamed_library, tmp_path):
    prefs = submodule("preferences").prefs()
    st = _update_index()  # without the map: both files fail, saying which joints have no bone
    assert st.index_status.startswith("Index updated:") and " 2 failed" in st.index_status
    assert sorted(os.path.basename(f.path) for f in st.index_failed) == sorted([WAVE, WALK])
    assert all("no bone found for left_hip, right_elbow" in f.message for f in st.index_failed)
    assert _ok_clips(tmp_path) == []

    bad = tmp_path / "broken map.json"
    bad.write_text('{"left_hip": "qx7", "left_thumb": "zz_02"}')
    prefs.library_bone_map = str(bad)
    with pytest.raises(RuntimeError, match=f"Library bone map '{re.escape(str(bad))}': unknown canonical joint "
                                           "'left_thumb'.*indexing did not start"):
        bpy.ops.motionsearch.index_update()
    assert submodule("engine").STATE.job is None

    good = tmp_path / "library map.json"
    good.write_text(json.dumps(LIBRARY_MAP))
    prefs.library_bone_map = str(good)
    st = _update_index()  # a new map reads every file again
    assert st.index_status.startswith("Index updated:") and " 0 failed" in st.index_status
    assert len(st.index_failed) == 0
    assert _ok_clips(tmp_path) == sorted([WAVE, WALK])
    # Apply reads the hit's file with the same library map (else: "no bone found")
    motion = submodule("apply").load_clip(str(renamed_library / WAVE))
    assert motion.num_frames > 10
