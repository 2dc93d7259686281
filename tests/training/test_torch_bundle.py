"""A run behind the runtime's Bundle (training/torch_bundle.py) answers like its exported bundle."""

from __future__ import annotations

import numpy as np

from runtime.model import Bundle
from runtime.motion import load_motion
from runtime.search import explain_motion
from training.evaluate import load_run
from training.torch_bundle import torch_bundle


def test_a_run_and_its_export_agree(tiny_run, tiny_bundle, bandai2):
    model, _, cfg, stats = load_run(tiny_run)
    ours, exported = torch_bundle(model, cfg, stats, tiny_run), Bundle.load(tiny_bundle, device="cpu")
    text = "a person waves the right hand, then walks away"
    q, e = ours.encode_query(text), exported.encode_query(text)
    assert q.words == e.words and q.pieces == e.pieces  # the runtime's tokenizer and word split
    assert np.allclose(np.linalg.norm(q.tokens, axis=1), 1.0, atol=1e-4)
    assert float(np.mean(np.sum(q.tokens * e.tokens, axis=1))) > 0.95  # the export's text encoder is int8

    motion = load_motion(bandai2 / "dataset-2_wave-right-hand_normal_001.bvh")
    (w1, p1), (w2, p2) = ours.encode_motion(motion), exported.encode_motion(motion)
    assert np.array_equal(w1.start, w2.start) and [len(p) for p in p1] == [len(p) for p in p2]
    assert min(float(np.mean(np.sum(a * b, axis=1))) for a, b in zip(p1, p2)) > 0.999  # fp32 both

    ex = explain_motion(ours, text, motion, "wave")
    assert [w.word for w in ex.words] == q.words and all(0 <= w.start <= w.end for w in ex.words)
