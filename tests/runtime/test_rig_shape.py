"""Rigs mapped by their skeleton's shape: meaningless names, real files, new conventions."""

from __future__ import annotations

import re

import numpy as np
import pytest

from runtime.errors import RigMappingError
from runtime.io import read_bvh, write_bvh
from runtime.motion import (JOINTS, UNSURE_BELOW, RigShapeError, load_motion, map_rig, map_shape, map_skeleton,
                            rest_heads)

from .humanoid_skeletons import MPFB_BONES, mpfb_skeleton, renamed, split_limbs, toy_skeleton

WAVE = "dataset-2_wave-right-hand_normal_001.bvh"

# A standing T-pose in Blender axes (Z up, facing -Y, +X the character's left), with extra bones
# that real rigs have: twist bones, a heel, fingers, a root under the pelvis, eyes on the head.
_POSE = {
    "root": ((0, 0, 0), None), "pelvis": ((0, 0, 0.95), "root"),
    "spine1": ((0, 0.01, 1.06), "pelvis"), "spine2": ((0, 0.01, 1.18), "spine1"), "spine3": ((0, 0, 1.31), "spine2"),
    "neck": ((0, 0, 1.50), "spine3"), "head": ((0, -0.01, 1.62), "neck"), "head_top": ((0, -0.01, 1.80), "head"),
    "eye.L": ((0.03, -0.08, 1.70), "head"), "eye.R": ((-0.03, -0.08, 1.70), "head"),
}
for _s, _x in (("L", 1.0), ("R", -1.0)):
    _POSE |= {
        f"hip.{_s}": ((0.09 * _x, 0, 0.91), "pelvis"), f"knee.{_s}": ((0.10 * _x, -0.01, 0.50), f"hip.{_s}"),
        f"thigh_twist.{_s}": ((0.095 * _x, 0, 0.70), f"hip.{_s}"),
        f"ankle.{_s}": ((0.10 * _x, 0.03, 0.08), f"knee.{_s}"), f"toe.{_s}": ((0.11 * _x, -0.11, 0.02), f"ankle.{_s}"),
        f"heel.{_s}": ((0.10 * _x, 0.06, 0.0), f"ankle.{_s}"),
        f"collar.{_s}": ((0.03 * _x, 0, 1.44), "spine3"), f"shoulder.{_s}": ((0.17 * _x, 0.01, 1.45), f"collar.{_s}"),
        f"elbow.{_s}": ((0.45 * _x, 0.02, 1.45), f"shoulder.{_s}"), f"wrist.{_s}": ((0.70 * _x, 0, 1.45), f"elbow.{_s}"),
        f"forearm_twist.{_s}": ((0.58 * _x, 0.01, 1.45), f"elbow.{_s}"),
    }
    for _k, _y in enumerate((-0.03, -0.01, 0.01, 0.03)):  # four fingers of three bones
        _prev = f"wrist.{_s}"
        for _b in range(3):
            _name = f"f{_k}{_b}.{_s}"
            _POSE[_name] = ((0.0 + (0.78 + 0.03 * _b) * _x, _y, 1.45), _prev)
            _prev = _name
_CANON = {"pelvis": "pelvis", "spine1": "spine1", "spine2": "spine2", "spine3": "spine3", "neck": "neck", "head": "head"}
_CANON |= {f"{side}_{j}": f"{b}.{s}" for side, s in (("left", "L"), ("right", "R")) for j, b in (
    ("hip", "hip"), ("knee", "knee"), ("ankle", "ankle"), ("foot", "toe"), ("collar", "collar"),
    ("shoulder", "shoulder"), ("elbow", "elbow"), ("wrist", "wrist"))}


