"""Rig conventions, unknown rigs, and a user's mapping file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from runtime.errors import RigMappingError
from runtime.motion import CONVENTIONS, JOINTS, load_mapping_file, load_motion, map_rig

MIXAMO = ["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2", "mixamorig:Neck",
          "mixamorig:Head", "mixamorig:HeadTop_End"] + [
    f"mixamorig:{s}{b}" for s in ("Left", "Right")
    for b in ("Shoulder", "Arm", "ForeArm", "Hand", "HandIndex1", "UpLeg", "Leg", "Foot", "ToeBase", "Toe_End")]
RIGIFY = ["root", "DEF-spine", "DEF-spine.001", "DEF-spine.002", "DEF-spine.003", "DEF-spine.004", "DEF-spine.005",
          "DEF-spine.006", "DEF-pelvis.L", "DEF-pelvis.R"] + [
    f"DEF-{b}.{s}" for s in ("L", "R")
    for b in ("thigh", "thigh.001", "shin", "shin.001", "foot", "toe", "shoulder", "upper_arm", "upper_arm.001",
              "forearm", "forearm.001", "hand")] + ["ORG-spine", "MCH-foot_ik.L"]
BIPED = ["Bip001", "Bip001 Pelvis", "Bip001 Spine", "Bip001 Spine1", "Bip001 Spine2", "Bip001 Neck", "Bip001 Head"] + [
    f"Bip001 {s} {b}" for s in ("L", "R") for b in ("Thigh", "Calf", "Foot", "Toe0", "Clavicle", "UpperArm",
                                                    "Forearm", "Hand")]
SMPL = ["Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3", "L_Foot",
        "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist",
        "R_Wrist", "L_Hand", "R_Hand"]


@pytest.mark.parametrize("names, convention, expected", [
    (MIXAMO, "mixamo", {"pelvis": "mixamorig:Hips", "spine3": "mixamorig:Spine2", "left_shoulder": "mixamorig:LeftArm",
                        "right_foot": "mixamorig:RightToeBase"}),
    (RIGIFY, "rigify", {"pelvis": "DEF-spine", "neck": "DEF-spine.004", "left_knee": "DEF-shin.L",
                        "right_wrist": "DEF-hand.R", "left_collar": "DEF-shoulder.L"}),
    (BIPED, "max_biped", {"pelvis": "Bip001 Pelvis", "left_hip": "Bip001 L Thigh", "right_elbow": "Bip001 R Forearm"}),
    (SMPL, "smpl", {"pelvis": "Pelvis", "left_collar": "L_Collar", "right_wrist": "R_Wrist"}),
    (list(JOINTS), "smpl", {j: j for j in JOINTS}),
])
def test_conventions_are_detected(names, convention, expected):
    rig = map_rig(names)
    assert rig.convention == convention
    for joint, bone in expected.items():
        assert rig.bone_of(joint) == bone


def test_every_table_names_every_joint():
    for name, table in CONVENTIONS.items():
        assert set(table) == set(JOINTS), name


def test_motionbuilder_names_are_not_taken_for_mixamo():
    # CMU's MotionBuilder skeleton shares most names with Mixamo but has no Spine2
    mb = ["Hips", "LHipJoint", "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head"] + [
        f"{s}{b}" for s in ("Left", "Right") for b in ("UpLeg", "Leg", "Foot", "ToeBase", "Shoulder", "Arm",
                                                       "ForeArm", "Hand")]
    assert map_rig(mb).convention == "cmu_motionbuilder"
    assert map_rig(mb + ["Spine2"]).convention == "mixamo"


def _rename_bones(text: str, mapping: dict[str, str]) -> str:
    return re.sub(r"^(\s*(?:ROOT|JOINT)\s+)(\S+)", lambda m: m.group(1) + mapping.get(m.group(2), m.group(2)), text,
                  flags=re.M)


def test_unknown_rig_names_the_missing_joints_and_a_mapping_file_fixes_it(bandai2, tmp_path):
    src = bandai2 / "dataset-2_wave-right-hand_normal_001.bvh"
    text = src.read_text()
    renamed = _rename_bones(text, {"UpperLeg_L": "ThighLeft", "UpperArm_R": "ArmRight"})
    bad = tmp_path / "custom_rig.bvh"
    bad.write_text(renamed)
    with pytest.raises(RigMappingError) as e:
        load_motion(bad)
    msg = str(e.value)
    assert str(bad) in msg and "left_hip" in msg and "right_shoulder" in msg and "--rig-map" in msg
    assert set(e.value.missing) == {"left_hip", "right_shoulder"}

    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"left_hip": "ThighLeft", "right_shoulder": "ArmRight"}))
    fixed = load_motion(bad, rig_overrides=load_mapping_file(mapping))
    assert fixed.rig == "bandai+user"
    np.testing.assert_allclose(fixed.positions, load_motion(src).positions, atol=1e-6)


def test_a_fully_custom_rig_with_a_complete_mapping(bandai2, tmp_path):
    src = bandai2 / "dataset-2_walk_normal_001.bvh"
    from runtime.io import read_bvh

    names = [n for n in read_bvh(src).names if not n.endswith("_end")]
    rename = {n: f"bone{i:02d}" for i, n in enumerate(names)}
    custom = tmp_path / "custom.bvh"
    custom.write_text(_rename_bones(src.read_text(), rename))
    assert load_motion(custom).rig == "shape"  # no name matches: mapped by the skeleton's shape
    bandai = map_rig(names)
    spec = {}
    for k, joint in enumerate(JOINTS):
        a, b, w = names[bandai.a[k]], names[bandai.b[k]], float(bandai.weight[k])
        spec[joint] = rename[a] if w == 0 else ["lerp", rename[a], rename[b], w]
    (tmp_path / "map.json").write_text(json.dumps(spec))
    motion = load_motion(custom, rig_overrides=load_mapping_file(tmp_path / "map.json"))
    np.testing.assert_allclose(motion.positions, load_motion(src).positions, atol=1e-6)


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"left_thumb": "X"}', "unknown canonical joint"),
    ('{"left_hip": 3}', "bone name"),
])
def test_bad_mapping_files_are_clear(tmp_path, content, fragment):
    f = tmp_path / "m.json"
    f.write_text(content)
    with pytest.raises(RigMappingError) as e:
        load_mapping_file(f)
    assert fragment in str(e.value) and str(f) in str(e.value)


def test_a_map_by_names_is_never_unsure():
    rig = map_rig(MIXAMO)
    assert not rig.unsure and rig.unsure_joints == () and rig.unsure_note == ""


def test_user_entries_make_unsure_joints_sure():
    """A joint the user sets is sure; the verdict is about the joints left to the shape."""
    from runtime.motion import map_skeleton

    from .humanoid_skeletons import toy_skeleton

    names, parents, heads = toy_skeleton(leg=(0.28, 0.28, 0.28))
    bones = [f"b{i}" for i in range(len(names))]
    rig = map_skeleton(bones, parents, heads)
    unsure = {j for j, _, _ in rig.unsure_joints}
    assert {"left_knee", "right_knee"} <= unsure
    fixed = {j: [bones[names.index(b)]] for j, b in (("left_knee", "leg1.L"), ("right_knee", "leg1.R"))}
    rig = map_skeleton(bones, parents, heads, overrides=fixed)
    assert rig.convention == "shape+user" and rig.sureness[JOINTS.index("left_knee")] == 1.0
    assert {j for j, _, _ in rig.unsure_joints} == unsure - {"left_knee", "right_knee"}
