"""Any humanoid rig takes a clip: Unreal (centimetres, FBX axes), VRoid, numbered bones, Rigify.

A real Bandai-Namco wave-right-hand clip is applied; what Blender evaluates must show the right
hand above the head at mid-clip and the feet on the floor (within 3 cm) all clip long.
"""

from __future__ import annotations

import addon_utils
import bpy
import numpy as np
import pytest

from runtime.motion import JOINTS

from .conftest import WAVE, make_active, submodule
from .rigs import make_plain_armature, world_heads

FLOOR_TOL = 0.03  # metres

UNREAL = {"pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03", "neck": "neck_01",
          "head": "head"} | {f"{side}_{j}": f"{b}_{side[0]}" for side in ("left", "right") for j, b in (
              ("hip", "thigh"), ("knee", "calf"), ("ankle", "foot"), ("foot", "ball"), ("collar", "clavicle"),
              ("shoulder", "upperarm"), ("elbow", "lowerarm"), ("wrist", "hand"))}
VROID = {"pelvis": "J_Bip_C_Hips", "spine1": "J_Bip_C_Spine", "spine2": "J_Bip_C_Chest",
         "spine3": "J_Bip_C_UpperChest", "neck": "J_Bip_C_Neck", "head": "J_Bip_C_Head"} | {
    f"{side}_{j}": f"J_Bip_{side[0].upper()}_{b}" for side in ("left", "right") for j, b in (
        ("hip", "UpperLeg"), ("knee", "LowerLeg"), ("ankle", "Foot"), ("foot", "ToeBase"), ("collar", "Shoulder"),
        ("shoulder", "UpperArm"), ("elbow", "LowerArm"), ("wrist", "Hand"))}
# "Bone", "Bone.001", ... in an order that says nothing (not the chain order)
NUMBERED = {j: ("Bone" if k == 0 else f"Bone.{k:03d}") for k, j in
            enumerate(sorted(JOINTS, key=lambda j: (len(j) * 7919) % 23 + j.count("_")))}


def _wave_and_check(obj, bandai2, hand: str, head: str, feet: list[str]):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    rest = world_heads(obj)
    floor = min(rest[f][2] for f in feet)
    bpy.ops.ed.undo_push(message="baseline")
    assert bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE)) == {'FINISHED'}
    obj = bpy.data.objects[obj.name]
    start, end = scene.frame_start, scene.frame_end
    mid = (start + end) // 2
    scene.frame_set(mid)
    heads = world_heads(obj)
    assert heads[hand][2] > heads[head][2], f"the right hand ({heads[hand][2]:.2f}) is not above the head"
    lowest = []
    for f in range(start, end + 1, 3):
        scene.frame_set(f)
        h = world_heads(obj)
        lowest.append(min(h[b][2] for b in feet))
    lowest = np.array(lowest)
    assert abs(np.percentile(lowest, 1) - floor) < FLOOR_TOL, f"feet at {np.percentile(lowest, 1):.3f}, floor {floor:.3f}"
    assert lowest.min() > floor - FLOOR_TOL
    return obj


@pytest.mark.parametrize("kind", ["unreal_fbx", "vroid", "numbered"])
def test_named_and_unnamed_rigs_wave(empty_scene, bandai2, kind):
    if kind == "unreal_fbx":
        extra = {"upperarm_twist_01_r": ("right_shoulder", "right_shoulder"),
                 "calf_twist_01_l": ("left_knee", "left_knee")}
        obj = make_plain_armature("SK_Mannequin", UNREAL, root="root", unit=0.01, y_up=True, extra=extra)
        names, convention = UNREAL, "unreal"
    elif kind == "vroid":
        obj = make_plain_armature("VRoid", VROID, root="Root")
        names, convention = VROID, "vroid"
    else:
        obj = make_plain_armature("Armature", NUMBERED)
        names, convention = NUMBERED, "shape"
    rigmap = submodule("apply").resolve_map(obj)
    assert rigmap.convention == convention
    assert {j: rigmap.bone_of(j) for j in JOINTS} == names
    assert submodule("bonemap").describe(rigmap).startswith(
        "Bone map: found by the skeleton's shape" if kind == "numbered" else f"Bone map: {convention} names")
    _wave_and_check(obj, bandai2, names["right_wrist"], names["head"],
                    [names[j] for j in ("left_ankle", "right_ankle", "left_foot", "right_foot")])