def _numbered(order_seed: int = 0, rotate=np.eye(3), scale: float = 1.0):
    """The rig with bones named Bone, Bone.001, ... in a shuffled order; returns names, parents,
    heads and the real name of each bone."""
    real = list(_POSE)
    rng = np.random.default_rng(order_seed)
    rng.shuffle(real)
    names = ["Bone" if i == 0 else f"Bone.{i:03d}" for i in range(len(real))]
    parents = [real.index(_POSE[r][1]) if _POSE[r][1] else -1 for r in real]
    heads = np.array([_POSE[r][0] for r in real], np.float64) @ np.asarray(rotate).T * scale
    return names, parents, heads, real


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numbered_bones_map_by_shape(seed):
    names, parents, heads, real = _numbered(seed)
    assert pytest.raises(RigMappingError, map_rig, names)
    rig = map_skeleton(names, parents, heads, "numbered.blend")
    assert rig.convention == "shape"
    got = {j: real[names.index(rig.bone_of(j))] for j in JOINTS}
    assert got == _CANON
    assert all(0.85 <= s <= 1.0 for s in rig.sureness) and not rig.unsure and rig.unsure_note == ""
    assert "toes" in rig.summary and rig.reasons[JOINTS.index("left_hip")].endswith("where the toes point")


def test_shape_is_independent_of_axes_and_units():
    """An FBX-style armature: Y up, in centimetres; the toes still tell left from right."""
    to_y_up = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # Blender (x, y, z) -> (x, z, -y)
    names, parents, heads, real = _numbered(3, to_y_up, 100.0)
    rig = map_skeleton(names, parents, heads, forward_hint=(0.0, 0.0, 1.0))
    assert {j: real[names.index(rig.bone_of(j))] for j in JOINTS} == _CANON


def test_mirror_image_swaps_sides():
    """The same skeleton mirrored left-right: what was the left leg is now the right one."""
    names, parents, heads, real = _numbered(4)
    heads[:, 0] *= -1.0
    rig = map_skeleton(names, parents, heads)
    assert real[names.index(rig.bone_of("left_hip"))] == "hip.R"
    assert real[names.index(rig.bone_of("right_wrist"))] == "wrist.L"


def test_without_toes_the_forward_convention_decides():
    keep = [n for n in _POSE if not n.startswith(("toe.", "heel."))]
    names = [f"b{i}" for i in range(len(keep))]
    parents = [keep.index(_POSE[n][1]) if _POSE[n][1] else -1 for n in keep]
    heads = np.array([_POSE[n][0] for n in keep])
    front = map_shape(parents, heads, forward_hint=(0.0, -1.0, 0.0))
    back = map_shape(parents, heads, forward_hint=(0.0, 1.0, 0.0))
    assert keep[front.entries["left_hip"]] == "hip.L" and keep[back.entries["left_hip"]] == "hip.R"
    assert front.sureness["left_hip"] < 0.7 and "convention" in front.reasons["left_hip"]
    assert keep[front.entries["left_foot"]] == "ankle.L"  # no toe: the ankle stands in


def test_user_entries_win_over_shape():
    names, parents, heads, real = _numbered(5)
    other = names[real.index("forearm_twist.R")]
    rig = map_skeleton(names, parents, heads, overrides={"right_elbow": [other]})
    assert rig.convention == "shape+user" and rig.bone_of("right_elbow") == other
    assert rig.reasons[JOINTS.index("right_elbow")] == "your bone map"


@pytest.mark.parametrize("drop, missing, reason", [
    ("hip.R", "right_hip", "two mirror-image chains branch at 'Bone"),  # one leg only
    ("collar.L", "left_collar", "two mirror-image chains branch at 'Bone"),  # one arm only
])
def test_no_humanoid_shape_is_a_clear_error(drop, missing, reason):
    names, parents, heads, real = _numbered(6)
    gone = {i for i, r in enumerate(real) if r == drop}
    changed = True
    while changed:  # the bone and everything below it
        changed = False
        for i, p in enumerate(parents):
            if p in gone and i not in gone:
                gone.add(i)
                changed = True
    keep = [i for i in range(len(names)) if i not in gone]
    new = {old: k for k, old in enumerate(keep)}
    with pytest.raises(RigMappingError, match=re.escape(reason)) as e:
        map_skeleton([names[i] for i in keep], [new.get(parents[i], -1) for i in keep], heads[keep], "odd.fbx")
    assert str(e.value).startswith("odd.fbx: unknown rig") and missing in e.value.missing
    assert "a humanoid needs two legs and a spine branching at the pelvis" in str(e.value)


def test_shape_error_without_bones():
    with pytest.raises(RigShapeError):
        map_shape([], np.zeros((0, 3)))


