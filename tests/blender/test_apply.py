"""Apply: a real clip retargeted onto real rigs, checked on the poses Blender evaluates.

The retarget swings each mapped bone so that it points from its joint to the next mapped joint
of its chain with the clip's direction. That is exact up to float32 keys and quaternion/Euler
round trips (about 1e-5 rad), so the limb directions Blender evaluates must match the clip's
within 0.5 degrees, on rigs whose proportions and rest poses all differ from the performer's.
The only freedom is the facing (the clip starts facing where the rig faces): one yaw angle,
fitted over all frames and segments, then checked against the rig's own facing.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from runtime.motion import J, leg_length, load_motion

from .conftest import BOW, CMU_MB, WALK, WAVE, import_bvh, make_active, submodule
from .rigs import (angles_deg, body_frames, canonical_joints, fit_yaw, make_rigify_armature, rename_bones,
                   segment_dirs, yaw_matrix)

DIRECTION_TOL_DEG = 0.5
TRAJECTORY_TOL = 0.01  # of a leg length


@pytest.fixture(scope="module")
def wave(bandai2):
    return load_motion(bandai2 / WAVE)


@pytest.fixture(scope="module")
def walk(bandai2):
    return load_motion(bandai2 / WALK)


def _fcurve_dump(action):
    """Every F-curve's path, index and key coordinates (to tell whether an action was touched)."""
    fcs = submodule("actions").action_fcurves(action)
    out = {}
    for fc in fcs:
        co = np.empty(len(fc.keyframe_points) * 2, np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out[(fc.data_path, fc.array_index)] = co
    return out


def _check_follows(obj, motion, frames_scene, clip_rows, *, check_pelvis=True):
    """Blender's evaluated joints at `frames_scene` against `motion.positions[clip_rows]`."""
    rigmap = submodule("apply").resolve_map(obj)
    got = canonical_joints(obj, rigmap, frames_scene)
    want = motion.positions[clip_rows].astype(np.float64)
    gd, gl = segment_dirs(got)
    wd, wl = segment_dirs(want)
    usable = (gl > 1e-3 * leg_length(got)) & (wl > 1e-3 * leg_length(want))  # CMU: neck head = chest head
    assert usable.mean() > 0.85
    theta = fit_yaw(wd[usable], gd[usable])
    err = angles_deg(wd @ yaw_matrix(theta).T, gd)
    worst = float(err[usable].max())
    assert worst < DIRECTION_TOL_DEG, f"limb directions off by up to {worst:.3f} deg"
    if check_pelvis:  # pelvis orientation from hips and spine
        rel = body_frames(got) @ np.swapaxes(yaw_matrix(theta) @ body_frames(want), -1, -2)
        angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
        assert angle.max() < DIRECTION_TOL_DEG
        # pelvis trajectory relative to the first frame, in leg lengths
        gp = (got[:, J["pelvis"]] - got[0, J["pelvis"]]) / leg_length(got)
        wp = (want[:, J["pelvis"]] - want[0, J["pelvis"]]) @ yaw_matrix(theta).T / leg_length(want)
        assert np.abs(gp - wp).max() < TRAJECTORY_TOL
    return theta, got


def _set_fps(scene, fps: int) -> None:
    scene.render.fps, scene.render.fps_base = fps, 1.0


@pytest.mark.parametrize("target", ["bandai", "cmu"])
def test_clip_follows_on_imported_rigs(empty_scene, bandai1, cmu_bvh, wave, target):
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW if target == "bandai" else cmu_bvh / CMU_MB)
    previous = obj.animation_data.action
    before = _fcurve_dump(previous)
    _set_fps(scene, 20)  # one key per clip frame
    done = submodule("apply").apply_clip(obj, scene, str(wave.source))
    action = obj.animation_data.action
    assert action is not previous and action.name == done.action == f"{WAVE[:-4]} (motion search)"
    assert done.frame_start == 1 and done.frame_end == wave.num_frames
    assert (scene.frame_start, scene.frame_end) == (1, wave.num_frames)
    # the previous action is kept as it was (and protected from being dropped on save)
    assert previous.name in bpy.data.actions and previous.use_fake_user
    after = _fcurve_dump(previous)
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    rows = np.arange(0, wave.num_frames, 6)
    _check_follows(obj, wave, 1 + rows, rows)


