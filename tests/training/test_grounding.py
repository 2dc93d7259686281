"""Grounding measured against the motion itself: which body parts move, and where query words land."""

from __future__ import annotations

import numpy as np

from runtime.model import Bundle, default_bundle_path
from runtime.motion import PART_NAMES, load_motion
from training.bundle_eval import grounding_figures, part_speeds, side_kind


def _top(speeds: np.ndarray, k: int = 3) -> set[str]:
    return {PART_NAMES[p] for p in np.argsort(-speeds.mean(axis=0))[:k]}


def test_part_speeds_follow_the_motion(bandai2):
    wave = load_motion(bandai2 / "dataset-2_wave-right-hand_normal_001.bvh")
    mid = part_speeds(wave)[wave.num_frames // 3: 2 * wave.num_frames // 3]
    assert _top(mid) & {"shoulder_r", "elbow_r"}
    assert not _top(mid, 2) & {"shoulder_l", "elbow_l", "knee_l", "knee_r"}
    walk = load_motion(bandai2 / "dataset-2_walk_normal_001.bvh")
    assert _top(part_speeds(walk), 4) & {"hip_l", "hip_r", "knee_l", "knee_r", "pelvis_translation"}


def test_left_and_right_are_a_limb_side_or_a_direction():
    words = "waves the left hand then turns to the right".split()
    assert side_kind(words, 2) == "limb" and side_kind(words, 7) == "direction"
    assert side_kind("right arm and leg up".split(), 0) == "limb"
    assert side_kind("veering left around a corner".split(), 1) == "direction"


def test_grounding_figures_of_the_shipped_model():
    f = grounding_figures(Bundle.load(default_bundle_path(), device="cpu"), "val")
    assert f["arm words"] >= 20 and f["travel words"] >= 20 and f["two-kind queries"] >= 5
    assert f["side words"] >= 5 and f["direction words"] >= 5
    for key, value in f.items():
        if key.endswith("%") and value is not None:
            assert 0.0 <= value <= 100.0
