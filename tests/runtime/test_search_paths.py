"""The search paths of index format v5 on a real index built with the shipped model: int8 codes
stored offset by 128 (and the in-place upgrade from v4, killed or not), the first stage's integer
kernel, the exact path that scores chunks where they lie, codes held in memory or memory-mapped."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from runtime.index import INDEX_VERSION, LibraryIndex, chunk_checksums, read_meta, write_metadata
from runtime.index.chunks import page_ranges, populate, prefetch_rows
from runtime.model import Bundle
from runtime.search import FirstStageScorer, Searcher, candidate_counts, maxsim_packed, sketch_maxsim


@pytest.fixture(scope="module")
def built(tmp_path_factory, bandai2):
    lib = tmp_path_factory.mktemp("lib")
    for f in sorted(bandai2.glob("dataset-2_*_active_00[1-2].bvh"))[:24]:
        shutil.copy(f, lib / f.name)
    bundle = Bundle.load(None, device="cpu")
    path = tmp_path_factory.mktemp("idx") / "index"
    LibraryIndex.create(path, bundle).update([lib], bundle, chunk_clips=10)
    return bundle, path


def test_the_first_stage_kernel_scores_what_the_summaries_say(built):
    """The integer kernel (runtime/search/kernels/first_stage_int8.onnx) against the float reference
    of the same summaries: close, and the same candidates at the top."""
    bundle, path = built
    index = LibraryIndex.open(path, bundle)
    scorer = FirstStageScorer(index.first_stage)
    for text in ("a person raises the left hand", "someone walks forward and turns", "a bow"):
        tokens = bundle.encode_query(text).tokens
        want, got = index.first_stage.scores(tokens), scorer.scores(tokens)
        assert got.shape == (index.num_windows,) and np.abs(got - want).max() < 5e-3
        top = max(5, index.num_windows // 4)
        assert len(set(np.argsort(-got)[:top]) & set(np.argsort(-want)[:top])) >= top - 1


def test_the_best_windows_of_the_integer_kernel_are_scored_again_in_float32(built):
    """The kernel rounds the query's tokens to int8; the best `refine_windows` of its scores are
    replaced by float32 MaxSim on the decoded codes (what recall is measured against; the tokens
    rounded twice), the rest are left as the kernel gave them, on the gathered path and on the exact
    path that scores chunks in place (and starts no copy of the codes into memory)."""
    bundle, path = built
    index = LibraryIndex.open(path, bundle)
    searcher = Searcher(index, bundle)
    q = bundle.encode_query("a person raises the left hand")
    ids = np.arange(index.num_windows)
    patches, offsets = index.window_patches(ids)
    want = maxsim_packed(q.tokens, patches, offsets)
    searcher.refine_windows = 0
    kernel = searcher.score_windows(q, ids).copy()
    assert np.abs(kernel - want).max() > 1e-5  # the rounded query: not float32 MaxSim
    np.testing.assert_allclose(kernel, want, atol=5e-3)
    searcher.refine_windows = 5
    top, rest = np.argsort(-kernel)[:5], np.argsort(-kernel)[5:]
    for got in (searcher.score_windows(q, ids), searcher.window_scores(q, exact=True)[1]):
        np.testing.assert_allclose(got[top], want[top], atol=2e-5)
        np.testing.assert_allclose(got[rest], kernel[rest], atol=1e-6)
    searcher.refine_windows = index.num_windows  # every window: float32 MaxSim throughout
    np.testing.assert_allclose(searcher.window_scores(q, exact=True)[1], want, atol=2e-5)


def _as_v4(path):
    """Turn a current index back into format v4 (int8 codes as signed bytes) as v4 wrote it."""
    meta = read_meta(path)
    for name in meta["chunks"]:
        codes = np.load(path / name / "codes.npy")
        np.save(path / name / "codes.npy", (codes ^ np.uint8(128)).view(np.int8))
    meta = dict(meta, format_version=4, checksums={n: chunk_checksums(path / n) for n in meta["chunks"]})
    write_metadata(path, meta)
    return meta


def test_a_v4_index_is_upgraded_in_place_and_a_kill_before_its_commit_loses_nothing(built, tmp_path, monkeypatch):
    bundle, path = built
    queries = [bundle.encode_query(t) for t in ("someone walks", "a person raises the left hand")]
    current = LibraryIndex.open(path, bundle)
    want = [Searcher(current, bundle).window_scores(q, exact=True)[1] for q in queries]
    old = tmp_path / "v4"
    shutil.copytree(path, old)
    v4 = _as_v4(old)
    assert np.load(old / v4["chunks"][0] / "codes.npy").dtype == np.int8

    # killed after the new folders are written, before the metadata says v5
    import runtime.index.upgrade as upgrade

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed")
    monkeypatch.setattr(upgrade, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        LibraryIndex.open(old, bundle)
    monkeypatch.undo()
    assert read_meta(old) == v4  # still the v4 index, whole; the unlisted folders go at the next upgrade

    index = LibraryIndex.open(old, bundle)
    meta = read_meta(old)
    assert meta["format_version"] == INDEX_VERSION  # through v5, then v6's metadata
    assert all((old / n / "sketch.npy").exists() for n in meta["chunks"]) and len(meta["sketch_basis"]) == 16
    assert not set(meta["chunks"]) & set(v4["chunks"])  # new folders; the old ones are gone
    assert sorted(d.name for d in old.glob("chunk-*")) == sorted(meta["chunks"]) and not list(old.glob(".tmp-*"))
    assert all(np.load(old / n / "codes.npy").dtype == np.uint8 for n in meta["chunks"])
    got = [Searcher(index, bundle).window_scores(q, exact=True)[1] for q in queries]
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)  # the same codes, only stored offset by 128
    assert [c.id for c in index.clips] == [c.id for c in current.clips]


def test_exact_search_on_chunks_in_place_skips_dropped_windows_and_matches_gathered_codes(built, tmp_path,
                                                                                          monkeypatch):
    """The exact path scores each chunk's codes where they lie (a dropped clip's windows included in
    the pass, left out of the result); it must equal MaxSim on the live windows' gathered codes, with
    the codes held in memory or memory-mapped."""
    bundle, path = built
    lib, work = tmp_path / "lib", tmp_path / "index"
    shutil.copytree(Path(LibraryIndex.open(path, bundle).clips[0].path).parent, lib)
    index = LibraryIndex.create(work, bundle)
    index.update([lib], bundle, chunk_clips=10)
    victim = Path(index.clips[3].path)
    victim.write_text(victim.read_text() + "\n")  # changed bytes, the same motion
    index.update([lib], bundle, chunk_clips=10)
    index = LibraryIndex.open(work, bundle)
    assert any(index.meta["dropped"].values())  # the old version is a dropped entry of its chunk
    q = bundle.encode_query("a person raises the left hand")
    seen = {}
    # mapped, the codes count as larger than memory: each gather asks for its pages first (prefetch_rows)
    monkeypatch.setattr("runtime.index.store.physical_memory", lambda: 0)
    for limit in ("4096", "0"):  # codes (and sketches) copied into memory, or left memory-mapped
        monkeypatch.setenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", limit)
        opened = LibraryIndex.open(work, bundle)
        assert (opened._in_memory is not None) == (limit != "0") == (not opened._prefetch_codes)
        assert isinstance(opened._sketches, tuple) == (limit != "0")
        searcher = Searcher(opened, bundle)
        ids, exact = searcher.window_scores(q, exact=True)
        gathered = searcher.score_windows(q, np.arange(opened.num_windows))
        np.testing.assert_allclose(exact, gathered, atol=1e-6)
        assert len(ids) == opened.num_windows
        some = np.arange(opened.num_windows)[::-3]  # out of order, across chunks
        seen[limit] = (opened.window_sketches(some), opened.pooled, opened.first_stage.scores(q.tokens),
                       searcher.candidate_windows(q, 5))
    for a, b in zip(seen["4096"], seen["0"]):  # the same arrays whether read or mapped
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(x, y)


def test_prefetch_covers_each_run_of_rows_from_a_page_boundary(tmp_path):
    """A gather from a mapped file asks for its pages first: one page-aligned byte range per run of
    consecutive rows, covering exactly those rows' bytes (and the pages before them in the run's first page)."""
    import mmap

    rows = np.array([0, 1, 2, 5, 6, 1000])
    ranges = page_ranges(rows, stride=256, offset=128)
    assert ranges == [(0, 128 + 3 * 256), (0, 128 + 7 * 256), (253952, 128 + 1001 * 256 - 253952)]
    assert all(start % mmap.PAGESIZE == 0 for start, _ in ranges)
    np.save(tmp_path / "codes.npy", np.arange(4096 * 64, dtype=np.uint8).reshape(4096, 64))
    mapped = np.load(tmp_path / "codes.npy", mmap_mode="r")
    prefetch_rows(mapped, np.array([7, 8, 9, 4000]))  # real madvise calls on a real mapping
    prefetch_rows(np.asarray(mapped).copy(), np.array([1]))  # in memory: nothing to do
    assert page_ranges(np.array([], np.int64), 64) == []


def test_a_gather_on_two_threads_gives_the_same_rows_read_or_mapped_and_mapped_codes_are_populated(
        built, monkeypatch):
    """Search gathers its exact candidates' codes on two threads (runtime.index.gather): the same
    codes, scales and offsets as one thread, for windows in index order or not, across chunks, codes
    read into memory or mapped; an index whose mapped codes fit in memory maps every page at open."""
    import runtime.index.gather as gather
    import runtime.index.store as store

    bundle, path = built
    populated = []
    monkeypatch.setattr(store, "populate", lambda a: populated.append(populate(a)) or populated[-1])
    monkeypatch.setattr(store, "SPLIT_GATHER_ROWS", 1)  # every gather of two rows or more is split
    halves, both = [], store.on_both_cores

    def recorded(copy, first, second):  # how much each gather hands to the helper thread
        halves.append(len(second) if isinstance(second, list) else second.stop - second.start)
        both(copy, first, second)

    monkeypatch.setattr(store, "on_both_cores", recorded)
    for limit in ("4096", "0"):  # codes read into memory, or left mapped
        monkeypatch.setenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", limit)
        populated.clear()
        index = LibraryIndex.open(path, bundle)
        assert (index._in_memory is None) == (limit == "0")
        # mapped codes that fit in half the memory are populated, one call per chunk (Linux 5.14+: True)
        assert len(populated) == (len(index.live_chunks) if limit == "0" else 0)
        assert all(populated) or not _populate_supported()
        for ids in (np.arange(index.num_windows), np.arange(index.num_windows)[::-3],
                    np.array([index.num_windows - 1, 1])):  # in order, out of order, two chunks
            one = index.window_codes(ids)
            halves.clear()
            two = index.window_codes(ids, reuse="exact", two_threads=True)
            assert len(halves) == 1 and halves[0] > 0  # half of it was copied on the helper thread
            for x, y in zip(one, two):
                np.testing.assert_array_equal(x, y)
        assert gather._helper is not None
    assert not populate(np.zeros((4, 4), np.uint8))  # an array in memory: nothing to map


def test_codes_are_held_in_memory_up_to_a_share_of_the_machines_memory(built, monkeypatch):
    """An index whose codes fit in 1/8 of the machine's memory copies them into the process on a
    thread of its own, started by its first gather (a query's gather of its candidates is 2-4x faster
    from there), not when opened (an instance opened to be updated never holds them); gathers
    meanwhile read the mapped codes; two gathers at once start one copy; a reload meanwhile drops
    it. Larger ones stay mapped; the sketches' limit does not grow with the machine (a 1M-clip
    index's 1.9 GB of them stay mapped). Search gives the same scores either way."""
    import threading

    import runtime.index.store as store

    bundle, path = built
    monkeypatch.delenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", raising=False)
    codes = sum(f.stat().st_size for f in Path(path).glob("chunk-*/codes.npy"))
    monkeypatch.setattr(store, "CODES_IN_MEMORY", 1)  # the fixed floor below every file here
    q = bundle.encode_query("a person walks forward and turns around")
    scores = []
    for memory, held in ((0, False), (codes * store.CODES_MEMORY_SHARE, True),
                         ((codes - 1) * store.CODES_MEMORY_SHARE, False)):
        monkeypatch.setattr(store, "physical_memory", lambda: memory)
        index = LibraryIndex.open(path, bundle)
        assert index._in_memory is None and index._holder is None  # nothing copied when opened
        assert not isinstance(index._sketches, tuple)  # mapped: their limit is the fixed one
        exact = Searcher(index, bundle).window_scores(q, exact=True)[1]  # exact search reads chunks in place
        assert index._holder is None
        copies, copied, go, entered = [], index._copied, threading.Event(), threading.Event()

        def copied_when_told(mapped):  # the copy thread's copy, once the test lets it go on
            entered.set()
            assert go.wait(10)
            copies.append(1)
            return copied(mapped)

        monkeypatch.setattr(index, "_copied", copied_when_told)
        ids = np.arange(index.num_windows)
        threads = [threading.Thread(target=index.window_codes, args=(ids,)) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]  # both gathered from the mapped codes: the copy waits for `go`
        assert index._in_memory is None and (index._holder is not None) == held
        gathered = Searcher(index, bundle).score_windows(q, ids)
        go.set()
        if held:
            index._holder.join()
        assert (index._in_memory is not None) == held and len(copies) == int(held)
        np.testing.assert_allclose(exact, gathered, atol=1e-6)
        np.testing.assert_allclose(exact, Searcher(index, bundle).score_windows(q, ids), atol=1e-6)
        scores.append(gathered)
        if held:  # a copy finishing after a reload is dropped: the reloaded state starts its own
            index._load_chunks()  # mapped again, the copy not started
            assert index._in_memory is None and index._hold_later and index._holder is None
            go.clear()
            entered.clear()
            index.window_codes(ids[:3])
            stale = index._holder  # its copy waiting for `go`, of the state before the reload
            assert stale is not None and stale.is_alive()
            assert entered.wait(10)  # the state it copies taken before the reload below
            index._load_chunks()
            go.set()
            stale.join()
            assert index._in_memory is None and index._holder is None and index._hold_later
    np.testing.assert_array_equal(scores[0], scores[1])
    np.testing.assert_array_equal(scores[0], scores[2])


