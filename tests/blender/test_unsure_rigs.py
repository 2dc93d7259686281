"""Rigs mapped by their skeleton's shape: split limb bones map right, an unsure map is never
applied silently.

An MPFB / MakeHuman-like armature (two bones per limb segment, clavicle and shoulder01, five toes
and fingers, twist bones beside the limbs) takes a real wave clip like any rig. A skeleton whose
arms are as long as its legs, without toes, is unsure: Apply refuses with a message pointing to
the Bone Map section, which lists the unsure joints' bones and selects them in the viewport;
once confirmed there (or with Apply's confirmation) the clip is applied.
"""

from __future__ import annotations

import types

import bpy
import pytest

from runtime.motion import JOINTS
from tests.runtime.humanoid_skeletons import MPFB_BONES, mpfb_skeleton, toy_skeleton

from .conftest import WAVE, make_active, submodule
from .rigs import make_armature_from_skeleton
from .test_any_rig import _wave_and_check
from .test_register import _draw


@pytest.mark.parametrize("twist", [False, True])
def test_split_limb_armature_maps_right_and_applies(empty_scene, bandai2, twist):
    obj = make_armature_from_skeleton("MPFB", *mpfb_skeleton(twist=twist))
    rigmap = submodule("apply").resolve_map(obj)
    assert rigmap.convention == "shape" and not rigmap.unsure
    assert {j: rigmap.bone_of(j) for j in MPFB_BONES} == MPFB_BONES
    assert submodule("bonemap").describe(rigmap).startswith("Bone map: found by the skeleton's shape (sureness 9")
    log = _draw(submodule("panels").MOTIONSEARCH_PT_sidebar, bpy.context)
    assert "Bone map unsure: check the Bone Map section" not in [kw.get("text") for _, _, kw in log]
    _wave_and_check(obj, bandai2, "wrist.R", "head", ["foot.L", "foot.R", "toe3-1.L", "toe3-1.R"])


def _ambiguous():
    """Arms as long as legs, no toes, straight legs: neither proportions nor feet tell much."""
    names, parents, heads = toy_skeleton(arm=(0.41, 0.42), toes=False)
    heads[:, 2] -= heads[:, 2].min()  # standing on the floor
    return make_armature_from_skeleton("Odd", [f"Bone.{i:03d}" for i in range(len(names))], parents, heads)


def _actions():
    return sorted(a.name for a in bpy.data.actions)


