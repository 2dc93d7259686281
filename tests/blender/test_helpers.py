"""The add-on's helpers against Blender's own mathutils (rotations, Euler modes), and its UI rows.
The retargeting math without Blender is tested in tests/runtime/test_retarget.py."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
from mathutils import Euler, Matrix, Quaternion

from runtime.motion import PART_NAMES

from .conftest import submodule


@pytest.fixture(scope="module")
def rt():
    from runtime import retarget

    return retarget


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
    assert results.duration_text(2.44) == "2.4 s" and results.duration_text(65) == "1 min 05 s"


def test_bone_map_messages():
    bonemap = submodule("bonemap")
    from runtime.motion import CONVENTIONS, JOINTS

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
