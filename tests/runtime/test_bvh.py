"""The BVH reader and the canonical motion pipeline, on every real BVH file in the shared data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from runtime.errors import MotionFormatError
from runtime.io import parse_bvh, read_bvh
from runtime.motion import J, forward_kinematics, leg_length, load_motion
from runtime.shared_data import cmu_fps

EXPECTED_RIG = {
    "bandai-namco": "bandai",
    "mb-tmoco": "cmu_motionbuilder",
    "mb-fairmotion": "cmu_motionbuilder",
    "daz-przestr": "cmu_daz",
    "daz-acrnn": "cmu_daz",
    "daz-scaled-beemsoft": "cmu_daz",
    "max-koyama": "max_cmu",
    "iclone-retargeted-dragonforged": "iclone_cc",
}


def _header_frames(path: Path) -> int:
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = re.match(r"\s*Frames:\s*(\d+)", line)
            if m:
                return int(m.group(1))
    raise AssertionError(f"{path} has no Frames line")


def _folder_convention(path: Path) -> str:
    for key, rig in EXPECTED_RIG.items():
        if any(part.startswith(key) for part in path.parts):
            return rig
    raise AssertionError(f"no expected rig for {path}")


def test_every_cmu_bvh_loads_with_its_rig(cmu_bvh):
    files = sorted(cmu_bvh.rglob("*.bvh"))
    assert len(files) == 170
    seen = set()
    for f in files:
        anim = read_bvh(f)
        assert anim.num_frames == _header_frames(f), f
        motion = load_motion(f, fps=cmu_fps(f))
        expected = _folder_convention(f)
        # daz-przestr subject 16 uses the ASF bone names (hip, lfemur, ...) under a DAZ root
        assert motion.rig == expected or (f.parent.name == "16" and motion.rig == "cmu_asf"), (f, motion.rig)
        seen.add(motion.rig)
        p = motion.positions
        assert np.isfinite(p).all()
        assert 0.6 < leg_length(p) < 1.0, (f, leg_length(p))
    assert {"cmu_motionbuilder", "cmu_daz", "max_cmu", "iclone_cc", "cmu_asf"} <= seen


@pytest.mark.parametrize("dataset", [1, 2])
def test_every_bandai_bvh_loads(dataset, bandai1, bandai2):
    folder = bandai1 if dataset == 1 else bandai2
    files = sorted(folder.glob("*.bvh"))
    assert len(files) == (174 if dataset == 1 else 2902)
    for f in files:
        anim = read_bvh(f)
        assert anim.num_frames == _header_frames(f), f
        assert anim.fps == pytest.approx(30.0, rel=1e-3)
        motion = load_motion(f)
        assert motion.rig == "bandai"
        assert motion.first_source_frame == 0, f  # Bandai files have no added rest pose
        assert motion.metres_per_unit == 0.01  # centimetres
        # 30 fps -> 20 fps over the same duration
        assert motion.num_frames == int(np.floor((anim.num_frames - 1) * 20 / 30 + 1e-6)) + 1


def test_canonical_frame_is_y_up_facing_z_on_the_floor(bandai2, cmu_bvh):
    for f in [bandai2 / "dataset-2_walk_normal_001.bvh", cmu_bvh / "mb-tmoco" / "02_01.bvh",
              cmu_bvh / "daz-scaled-beemsoft" / "60" / "60_01_scaled.bvh",
              cmu_bvh / "iclone-retargeted-dragonforged" / "002" / "002_01.bvh"]:
        p = load_motion(f, fps=cmu_fps(f)).positions
        # upright: head above pelvis above ankles, on every frame of these walking/dancing clips
        assert (p[:, J["head"], 1] > p[:, J["pelvis"], 1]).all()
        assert (p[:, J["pelvis"], 1] > p[:, J["left_ankle"], 1]).all()
        # frame 0 faces +Z: the body's left is +X
        assert p[0, J["left_hip"], 0] > p[0, J["right_hip"], 0]
        assert p[0, J["left_shoulder"], 0] > p[0, J["right_shoulder"], 0]
        assert abs(p[0, J["pelvis"], 0]) < 1e-6 and abs(p[0, J["pelvis"], 2]) < 1e-6
        # feet touch the floor (y = 0) at some point, and do not go far below it
        feet = p[:, [J["left_foot"], J["right_foot"]], 1]
        assert abs(np.percentile(feet.min(axis=1), 1)) < 0.03
        assert feet.min() > -0.05


def test_walking_moves_forward(bandai2):
    p = load_motion(bandai2 / "dataset-2_walk_normal_001.bvh").positions
    travel = p[-1, J["pelvis"]] - p[0, J["pelvis"]]
    assert travel[2] > 3.0 and abs(travel[0]) < 1.0  # metres: forward along +Z, little sideways


def test_added_rest_frame_is_dropped_only_where_there_is_one(cmu_bvh, bandai2):
    # fairmotion's 01_01 starts with a zero pose (all rotations 0 but the hip joints' +-17/5)
    anim = read_bvh(cmu_bvh / "mb-fairmotion" / "01_01.bvh")
    assert np.abs(anim.angles[0, 1:]).max() <= 17.0 < np.abs(anim.angles[1, 1:]).max()
    assert load_motion(cmu_bvh / "mb-fairmotion" / "01_01.bvh").first_source_frame == 1
    # koyama's 3ds Max conversions have none
    assert load_motion(cmu_bvh / "max-koyama" / "131_01.bvh").first_source_frame == 0
    assert load_motion(bandai2 / "dataset-2_run_normal_001.bvh").first_source_frame == 0
    # the DAZ conversions start from their zero pose and ease into the motion over a few frames
    daz = sorted((cmu_bvh / "daz-acrnn").glob("*.bvh")) + sorted((cmu_bvh / "daz-przestr").rglob("0*.bvh"))
    assert len(daz) > 50 and all(load_motion(f).first_source_frame == 1 for f in daz)
    # forcing it either way is possible
    assert load_motion(cmu_bvh / "mb-fairmotion" / "01_01.bvh", drop_rest_frame=False).first_source_frame == 0


def test_frame_rate_override_changes_duration(cmu_bvh):
    f = cmu_bvh / "daz-scaled-beemsoft" / "60" / "60_01_scaled.bvh"
    assert read_bvh(f).fps == pytest.approx(120.0, rel=1e-3)  # what the file claims
    as_file = load_motion(f)
    real = load_motion(f, fps=60.0)  # cmu-trials.csv: trial 60_01 was captured at 60 fps
    assert cmu_fps(f) == 60.0
    assert real.duration == pytest.approx(2 * as_file.duration, rel=0.01)
    # the same motion, just slower: frame k of the 120 fps reading is frame 2k of the real one
    # (up to the floor height, estimated from the frames each reading samples)
    a, b = real.positions[::2][:50], as_file.positions[:50]
    np.testing.assert_allclose(a - a[:, :1], b - b[:, :1], atol=1e-4)
    np.testing.assert_allclose(a, b, atol=0.01)


def test_units_are_told_from_the_skeleton(cmu_bvh, bandai2):
    assert load_motion(cmu_bvh / "mb-tmoco" / "02_01.bvh").metres_per_unit == pytest.approx(0.0254 / 0.45)
    assert load_motion(cmu_bvh / "max-koyama" / "scaled_131_01.bvh").metres_per_unit == 1.0
    assert load_motion(bandai2 / "dataset-2_walk_normal_001.bvh").metres_per_unit == 0.01
    # the same trial in CMU units and rescaled to metres gives the same body
    a = load_motion(cmu_bvh / "max-koyama" / "131_01.bvh").positions
    b = load_motion(cmu_bvh / "max-koyama" / "scaled_131_01.bvh").positions
    assert leg_length(a) == pytest.approx(leg_length(b), rel=0.02)


SYNTHETIC = """HIERARCHY\r
ROOT Hips\r
{\r
\tOFFSET 0 0 0\r
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\r
\tJOINT Child Bone\r
\t{\r
\t\tOFFSET 0 10 0\r
\t\tCHANNELS 4 Xrotation Yposition Yrotation Zrotation\r
\t\tEnd Site\r
\t\t{\r
\t\t\tOFFSET 0 5 0\r
\t\t}\r
\t}\r
}\r
MOTION\r
Frames:\t2\r
Frame Time:\t0.05\r
1 2 3 90 0 0 0 7 0 0\r
0 0 0 0 90 0 90 20 0 0\r
"""


def test_channel_orders_position_channels_crlf_tabs_and_names_with_spaces():
    anim = parse_bvh(SYNTHETIC, "synthetic.bvh")
    assert anim.names == ("Hips", "Child Bone", "Child Bone_end")
    assert anim.axes == ("ZXY", "XYZ", "")
    assert anim.fps == pytest.approx(20.0)
    pos = forward_kinematics(anim)
    # frame 0: root at (1,2,3) turned 90 deg about Z; the child's Y position channel (7) replaces its offset (10)
    np.testing.assert_allclose(pos[0, 0], [1, 2, 3], atol=1e-9)
    np.testing.assert_allclose(pos[0, 1], [1 - 7, 2, 3], atol=1e-9)
    np.testing.assert_allclose(pos[0, 2], [1 - 12, 2, 3], atol=1e-9)
    # frame 1: root Xrotation 90 turns +Y into +Z; the child's own Xrotation 90 turns it again (to -Y)
    np.testing.assert_allclose(pos[1, 1], [0, 0, 20], atol=1e-9)
    np.testing.assert_allclose(pos[1, 2], [0, -5, 20], atol=1e-9)


@pytest.mark.parametrize("text, reason", [
    ("", "not a BVH file"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0\n}\nMOTION\n", "OFFSET needs 3 numbers"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation\n}\n", "CHANNELS says 3 but lists 2"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Wrotation\n}\nMOTION\n", "unknown channel"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 3\nFrame Time: 0.1\n1\n2\n",
     "only 2 frame lines"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n1\nnan\n",
     "non-finite"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n1\n1x\n",
     "is not a number"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0\n1\n",
     "not a usable frame time"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\n", "no MOTION section"),
    ("HIERARCHY\nROOT A\n{\nOFFSET 0 0 0\nCHANNELS 2 Xrotation Yrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n1 2 3\n",
     "frame 1 has 3 values"),
])
def test_malformed_files_give_a_clear_error_with_file_and_line(text, reason):
    with pytest.raises(MotionFormatError) as e:
        parse_bvh(text, "broken.bvh")
    assert reason in str(e.value)
    assert str(e.value).startswith("broken.bvh")


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(MotionFormatError, match="cannot read file"):
        read_bvh(tmp_path / "nope.bvh")