def test_clip_follows_on_rigify_rig_turned_and_scaled(empty_scene, walk):
    scene = empty_scene
    obj = make_rigify_armature(yaw_deg=90.0, scale=1.5, location=(2.0, 1.0, 0.0))
    assert obj.pose.bones["DEF-thigh.L"].rotation_mode == 'QUATERNION'
    rest = {b.name: np.array(obj.matrix_world) @ np.append(b.head_local, 1.0) for b in obj.data.bones}
    _set_fps(scene, 20)
    done = submodule("apply").apply_clip(obj, scene, str(walk.source))
    assert done.placement == "rest"
    rows = np.arange(walk.num_frames)
    theta, got = _check_follows(obj, walk, 1 + rows, rows)
    # the clip starts where the rig stands: pelvis over the rest pelvis, facing the rig's facing (+X)
    pelvis0 = np.array([got[0, J["pelvis"], 0], -got[0, J["pelvis"], 2]])  # back to Blender x, y
    assert np.allclose(pelvis0, rest["DEF-spine"][:2], atol=0.005)
    left = got[0, J["left_hip"]] - got[0, J["right_hip"]]
    forward = np.cross(left, [0.0, 1.0, 0.0])  # canonical: forward = left x up
    facing = math.degrees(math.atan2(forward[0], forward[2]))  # canonical +X (Blender +X): 90 degrees
    assert abs(facing - 90.0) < 3.0


def test_scene_rate_and_frame_range(empty_scene, bandai1, wave):
    """At 30 fps the clip is resampled: every third key lands on a 20 fps clip frame."""
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    _set_fps(scene, 30)
    scene.frame_start = 10
    source = load_motion(wave.source)
    start_src, end_src = 30, 150  # file frames (30 fps): clip rows 20 .. 100
    done = submodule("apply").apply_clip(obj, scene, str(wave.source), start_frame=start_src, end_frame=end_src)
    assert (done.frame_start, done.frame_end) == (10, 10 + 120)
    assert (scene.frame_start, scene.frame_end) == (10, 130)
    keys = sorted({int(k.co[0]) for fc in submodule("actions").action_fcurves(obj.animation_data.action)
                   for k in fc.keyframe_points})
    assert keys == list(range(10, 131))
    rows = np.arange(20, 101, 2)  # clip rows at 20 fps ...
    _check_follows(obj, source, 10 + (rows - 20) * 3 // 2, rows)  # ... are keys 10, 13, 16, ...


def test_markers_replace_only_our_own(empty_scene, bandai1, wave):
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    _set_fps(scene, 30)
    scene.timeline_markers.new("my own marker", frame=5)
    apply = submodule("apply").apply_clip
    apply(obj, scene, str(wave.source), markers=[("MS: wave", 60), ("MS: right hand", 90)])
    names = sorted((m.name, m.frame) for m in scene.timeline_markers)
    assert names == [("MS: right hand", 91), ("MS: wave", 61), ("my own marker", 5)]  # 30 fps file, 30 fps scene
    apply(obj, scene, str(wave.source), start_frame=60, markers=[("MS: hello", 75)])
    names = sorted((m.name, m.frame) for m in scene.timeline_markers)
    assert names == [("MS: hello", 16), ("my own marker", 5)]


def _scene_state(obj_name: str):
    obj = bpy.data.objects[obj_name]  # look up again: undo invalidates Python references
    scene = bpy.context.scene
    return (obj.animation_data.action.name, sorted(a.name for a in bpy.data.actions),
            sorted((m.name, m.frame) for m in scene.timeline_markers), scene.frame_end,
            obj.animation_data.action.use_fake_user)


def test_apply_operator_is_one_undo_step(empty_scene, bandai1, wave):
    obj = import_bvh(bandai1 / BOW)
    name = obj.name
    bpy.ops.ed.undo_push(message="baseline")
    before = _scene_state(name)
    result = bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(wave.source), start_frame=10,
                                        end_frame=120, markers=[{"name": "MS: wave", "frame": 40}])
    assert result == {'FINISHED'}
    after = _scene_state(name)
    # file frame 40 at 30 fps, cut from frame 10, keyed at 24 fps from frame 1: 1 + 30 * 24 / 30
    assert after[0] == f"{WAVE[:-4]} (motion search)" and after[2] == [("MS: wave", 25)]
    assert bpy.ops.ed.undo.poll()
    bpy.ops.ed.undo()
    assert _scene_state(name) == before
    assert not bpy.ops.ed.undo.poll()  # exactly one step
    bpy.ops.ed.redo()
    assert _scene_state(name) == after


