"""Large libraries for the search benchmarks, composed from a real index's windows.

A real library of 3,280 clips cannot show how search behaves at 100k or 1M clips, and copying its
windows with a little noise (what bench_search.py did before) makes every clip a near-duplicate of
~30 others: an easy case for recall. Here each new window is composed from real windows with the
same number of time rows: for each of five body regions (trunk and head, each arm, each leg) the
region's patches over the whole window come from one real window, drawn at random (`regions`
regions are drawn; the rest come from the new clip's template window). Every patch is a real
patch, the motion image of a region is a real one, but the whole window is a new combination;
each code also gets +-1 step of noise, so no two windows are identical. How close the new windows
are to their nearest other window is reported by `nearest_neighbour_cosines` and compared with the
real library's (docs/BENCHMARKS.md).

The index is written as a real one (chunks of 256 clips, checksums, metadata) from the stored
codes: the first-stage summaries come from each region's real part means, exact because a part's
mean over time is the mean of its own patches; the sketches from the new codes, decoded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from runtime.index import (LibraryIndex, assign_cells, cells_files, chunk_checksums, decode, encode_sketches,
                           save_cells, summarise_means, window_cells, write_metadata)
from runtime.motion import NUM_PARTS

REGIONS = ((0, 1, 8, 9), (2, 4, 6), (3, 5, 7), (10, 12), (11, 13))  # trunk+head, legs, arms (PART_NAMES)
CHUNK_CLIPS = 256  # as LibraryIndex.update writes them


class WindowPool:
    """A real index's windows, as stored codes and float part means, grouped by time rows."""

    def __init__(self, source: LibraryIndex):
        if source.codec != "int8":
            raise ValueError("the composed libraries are made from an int8 index")
        self.source = source
        ids = np.arange(source.num_windows)
        self.codes, self.scales, self.offsets = source.window_codes(ids)
        patches, _ = source.window_patches(ids)
        self.rows = (source.doclens // NUM_PARTS).astype(np.int64)
        self.means = np.stack([patches[a:b].reshape(-1, NUM_PARTS, patches.shape[1]).mean(0)
                               for a, b in zip(self.offsets[:-1], self.offsets[1:])])  # (W, parts, D)
        self.by_rows = {int(r): np.flatnonzero(self.rows == r) for r in np.unique(self.rows)}
        self.clips = [c for c in source.clips if c.status == "ok" and c.window_count]

    def compose(self, template: int, rng: np.random.Generator, regions: int) -> tuple:
        """One new window shaped like real window `template`: (codes, scales, part means)."""
        r = int(self.rows[template])
        same = self.by_rows[r]
        src = np.full(NUM_PARTS, template)
        for g in rng.choice(len(REGIONS), regions, replace=False):
            src[list(REGIONS[g])] = same[rng.integers(len(same))]
        # patch (t, p) of the new window is patch (t, p) of window src[p]
        rows = self.offsets[src][None, :] + np.arange(r)[:, None] * NUM_PARTS + np.arange(NUM_PARTS)[None, :]
        rows = rows.ravel()
        means = self.means[src, np.arange(NUM_PARTS)]
        return self.codes[rows], self.scales[rows], means, rows

    def cells(self, codebook: np.ndarray) -> np.ndarray:
        """Each real patch's cell (runtime.index.cells), computed once."""
        if getattr(self, "_cells", None) is None:
            self._cells = assign_cells(decode({"codes": self.codes, "scales": self.scales}, "int8"), codebook)
        return self._cells


def compose_index(source: LibraryIndex, target: Path, clips: int, seed: int = 0, regions: int = 5,
                  pool: WindowPool | None = None, codebook: tuple[str, np.ndarray] | None = None,
                  cells_from_source: bool = False) -> LibraryIndex:
    """A library of `clips` composed clips (each shaped like a random real clip) written at `target`;
    with `codebook` (id, centroids), with the cells of its windows (runtime.index.cells): assigned
    from the stored codes, or (`cells_from_source`, for 1M clips: 110M patches) each patch's real
    source patch's cell, the same for 98.8% of patches with 16,384 cells (the +-1 code noise moves
    the rest; bench/bench_cells.py)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    pool = pool or WindowPool(source)
    rng = np.random.default_rng(seed)
    meta = dict(source.meta, chunks=[], dropped={}, checksums={}, clips_files={})
    basis = source.sketch_basis  # the source's directions: its patches are the ones composed
    made = 0
    while made < clips:
        n = min(CHUNK_CLIPS, clips - made)
        entries, wins, codes, scales, means, doclens, rows = [], [], [], [], [], [], []
        for k, i in enumerate(rng.integers(0, len(pool.clips), n)):
            c = pool.clips[i]
            entry = dict(vars(c), id=f"{c.id}#{made + k}", label=f"{c.label}#{made + k}")
            entry.pop("window_start")
            entry.pop("window_count")
            entries.append(entry)
            for w in range(c.window_start, c.window_start + c.window_count):
                cw, sw, mw, rw = pool.compose(w, rng, regions)
                rows.append(rw)
                codes.append(cw)
                scales.append(sw)
                means.append(mw)
                doclens.append(len(cw))
                wins.append((k, int(source.windows[w, 1]), int(source.windows[w, 2])))
        block = np.concatenate(codes)
        noise = rng.integers(-1, 2, block.shape, dtype=np.int16)
        block = np.clip(block.astype(np.int16) + noise, 1, 255).astype(np.uint8)
        means = np.stack(means)
        pooled = means.mean(1)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)
        summary = summarise_means(means)
        name = f"chunk-{len(meta['chunks']) + 1:06d}"
        d = target / name
        d.mkdir()
        np.save(d / "windows.npy", np.array(wins, np.int64))
        np.save(d / "doclens.npy", np.array(doclens, np.int32))
        np.save(d / "codes.npy", block)
        np.save(d / "scales.npy", np.concatenate(scales))
        np.save(d / "pooled.npy", pooled.astype(np.float16))
        np.save(d / "parts.npy", summary["parts"])
        np.save(d / "basis.npy", summary["basis"])
        decoded = (block.astype(np.float32) - 128.0) * np.concatenate(scales).astype(np.float32)[:, None]
        for key, value in encode_sketches(decoded, basis).items():
            np.save(d / f"{key}.npy", value)
        if codebook is not None and cells_from_source:
            arrays = window_cells(pool.cells(codebook[1])[np.concatenate(rows)], np.array(doclens))
            for file, key in zip(cells_files(codebook[0]), ("cells", "cell_counts")):
                np.save(d / file, arrays[key])
        elif codebook is not None:
            save_cells(d, codebook, decoded, np.array(doclens))
        (d / "clips.json").write_text(json.dumps(entries))
        meta["chunks"].append(name)
        meta["checksums"][name] = chunk_checksums(d)
        made += n
    if codebook is not None:
        meta["codebook"] = codebook[0]
    write_metadata(target, meta)
    return LibraryIndex.open(target)


def nearest_neighbour_cosines(index: LibraryIndex, centre: np.ndarray, sample: int = 2000,
                              seed: int = 0) -> np.ndarray:
    """For `sample` random windows, the best cosine of its mean patch (pooled vector, less `centre`,
    the real library's mean: raw mean patches all lie within a few degrees of each other) with that
    of any window of another clip: how far the nearest other clip is."""
    pooled = index.pooled - centre
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(pooled), min(sample, len(pooled)), replace=False)
    clip = index.windows[:, 0]
    best = np.full(len(pick), -1.0, np.float32)
    for s in range(0, len(pooled), 65536):
        sims = pooled[pick] @ pooled[s: s + 65536].T
        sims[clip[pick][:, None] == clip[s: s + 65536][None, :]] = -1.0
        best = np.maximum(best, sims.max(1))
    return best


def with_description_vectors(source: LibraryIndex, index_path: Path) -> LibraryIndex:
    """Give a composed index (compose_index) the description vectors of the real clips its clips are
    shaped like (fused search's vectors; a composed clip's motion is new, its description its model's)."""
    by_id = {c.id: source.sentence_vectors[k] for k, c in enumerate(source.clips)}
    meta = json.loads((index_path / "metadata.json").read_text())
    for name in meta["chunks"]:
        d = index_path / name
        ids = [c["id"].rsplit("#", 1)[0] for c in json.loads((d / "clips.json").read_text())]
        np.save(d / "sentences.npy", np.stack([by_id[i] for i in ids]).astype(np.float16))
        meta["checksums"][name] = chunk_checksums(d)
    write_metadata(index_path, dict(meta, sentence_encoder=source.meta["sentence_encoder"], sentences_files={}))
    return LibraryIndex.open(index_path)
