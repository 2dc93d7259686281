"""The add-on's pure helpers: rotations against Blender's own mathutils, frame arithmetic, UI rows."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from mathutils import Euler, Matrix, Quaternion

from runtime.features import PART_NAMES

from .conftest import submodule


@pytest.fixture(scope="module")
def rt():
    return submodule("retarget")


def _random_rotations(n, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q, np.array([np.array(Quaternion(x).to_matrix()) for x in q])


def test_matrix_to_quaternion_matches_mathutils(rt):
    q, m = _random_rotations(200)
    got = rt.matrix_to_quaternion(m)
    want = np.array([np.array(Matrix(x).to_quaternion()) for x in m])
    want *= np.where(want[:, :1] < 0, -1.0, 1.0)
    assert np.abs(got - want).max() < 1e-6  # mathutils works in float32
    # near-half-turns, where the trace is close to -1
    half = rt.matrix_to_quaternion(np.array([np.array(Quaternion((1e-7, 0.6, 0.8, 0.0)).to_matrix())]))
    assert np.allclose(np.abs(half[0]), [0.0, 0.6, 0.8, 0.0], atol=1e-6)


def test_continuous_quaternions_have_no_sign_flips(rt):
    angles = np.linspace(0, 4 * math.pi, 50)
    q = np.stack([np.cos(angles / 2), np.zeros_like(angles), np.zeros_like(angles), np.sin(angles / 2)], -1)
    flipped = q * np.where(np.arange(50) % 3 == 0, -1.0, 1.0)[:, None]
    cont = rt.continuous_quaternions(flipped)
    assert (np.sum(cont[1:] * cont[:-1], axis=1) > 0).all()


def test_swing_is_the_smallest_rotation(rt):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(100, 3))
    b = rng.normal(size=(100, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    r = rt.swing(a, b)
    assert np.allclose(np.einsum("nij,nj->ni", r, a), b, atol=1e-9)
    assert np.allclose(np.linalg.det(r), 1.0)
    axis_dot = np.einsum("nij,nj->ni", r, np.cross(a, b)) - np.cross(a, b)  # the axis a x b stays put
    assert np.abs(axis_dot).max() < 1e-9
    opposite = rt.swing(np.array([[0.0, 0.0, 1.0]]), np.array([[0.0, 0.0, -1.0]]))
    assert np.allclose(opposite[0] @ [0, 0, 1], [0, 0, -1]) and np.isclose(np.linalg.det(opposite[0]), 1.0)
    assert np.allclose(rt.swing(a[:1], a[:1])[0], np.eye(3))


@pytest.mark.parametrize("mode", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_matrices_match_blender(mode):
    actions = submodule("actions")
    angles = np.random.default_rng(2).uniform(-3, 3, size=(50, 3))
    got = actions.euler_matrices(angles, mode)
    want = np.array([np.array(Euler(a, mode).to_matrix()) for a in angles])
    assert np.abs(got - want).max() < 1e-6  # mathutils works in float32


@pytest.mark.parametrize("mode", ["QUATERNION", "AXIS_ANGLE", "XYZ", "ZXY"])
def test_rotation_values_round_trip_and_stay_continuous(rt, mode):
    actions = submodule("actions")
    t = np.linspace(0, 6 * math.pi, 120)  # three full turns about a tilted axis
    axis = np.array([0.3, 0.4, 0.866])
    axis /= np.linalg.norm(axis)
    q = np.concatenate([np.cos(t / 2)[:, None], np.sin(t / 2)[:, None] * axis], 1)
    q = rt.continuous_quaternions(q)
    channel, values = actions.rotation_values(q, mode)
    assert channel == actions.rotation_channel(mode)
    if mode == "QUATERNION":
        back = values
    elif mode == "AXIS_ANGLE":
        back = np.array([np.array(Quaternion(v[1:], v[0])) for v in values])
    else:
        back = np.array([np.array(Euler(v, mode).to_quaternion()) for v in values])
        steps = np.abs(np.diff(values, axis=0)).max()
        assert steps < 0.5  # no 2 pi jumps between neighbouring keys
    dots = np.abs(np.sum(back * q, axis=1))
    assert np.allclose(dots, 1.0, atol=1e-6)


def test_rig_sorts_parents_first_and_refuses_cycles(rt):
    eye = np.broadcast_to(np.eye(4), (3, 4, 4))
    rig = rt.Rig.from_bones(["hand", "arm", "root"], ["arm", "root", None], eye, np.eye(4))
    assert rig.names == ("root", "arm", "hand") and list(rig.parents) == [-1, 0, 1]
    with pytest.raises(ValueError, match="cycle"):
        rt.Rig.from_bones(["a", "b"], ["b", "a"], eye[:2], np.eye(4))


def test_forward_kinematics_moves_children_with_parents(rt):
    rest = np.broadcast_to(np.eye(4), (2, 4, 4)).copy()
    rest[1, :3, 3] = (0.0, 1.0, 0.0)  # child one unit up the parent's Y
    rig = rt.Rig.from_bones(["root", "tip"], [None, "root"], rest, np.eye(4))
    basis = np.broadcast_to(np.eye(4), (1, 2, 4, 4)).copy()
    basis[0, 0, :3, :3] = np.array(Matrix.Rotation(math.pi / 2, 3, 'Z'))
    pose = rig.forward(basis)
    assert np.allclose(pose[0, 1, :3, 3], (-1.0, 0.0, 0.0), atol=1e-6)


def test_axes_and_alignment(rt):
    p = np.array([[1.0, 2.0, 3.0]])
    assert np.allclose(rt.to_blender(p), [[1.0, -3.0, 2.0]])
    assert np.allclose(rt.from_blender(rt.to_blender(p)), p)
    # a body at frame 0 facing +X (its left is -Z) is turned to face +Z, pelvis over the origin
    from runtime.skeleton import J

    pos = np.zeros((2, 22, 3))
    pos[:, :, 1] = 1.0
    for name, x in (("left_hip", -0.1), ("right_hip", 0.1), ("left_shoulder", -0.2), ("right_shoulder", 0.2)):
        pos[:, J[name], 2] = x
    pos[:, :, 0] += 5.0
    out = rt.align_start(pos)
    assert np.allclose(out[0, J["pelvis"]], [0.0, 1.0, 0.0])
    assert out[0, J["left_hip"], 0] > 0.09 and abs(out[0, J["left_hip"], 2]) < 1e-9


def test_placement_prefers_a_standing_pose(rt):
    from runtime.skeleton import J

    standing = np.zeros((22, 3))
    standing[:, 2] = 1.0
    standing[J["head"], 2] = 1.7
    for n in ("left_ankle", "right_ankle", "left_foot", "right_foot"):
        standing[J[n], 2] = 0.1
    for n, x in (("left_hip", 0.1), ("right_hip", -0.1), ("left_knee", 0.1), ("right_knee", -0.1),
                 ("left_ankle", 0.1), ("right_ankle", -0.1)):
        standing[J[n], 0] = x
    standing[J["left_knee"], 2] = standing[J["right_knee"], 2] = 0.5
    lying = standing[:, [2, 1, 0]]  # the same body on its side
    where = rt.placement([("rest", lying), ("pose", standing + [3.0, 4.0, 0.0])], np.eye(4))
    assert where.source == "pose" and np.allclose(where.origin, [3.0, 4.0, 0.1]) and abs(where.yaw) < 1e-9
    fallback = rt.placement([("rest", lying)], np.array(Matrix.Translation((1, 2, 3)) @ Matrix.Rotation(
        math.pi / 2, 4, 'Z')))
    assert fallback.source == "object" and np.allclose(fallback.origin, [1, 2, 3])
    assert fallback.yaw == pytest.approx(math.pi / 2)  # the object's -Y turned to +X


def test_frames_between_file_clip_and_scene():
    frames = submodule("frames")
    timing = frames.Timing(fps=20.0, source_fps=120.0, first_source_frame=1, num_frames=101)
    assert timing.clip_index(1) == 0.0 and timing.clip_index(61) == 10.0
    assert timing.clip_index(-50) == 0.0 and timing.clip_index(10_000) == 100.0
    assert frames.clip_span(timing, -1, -1) == (0.0, 100.0)
    assert frames.clip_span(timing, 61, 121) == (10.0, 20.0)
    with pytest.raises(ValueError, match="ends"):
        frames.clip_span(timing, 121, 61)
    s = frames.scene_samples(10.0, 20.0, 20.0, 30.0)
    assert len(s) == 16 and s[0] == 10.0 and s[-1] == pytest.approx(20.0)
    assert len(frames.scene_samples(0.0, 0.0, 20.0, 24.0)) == 1
    assert frames.source_to_scene(timing, 61, 10.0, 1, 30.0) == 1
    assert frames.source_to_scene(timing, 121, 10.0, 1, 30.0) == 16
    pos = np.arange(10.0)[:, None] * [1.0, 2.0]
    assert np.allclose(frames.interpolate(pos, [0.5, 8.25, 20.0]), [[0.5, 1.0], [8.25, 16.5], [9.0, 18.0]])
    assert frames.scene_fps(30, 1.001) == pytest.approx(29.97, abs=1e-2)
    assert frames.duration_text(2.44) == "2.4 s" and frames.duration_text(65) == "1 min 05 s"


def test_result_rows():
    results = submodule("results")
    assert all("_" not in results.part_label(p) for p in PART_NAMES)
    assert results.part_label("elbow_r") == "right elbow" and results.part_label("lumbar") == "spine"
    hit = types.SimpleNamespace(clip_id="c1", path="/lib/walk_01.bvh", label="", score=0.5, start_frame=12,
                                end_frame=80, fps=120.0, duration_s=0.57)
    row = results.hit_row(hit)
    assert row["label"] == "walk_01" and row["duration"] == pytest.approx(0.57)
    assert row["description"] == ""  # a Hit from before the index stored descriptions
    hit.description = "A person walks forward."
    assert results.hit_row(hit)["description"] == "A person walks forward."
    event = types.SimpleNamespace(kind="wave", side="right", start=24, end=90, parts=("elbow_r", "shoulder_r"))
    assert results.event_line(event, 20.0) == "wave (right) 1.20-4.50 s: elbow_r, shoulder_r"
    assert results.event_line(types.SimpleNamespace(kind="jump", side=None, start=0, end=10, parts=())) == \
        "jump 0.00-0.50 s"
    match = types.SimpleNamespace(word="waves", part="elbow_r", joints=("right_elbow", "right_wrist"),
                                  start_frame=30, end_frame=50, score=0.8)
    words = results.word_rows(types.SimpleNamespace(words=[match]))
    assert words[0]["joints"] == "right_elbow,right_wrist" and words[0]["part_label"] == "right elbow"
    assert results.markers(words) == [("MS: waves", 30)]


def test_bone_map_messages():
    bonemap = submodule("bonemap")
    from runtime.rigs import CONVENTIONS
    from runtime.skeleton import JOINTS

    mixamo = [f"mixamorig:{n}" for n in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")] + [
        f"mixamorig:{s}{n}" for s in ("Left", "Right") for n in ("UpLeg", "Leg", "Foot", "ToeBase", "Shoulder",
                                                                  "Arm", "ForeArm", "Hand")]
    rigmap = bonemap.resolve("Mixamo rig", mixamo)
    assert rigmap.convention == "mixamo" and rigmap.bone_of("left_wrist") == "mixamorig:LeftHand"
    assert set(bonemap.exact_bones(rigmap)) == set(JOINTS)
    with pytest.raises(bonemap.BoneMapError) as e:
        bonemap.resolve("Box", ["Bone", "Bone.001"])
    assert "Armature 'Box' cannot be mapped" in str(e.value) and e.value.missing == list(JOINTS)
    assert all(c in str(e.value) for c in CONVENTIONS)
    with pytest.raises(bonemap.BoneMapError, match="Head -> 'Skull'"):
        bonemap.resolve("Mixamo rig", mixamo, {"head": "Skull"})