def test_real_bvh_with_meaningless_names_reads_the_same(bandai2, tmp_path):
    """A real Bandai-Namco file whose joints are renamed Bone, Bone.001, ...: the same motion."""
    src = bandai2 / WAVE
    anim = read_bvh(src)
    text = src.read_text()
    renamed = text
    for i, name in enumerate(sorted({n for n, e in zip(anim.names, anim.end_site) if not e}, key=len, reverse=True)):
        renamed = re.sub(rf"(ROOT|JOINT) {re.escape(name)}\b", rf"\1 Bone.{i:03d}", renamed)
    assert "Hips" not in renamed.split("MOTION")[0]
    path = tmp_path / "renamed.bvh"
    path.write_text(renamed)
    a, b = load_motion(src), load_motion(path)
    assert b.rig == "shape"
    assert np.abs(a.positions - b.positions).max() < 0.03  # metres; spine lerps differ, limbs are the same
    limbs = [JOINTS.index(j) for j in JOINTS if j.startswith(("left_", "right_")) and "collar" not in j]
    assert np.abs(a.positions[:, limbs] - b.positions[:, limbs]).max() < 1e-4


def test_rest_heads_accumulate_offsets():
    assert np.allclose(rest_heads([-1, 0, 1], [[1, 0, 0], [0, 2, 0], [0, 0, 3]]), [[1, 0, 0], [1, 2, 0], [1, 2, 3]])


# The top of the neck chain as rigs have it (Blender axes, metres; the rest of _POSE unchanged).
# The head is the leaf itself (CMU: Neck starts at the chest; Unreal 5: two neck bones), or the
# leaf is an end bone at the top of the skull and the head is its parent (Mixamo, 3ds Max Biped).
_NECKS = {
    "cmu": {"neck": ((0, 0, 1.31), "spine3"), "neck1": ((0, 0, 1.42), "neck"), "head": ((0, -0.01, 1.53), "neck1")},
    "unreal5": {"neck": ((0, 0, 1.48), "spine3"), "neck_02": ((0, 0, 1.54), "neck"),
                "head": ((0, -0.01, 1.60), "neck_02")},
    "mixamo": {"neck": ((0, 0, 1.48), "spine3"), "head": ((0, -0.01, 1.58), "neck"),
               "head_top": ((0, -0.01, 1.77), "head")},
    "biped": {"neck": ((0, 0, 1.47), "spine3"), "head": ((0, -0.01, 1.56), "neck"),
              "head_nub": ((0, -0.01, 1.80), "head")},
    "one_leaf": {"neck": ((0, 0, 1.50), "spine3"), "head": ((0, -0.01, 1.62), "neck")},
}


@pytest.mark.parametrize("rig", list(_NECKS))
def test_head_at_the_top_of_a_neck_chain_that_ends_in_a_leaf(rig):
    pose = {n: v for n, v in _POSE.items() if n not in ("neck", "head", "head_top", "eye.L", "eye.R")} | _NECKS[rig]
    names = list(pose)
    parents = [names.index(pose[n][1]) if pose[n][1] else -1 for n in names]
    shape = map_shape(parents, np.array([pose[n][0] for n in names], np.float64))
    assert names[shape.entries["head"]] == "head" and names[shape.entries["neck"]] == "neck"
    assert "end bone" in shape.reasons["head"] if rig in ("mixamo", "biped") else "top of" in shape.reasons["head"]


def test_cmu_bvh_with_meaningless_names_keeps_its_head(cmu_bvh, tmp_path):
    """CMU's Head is a leaf whose end site is at the joint itself: it is the head, not Neck1's end."""
    src = cmu_bvh / "mb-tmoco" / "02_01.bvh"
    anim = read_bvh(src)
    renamed = src.read_text()
    for i, name in enumerate(sorted({n for n, e in zip(anim.names, anim.end_site) if not e}, key=len, reverse=True)):
        renamed = re.sub(rf"(ROOT|JOINT) {re.escape(name)}\b", rf"\1 Bone.{i:03d}", renamed)
    path = tmp_path / "renamed.bvh"
    path.write_text(renamed)
    a, b = load_motion(src), load_motion(path)
    assert a.rig == "cmu_motionbuilder" and b.rig == "shape"
    same = [JOINTS.index(j) for j in ("head", "neck") + tuple(j for j in JOINTS if j.startswith(("left_", "right_")))
            if "collar" not in j]
    assert np.abs(a.positions[:, same] - b.positions[:, same]).max() < 1e-4


