"""The first search stage: per-body-part summaries of each window, checked by hand and on a
real index (including the upgrade of an index written before it existed)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from runtime.index import INDEX_VERSION, FirstStage, LibraryIndex, part_means, summarise
from runtime.model import Bundle
from runtime.search import maxsim_packed

PARTS = 14


def _unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _by_hand(tokens, patches, doclens):
    """For each window: for each token, the best part by mean cosine over time; mean over tokens."""
    out, start = [], 0
    for n in doclens:
        grid = patches[start: start + n].reshape(n // PARTS, PARTS, -1)  # time x parts x D
        per_part = np.einsum("tpd,kd->kp", grid, tokens) / grid.shape[0]  # tokens x parts
        out.append(per_part.max(1).mean())
        start += n
    return np.array(out)


def test_scores_are_maxsim_with_each_parts_max_over_time_replaced_by_its_mean():
    rng = np.random.default_rng(0)
    d = 24  # all directions kept below (dims = d), so the projection loses nothing
    doclens = np.array([1, 3, 2, 1, 4]) * PARTS
    patches = _unit(rng, int(doclens.sum()), d)
    tokens = _unit(rng, 5, d)
    means = part_means(patches, doclens, PARTS)
    assert means.shape == (5, PARTS, d)
    np.testing.assert_allclose(means[1], patches[PARTS: 4 * PARTS].reshape(3, PARTS, d).mean(0), atol=1e-6)

    # two chunks, each with its own basis
    first = summarise(patches[: 4 * PARTS], doclens[:2], PARTS, dims=d)
    second = summarise(patches[4 * PARTS:], doclens[2:], PARTS, dims=d)
    stage = FirstStage([(first["basis"], first["parts"]), (second["basis"], second["parts"])])
    got = stage.scores(tokens)
    np.testing.assert_allclose(got, _by_hand(tokens, patches, doclens), atol=2e-3)  # parts stored as fp16

    offsets = np.concatenate([[0], np.cumsum(doclens)])
    exact = maxsim_packed(tokens, patches, offsets)
    single_row = doclens == PARTS
    np.testing.assert_allclose(got[single_row], exact[single_row], atol=2e-3)  # mean of one row = the row
    assert (got[~single_row] < exact[~single_row]).all()  # a mean over time is below the max


def test_fewer_dimensions_keep_the_strongest_directions():
    rng = np.random.default_rng(1)
    d, dims = 64, 8
    low_rank = rng.normal(size=(dims, d))  # part means that live in an 8-dimensional subspace
    patches = (rng.normal(size=(10 * 2 * PARTS, dims)) @ low_rank).astype(np.float32)
    doclens = np.full(10, 2 * PARTS)
    s = summarise(patches, doclens, PARTS, dims=dims)
    means = part_means(patches, doclens, PARTS)
    back = s["parts"].astype(np.float32) @ s["basis"]
    np.testing.assert_allclose(back, means, atol=2e-3 * np.abs(means).max())
    empty = summarise(np.zeros((0, d), np.float32), np.zeros(0, np.int64), PARTS, dims=dims)
    assert empty["parts"].shape == (0, PARTS, dims) and not empty["basis"].any()
    with pytest.raises(ValueError, match="multiples of 14"):
        part_means(patches[:15], [15], PARTS)


@pytest.fixture(scope="module")
def built(tmp_path_factory, bandai2, tiny_bundle):
    lib = tmp_path_factory.mktemp("lib")
    for f in sorted(bandai2.glob("dataset-2_*_active_00[1-2].bvh"))[:24]:
        shutil.copy(f, lib / f.name)
    bundle = Bundle.load(tiny_bundle, device="cpu")
    path = tmp_path_factory.mktemp("idx") / "index"
    LibraryIndex.create(path, bundle).update([lib], bundle, chunk_clips=10)
    return bundle, path


def test_real_index_first_stage_matches_its_patches(built):
    bundle, path = built
    index = LibraryIndex.open(path, bundle)
    assert len(index.meta["chunks"]) >= 2 and index.first_stage.num_windows == index.num_windows
    patches, offsets = index.window_patches(range(index.num_windows))
    tokens = bundle.encode_query("a person raises the left hand").tokens
    expected = _by_hand(tokens, patches, np.diff(offsets))
    got = index.first_stage.scores(tokens)
    # 32 of 256 directions per chunk: close, and the same order at the top
    assert np.abs(got - expected).max() < 0.05
    assert np.argmax(got) == np.argmax(expected)


def test_an_index_from_before_the_first_stage_is_upgraded_in_place(built, tmp_path):
    bundle, path = built
    old = tmp_path / "old"
    shutil.copytree(path, old)
    before = LibraryIndex.open(old, bundle).first_stage.scores(bundle.encode_query("someone walks").tokens)
    for chunk in old.glob("chunk-*"):
        (chunk / "parts.npy").unlink()
        (chunk / "basis.npy").unlink()
    meta = json.loads((old / "metadata.json").read_text())
    (old / "metadata.json").write_text(json.dumps(dict(meta, format_version=1)))

    index = LibraryIndex.open(old, bundle)
    assert json.loads((old / "metadata.json").read_text())["format_version"] == INDEX_VERSION
    after = index.first_stage.scores(bundle.encode_query("someone walks").tokens)
    np.testing.assert_allclose(after, before, atol=0.02)  # from the int8 codes instead of float patches
    assert not list(old.glob("chunk-*/.*.npy"))  # no temporary files left

