"""A sentence's tokens and a window's patches do not depend on what they are encoded with: the
shipped encoders are int8 with per-call activation scales, so `Bundle` runs them one item per call
(an evaluation then sees the queries `search()` sees)."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.model import Bundle, default_bundle_path
from runtime.motion import Windows, load_motion

TEXTS = ["a person walks forward", "someone waves the right hand quickly, then bows deeply to the audience",
         "jump", "an old man shuffles slowly to the left while looking down at the floor"]


@pytest.fixture(scope="module")
def shipped():
    bundle = Bundle.load(default_bundle_path(), device="cpu")
    assert bundle.text_quantized and bundle.motion_quantized  # what makes batching matter
    return bundle


def test_a_sentence_encodes_the_same_alone_and_in_any_batch(shipped):
    alone = [shipped.encode_query(t).tokens for t in TEXTS]
    for order in (TEXTS, TEXTS[::-1], TEXTS[1:] + TEXTS[:1]):
        batch = {q.text: q.tokens for q in shipped.encode_queries(order)}
        for text, tokens in zip(TEXTS, alone):
            assert np.abs(batch[text] - tokens).max() <= 1e-4, text


def test_a_window_encodes_the_same_alone_and_with_other_clips(shipped, bandai2, cmu_bvh):
    walk = shipped.windows(load_motion(bandai2 / "dataset-2_walk_normal_001.bvh"))
    long_clip = shipped.windows(load_motion(cmu_bvh / "mb-fairmotion" / "01_01.bvh"))  # longer windows beside it
    joined = Windows(*(np.concatenate([getattr(long_clip, f), getattr(walk, f)])
                       for f in ("angles", "mask", "start", "length")))
    together = shipped.encode_windows(joined)[len(long_clip.length):]
    for a, b in zip(shipped.encode_windows(walk), together):
        assert a.shape == b.shape and np.abs(a - b).max() <= 1e-4
