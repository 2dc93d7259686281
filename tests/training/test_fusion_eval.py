"""The fusion report's own measures (training/fusion_eval.py): first ranks, hubs, per-query weights."""

import numpy as np

from runtime.search import fuse
from training.fusion_eval import _confidence_weighted, _first_ranks, k_occurrence


def test_first_ranks_is_the_rank_of_the_best_placed_right_clip():
    sim = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.4, 0.6]])
    rel = np.array([[False, False, True, True], [True, False, False, False]])
    assert _first_ranks(sim, rel).tolist() == [2, 4]


def test_k_occurrence_counts_a_clip_in_every_top_as_a_hub():
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(50, 200))
    sim[:, 7] += 10.0  # clip 7 first for every query: 50 tops, 20 times its share (2.5)
    h = k_occurrence(sim, top=10)
    assert h["max"] == 50 and h["hubs (>= 5x share)"] >= 1 and h["queries"] == 50
    flat = k_occurrence(np.tile(np.arange(40.0), (40, 1)) + np.arange(40)[:, None] % 4, top=10)
    assert flat["never in top 10 %"] == 75.0  # the same 10 clips win every query: 30 of 40 never do


def test_confidence_weighted_equals_fuse_when_both_rankings_stand_out_alike():
    rng = np.random.default_rng(1)
    maxsim = rng.normal(size=(3, 30))
    same = _confidence_weighted(maxsim, maxsim * 2.0 + 1.0, 0.7, 10)  # same standardised scores
    assert np.allclose(same, np.stack([fuse(m, m * 2.0 + 1.0, 0.7) for m in maxsim]))


def test_confidence_weighted_leans_on_the_ranking_whose_best_clip_stands_out():
    maxsim = -np.arange(30.0)[None]  # evenly spread: its best clip stands out little (z 1.7)
    desc = np.zeros((1, 30))
    desc[0, 29] = 5.0  # one clip far ahead of the rest (z 5.4), last by MaxSim
    assert np.argmax(_confidence_weighted(maxsim, desc, 0.3, 1)) == 29
    assert np.argmax(np.stack([fuse(m, d, 0.3) for m, d in zip(maxsim, desc)])) == 0  # a fixed weight keeps MaxSim's