# ---------------------------------------------------------------------------------------------
# split limb bones, and knowing when it is unsure


def _shuffled(names, parents, heads, seed=0):
    """The same skeleton with bones named Bone, Bone.001, ... in a shuffled order; returns it and
    each new bone's real name."""
    order = np.random.default_rng(seed).permutation(len(names))
    real = [names[i] for i in order]
    new = {i: k for k, i in enumerate(order)}
    bones = ["Bone" if k == 0 else f"Bone.{k:03d}" for k in range(len(names))]
    return bones, [new[parents[i]] if parents[i] >= 0 else -1 for i in order], np.asarray(heads)[order], real


@pytest.mark.parametrize("arms, twist", [("A", False), ("A", True), ("T", False), ("T", True)])
def test_split_limb_bones_map_to_where_the_limbs_bend(arms, twist):
    """A MakeHuman / MPFB rig: every limb segment is two bones, a clavicle and a shoulder01 lead to
    the upper arm, toes and fingers branch, twist bones beside. (The two-longest-bones rule put the
    hip on lowerleg01, the elbow on upperarm02 and the wrist on lowerarm01, "85% sure".)"""
    bones, parents, heads, real = _shuffled(*mpfb_skeleton(arms=arms, twist=twist))
    rig = map_skeleton(bones, parents, heads, "mpfb.blend")
    assert rig.convention == "shape"
    assert {j: real[bones.index(rig.bone_of(j))] for j in MPFB_BONES} == MPFB_BONES
    assert min(rig.sureness) >= 0.9 and not rig.unsure


def test_split_limb_bones_without_toes_are_right_but_unsure_of_left_and_right():
    """No toes and straight legs: nothing shows which way the body faces but the convention."""
    bones, parents, heads, real = _shuffled(*mpfb_skeleton(toes=False))
    rig = map_skeleton(bones, parents, heads)
    limbs = {j: b for j, b in MPFB_BONES.items() if not j.endswith("_foot")}
    assert {j: real[bones.index(rig.bone_of(j))] for j in limbs} == limbs
    sides = {j for j in JOINTS if j.startswith(("left_", "right_"))}
    assert rig.unsure and {j for j, _, _ in rig.unsure_joints} == sides
    assert "forward axis convention" in rig.unsure_joints[0][2]


def _cut_bones(anim):
    rig = map_rig([n for n, end in zip(anim.names, anim.end_site) if not end])
    return {rig.bone_of(f"{s}_{j}") for s in ("left", "right") for j in ("hip", "knee", "shoulder", "elbow")}


@pytest.mark.parametrize("source", ["bandai", "cmu"])
@pytest.mark.parametrize("twist", [False, True])
def test_real_skeleton_with_split_limbs_reads_the_same(bandai2, cmu_bvh, tmp_path, source, twist):
    """A real file's thighs, shins, upper arms and forearms each cut in two (plus twist bones beside
    them), every bone renamed: the 22 joints land where the file's own are, all frames, and the map
    is sure."""
    src = bandai2 / WAVE if source == "bandai" else cmu_bvh / "mb-tmoco" / "02_01.bvh"
    anim = read_bvh(src)
    split, _ = renamed(split_limbs(anim, _cut_bones(anim), 2, twist))
    assert len(split.names) == len(anim.names) + 8 * (1 + 2 * twist) and "Hips" not in split.names
    path = tmp_path / "split.bvh"
    write_bvh(split, path)
    a, b = load_motion(src), load_motion(path)
    assert b.rig == "shape" and b.rig_unsure == ""
    assert np.abs(a.positions - b.positions).max() < 0.03  # metres; spine lerps may differ
    exact = [JOINTS.index(j) for j in JOINTS if not j.startswith("spine")]
    assert np.abs(a.positions[:, exact] - b.positions[:, exact]).max() < 0.003


