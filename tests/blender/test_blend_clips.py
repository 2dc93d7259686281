"""The file's own actions as canonical clips: sampled from their keys, they match the motion file."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from runtime.motion import load_motion

from .conftest import BOW, CMU_MB, WAVE, import_bvh, make_active, submodule
from .rigs import angles_deg, fit_yaw, segment_dirs, yaw_matrix


def test_imported_action_matches_the_file(empty_scene, bandai1):
    """A BVH import's action, sampled without touching the scene, gives the runtime's own clip of
    the file: Blender's keys and the runtime's reader agree to well under a millimetre."""
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = 30, 1.0  # the file's rate: one key per scene frame
    obj = import_bvh(bandai1 / BOW)
    frame, action = scene.frame_current, obj.animation_data.action
    clips, skipped = submodule("blend_clips").collect(bpy.data.actions, scene.objects, None, 30.0)
    assert skipped == [] and [c.id for c in clips] == [f"blend:{action.name}"]
    clip = clips[0]
    assert clip.label == action.name and clip.armature == obj.name
    want = load_motion(bandai1 / BOW)
    got = clip.motion.positions
    assert got.shape == want.positions.shape
    assert np.abs(got - want.positions).max() < 1e-3  # metres
    assert scene.frame_current == frame and obj.animation_data.action == action  # nothing changed


def test_applied_action_round_trip(empty_scene, cmu_bvh, bandai2):
    """Apply a clip to the CMU rig, then sample the new action back: the limb directions are the clip's."""
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = 20, 1.0
    obj = import_bvh(cmu_bvh / CMU_MB)
    wave = load_motion(bandai2 / WAVE)
    submodule("apply").apply_clip(obj, scene, str(wave.source))
    blend_clips = submodule("blend_clips")
    own, _ = blend_clips.collect(bpy.data.actions, scene.objects, None, 20.0)
    assert [c.label for c in own] == []  # applied clips are library clips already: not indexed twice
    # (the imported 02_01 action lost its user and has no armature to play on)
    clips, skipped = blend_clips.collect(bpy.data.actions, scene.objects, None, 20.0, skip_own=False)
    assert [c.label for c in clips] == [obj.animation_data.action.name]
    assert skipped == [("02_01", "no armature uses it")]
    got = clips[0].motion.positions
    assert len(got) == wave.num_frames
    gd, gl = segment_dirs(got)
    wd, wl = segment_dirs(wave.positions.astype(np.float64))
    usable = (gl > 1e-3) & (wl > 1e-3)
    theta = fit_yaw(wd[usable], gd[usable])
    assert abs(np.degrees(theta)) < 1.0  # both are canonical: facing +Z at frame 0
    assert angles_deg(wd @ yaw_matrix(theta).T, gd)[usable].max() < 0.5


def test_fallback_armature_and_content_hash(empty_scene, bandai1):
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    action = obj.animation_data.action
    obj.animation_data.action = None
    blend_clips = submodule("blend_clips")
    clips, skipped = blend_clips.collect(bpy.data.actions, scene.objects, None, 30.0)
    assert clips == [] and skipped == [(action.name, "no armature uses it")]
    make_active(obj)
    clips, _ = blend_clips.collect(bpy.data.actions, scene.objects, obj, 30.0)  # sampled on the active rig
    first = clips[0].content_hash
    again, _ = blend_clips.collect(bpy.data.actions, scene.objects, obj, 30.0)
    assert again[0].content_hash == first
    fc = submodule("actions").action_fcurves(action)[5]
    fc.keyframe_points[3].co.y += 10.0
    edited, _ = blend_clips.collect(bpy.data.actions, scene.objects, obj, 30.0)
    assert edited[0].content_hash != first  # an edited action is indexed again


def test_unmappable_rig_is_skipped_with_reason(empty_scene, bandai1):
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    obj.data.bones["Head"].name = "skull"
    clips, skipped = submodule("blend_clips").collect(bpy.data.actions, scene.objects, None, 30.0)
    assert clips == [] and len(skipped) == 1 and "no bone found for Head" in skipped[0][1]


@pytest.mark.parametrize("mode", ['QUATERNION', 'XYZ', 'YXZ', 'ZXY', 'AXIS_ANGLE'])
def test_sampled_basis_matches_blender(empty_scene, bandai1, mode):
    """The add-on's forward kinematics from keys equals the pose Blender evaluates, in every rotation mode."""
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    wave_obj = obj
    for pb in wave_obj.pose.bones:
        pb.rotation_mode = mode
    scene.render.fps, scene.render.fps_base = 20, 1.0
    submodule("apply").apply_clip(obj, scene, str(bandai1 / BOW))  # keys in the new mode
    actions = submodule("actions")
    rig = actions.rig_of(obj)
    fcurves = actions.action_fcurves(obj.animation_data.action, obj)
    frames = np.array([1.0, 17.0, 40.0])
    pose = rig.forward(actions.sample_basis(obj, rig, fcurves, frames))
    mine = rig.to_world(pose[:, :, :3, 3])
    for k, f in enumerate(frames):
        scene.frame_set(int(f))
        mw = np.array(obj.matrix_world)
        blender = np.array([mw[:3, :3] @ np.array(obj.pose.bones[n].head) + mw[:3, 3] for n in rig.names])
        assert np.abs(blender - mine[k]).max() < 1e-4
