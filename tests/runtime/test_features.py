"""Joint angles and motion windows, checked against facts known about real clips."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.io import read_bvh
from runtime.motion import (CHANNELS, JOINTS, MIRROR_PERM, MIRROR_SIGN, NUM_CHANNELS, PART_JOINTS, PARTS, C,
                            ChannelStats, J, clip_angles, load_motion, mirror_positions, motion_windows, window_angles,
                            window_starts)


def test_layout_is_the_papers_29_channels_over_14_parts():
    assert NUM_CHANNELS == 29 and len(PARTS) == 14
    assert [len(c) for _, c in PARTS] == [3, 3, 3, 3, 1, 1, 1, 1, 3, 2, 3, 3, 1, 1]
    assert set(PART_JOINTS) == {p for p, _ in PARTS}
    assert all(j in JOINTS for joints in PART_JOINTS.values() for j in joints)


@pytest.mark.parametrize("name", ["dataset-2_wave-left-hand_normal_001", "dataset-2_walk-turn-left_active_001",
                                  "dataset-2_run_exhausted_001"])
def test_mirroring_a_clip_swaps_left_and_right_channels(bandai2, name):
    p = load_motion(bandai2 / f"{name}.bvh").positions
    a = clip_angles(p)
    m = clip_angles(mirror_positions(p))
    np.testing.assert_allclose(m, a[:, MIRROR_PERM] * MIRROR_SIGN, atol=1e-3)
    # and the channels really differ between the sides (the test is not trivially true)
    assert np.abs(a[:, C["shoulder_adduction_l"]] - a[:, C["shoulder_adduction_r"]]).max() > 5.0


def test_knee_angle_equals_the_files_own_knee_rotation(bandai2):
    """Bandai knees are hinges about their local Y: the angle measured from positions must match."""
    for name in ["dataset-2_walk_normal_001", "dataset-2_run_active_001", "dataset-2_raise-up-both-hands_normal_001"]:
        path = bandai2 / f"{name}.bvh"
        anim = read_bvh(path)
        motion = load_motion(path)
        a = clip_angles(motion.positions)
        src = np.round(motion.source_frame(np.arange(motion.num_frames))).astype(int)
        for side, bone in (("l", "LowerLeg_L"), ("r", "LowerLeg_R")):
            j = anim.index(bone)
            assert anim.axes[j] == "ZXY"
            assert np.abs(anim.angles[:, j, :2]).max() < 3.0  # Z and X stay ~0: a hinge
            raw = np.abs(anim.angles[src, j, 2])  # the Y rotation
            mine = a[:, C[f"knee_flexion_{side}"]]
            on_source_frames = np.isclose(motion.source_frame(np.arange(motion.num_frames)) % 1, 0)
            assert np.abs(mine - raw)[on_source_frames].max() < 3.0, (name, side)


def test_standing_knees_are_nearly_straight(bandai1, bandai2):
    # Bandai-1 "call" clips start standing upright
    for f in sorted(bandai1.glob("dataset-1_call_*.bvh")):
        a = clip_angles(load_motion(f).positions)
        assert a[0, C["knee_flexion_l"]] < 8.0 and a[0, C["knee_flexion_r"]] < 8.0, f
    # running bends them a lot
    a = clip_angles(load_motion(bandai2 / "dataset-2_run_normal_001.bvh").positions)
    assert a[:, C["knee_flexion_l"]].max() > 60.0


def _arm_activity(a: np.ndarray, side: str) -> float:
    """Degrees the arm's shoulder and elbow channels sweep through in a clip."""
    return sum(float(np.ptp(a[:, C[f"{c}_{side}"]])) for c in ("shoulder_adduction", "shoulder_flexion", "elbow_flexion"))


