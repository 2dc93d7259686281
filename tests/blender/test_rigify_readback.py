"""Reading an action back on a generated Rigify rig: Describe Action, Find Similar from the
armature's action and "Index Actions in This File" see the rig as Blender shows it.

A generated rig's deform bones follow constraints; Apply keys its FK controls. The read-back
evaluates the rig (constraints and drivers) frame by frame, so a real Bandai-Namco walk applied
to the rig reads back as that walk: its joints match the clip's, the describer says it walks,
and Find Similar over a small library of real clips, indexed with the shipped model, ranks walks
first. A plain armature keeps the F-curve path, which must give what Blender evaluates.
"""

from __future__ import annotations

import os

import bpy
import numpy as np
import pytest

from runtime.describe import describe
from runtime.motion import J, leg_length, load_motion

from .conftest import (
    BOW,
    WALK,
    WAVE,
    import_bvh,
    library_preferences,
    make_active,
    submodule,
    update_index,
)
from .rigs import (
    SEGMENTS,
    angles_deg,
    fit_yaw,
    make_generated_rigify,
    segment_dirs,
    yaw_matrix,
)

FPS = 30  # the clips' rate: one key per source frame
WALKS = ["dataset-2_walk-turn-left_normal_002.bvh", "dataset-2_walk_normal_001.bvh"]
OTHERS = [WAVE, "dataset-2_raise-up-both-hands_normal_001.bvh", "dataset-2_wave-both-hands_normal_001.bvh"]
OTHERS_1 = [BOW, "dataset-1_kick_normal_001.bvh", "dataset-1_bye_normal_001.bvh"]


