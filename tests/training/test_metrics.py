"""Retrieval metrics against rankings computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (all_metrics, batched_metrics, identical_caption_relevance, label_relevance,
                              protocol_metrics, ranks)


def test_ranks_by_hand():
    sim = np.array([[0.9, 0.1, 0.5],   # text 0: its clip (0) is best -> rank 1
                    [0.8, 0.2, 0.3],   # text 1: clip 1 is third -> rank 3
                    [0.1, 0.7, 0.6]])  # text 2: clip 2 second -> rank 2
    assert ranks(sim, np.eye(3, dtype=bool)).tolist() == [1, 3, 2]
    # motion -> text: column j's own text; clip 0: texts score 0.9, 0.8, 0.1 -> rank 1
    # clip 1: 0.1, 0.2, 0.7 -> its text (1) is second; clip 2: 0.5, 0.3, 0.6 -> first
    assert ranks(sim.T, np.eye(3, dtype=bool)).tolist() == [1, 2, 1]
    m = all_metrics(sim, np.eye(3, dtype=bool))
    assert m["t2m_R@1"] == pytest.approx(100 / 3) and m["t2m_R@2"] == pytest.approx(200 / 3)
    assert m["t2m_R@3"] == 100.0 and m["t2m_MedR"] == 2.0
    assert m["m2t_R@1"] == pytest.approx(200 / 3) and m["m2t_MedR"] == 1.0


def test_ties_are_optimistic_and_identical_captions_count():
    sim = np.array([[0.5, 0.5, 0.9], [0.2, 0.4, 0.1], [0.3, 0.3, 0.3]])
    assert ranks(sim, np.eye(3, dtype=bool)).tolist() == [2, 1, 1]  # the tie with clip 1 does not count
    rel = identical_caption_relevance(["A person walks.", "a person walks", "someone runs"])
    assert rel.tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    # text 1 ("a person walks") may take clip 0 too: 0.2 < 0.4 = its own, still rank 1
    sim2 = np.array([[0.1, 0.9, 0.0], [0.2, 0.1, 0.5], [0.0, 0.0, 1.0]])
    assert ranks(sim2, np.eye(3, dtype=bool)).tolist() == [2, 3, 1]
    assert ranks(sim2, rel).tolist() == [1, 2, 1]


def test_label_relevance_and_protocols():
    labels = ["walk|normal", "walk|normal", "run|sad", "run|sad"]
    rel = label_relevance(labels)
    assert rel.sum() == 8
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(4, 4))
    out = protocol_metrics(sim, ["a", "b", "c", "d"], labels)
    assert set(out) == {"all", "diagonal", "batch32", "label"}
    # with distinct captions, "all" is the diagonal protocol; label relevance can only help
    assert out["all"] == out["diagonal"]
    assert out["label"]["t2m_R@1"] >= out["diagonal"]["t2m_R@1"]


def test_batches_of_32():
    n = 96
    sim = np.eye(n) + 0.01 * np.random.default_rng(1).normal(size=(n, n))
    m = batched_metrics(sim, np.eye(n, dtype=bool), batch=32)
    assert m["t2m_R@1"] == 100.0 and m["m2t_MedR"] == 1.0
    # a perfect anti-ranking inside batches puts the match last: rank 32
    m = batched_metrics(-np.eye(n), np.eye(n, dtype=bool), batch=32)
    assert m["t2m_MedR"] == 32.0 and m["t2m_R@10"] == 0.0