def test_unsure_map_is_not_applied_silently(empty_scene, bandai2):
    obj = _ambiguous()
    rigmap = submodule("apply").resolve_map(obj)
    assert rigmap.unsure
    unsure_bones = {bone for _, bone, _ in rigmap.unsure_joints}
    before = _actions()

    # Apply refuses, naming the joints and where to check them
    with pytest.raises(RuntimeError, match="Bone Map section") as e:
        bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE))
    assert "Pelvis ('Bone.000')" in str(e.value) and "and 19 more" in str(e.value) and "--" not in str(e.value)
    assert _actions() == before and bpy.data.objects["Odd"].animation_data is None
    with pytest.raises(RuntimeError, match="Bone Map section"):  # a background Blender has no dialog to show
        bpy.ops.motionsearch.apply('INVOKE_DEFAULT', True, filepath=str(bandai2 / WAVE))

    # the button (invoke) asks first: a confirmation dialog naming the joints, nothing applied yet
    asked = []
    wm = types.SimpleNamespace(invoke_confirm=lambda op, event, **kw: asked.append(kw) or {'RUNNING_MODAL'})
    op = types.SimpleNamespace(use_unsure_map=False, execute=lambda context: pytest.fail("applied without asking"))
    apply_op = submodule("operators").MOTIONSEARCH_OT_apply
    assert apply_op.invoke(op, types.SimpleNamespace(active_object=obj, window_manager=wm), None) == {'RUNNING_MODAL'}
    assert op.use_unsure_map and asked[0]["confirm_text"] == "Apply Anyway"
    assert "Pelvis ('Bone.000')" in asked[0]["message"] and "Bone Map section" in asked[0]["message"]
    assert _actions() == before

    # the sidebar warns; the Bone Map section lists the unsure joints' bones and offers to select
    # them and to confirm the map
    panels = submodule("panels")
    labels = [kw.get("text") for name, _, kw in _draw(panels.MOTIONSEARCH_PT_sidebar, bpy.context)
              if name.endswith(".label")]
    assert "Bone map unsure: check the Bone Map section" in labels
    log = _draw(panels.MOTIONSEARCH_PT_bone_map, bpy.context)
    labels = [kw.get("text") for name, _, kw in log if name.endswith(".label")]
    assert "Bone map: found by the skeleton's shape, unsure of 22 joints" in " ".join(t or "" for t in labels)
    elbow = rigmap.bone_of("left_elbow")
    assert f"Left Elbow: {elbow}" in labels
    ops = [args[0] for name, args, _ in log if name.endswith(".operator")]
    assert "motionsearch.bone_map_select_unsure" in ops and "motionsearch.bone_map_confirm" in ops

    # Select Unsure Bones: those bones, selected in Pose Mode
    make_active(obj)
    assert bpy.ops.motionsearch.bone_map_select_unsure() == {'FINISHED'}
    assert obj.mode == 'POSE'
    selected = {pb.name for pb in obj.pose.bones
                if (pb.select if "select" in pb.bl_rna.properties else obj.data.bones[pb.name].select)}
    assert selected == unsure_bones and obj.data.bones.active.name in unsure_bones
    bpy.ops.object.mode_set(mode='OBJECT')

    # confirmed in the Bone Map section: Apply goes ahead, and the section says so
    assert bpy.ops.motionsearch.bone_map_confirm() == {'FINISHED'}
    assert bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE)) == {'FINISHED'}
    assert len(_actions()) == len(before) + 1
    labels = [kw.get("text") for name, _, kw in _draw(panels.MOTIONSEARCH_PT_bone_map, bpy.context)
              if name.endswith(".label")]
    assert "Confirmed" in labels

    # Clear forgets the confirmation; Apply's own confirmation (the dialog's Apply Anyway) applies
    assert bpy.ops.motionsearch.bone_map_clear() == {'FINISHED'}
    with pytest.raises(RuntimeError, match="Bone Map section"):
        bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE))
    assert bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE),
                                      use_unsure_map=True) == {'FINISHED'}
    assert obj.data.motion_search.confirmed == submodule("bonemap").confirmation_key(rigmap)


def test_setting_the_unsure_joints_by_hand_makes_the_map_sure(empty_scene, bandai2):
    """Each joint the user sets in the Bone Map section is sure; with all unsure ones set, Apply
    applies without asking."""
    names, parents, heads = toy_skeleton(leg=(0.28, 0.28, 0.28))  # two equally good knees
    heads[:, 2] -= heads[:, 2].min()
    obj = make_armature_from_skeleton("Legs", [f"Bone.{i:03d}" for i in range(len(names))], parents, heads)
    rigmap = submodule("apply").resolve_map(obj)
    assert {"left_knee", "right_knee"} <= {j for j, _, _ in rigmap.unsure_joints}
    pg = obj.data.motion_search
    for joint, bone, _ in rigmap.unsure_joints:
        setattr(pg, joint, bone)
    rigmap = submodule("apply").resolve_map(obj)
    assert not rigmap.unsure and rigmap.convention == "shape+user"
    assert len([j for j in JOINTS if getattr(pg, j)]) < len(JOINTS)  # the body's middle stays detected
    assert bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE)) == {'FINISHED'}


def test_describe_action_through_an_unsure_map_says_so(empty_scene, bandai2):
    """Describe Action reads the armature through its bone map: an unsure, unconfirmed map is named
    in its report (a warning, not a refusal: describing changes nothing)."""
    obj = _ambiguous()
    assert bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE),
                                      use_unsure_map=True) == {'FINISHED'}
    make_active(obj)
    describe = submodule("operators").MOTIONSEARCH_OT_describe_action.execute
    reports = []
    op = types.SimpleNamespace(report=lambda kind, message: reports.append((kind, message)))
    assert describe(op, bpy.context) == {'FINISHED'} and reports[-1][0] == {'INFO'}  # confirmed: no doubt left
    assert bpy.ops.motionsearch.bone_map_clear() == {'FINISHED'}  # the confirmation goes with it
    assert describe(op, bpy.context) == {'FINISHED'}
    kind, message = reports[-1]
    assert kind == {'WARNING'} and "the bone map is unsure: check the Bone Map section" in message