def test_user_bone_map_overrides_detection(empty_scene, bandai1, wave):
    obj = import_bvh(bandai1 / BOW)
    rename_bones(obj, {"UpperLeg_L": "thigh_left", "LowerArm_R": "forearm_right"})
    with pytest.raises(RuntimeError, match="no bone found for Left Hip, Right Elbow"):
        bpy.ops.motionsearch.apply(filepath=str(wave.source))
    obj.data.motion_search.left_hip = "thigh_left"
    obj.data.motion_search.right_elbow = "forearm_right"
    assert bpy.ops.motionsearch.apply(filepath=str(wave.source)) == {'FINISHED'}
    rigmap = submodule("apply").resolve_map(obj)
    assert rigmap.bone_of("left_hip") == "thigh_left" and rigmap.convention == "bandai+user"
    _set_fps(bpy.context.scene, 20)
    bpy.ops.motionsearch.apply(filepath=str(wave.source))
    rows = np.arange(0, wave.num_frames, 10)
    _check_follows(obj, wave, 1 + rows, rows)
    # an edit naming a bone the armature lacks is refused
    obj.data.motion_search.head = "Skull"
    with pytest.raises(RuntimeError, match="no bone named as set in the bone map: Head -> 'Skull'"):
        bpy.ops.motionsearch.apply(filepath=str(wave.source))
    assert bpy.ops.motionsearch.bone_map_clear() == {'FINISHED'}
    assert obj.data.motion_search.left_hip == ""
    rename_bones(obj, {"thigh_left": "UpperLeg_L", "forearm_right": "LowerArm_R"})
    assert bpy.ops.motionsearch.bone_map_detect() == {'FINISHED'}
    assert obj.data.motion_search.left_wrist == "Hand_L"
    assert obj.data.motion_search.spine2 == ""  # a point between Spine and Chest: not a bone to fill in


def _untouched_state():
    scene = bpy.context.scene
    return (sorted(a.name for a in bpy.data.actions), sorted(m.name for m in scene.timeline_markers),
            scene.frame_end, {o.name: (o.animation_data.action.name if o.animation_data and o.animation_data.action
                                       else None) for o in bpy.data.objects})


@pytest.mark.parametrize("case", ["no armature", "mesh only", "unmappable rig", "missing file", "not motion",
                                  "backwards range", "edit mode"])
def test_bad_input_reports_and_changes_nothing(empty_scene, bandai1, wave, tmp_path, case):
    obj = import_bvh(bandai1 / BOW)
    path, kwargs = str(wave.source), {}
    expected = {
        "no armature": "Select an armature", "mesh only": "Select an armature",
        "unmappable rig": "cannot be mapped to a human body: no bone found for Left Hip, Left Knee",
        "missing file": "Cannot load the clip: .*cannot read file", "not motion": "Cannot load the clip",
        "backwards range": "ends .* before it starts", "edit mode": "Leave Edit Mode",
    }[case]
    if case == "no armature":
        bpy.context.view_layer.objects.active = None
    elif case == "mesh only":
        mesh = bpy.data.objects.new("lonely mesh", bpy.data.meshes.new("m"))
        bpy.context.scene.collection.objects.link(mesh)
        make_active(mesh)
    elif case == "unmappable rig":
        rename_bones(obj, {"UpperLeg_L": "a", "LowerLeg_L": "b"})
    elif case == "missing file":
        path = str(tmp_path / "gone.bvh")
    elif case == "not motion":
        bad = tmp_path / "broken.bvh"
        bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
        path = str(bad)
    elif case == "backwards range":
        kwargs = {"start_frame": 100, "end_frame": 20}
    elif case == "edit mode":
        bpy.ops.object.mode_set(mode='EDIT')
    bpy.ops.ed.undo_push(message="baseline")
    before = _untouched_state()
    with pytest.raises(RuntimeError, match=expected):
        bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=path, **kwargs)
    assert _untouched_state() == before


def test_apply_to_mesh_uses_its_armature(empty_scene, bandai1, wave):
    obj = import_bvh(bandai1 / BOW)
    mesh = bpy.data.objects.new("body", bpy.data.meshes.new("body"))
    bpy.context.scene.collection.objects.link(mesh)
    mod = mesh.modifiers.new("Armature", 'ARMATURE')
    mod.object = obj
    make_active(mesh)
    assert bpy.ops.motionsearch.apply(filepath=str(wave.source)) == {'FINISHED'}
    assert obj.animation_data.action.name.endswith("(motion search)")