def test_user_edits_are_named_with_the_convention(empty_scene):
    obj = make_plain_armature("SK_Mannequin", UNREAL, root="root", unit=0.01, y_up=True)
    obj.data.motion_search.head = "neck_01"
    rigmap = submodule("apply").resolve_map(obj)
    assert submodule("bonemap").describe(rigmap, {"head": "neck_01"}) == "Bone map: your bone map (1 joint) + unreal names"


def test_missing_pelvis_is_not_reported_when_present(empty_scene):
    """An Unreal rig lacking its right leg: the message names the leg, not 'pelvis'."""
    obj = make_plain_armature("SK_Mannequin", UNREAL, root="root", unit=0.01, y_up=True)
    make_active(obj)
    bpy.ops.object.mode_set(mode='EDIT')
    for b in ("thigh_r", "calf_r", "foot_r", "ball_r"):
        obj.data.edit_bones.remove(obj.data.edit_bones[b])
    bpy.ops.object.mode_set(mode='OBJECT')
    with pytest.raises(submodule("apply").ApplyError) as e:
        submodule("apply").resolve_map(obj)
    msg = str(e.value)
    assert "Right Hip, Right Knee, Right Ankle, Right Foot" in msg and "Pelvis" not in msg


@pytest.fixture(scope="module")
def rigify():
    addon_utils.enable("rigify", default_set=True, persistent=True)
    yield
    addon_utils.disable("rigify", default_set=True)


def test_rigify_metarig_feet_on_the_floor(empty_scene, bandai2, rigify):
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.active_object
    assert submodule("apply").resolve_map(meta).convention == "rigify"
    _wave_and_check(meta, bandai2, "hand.R", "spine.006", ["foot.L", "foot.R", "toe.L", "toe.R"])


def test_generated_rigify_rig_waves_through_its_fk_controls(empty_scene, bandai2, rigify):
    """The deform bones follow constraints: Apply keys the FK controls (and the torso) so that
    Blender's evaluated deform bones wave, switches the limbs to FK, and is undone in one step."""
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.active_object
    assert rig.name == "rig" and "DEF-spine" in rig.data.bones
    make_active(rig)
    rig = _wave_and_check(rig, bandai2, "DEF-hand.R", "DEF-spine.006", ["DEF-foot.L", "DEF-foot.R", "DEF-toe.L", "DEF-toe.R"])
    rigify_mod = submodule("rigify")
    actions = submodule("actions")
    action = rig.animation_data.action
    paths = {fc.data_path for fc in actions.action_fcurves(action, rig)}
    bones = {p.split('"')[1] for p in paths}
    assert bones == set(rigify_mod.CONTROLS) | set(rigify_mod.SWITCHES)
    assert {p for p in paths if "[\"IK_FK\"]" in p} == {f'pose.bones["{s}"]["IK_FK"]' for s in rigify_mod.SWITCHES}
    assert {p for p in paths if p.endswith(".location")} == {f'pose.bones["{c}"].location' for c in rigify_mod.MOVED}
    assert all(rig.pose.bones[s]["IK_FK"] == 1.0 for s in rigify_mod.SWITCHES)
    name = action.name
    bpy.ops.ed.undo()
    assert name not in bpy.data.actions
    assert bpy.data.objects["rig"].animation_data is None or bpy.data.objects["rig"].animation_data.action is None


def test_constraint_driven_rig_that_is_not_rigify_is_refused(empty_scene, bandai2):
    """A deform armature whose bones follow constraints (a control rig): keys on them would not
    show, so Apply refuses with the reason and changes nothing."""
    obj = make_plain_armature("Driven", VROID, root="Root")
    target = bpy.data.objects.new("target", None)
    bpy.context.scene.collection.objects.link(target)
    for pb in obj.pose.bones:
        pb.constraints.new('COPY_ROTATION').target = target
    make_active(obj)
    before = sorted(a.name for a in bpy.data.actions)
    with pytest.raises(RuntimeError, match="is a control rig: the bones .* follow constraints"):
        bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(bandai2 / WAVE))
    assert sorted(a.name for a in bpy.data.actions) == before


def test_long_action_names_stay_distinct():
    name = submodule("apply").action_name
    a = name("x" * 80 + "_take_001", "/lib/a.bvh")
    b = name("x" * 80 + "_take_002", "/lib/b.bvh")
    assert a != b and len(a.encode()) <= 59 and len(b.encode()) <= 59
    assert "_take_001 #" in a and a.endswith(" (motion search)")
    assert name("short", "/lib/short.bvh") == "short (motion search)"
