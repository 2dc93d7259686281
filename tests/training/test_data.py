"""Training data: the committed split keeps recordings apart and the CMU eval-only trials out of
training; captions, mirroring and batches behave."""

from __future__ import annotations

import random

import numpy as np
import pytest

from runtime import shared_data
from runtime.motion import MIRROR_PERM, MIRROR_SIGN, ChannelStats
from training.captions import CONTENT, STYLE, bandai_labels, caption_true_of, compose, mirror_caption
from training.data import TrainSet, bandai_clips, cmu_clips, load_splits, one_per_group, split_clips


def test_split_keeps_groups_apart_and_eval_only_trials_out_of_training():
    splits = load_splits()
    for source, parts in splits.items():
        seen = {}
        for name, groups in parts.items():
            for g in groups:
                assert g not in seen, f"{g} is in both {seen[g]} and {name}"
                seen[g] = name
    eval_only = shared_data.cmu_eval_only()
    trained = {g.split("/", 1)[1] for g in splits["cmu"]["train"] + splits["cmu"]["val"]}
    assert not trained & eval_only
    described = {t for t in eval_only if shared_data.cmu_trials().get(t, ("",))[0]}
    assert {g.split("/", 1)[1] for g in splits["cmu"]["test"]} == described
    # every clip of every trial follows its trial: no conversion of an eval-only trial is trained on
    clips = cmu_clips()
    train = split_clips(clips, "train") + split_clips(clips, "val")
    assert train and not any(c.group.split("/", 1)[1] in eval_only for c in train)
    bandai = bandai_clips()
    sizes = {name: len(split_clips(bandai, name)) for name in ("train", "val", "test")}
    assert sum(sizes.values()) == len(bandai) == 3076
    assert 0.08 < sizes["test"] / len(bandai) < 0.12


def test_test_sets_use_one_conversion_per_trial():
    test = one_per_group(split_clips(cmu_clips(), "test"))
    assert len({c.group for c in test}) == len(test) >= 50


def test_captions_name_the_labels():
    rng = random.Random(0)
    for content in CONTENT:
        for style in STYLE:
            text = compose(content, style, rng).lower()
            if "left" in content:
                assert "left" in text and "right" not in text
    assert bandai_labels("dataset-2_wave-left-hand_elderly_012") == ("wave-left-hand", "elderly")
    with pytest.raises(ValueError):
        bandai_labels("dataset-2_juggle_normal_001")
    assert mirror_caption("Waves the LEFT hand, then the right.") == "Waves the RIGHT hand, then the left."
    assert mirror_caption("wave-left-hand|active") == "wave-right-hand|active"


def test_what_a_caption_is_true_of():
    assert caption_true_of("wave-left-hand|active", "wave-both-hands|active")  # both hands wave the left one too
    assert not caption_true_of("wave-both-hands|active", "wave-left-hand|active")
    assert not caption_true_of("wave-left-hand|active", "wave-both-hands|elderly")
    assert not caption_true_of("wave-left-hand|active", "wave-right-hand|active")
    assert caption_true_of("walk slowly", "walk slowly") and not caption_true_of("walk", "run")


def test_batches_bucket_lengths_mirror_and_pad(bandai2):
    clips = [c for c in bandai_clips() if "wave-left-hand_normal" in c.key][:40]
    feats = {c.key: np.random.default_rng(i).normal(size=(30 + 5 * i, 29)).astype(np.float32)
             for i, c in enumerate(clips)}
    stats = ChannelStats(np.zeros(29, np.float32), np.ones(29, np.float32))
    ts = TrainSet(clips, feats, stats, window=224, mirror_prob=1.0)
    batches = list(ts.batches(8, random.Random(0)))
    assert len(clips) > 16  # the ragged last batch is dropped: every batch is full
    assert len(batches) == len(clips) // 8 and all(len(b.captions) == 8 for b in batches)
    for b in batches:
        assert b.angles.shape[1] % 16 == 0 and b.angles.shape[1] >= b.frame_mask.sum(1).max()
        assert all("right" in c.lower() for c in b.captions)  # mirrored: the right hand now
        assert all(g == "wave-right-hand|normal" for g in b.groups)
        assert (b.angles[~b.frame_mask] == 0).all()
    # mirroring permutes and flips the channels exactly like mirroring the positions would
    win, _, _, _ = ts.sample(0, random.Random(1))
    from runtime.motion import window_angles

    ref = window_angles(feats[clips[0].key], 0, 224)[:, MIRROR_PERM] * MIRROR_SIGN
    np.testing.assert_allclose(win, ref, atol=1e-6)
