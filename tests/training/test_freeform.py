"""The hand-written free-form query set: well formed, every query names clips of its own split,
and the metrics count what they say."""

from __future__ import annotations

import numpy as np
import pytest

from training.freeform import FreeQuery, freeform_metrics, load_queries, relevance, split_pool


def test_the_set_is_large_enough_and_split():
    val, test = load_queries("val"), load_queries("test")
    assert len(val) + len(test) >= 150
    assert len(val) >= 60 and len(test) >= 60
    sentences = [q.sentence.lower() for q in val + test]
    assert len(set(sentences)) == len(sentences), "a sentence is listed twice"


@pytest.mark.parametrize("split", ["val", "test"])
def test_every_query_names_clips_of_its_split(split):
    queries = load_queries(split)
    clips = split_pool(split)
    rel = relevance(queries, clips)  # raises on a spec that names no clip of the split
    assert rel.any(axis=1).all()
    # a query about one content is not relevant to everything
    assert (rel.mean(axis=1) < 0.5).mean() > 0.9


def test_a_query_for_another_split_is_refused():
    clips = split_pool("val")
    bad = FreeQuery("val", "a karate roundhouse kick", ("cmu:135_07",), 1)  # a test trial
    with pytest.raises(ValueError, match="names no val clip"):
        relevance([bad], clips)


def test_metrics():
    sim = np.array([[0.9, 0.1, 0.5], [0.9, 0.8, 0.1]])
    rel = np.array([[True, False, False], [False, False, True]])
    m = freeform_metrics(sim, rel)
    assert m["R@1"] == 50.0 and m["R@5"] == 100.0 and m["MedR"] == 2.0 and m["queries"] == 2
