"""Training text from the describer: window captions on real clips, mirrored consistently, and
word links that become the right motion-image patches."""

from __future__ import annotations

import random

import numpy as np
import pytest

from runtime.describe import describe
from runtime.motion import NUM_PARTS, PART_NAMES, load_motion
from training.data import ChannelStats, TrainSet, bandai_clips, load_events
from training.described import link_targets, window_caption, window_events
from training.models.text_encoder import load_tokenizer


@pytest.fixture(scope="module")
def wave_right(bandai2):
    return load_motion(bandai2 / "dataset-2_wave-right-hand_normal_001.bvh")


def test_window_captions_name_what_happens_in_the_window(wave_right):
    events = describe(wave_right).events
    texts = {window_caption(events, 0, wave_right.num_frames, random.Random(s)).text for s in range(12)}
    assert len(texts) >= 4  # varied wording and subsets
    assert all("right" in t and "left" not in t for t in texts if "hand" in t or "arm" in t)
    # a window before anything happens has no caption or only what it holds
    inside = window_events(events, 0, 10)
    assert all(0 <= e.start < e.end <= 10 for e in inside)


def test_mirrored_windows_swap_words_and_parts(wave_right):
    events = describe(wave_right).events
    cap = window_caption(events, 0, wave_right.num_frames, random.Random(3), mirrored=True)
    assert "right" not in cap.text
    side_links = [lk for lk in cap.links if lk.word in ("left", "right")]
    assert side_links and all(lk.word == "left" for lk in side_links)
    assert all(all(p.endswith("_l") for p in lk.parts if p[-2:] in ("_l", "_r")) for lk in side_links)


def test_link_targets_are_the_event_patches(wave_right):
    tokenizer = load_tokenizer()
    events = describe(wave_right).events
    cap = window_caption(events, 0, 224, random.Random(5))
    tok = tokenizer([cap.text], return_offsets_mapping=True)
    offsets = tok["offset_mapping"][0]
    targets = link_targets(cap, offsets, columns=14)
    assert targets
    tokens = tokenizer.convert_ids_to_tokens(tok["input_ids"][0])
    for t, patches in targets:
        assert tokens[t] not in ("the", "a", "and", "[CLS]", "[SEP]")
        link = next(lk for lk in cap.links if lk.start <= offsets[t][0] and offsets[t][1] <= lk.end)
        parts = {PART_NAMES[p % NUM_PARTS] for p in patches}
        columns = {p // NUM_PARTS for p in patches}
        assert parts == set(link.parts)
        assert min(columns) == link.first_frame // 16 and max(columns) < 14
    right = [p for t, p in targets if tokens[t] == "right"]
    assert right and all(PART_NAMES[p % NUM_PARTS].endswith("_r") for ps in right for p in ps)


def test_train_set_mixes_described_and_label_captions(bandai2):
    clips = [c for c in bandai_clips() if "wave-right-hand_normal_00" in c.key][:6]
    events = load_events(clips, "test-described", workers=1)
    assert set(events) == {c.key for c in clips}
    feats = {c.key: np.zeros((160, 29), np.float32) for c in clips}
    stats = ChannelStats(np.zeros(29, np.float32), np.ones(29, np.float32))
    ts = TrainSet(clips, feats, stats, window=224, mirror_prob=0.5, events=events, describer_share=0.5)
    rng = random.Random(0)
    draws = [ts.sample(i % len(clips), rng) for i in range(60)]
    described = [d for d in draws if d[3] is not None]
    assert 15 <= len(described) <= 45
    assert all(d[1] == d[3].text for d in described)
    batch = ts.collate(draws[:8])
    assert len(batch.described) == 8