def _populate_supported() -> bool:
    """madvise(MADV_POPULATE_READ): Linux 5.14 and later."""
    import os
    import re
    import sys

    version = re.match(r"(\d+)\.(\d+)", os.uname().release) if hasattr(os, "uname") else None
    return sys.platform.startswith("linux") and version is not None and \
        (int(version[1]), int(version[2])) >= (5, 14)


def test_each_stage_keeps_the_exact_best_and_the_counts_follow_the_table(built):
    """The first stage and the sketches each keep the exact best windows (here: the best 5 clips
    among a third of the windows); the sketch score is MaxSim on the projected patches; the counts
    grow with the library, never past it, and small libraries are searched exactly."""
    bundle, path = built
    index = LibraryIndex.open(path, bundle)
    searcher = Searcher(index, bundle, fusion=False)  # the stages approximate MaxSim (fusion adds its own clips)
    n = index.num_windows
    every = np.arange(n)
    patches, offsets = index.window_patches(every)
    for text in ("a person raises the left hand", "someone walks forward", "a person turns around", "bows"):
        q = bundle.encode_query(text)
        exact = {h.window for h in searcher.search_query(q, 5, exact=True)}
        assert exact <= set(searcher.candidate_windows(q, n // 2).tolist())
        assert exact <= set(searcher.sketch_candidates(q, every, n // 3).tolist())
        projected = q.tokens @ index.sketch_basis.T
        codes, scales, sk_offsets = index.window_sketches(every)
        np.testing.assert_array_equal(sk_offsets, offsets)
        want = maxsim_packed(projected, patches @ index.sketch_basis.T, offsets)
        np.testing.assert_allclose(sketch_maxsim(projected, codes, scales, offsets), want, atol=0.02)
    sizes = [1_000, 2_000, 5_000, 10_000, 50_000, 100_000, 1_000_000, 3_000_000]
    counts = [candidate_counts(s, 10) for s in sizes]
    assert counts == sorted(counts) and all(m <= f <= s for (f, m), s in zip(counts, sizes))
    assert candidate_counts(500, 10) == (500, 300) and candidate_counts(10_000, 50)[1] > candidate_counts(10_000, 10)[1]
    cells = [candidate_counts(s, 10, cells=True) for s in sizes]
    assert cells == sorted(cells) and all(m <= f <= s for (f, m), s in zip(cells, sizes))


def test_the_cells_stage_walks_the_postings_the_table_gives_for_the_library_size(built, monkeypatch):
    """Each query token walks at least CELLS_TABLE's postings for the library's size (32,768 at 109k
    windows, between rows on a log scale), passed by search to the cells stage; walking every posting
    gives the exact centroid interaction, which no window's stage score is below."""
    from runtime.search.searcher import CELLS_TABLE, cells_postings

    assert [cells_postings(row[0]) for row in CELLS_TABLE] == [row[3] for row in CELLS_TABLE]
    assert 16_384 < cells_postings(50_000) < 32_768 and cells_postings(200) == 16_384
    bundle, path = built
    index = LibraryIndex.open(path, bundle)
    searcher = Searcher(index, bundle, first_stage="cells")
    assert searcher.first_stage == "cells" and searcher.min_postings == cells_postings(index.num_windows)
    stage, asked = searcher._cells, []
    scores = stage.scores
    monkeypatch.setattr(stage, "scores", lambda tokens, **kw: asked.append(kw) or scores(tokens, **kw))
    q = bundle.encode_query("a person raises the left hand")
    searcher.min_postings = 1  # only each token's 64 best cells
    probed = searcher._cells.scores(q.tokens, min_postings=1)
    searcher.candidate_windows(q, 5)
    assert asked[-1] == {"min_postings": 1}
    every = scores(q.tokens, min_postings=10**9)  # every cell: the centroid interaction itself
    assert (probed >= every - 1e-6).all()  # unprobed cells count at the floor: an upper bound


def test_the_sketch_stage_gives_the_same_candidates_in_blocks_and_threads(built):
    """Many candidates are scored in bounded blocks, in two threads (Searcher.sketch_block,
    split_sketches): the same scores, so the same windows, as in one piece."""
    bundle, path = built
    index = LibraryIndex.open(path, bundle)
    searcher = Searcher(index, bundle)
    every = np.arange(index.num_windows)
    queries = [bundle.encode_query(t) for t in ("a person raises the left hand", "someone walks forward")]
    whole = [searcher.sketch_candidates(q, every, 7) for q in queries]
    for split in (10**9, 4):  # one thread, then two
        searcher.sketch_block, searcher.split_sketches = 3, split
        for q, want in zip(queries, whole):
            np.testing.assert_array_equal(searcher.sketch_candidates(q, every, 7), want)


def test_mapped_sketches_are_packed_in_one_file_that_search_reads_and_a_writer_keeps_fresh(built, tmp_path,
                                                                                          monkeypatch, caplog):
    """An index whose sketches stay mapped gets them packed into one file (runtime.index.sketch_pack):
    the same sketches and the same sketch-stage candidates as from the chunks' own files, for windows
    in order, out of order, and in a chunk written after the pack (read from its own files); a pack
    left by a kill before its commit is deleted by the next writer; a stale pack is written again and
    the one it replaces deleted; a pack damaged or gone (only a copy of the chunks' sketches) is named in
    a warning, the chunks are read instead, and the next update writes it again."""
    import logging

    from runtime.index import sketch_pack

    bundle, path = built
    work, extra = tmp_path / "index", tmp_path / "extra"
    shutil.copytree(path, work)
    lib = Path(LibraryIndex.open(path, bundle).clips[0].path).parent
    monkeypatch.setenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", "0")  # sketches mapped, as at 1M clips
    q = bundle.encode_query("a person raises the left hand")

    def seen(index):
        n = index.num_windows
        ids = (np.arange(n), np.arange(n)[::-3], np.array([n - 1, 0, n // 2]))
        return [index.window_sketches(i) for i in ids], Searcher(index, bundle).sketch_candidates(q, np.arange(n), 7)

    def same(a, b):
        for x, y in zip(a[0], b[0]):
            for u, v in zip(x, y):
                np.testing.assert_array_equal(u, v)
        np.testing.assert_array_equal(a[1], b[1])

    chunked = LibraryIndex.open(work, bundle)
    assert chunked._sketch_pack is None and not isinstance(chunked._sketches, tuple)
    want = seen(chunked)
    chunked.pack_sketches()
    packed = LibraryIndex.open(work, bundle)
    pack = packed.meta["sketch_pack"]
    assert pack["chunks"] == packed.meta["chunks"] and (work / pack["file"]).is_file()
    assert packed._sketch_pack is not None and packed._sketch_pack[2].all()
    same(seen(packed), want)

    extra.mkdir()  # one clip more: a chunk the pack does not hold (under PACK_SLACK of the rows)
    shutil.copy(packed.clips[0].path, extra / "copy.bvh")
    leftover = sketch_pack.write_pack(work, packed.meta["chunks"])["file"]  # as a kill before the commit leaves it
    (work / f".{sketch_pack.PREFIX}0000.npy.tmp").write_bytes(b"partial")
    LibraryIndex.open(work, bundle).update([lib, extra], bundle, chunk_clips=10)
    mixed = LibraryIndex.open(work, bundle)
    assert mixed.meta["sketch_pack"] == pack and not mixed._sketch_pack[2].all()
    assert [f.name for f in sketch_pack.pack_files(work)] == [pack["file"]] != [leftover]
    unpacked = LibraryIndex.open(work, bundle)
    unpacked._sketch_pack = None  # the same index read chunk by chunk
    same(seen(mixed), seen(unpacked))

    monkeypatch.setattr(sketch_pack, "PACK_SLACK", 0.0)  # now stale: written again, the old one deleted
    mixed.pack_sketches()
    fresh = LibraryIndex.open(work, bundle)
    assert fresh.meta["sketch_pack"]["file"] != pack["file"] and fresh._sketch_pack[2].all()
    assert [f.name for f in sketch_pack.pack_files(work)] == [fresh.meta["sketch_pack"]["file"]]
    same(seen(fresh), seen(unpacked))
    with open(extra / "copy.bvh", "a") as f:  # a changed file: a new chunk, and the pack (stale at once) again
        f.write(" \n")
    notes = []
    fresh.update([lib, extra], bundle, chunk_clips=10, progress=lambda done, total, note: notes.append(note))
    assert any(n.startswith("sketches packed in one file") for n in notes)
    fresh = LibraryIndex.open(work, bundle)
    assert fresh._sketch_pack[2].all() and fresh.meta["sketch_pack"]["chunks"] == fresh.meta["chunks"]
    unpacked = LibraryIndex.open(work, bundle)
    unpacked._sketch_pack = None
    same(seen(fresh), seen(unpacked))

    damaged = work / fresh.meta["sketch_pack"]["file"]
    data = bytearray(damaged.read_bytes())
    data[-5] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="runtime.index.store"):
        read = LibraryIndex.open(work, bundle)  # only a copy: the chunks' own sketches are read instead
    assert read._sketch_pack is None and damaged.name in caplog.text and "damaged" in caplog.text
    same(seen(read), seen(unpacked))
    damaged.unlink()  # gone altogether: the same
    read = LibraryIndex.open(work, bundle)
    assert read._sketch_pack is None
    read.update([lib, extra], bundle, chunk_clips=10)  # nothing changed in the library: the pack written again
    fresh = LibraryIndex.open(work, bundle)
    assert fresh._sketch_pack is not None and fresh.meta["sketch_pack"]["file"] != damaged.name
    same(seen(fresh), seen(unpacked))
    monkeypatch.setenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", "4096")  # sketches read into memory: the pack unused
    assert isinstance(LibraryIndex.open(work, bundle)._sketches, tuple)



def test_the_sketch_stages_own_threads_hold_openblas_to_one_thread_and_give_it_back(built, monkeypatch,
                                                                                    openblas_two_threads):
    """While the sketch stage runs its two threads, numpy's OpenBLAS runs each product on one
    (runtime.search.blas_threads); the count it had comes back when the last search inside leaves,
    also when two are inside at once."""
    import threading

    from runtime.search.blas_threads import one_blas_thread

    get, _ = openblas_two_threads
    bundle, path = built
    searcher = Searcher(LibraryIndex.open(path, bundle), bundle)
    searcher.sketch_block, searcher.split_sketches = 3, 4  # two threads
    seen, real = [], searcher._sketch_scores
    monkeypatch.setattr(searcher, "_sketch_scores", lambda *a: seen.append(get()) or real(*a))
    searcher.sketch_candidates(bundle.encode_query("someone walks forward"), np.arange(searcher.index.num_windows), 7)
    assert seen and set(seen) == {1} and get() == 2

    first_in, second_out = threading.Event(), threading.Event()

    def first():
        with one_blas_thread():
            first_in.set()
            assert second_out.wait(10)
            assert get() == 1  # the other caller left; this one is still inside

    t = threading.Thread(target=first)
    t.start()
    assert first_in.wait(10)
    with one_blas_thread():
        assert get() == 1
    second_out.set()
    t.join()
    assert get() == 2
