"""Loaders for the layouts users bring (HumanML3D, KIT-ML, a captioned folder), on small files
the tests write themselves from a real clip."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from runtime.motion import KIT_JOINTS, C, J, clip_angles, load_motion, resample
from training.data import clip_motion, folder_clips, humanml3d_clips, kitml_clips

KIT_FROM_SMPL = {"root": "pelvis", "BP": "spine1", "BT": "spine3", "BLN": "neck", "BUN": "head",
                 "RS": "right_shoulder", "RE": "right_elbow", "RW": "right_wrist", "LS": "left_shoulder",
                 "LE": "left_elbow", "LW": "left_wrist", "RH": "right_hip", "RK": "right_knee", "RA": "right_ankle",
                 "RMrot": "right_foot", "RF": "right_foot", "LH": "left_hip", "LK": "left_knee", "LA": "left_ankle",
                 "LMrot": "left_foot", "LF": "left_foot"}


@pytest.fixture(scope="module")
def real(bandai2):
    return load_motion(bandai2 / "dataset-2_wave-right-hand_active_002.bvh")


def test_humanml3d_layout(tmp_path, real):
    root = tmp_path / "HumanML3D"
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    np.save(root / "new_joints" / "000001.npy", real.positions)
    np.save(root / "new_joints" / "000002.npy", real.positions[::-1].copy())
    (root / "texts" / "000001.txt").write_text(
        "a person waves with the right hand.#a/DET person/NOUN#0.0#0.0\nsomeone waves hello#x#0.0#0.0\n")
    (root / "texts" / "000002.txt").write_text("the motion reversed#x#0#0\n")
    (root / "train.txt").write_text("000001\n000003\n")  # 000003 listed but absent, as in real copies
    (root / "test.txt").write_text("000002\n")
    train = humanml3d_clips(root, "train")
    assert [c.key for c in train] == ["humanml3d/000001"]
    assert train[0].captions == ("a person waves with the right hand.", "someone waves hello")
    assert [c.key for c in humanml3d_clips(root)] == ["humanml3d/000001", "humanml3d/000002"]
    a = clip_angles(clip_motion(train[0]).positions)
    np.testing.assert_allclose(a, clip_angles(real.positions), atol=1e-3)
    with pytest.raises(FileNotFoundError):
        humanml3d_clips(root, "val")


def test_kitml_layout_is_reordered_to_smpl(tmp_path, real):
    root = tmp_path / "KIT-ML"
    (root / "new_joints").mkdir(parents=True)
    (root / "texts").mkdir()
    kit = np.stack([real.positions[:, J[KIT_FROM_SMPL[n]]] for n in KIT_JOINTS], axis=1)
    kit[:, KIT_JOINTS.index("RF"), 2] += 0.05  # the toe tip, a little ahead of the toe base
    kit[:, KIT_JOINTS.index("LF"), 2] += 0.05
    np.save(root / "new_joints" / "00001.npy", resample(kit, 20.0, 12.5) * 1000.0)  # KIT-ML: 12.5 fps, mm
    (root / "texts" / "00001.txt").write_text("a person waves#x#0#0\n")
    clips = kitml_clips(root)
    motion = clip_motion(clips[0])
    assert motion.source_fps == 12.5 and motion.rig == "smpl"
    ours, ref = clip_angles(motion.positions), clip_angles(real.positions)
    n = min(len(ours), len(ref))
    # 20 -> 12.5 -> 20 fps resampling smooths fast waving a little; the arms must still agree
    for c in ("elbow_flexion_r", "shoulder_adduction_r", "knee_flexion_l"):
        assert np.median(np.abs(ours[:n, C[c]] - ref[:n, C[c]])) < 3.0, c


def test_folder_with_captions_csv_and_jsonl(tmp_path, bandai2):
    for name in ("dataset-2_walk_normal_001.bvh", "dataset-2_run_normal_001.bvh"):
        shutil.copy(bandai2 / name, tmp_path / name)
    (tmp_path / "captions.csv").write_text(
        "file,caption\ndataset-2_walk_normal_001.bvh,a person walks\n"
        "dataset-2_walk_normal_001.bvh,someone strolls forward\ndataset-2_run_normal_001.bvh,a person runs\n")
    clips = folder_clips(tmp_path)
    assert [c.captions for c in clips] == [("a person runs",), ("a person walks", "someone strolls forward")]
    assert clip_motion(clips[0]).num_frames > 10
    jl = tmp_path / "caps.jsonl"
    jl.write_text(json.dumps({"file": "dataset-2_run_normal_001.bvh", "captions": ["runs", "jogs"]}) + "\n\n" +
                  json.dumps({"file": "dataset-2_walk_normal_001.bvh", "caption": "walks"}) + "\n")
    assert [c.captions for c in folder_clips(tmp_path, jl)] == [("runs", "jogs"), ("walks",)]
    jl.write_text('{"file": "missing.bvh", "caption": "x"}\n')
    with pytest.raises(FileNotFoundError, match="missing.bvh"):
        folder_clips(tmp_path, jl)
    jl.write_text('{"caption": "x"}\n')
    with pytest.raises(ValueError, match="caps.jsonl:1"):
        folder_clips(tmp_path, jl)
