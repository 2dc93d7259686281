"""The cells first stage (runtime/index/cells.py) on real indexes built with the shipped model: the
bound it promises, the files an update writes and adds to an index from before cells (without
encoding a clip again), a kill before their commit, another codebook's cells, and searches that
keep the exact best."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from runtime.errors import DamagedIndexError
from runtime.index import LibraryIndex, read_meta
from runtime.index.cells import CellStage, assign_cells, codebook_id, fit_codebook, window_cells
from runtime.index.chunks import cells_files, save_cells
from runtime.model import Bundle
from runtime.search import Searcher

TEXTS = ("a person raises the left hand", "someone walks forward and turns", "a polite bow",
         "a character waves both hands", "someone runs fast")


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load(None, device="cpu")


@pytest.fixture(scope="module")
def library(tmp_path_factory, bandai2):
    lib = tmp_path_factory.mktemp("lib")
    for f in sorted(bandai2.glob("dataset-2_*_active_00[1-2].bvh"))[:24]:
        shutil.copy(f, lib / f.name)
    return lib


@pytest.fixture(scope="module")
def built(tmp_path_factory, bundle, library):
    path = tmp_path_factory.mktemp("idx") / "index"
    LibraryIndex.create(path, bundle).update([library], bundle, chunk_clips=10)
    return path


def _centroid_interaction(tokens, codebook, cells, counts):
    sims = tokens @ codebook.T
    offsets = np.concatenate([[0], np.cumsum(counts.astype(np.int64))])
    return np.array([sims[:, cells[a:b]].max(axis=1).mean() for a, b in zip(offsets[:-1], offsets[1:])])


def test_cells_are_each_windows_distinct_nearest_centroids(bundle, built):
    index = LibraryIndex.open(built, bundle)
    patches, offsets = index.window_patches(np.arange(index.num_windows))
    assigned = assign_cells(patches, bundle.codebook)
    brute = np.argmax(patches @ bundle.codebook.T, axis=1)
    assert np.array_equal(assigned, brute)
    got = window_cells(assigned, np.diff(offsets))
    for w in range(index.num_windows):
        a, b = offsets[w], offsets[w + 1]
        start = int(got["cell_counts"][:w].sum())
        assert got["cells"][start: start + got["cell_counts"][w]].tolist() == sorted(set(brute[a:b].tolist()))
    assert got["cell_counts"].sum() < 0.6 * len(patches)  # neighbouring patches share cells


def test_the_pruned_score_bounds_the_centroid_interaction_and_is_exact_with_every_cell_probed(bundle, built):
    index = LibraryIndex.open(built, bundle)
    patches, offsets = index.window_patches(np.arange(index.num_windows))
    arrays = window_cells(assign_cells(patches, bundle.codebook), np.diff(offsets))
    chunks = [(arrays["cells"], arrays["cell_counts"], np.ones(index.num_windows, bool))]
    stage = CellStage(bundle.codebook, chunks)
    through_graph = CellStage(bundle.codebook, chunks, bundle.codebook_cosines)  # as search runs it
    for text in TEXTS:
        tokens = bundle.encode_query(text).tokens
        np.testing.assert_allclose(bundle.codebook_cosines(tokens), tokens @ bundle.codebook.T, atol=1e-6)
        exact = _centroid_interaction(tokens, bundle.codebook, arrays["cells"], arrays["cell_counts"])
        pruned = stage.scores(tokens, probes=16, min_postings=0)
        np.testing.assert_allclose(through_graph.scores(tokens, probes=16, min_postings=0), pruned, atol=1e-6)
        assert np.all(pruned >= exact - 1e-5)  # an upper bound: no cell outside the probed beats the floor
        assert np.allclose(stage.scores(tokens, probes=len(bundle.codebook)), exact, atol=1e-5)
        # windows holding one of each token's probed cells are scored exactly
        sims = tokens @ bundle.codebook.T
        top = np.argsort(-sims, axis=1)[:, :16]
        ends = np.cumsum(arrays["cell_counts"].astype(np.int64))
        for w in range(index.num_windows):
            cells = set(arrays["cells"][ends[w] - arrays["cell_counts"][w]: ends[w]].tolist())
            if all(cells & set(row.tolist()) for row in top):
                assert abs(pruned[w] - exact[w]) < 1e-5


def test_an_update_writes_cells_listed_with_checksums_and_search_uses_them(bundle, built):
    meta = read_meta(built)
    assert meta["codebook"] == bundle.codebook_id == codebook_id(bundle.codebook.astype(np.float16))
    for name in meta["chunks"]:
        assert set(cells_files(bundle.codebook_id)) <= set(meta["checksums"][name])
    index = LibraryIndex.open(built, bundle)
    searcher = Searcher(index, bundle, fusion=False)
    assert searcher.first_stage == "cells"
    assert Searcher(index, bundle, fusion=False, first_stage="parts").first_stage == "parts"
    for text in TEXTS:  # two stages forced on a small index: the exact best window is kept
        query = bundle.encode_query(text)
        ids, scores = searcher.window_scores(query, exact=True)
        cand = searcher.candidate_windows(query, max(3, index.num_windows // 3))
        assert ids[np.argmax(scores)] in cand


def test_an_index_from_before_cells_gets_them_at_its_next_update_without_encoding_again(bundle, library, tmp_path,
                                                                                        monkeypatch):
    path = tmp_path / "index"
    monkeypatch.setattr(bundle, "codebook", None)  # a bundle from before codebooks
    LibraryIndex.create(path, bundle).update([library], bundle, chunk_clips=10)
    monkeypatch.undo()
    before = read_meta(path)
    assert not before.get("codebook") and not list(path.glob("chunk-*/cells-*.npy"))
    index = LibraryIndex.open(path, bundle)
    assert Searcher(index, bundle, fusion=False).first_stage == "parts"  # searchable meanwhile

    # killed after the cells files are written, before the metadata lists them
    import runtime.index.store as store

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")
    monkeypatch.setattr(store, "write_metadata", killed)
    with pytest.raises(KeyboardInterrupt):
        index.update([library], bundle)
    monkeypatch.undo()
    assert read_meta(path) == before and list(path.glob("chunk-*/cells-*.npy"))  # unlisted files only
    assert Searcher(LibraryIndex.open(path, bundle), bundle, fusion=False).first_stage == "parts"

    encoded, notes = [], []
    monkeypatch.setattr(bundle, "encode_windows", lambda *a, **k: encoded.append(1) or [])
    report = LibraryIndex.open(path, bundle).update([library], bundle, progress=lambda d, t, n: notes.append((d, t, n)))
    monkeypatch.undo()
    cells_notes = [(d, t) for d, t, n in notes if n.startswith("cells of chunk-")]
    assert cells_notes == [(k, len(before["chunks"])) for k in range(len(before["chunks"]))]  # shown per chunk
    assert report.added == 0 and report.unchanged == len(list(library.iterdir())) and not encoded  # no clip encoded again
    meta = read_meta(path)
    assert meta["codebook"] == bundle.codebook_id and meta["chunks"] == before["chunks"]
    assert Searcher(LibraryIndex.open(path, bundle), bundle, fusion=False).first_stage == "cells"


def test_another_codebooks_cells_are_replaced_and_deleted(bundle, built, tmp_path, monkeypatch):
    path = tmp_path / "index"
    shutil.copytree(built, path)
    index = LibraryIndex.open(path, bundle)
    patches, _ = index.window_patches(np.arange(index.num_windows))
    other = fit_codebook(patches, 64, iterations=3)
    monkeypatch.setattr(bundle, "codebook", other)
    monkeypatch.setattr(bundle, "codebook_id", codebook_id(other.astype(np.float16)))
    index.add_cells(bundle)
    meta = read_meta(path)
    assert meta["codebook"] == bundle.codebook_id
    old = cells_files(read_meta(built)["codebook"])[0]
    assert not list(path.glob(f"chunk-*/{old}")) and all(old not in s for s in meta["checksums"].values())
    searcher = Searcher(LibraryIndex.open(path, bundle), bundle, fusion=False)
    assert searcher.first_stage == "cells" and len(searcher.search("a person waves", k=3)) == 3


def test_a_damaged_cells_file_is_named(bundle, built, tmp_path):
    path = tmp_path / "index"
    shutil.copytree(built, path)
    name = read_meta(path)["chunks"][0]
    f = path / name / cells_files(bundle.codebook_id)[0]
    data = bytearray(f.read_bytes())
    data[-1] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(DamagedIndexError, match=f.name):
        LibraryIndex.open(path, bundle)


def test_save_cells_replaces_a_leftover_temporary_and_writes_what_it_computes(bundle, built, tmp_path):
    index = LibraryIndex.open(built, bundle)
    patches, offsets = index.window_patches(np.arange(index.num_windows))
    d = tmp_path / "chunk"
    d.mkdir()
    names = save_cells(d, (bundle.codebook_id, bundle.codebook), patches, np.diff(offsets))
    want = window_cells(assign_cells(patches, bundle.codebook), np.diff(offsets))
    assert np.array_equal(np.load(d / names[0]), want["cells"]) and np.array_equal(np.load(d / names[1]),
                                                                                   want["cell_counts"])
    assert sorted(p.name for p in d.iterdir()) == sorted(names)  # no temporary left