@pytest.mark.parametrize("side", ["l", "r"])
def test_raise_up_hand_clips_raise_that_hand(bandai2, side):
    hand, other = ("left", "right") if side == "l" else ("right", "left")
    files = sorted(bandai2.glob(f"dataset-2_raise-up-{hand}-hand_*.bvh"))
    assert len(files) > 400
    for f in files:
        p = load_motion(f).positions
        a = clip_angles(p)
        rise = (p[:, J[f"{hand}_wrist"], 1] - p[0, J[f"{hand}_wrist"], 1]).max()
        other_rise = (p[:, J[f"{other}_wrist"], 1] - p[0, J[f"{other}_wrist"], 1]).max()
        assert rise > 0.3 and rise > other_rise + 0.2, f  # metres
        assert _arm_activity(a, side) > _arm_activity(a, "r" if side == "l" else "l") + 20.0, f


def test_turning_left_turns_the_heading_left(bandai2):
    left = [clip_angles(load_motion(f).positions)[-1, C["pelvis_rotation"]]
            for f in sorted(bandai2.glob("dataset-2_walk-turn-left_*.bvh"))[:20]]
    right = [clip_angles(load_motion(f).positions)[-1, C["pelvis_rotation"]]
             for f in sorted(bandai2.glob("dataset-2_walk-turn-right_*.bvh"))[:20]]
    assert min(left) > 30.0 and max(right) < -30.0


def test_windows_cover_every_frame_and_mark_padding(bandai2, cmu_bvh):
    long = clip_angles(load_motion(cmu_bvh / "mb-fairmotion" / "01_01.bvh").positions)  # 458 frames
    w = motion_windows(long, window=224, hop=112)
    assert w.start.tolist() == [0, 112, 224, long.shape[0] - 224]
    covered = np.zeros(long.shape[0], bool)
    for s, n in zip(w.start, w.length):
        covered[s: s + n] = True
    assert covered.all() and w.mask.all()
    short = clip_angles(load_motion(bandai2 / "dataset-2_raise-up-left-hand_normal_001.bvh").positions)
    w = motion_windows(short, window=224, hop=112)
    assert w.angles.shape == (1, 224, 29) and w.length[0] == short.shape[0]
    assert w.mask[0, : short.shape[0]].all() and not w.mask[0, short.shape[0]:].any()
    assert (w.angles[0, short.shape[0]:] == 0).all()
    assert window_starts(224, 224, 112).tolist() == [0]


def test_window_translation_and_heading_start_at_zero(bandai2):
    a = clip_angles(load_motion(bandai2 / "dataset-2_walk-turn-left_normal_001.bvh").positions)
    w = window_angles(a, 30, 50)
    assert w[0, C["pelvis_tx"]] == 0 and w[0, C["pelvis_tz"]] == 0 and w[0, C["pelvis_rotation"]] == 0
    # walking forward in the window's own heading: tz grows, tx stays small
    assert w[-1, C["pelvis_tz"]] > 0.5 and abs(w[-1, C["pelvis_tx"]]) < w[-1, C["pelvis_tz"]]
    # body-local channels are untouched
    np.testing.assert_array_equal(w[:, C["knee_flexion_l"]], a[30:80, C["knee_flexion_l"]])


def test_channel_stats_zscore_and_roundtrip(bandai2, tmp_path):
    wins = [motion_windows(clip_angles(load_motion(f).positions), 224, 112)
            for f in sorted(bandai2.glob("dataset-2_walk_*.bvh"))[:10]]
    stats = ChannelStats.fit(wins)
    z = stats.normalize(wins[0].angles, wins[0].mask)
    assert (z[~wins[0].mask] == 0).all()
    real = np.concatenate([stats.normalize(w.angles, w.mask)[w.mask] for w in wins])
    np.testing.assert_allclose(real.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(real.std(0), 1, atol=1e-2)
    stats.save(tmp_path / "stats.json")
    again = ChannelStats.load(tmp_path / "stats.json")
    np.testing.assert_array_equal(again.mean, stats.mean)
    assert list(again.to_json()["channels"]) == list(CHANNELS)
