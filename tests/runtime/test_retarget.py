"""Retargeting without Blender: the solve's pieces, the frame arithmetic, and real clips written
onto other real skeletons (BVH out, read back by the runtime's own reader)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from runtime import retarget as rt
from runtime.io import axis_rotation, euler_angles, euler_matrix, format_bvh, parse_bvh, read_bvh, write_bvh
from runtime.motion import J, forward_kinematics, leg_length, load_motion, rotation_between

WALK = "dataset-2_walk-turn-left_normal_001.bvh"  # Bandai 2, 102 frames at 30 fps, turns left
WAVE = "dataset-2_wave-right-hand_normal_001.bvh"
CMU_DAZ = "daz-przestr/07/07_01.bvh"  # CMU walk, DAZ names, 120 fps
CMU_MB = "mb-tmoco/05_06.bvh"  # CMU in MotionBuilder's naming

LIMBS = [("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
         ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
         ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("spine3", "head")]


# ------------------------------------------------------------------------------------ small pieces

def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def test_matrix_to_quaternion_round_trips():
    q = np.random.default_rng(0).normal(size=(500, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    q[0] = (1e-7, 0.6, 0.8, 0.0)  # a half turn: the trace is close to -1
    got = rt.matrix_to_quaternion(_quaternion_matrix(q))
    assert np.abs(np.abs(np.sum(got * q, axis=1)) - 1.0).max() < 1e-9
    assert (got[:, 0] >= 0).all()


def test_continuous_quaternions_have_no_sign_flips():
    angles = np.linspace(0, 4 * math.pi, 50)
    q = np.stack([np.cos(angles / 2), np.zeros_like(angles), np.zeros_like(angles), np.sin(angles / 2)], -1)
    flipped = q * np.where(np.arange(50) % 3 == 0, -1.0, 1.0)[:, None]
    cont = rt.continuous_quaternions(flipped)
    assert (np.sum(cont[1:] * cont[:-1], axis=1) > 0).all()


def test_rotation_between_is_the_smallest_rotation():
    """The swing every retargeted bone makes (runtime.motion.rotation_between)."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=(100, 3))
    b = rng.normal(size=(100, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    r = rotation_between(a, b)
    assert np.allclose(np.einsum("nij,nj->ni", r, a), b, atol=1e-9)
    assert np.allclose(np.linalg.det(r), 1.0)
    axis_dot = np.einsum("nij,nj->ni", r, np.cross(a, b)) - np.cross(a, b)  # the axis a x b stays put
    assert np.abs(axis_dot).max() < 1e-9
    opposite = rotation_between(np.array([[0.0, 0.0, 1.0]]), np.array([[0.0, 0.0, -1.0]]))
    assert np.allclose(opposite[0] @ [0, 0, 1], [0, 0, -1]) and np.isclose(np.linalg.det(opposite[0]), 1.0)
    assert np.allclose(rotation_between(a[:1], a[:1])[0], np.eye(3))


def test_rig_sorts_parents_first_and_refuses_cycles():
    eye = np.broadcast_to(np.eye(4), (3, 4, 4))
    rig = rt.Rig.from_bones(["hand", "arm", "root"], ["arm", "root", None], eye, np.eye(4))
    assert rig.names == ("root", "arm", "hand") and list(rig.parents) == [-1, 0, 1]
    with pytest.raises(ValueError, match="cycle"):
        rt.Rig.from_bones(["a", "b"], ["b", "a"], eye[:2], np.eye(4))


def test_forward_kinematics_moves_children_with_parents():
    rest = np.broadcast_to(np.eye(4), (2, 4, 4)).copy()
    rest[1, :3, 3] = (0.0, 1.0, 0.0)  # child one unit up the parent's Y
    rig = rt.Rig.from_bones(["root", "tip"], [None, "root"], rest, np.eye(4))
    basis = np.broadcast_to(np.eye(4), (1, 2, 4, 4)).copy()
    basis[0, 0, :3, :3] = axis_rotation("Z", 90.0)
    pose = rig.forward(basis)
    assert np.allclose(pose[0, 1, :3, 3], (-1.0, 0.0, 0.0), atol=1e-9)


def test_axes_and_alignment():
    p = np.array([[1.0, 2.0, 3.0]])
    assert np.allclose(rt.to_blender(p), [[1.0, -3.0, 2.0]])
    assert np.allclose(rt.from_blender(rt.to_blender(p)), p)
    # a body at frame 0 facing +X (its left is -Z) is turned to face +Z, pelvis over the origin
    pos = np.zeros((2, 22, 3))
    pos[:, :, 1] = 1.0
    for name, x in (("left_hip", -0.1), ("right_hip", 0.1), ("left_shoulder", -0.2), ("right_shoulder", 0.2)):
        pos[:, J[name], 2] = x
    pos[:, :, 0] += 5.0
    out = rt.align_start(pos)
    assert np.allclose(out[0, J["pelvis"]], [0.0, 1.0, 0.0])
    assert out[0, J["left_hip"], 0] > 0.09 and abs(out[0, J["left_hip"], 2]) < 1e-9


def test_placement_prefers_a_standing_pose():
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
    obj = np.eye(4)
    obj[:3, :3] = axis_rotation("Z", 90.0)
    obj[:3, 3] = (1, 2, 3)
    fallback = rt.placement([("rest", lying)], obj)
    assert fallback.source == "object" and np.allclose(fallback.origin, [1, 2, 3])
    assert fallback.yaw == pytest.approx(math.pi / 2)  # the object's -Y turned to +X


def test_frames_between_file_clip_and_scene():
    timing = rt.Timing(fps=20.0, source_fps=120.0, first_source_frame=1, num_frames=101)
    assert timing.clip_index(1) == 0.0 and timing.clip_index(61) == 10.0
    assert timing.clip_index(-50) == 0.0 and timing.clip_index(10_000) == 100.0
    assert rt.clip_span(timing, -1, -1) == (0.0, 100.0)
    assert rt.clip_span(timing, 61, 121) == (10.0, 20.0)
    with pytest.raises(ValueError, match="ends"):
        rt.clip_span(timing, 121, 61)
    s = rt.scene_samples(10.0, 20.0, 20.0, 30.0)
    assert len(s) == 16 and s[0] == 10.0 and s[-1] == pytest.approx(20.0)
    assert len(rt.scene_samples(0.0, 0.0, 20.0, 24.0)) == 1
    assert rt.source_to_scene(timing, 61, 10.0, 1, 30.0) == 1
    assert rt.source_to_scene(timing, 121, 10.0, 1, 30.0) == 16
    pos = np.arange(10.0)[:, None] * [1.0, 2.0]
    assert np.allclose(rt.interpolate(pos, [0.5, 8.25, 20.0]), [[0.5, 1.0], [8.25, 16.5], [9.0, 18.0]])
    assert rt.scene_fps(30, 1.001) == pytest.approx(29.97, abs=1e-2)


@pytest.mark.parametrize("axes", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_angles_invert_euler_matrix(axes):
    rng = np.random.default_rng(3)
    angles = rng.uniform(-179.0, 179.0, size=(400, 3))
    angles[:, 1] = rng.uniform(-89.0, 89.0, size=400)
    angles[:4, 1] = (90.0, -90.0, 90.0, -90.0)  # gimbal lock: the first and last axes line up
    back = euler_angles(euler_matrix(axes, angles), axes)
    assert np.abs(euler_matrix(axes, back) - euler_matrix(axes, angles)).max() < 1e-9
    assert np.abs(back[4:] - angles[4:]).max() < 1e-6  # unique away from the lock
    with pytest.raises(ValueError, match="distinct"):
        euler_angles(np.eye(3), "ZZY")


# ------------------------------------------------------------------------------------ real files

@pytest.mark.parametrize("which", ["bandai", "cmu"])
def test_bvh_writer_round_trips_real_files(which, bandai2, cmu_bvh, tmp_path):
    path = bandai2 / WALK if which == "bandai" else cmu_bvh / CMU_DAZ
    anim = read_bvh(path)
    write_bvh(anim, tmp_path / "copy.bvh")
    back = read_bvh(tmp_path / "copy.bvh")
    assert back.names == anim.names and back.axes == anim.axes and back.fps == pytest.approx(anim.fps)
    assert list(back.end_site) == list(anim.end_site) and back.num_frames == anim.num_frames
    assert np.abs(forward_kinematics(back) - forward_kinematics(anim)).max() < 1e-3  # file units
    assert parse_bvh(format_bvh(anim)).num_joints == anim.num_joints


def _limb_directions_in_pelvis_frame(pos: np.ndarray) -> np.ndarray:
    """Unit limb directions (T, limbs, 3) in the body's own frame (hips and spine): a clip and its
    retargeted copy agree there whatever the rigs' shoulders do to the facing of frame 0."""
    up = pos[:, J["spine1"]] - pos[:, J["pelvis"]]
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    left = pos[:, J["left_hip"]] - pos[:, J["right_hip"]]
    left -= up * np.sum(left * up, -1, keepdims=True)
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    frame = np.stack([left, up, np.cross(left, up)], axis=-1)
    d = np.stack([pos[:, J[b]] - pos[:, J[a]] for a, b in LIMBS], axis=1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    return np.einsum("fji,fsj->fsi", frame, d)


@pytest.mark.parametrize("clip, target", [("walk", "bandai"), ("walk", "cmu_daz"), ("wave", "cmu_daz"),
                                          ("cmu_walk", "bandai"), ("walk", "cmu_mb")])
def test_a_real_clip_on_another_real_skeleton(clip, target, bandai1, bandai2, cmu_bvh, tmp_path):
    """Limbs point where the clip's do (in the body's frame), the walk covers the distance scaled
    by the legs, the feet stay on the floor, and the file is a valid BVH of the target skeleton."""
    source = {"walk": bandai2 / WALK, "wave": bandai2 / WAVE, "cmu_walk": cmu_bvh / CMU_DAZ}[clip]
    onto = {"bandai": bandai1 / "dataset-1_bow_active_001.bvh", "cmu_daz": cmu_bvh / CMU_DAZ,
            "cmu_mb": cmu_bvh / CMU_MB}[target]
    motion = load_motion(source)
    skeleton = read_bvh(onto)
    out = rt.retarget_onto(motion, skeleton)
    assert out.names == skeleton.names and np.allclose(out.offsets, skeleton.offsets)
    assert out.fps == pytest.approx(motion.source_fps)
    write_bvh(out, tmp_path / "out.bvh")
    back = load_motion(tmp_path / "out.bvh")
    assert back.rig == load_motion(onto).rig
    n = min(back.num_frames, motion.num_frames)
    assert abs(back.num_frames - motion.num_frames) <= 1
    cos = np.sum(_limb_directions_in_pelvis_frame(motion.positions[:n])
                 * _limb_directions_in_pelvis_frame(back.positions[:n]), axis=-1)
    error = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    assert error.mean() < 1.5 and np.percentile(error, 90) < 3.0, (error.mean(), np.percentile(error, 90))

    def travel(p):
        return np.linalg.norm(p[-1, J["pelvis"], [0, 2]] - p[0, J["pelvis"], [0, 2]])

    # both are in metres: the walk's length scales with the target's legs over the clip's
    ratio = leg_length(back.positions) / leg_length(motion.positions)
    assert travel(back.positions[:n]) == pytest.approx(travel(motion.positions[:n]) * ratio, rel=0.05, abs=0.02)
    feet = back.positions[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1].min(axis=1)
    assert abs(np.percentile(feet, 1)) < 0.01  # on the floor, as the clip is


def test_retarget_command_line(bandai2, cmu_bvh, tmp_path):
    out = tmp_path / "walk_on_cmu.bvh"
    r = subprocess.run([sys.executable, "-m", "runtime", "retarget", str(bandai2 / WALK), "--onto",
                        str(cmu_bvh / CMU_DAZ), "--out", str(out), "--start", "10", "--end", "90", "--out-fps", "60"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    anim = read_bvh(out)
    assert anim.fps == 60.0 and anim.num_frames == pytest.approx(80 * 2, abs=2)  # frames 10-90 at 30 fps -> 60 fps
    described = subprocess.run([sys.executable, "-m", "runtime", "describe", str(out), "--captions", "0"],
                               capture_output=True, text=True)
    assert described.returncode == 0 and "walks" in described.stdout.splitlines()[0]
    for args, message in ((["--onto", str(bandai2 / WALK) + ".txt"], "takes a BVH file"),
                          (["--onto", str(tmp_path / "missing.bvh")], "missing.bvh"),
                          (["--onto", str(cmu_bvh / CMU_DAZ), "--start", "90", "--end", "10"], "must come before")):
        r = subprocess.run([sys.executable, "-m", "runtime", "retarget", str(bandai2 / WALK), "--out",
                            str(tmp_path / "x.bvh"), *args], capture_output=True, text=True)
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "runtime", "retarget", str(bandai2 / WALK), "--onto",
                        str(cmu_bvh / CMU_DAZ), "--out", str(tmp_path / "no" / "x.bvh")], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot write" in r.stderr and not (tmp_path / "no").exists()


@pytest.mark.parametrize("which", ["bandai", "cmu"])
def test_a_clip_onto_its_own_skeleton_gives_the_clip_back(which, bandai2, cmu_bvh, tmp_path):
    """Same proportions, so every joint lands where it was: the limbs by their swings, the shoulders
    by the chest's twist about its own axis (without it a Bandai turn's shoulders land 7 cm off and
    the canonical facing of frame 0 turns with them)."""
    path = bandai2 / WALK if which == "bandai" else cmu_bvh / CMU_DAZ
    motion = load_motion(path)
    write_bvh(rt.retarget_onto(motion, read_bvh(path)), tmp_path / "again.bvh")
    back = load_motion(tmp_path / "again.bvh")
    n = min(back.num_frames, motion.num_frames)
    error = np.linalg.norm(back.positions[:n] - motion.positions[:n], axis=-1)  # metres
    assert error.max() < 0.02 and error.mean() < 0.005, (error.mean(), error.max())