def test_ambiguous_skeletons_are_unsure_never_sure_and_wrong():
    """Arms as long as legs and no toes; a leg of three equal straight bones (two equally good
    bends): the map says it is unsure, and no joint it is sure of is wrong."""
    expected = {"left_hip": "hip.L", "left_knee": "leg0.L", "left_ankle": "leg1.L", "left_shoulder": "shoulder.L",
                "left_elbow": "arm0.L", "left_wrist": "arm1.L", "left_collar": "collar.L"}
    names, parents, heads = toy_skeleton(arm=(0.41, 0.42), toes=False)
    rig = map_skeleton([f"b{i}" for i in range(len(names))], parents, heads)
    assert rig.unsure and max(rig.sureness[JOINTS.index(j)] for j in expected) < UNSURE_BELOW
    assert any("arms 1.00 times as long as the legs" in why for _, _, why in rig.unsure_joints)
    for j, bone in expected.items():  # what it is sure of is right
        k = JOINTS.index(j)
        assert rig.sureness[k] < 0.85 or names[int(rig.bone_of(j)[1:])] == bone

    names, parents, heads = toy_skeleton(leg=(0.28, 0.28, 0.28))
    rig = map_skeleton([f"b{i}" for i in range(len(names))], parents, heads)
    unsure = {j for j, _, _ in rig.unsure_joints}
    assert {"left_knee", "right_knee", "left_ankle", "right_ankle"} <= unsure
    assert all(rig.sureness[JOINTS.index(j)] < 0.5 for j in ("left_knee", "right_knee"))
    assert "mapped by the skeleton's shape, unsure of " in rig.unsure_note and "left_knee ('b" in rig.unsure_note


def test_plain_toy_skeleton_is_sure():
    names, parents, heads = toy_skeleton()
    rig = map_skeleton([f"b{i}" for i in range(len(names))], parents, heads)
    got = {j: names[int(rig.bone_of(j)[1:])] for j in ("left_hip", "left_knee", "left_ankle", "left_foot",
                                                         "right_elbow", "right_wrist", "left_collar", "head")}
    assert got == {"left_hip": "hip.L", "left_knee": "leg0.L", "left_ankle": "leg1.L", "left_foot": "toe.L",
                   "right_elbow": "arm0.R", "right_wrist": "arm1.R", "left_collar": "collar.L", "head": "head"}
    assert not rig.unsure and min(rig.sureness) >= 0.9


def test_bent_knees_tell_the_facing_when_the_toes_do_not():
    """A run's mid-frame can have the feet at right angles; knees bend forward in any pose."""
    names, parents, heads = toy_skeleton(toes=False)
    for side in ("L", "R"):
        heads[names.index(f"leg0.{side}")] += (0.0, -0.08, 0.03)  # knees forward (-Y)
    sure = []
    for hint in ((0.0, -1.0, 0.0), (0.0, 1.0, 0.0)):
        shape = map_shape(parents, heads, forward_hint=hint)
        assert names[shape.entries["left_hip"]] == "hip.L"  # the knees win over a wrong convention
        assert "knees" in shape.reasons["left_hip"]
        sure.append(shape.sureness["left_hip"])
    assert 0.9 < sure[1] < sure[0]  # ... which costs a little sureness


def test_a_file_whose_shape_is_unsure_says_so(bandai2, tmp_path):
    """A real skeleton whose arms are made as long as its legs: still read, and the Motion carries
    the one line an index report prints."""
    src = bandai2 / WAVE
    anim = read_bvh(src)
    longer = {anim.names.index(n) for n in ("LowerArm_L", "LowerArm_R", "Hand_L", "Hand_R")}
    offsets = anim.offsets.copy()
    translations = anim.translations.copy()
    for j in longer:
        offsets[j] *= 1.7
        k = list(anim.translation_joints).index(j)
        translations[:, k] *= 1.7
    from runtime.io import Animation

    odd = Animation(path=anim.path, names=anim.names, parents=anim.parents, offsets=offsets, axes=anim.axes,
                    angles=anim.angles, translation_joints=anim.translation_joints, translations=translations,
                    fps=anim.fps, end_site=anim.end_site)
    path = tmp_path / "long_arms.bvh"
    write_bvh(renamed(odd)[0], path)
    motion = load_motion(path)
    assert motion.rig == "shape"
    assert motion.rig_unsure.startswith("mapped by the skeleton's shape, unsure of ")
    assert "times as long as the legs, unusual for a human" in motion.rig_unsure
    assert load_motion(src).rig_unsure == ""  # a map by names is never unsure