@pytest.fixture(scope="module")
def walk_on_rigify(addon, bandai2, tmp_path_factory):
    """A .blend file with a generated Rigify rig that had the walk applied (through the Apply
    button); each test opens its own copy."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    rig = make_generated_rigify()
    make_active(rig)
    assert bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WALK)) == {'FINISHED'}
    path = tmp_path_factory.mktemp("rigify") / "walk_on_rigify.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


def _open(path):
    bpy.ops.wm.open_mainfile(filepath=str(path))
    rig = bpy.data.objects["rig"]
    make_active(rig)
    return rig


def _read_back(rig, action=None):
    action = action or rig.animation_data.action
    motion = submodule("blend_clips").action_motion(action, rig, FPS)
    assert not isinstance(motion, str), motion
    return motion


def _state(rig):
    ad = rig.animation_data
    return (bpy.context.scene.frame_current, ad.action.name if ad.action else None,
            getattr(ad, "action_slot", None) and ad.action_slot.identifier, ad.use_nla,
            sorted(s.name for s in bpy.data.scenes), len(rig.users_collection))


def test_applied_walk_reads_back_as_the_walk(walk_on_rigify, bandai2):
    """The evaluated deform bones give the clip's joints: limb and spine directions within a few
    degrees after one facing angle, the pelvis path within 5% of a leg length."""
    rig = _open(walk_on_rigify)
    assert submodule("blend_clips").follows_constraints(rig, submodule("apply").resolve_map(rig))
    before = _state(rig)
    got = _read_back(rig).positions.astype(np.float64)
    assert _state(rig) == before  # nothing in the file changed
    want = load_motion(str(bandai2 / WALK)).positions.astype(np.float64)
    n = min(len(got), len(want))
    assert abs(len(got) - len(want)) <= 1
    got, want = got[:n], want[:n]
    gd, _ = segment_dirs(got)
    wd, _ = segment_dirs(want)
    theta = fit_yaw(wd, gd)
    err = angles_deg(wd @ yaw_matrix(theta).T, gd)
    # Limbs, collars, neck and head: as the retarget solved them (the neck's parent space is
    # measured every few frames and interpolated). The spine between spine1 and spine3 bends as
    # Rigify's hips/chest controls bend it, not bone by bone: a steady few degrees off.
    spine = SEGMENTS.index(("spine1", "spine3"))
    others = np.delete(err, spine, axis=1)
    assert others.max() < 1.5, {f"{a}-{b}": float(e) for (a, b), e in zip(SEGMENTS, err.max(axis=0))}
    assert err[:, spine].max() < 10.0 and np.ptp(err[:, spine]) < 3.0, err[:, spine].max()
    gp = (got[:, J["pelvis"]] - got[0, J["pelvis"]]) / leg_length(got)
    wp = (want[:, J["pelvis"]] - want[0, J["pelvis"]]) @ yaw_matrix(theta).T / leg_length(want)
    assert np.abs(gp - wp).max() < 0.05, np.abs(gp - wp).max()
    # the height of the pelvis above the feet follows the clip's (no jumping up)
    for pos, tag in ((got, "read back"), (want, "clip")):
        feet = pos[:, [J["left_ankle"], J["right_ankle"]], 1].min(axis=1)
        assert np.ptp((pos[:, J["pelvis"], 1] - feet) / leg_length(pos)) < 0.15, tag


def test_describe_action_says_it_walks(walk_on_rigify, capsys):
    rig = _open(walk_on_rigify)
    before = _state(rig)
    assert bpy.ops.motionsearch.describe_action() == {'FINISHED'}
    summary = bpy.context.window_manager.motion_search.action_summary
    assert "walk" in summary and "jump" not in summary and "arms" not in summary, summary
    assert _state(rig) == before


def test_index_actions_in_this_file_samples_through_the_constraints(walk_on_rigify):
    """An action of the file on the rig that no object plays (the user's own: no add-on marker)
    is sampled on the active rig, played for the sampling only."""
    rig = _open(walk_on_rigify)
    blend_clips = submodule("blend_clips")
    own = rig.animation_data.action.copy()
    own.name = "my walk"
    del own[submodule("actions").SOURCE_KEY]
    rig.animation_data.action = None
    before = _state(rig)
    clips, skipped = blend_clips.collect(bpy.data.actions, bpy.context.scene.objects, rig, FPS)
    assert _state(rig) == before and rig.animation_data.action is None
    assert [c.label for c in clips] == ["my walk"] and skipped == []
    assert "walk" in describe(clips[0].motion).summary


@pytest.fixture
def library(walk_on_rigify, bandai1, bandai2, tmp_path):
    rig = _open(walk_on_rigify)
    folder = tmp_path / "library"
    folder.mkdir()
    for name in WALKS + OTHERS:
        os.symlink(bandai2 / name, folder / name)
    for name in OTHERS_1:
        os.symlink(bandai1 / name, folder / name)
    with library_preferences(folder, tmp_path / "index"):
        yield rig


def test_find_similar_from_the_applied_walk_ranks_walks_first(library):
    bpy.context.scene.motion_search.use_blend_actions = False
    st = update_index()
    assert bpy.ops.motionsearch.find_similar(source='ACTION') == {'FINISHED'}
    names = [os.path.basename(r.path) for r in st.results]
    assert len(names) == len(WALKS + OTHERS + OTHERS_1)
    assert set(names[:len(WALKS)]) == set(WALKS), names


def test_plain_rig_keeps_the_fcurve_path_and_it_matches_blender(empty_scene, bandai2):
    """An imported BVH armature (no constraints): sampled from its F-curves, which give what
    Blender evaluates."""
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    obj = import_bvh(bandai2 / WAVE)
    blend_clips, actions = submodule("blend_clips"), submodule("actions")
    rigmap = submodule("apply").resolve_map(obj)
    assert not blend_clips.follows_constraints(obj, rigmap)
    action = obj.animation_data.action
    frames = np.arange(1, 60, 7, dtype=np.float64)
    rig = actions.rig_of(obj)
    from_fcurves = rig.to_world(rig.forward(actions.sample_basis(
        obj, rig, actions.action_fcurves(action, obj), frames))[:, :, :3, 3])
    evaluated = blend_clips.evaluated_heads(action, obj, frames, FPS)
    assert np.abs(from_fcurves - evaluated).max() < 1e-4 * leg_length(rigmap.apply(evaluated))
    assert scene.frame_current == 1 and obj.animation_data.action == action
