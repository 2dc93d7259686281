"""One chunk's files: its arrays written from float patches, their checksums, and the atomic JSON
and .npy helpers every index file goes through (a temporary name, fsync, then a rename)."""

from __future__ import annotations

import json
import mmap as _mmap
import os
import sys
import uuid
import zlib
from pathlib import Path

import numpy as np

from ..motion import NUM_PARTS
from . import cells as cell_lists
from . import codec as codecs
from . import first_stage
from . import sketch as sketches


def pooled_vectors(patches: list[np.ndarray]) -> np.ndarray:
    """(W, D) float32: each window's unit mean patch, rounded to float16 as `pooled.npy` stores it."""
    pooled = np.stack([p.mean(0) / max(np.linalg.norm(p.mean(0)), 1e-9) for p in patches])
    return pooled.astype(np.float16).astype(np.float32)


def save_chunk_arrays(d: Path, wins: list[tuple[int, int, int]], patches: list[np.ndarray], codec: str,
                      embed_dim: int, sketch_basis: np.ndarray, codebook: tuple[str, np.ndarray] | None = None,
                      pooled: np.ndarray | None = None) -> None:
    """Write one chunk's arrays (all but clips.json) into directory `d`, from each window's float
    patches; with `codebook` (id, centroids), the windows' cells too (save_cells); `pooled`: the
    windows' pooled_vectors where the caller has them already."""
    flat = np.concatenate(patches) if patches else np.zeros((0, embed_dim), np.float32)
    doclens = np.array([len(p) for p in patches], np.int32)
    arrays = codecs.encode(flat, codec)
    if pooled is None:
        pooled = pooled_vectors(patches) if patches else np.zeros((0, embed_dim), np.float32)
    summary = first_stage.summarise(flat, doclens, NUM_PARTS)
    np.save(d / "windows.npy", np.array(wins, np.int64).reshape(-1, 3))
    np.save(d / "doclens.npy", doclens)
    np.save(d / "codes.npy", arrays["codes"])
    if "scales" in arrays:
        np.save(d / "scales.npy", arrays["scales"])
    np.save(d / "pooled.npy", pooled.astype(np.float16))
    np.save(d / "parts.npy", summary["parts"])
    np.save(d / "basis.npy", summary["basis"])
    for key, value in sketches.encode_sketches(flat, sketch_basis).items():
        np.save(d / f"{key}.npy", value)
    if codebook is not None:
        save_cells(d, codebook, codecs.decode(arrays, codec), doclens)


def cells_files(codebook_id: str) -> tuple[str, str]:
    """A chunk's files of the cells that codebook `codebook_id` makes (runtime.index.cells)."""
    return f"cells-{codebook_id}.npy", f"cell_counts-{codebook_id}.npy"


def save_cells(d: Path, codebook: tuple[str, np.ndarray], patches: np.ndarray, doclens: np.ndarray) -> list[str]:
    """Write the cells of a chunk's windows from its stored patches (decoded: the same cells whether a
    chunk is new or its cells are added later), each file under a temporary name, fsynced, renamed."""
    arrays = cell_lists.window_cells(cell_lists.assign_cells(patches, codebook[1]), doclens)
    names = cells_files(codebook[0])
    for name, key in zip(names, ("cells", "cell_counts")):
        write_npy(d / name, arrays[key])
    return list(names)


def write_json(path: Path, data, indent: int | None = 1) -> None:
    """Replace `path` atomically: written and fsynced under a temporary name, renamed, the folder synced."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    sync_folder(path.parent)


def write_npy(path: Path, array: np.ndarray) -> None:
    """Replace `path` atomically with `array` as .npy, as write_json does."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows has no folder handles to sync)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def prefetch_rows(array: np.ndarray, rows: np.ndarray) -> None:
    """Ask the kernel to start reading the pages of `rows` of a memory-mapped `array` now, all at once
    (madvise WILLNEED per run of consecutive rows), before they are copied one by one.

    Without it, a gather from a file larger than the page cache faults its pages in one at a time, one
    disk wait each: 2,000 windows' codes of the 1M library took 7-8 s; with it the reads go to the disk
    together and the same gather takes 0.2-0.6 s (bench/bench_cells.py --cold). Pages already in memory cost
    one system call per run. A no-op for arrays in memory and where madvise is missing (Windows)."""
    rows = np.asarray(rows, np.int64)
    firsts, counts = _runs(rows)
    prefetch_runs([array], np.zeros(len(firsts), np.int64), firsts, counts)


def prefetch_runs(arrays: list[np.ndarray], which: np.ndarray, firsts: np.ndarray, counts: np.ndarray) -> None:
    """prefetch_rows for many runs of rows of many arrays at once (rows firsts[i] .. firsts[i] +
    counts[i] - 1 of arrays[which[i]], every array with the same row size): their byte ranges in
    one pass, then one system call a run. A gather's windows are its runs: a 1M library's 4,000
    exact candidates lie in ~2,500 chunks, and finding each chunk's runs among its rows (a numpy pass
    per chunk) cost more than the calls."""
    if not len(which):
        return
    used = np.unique(which)
    views = {int(c): _mapping(arrays[c]) for c in used}
    header = np.zeros(int(used[-1]) + 1, np.int64)
    header[used] = [getattr(arrays[c], "offset", 0) for c in used]
    starts, lengths = _run_pages(np.asarray(firsts, np.int64), np.asarray(counts, np.int64),
                                 arrays[int(used[0])].strides[0], header[which])
    for c, start, length in zip(which.tolist(), starts.tolist(), lengths.tolist()):
        view = views[c]
        if view is not None and length > 0:
            view.madvise(_mmap.MADV_WILLNEED, start, length)


MADV_POPULATE_READ = getattr(_mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14+ (Python 3.11 has no name for it)


def populate(array: np.ndarray) -> bool:
    """Map every page of a memory-mapped `array` into this process now (madvise POPULATE_READ),
    reading what is not in the page cache yet; False where the system cannot (not Linux, a kernel
    before 5.14, an array in memory).

    A page's first touch after mapping costs a fault even when the file is in the page cache: a
    gather of 2,000 windows' codes at 100k clips took 25.0 ms from fresh mappings and 19.9 ms from
    populated ones, and populating all 2.69 GB of codes took 0.09 s, once, at open
    (bench/bench_stages.py)."""
    view = _mapping(array)
    if view is None or not sys.platform.startswith("linux"):
        return False
    try:
        view.madvise(MADV_POPULATE_READ)
    except OSError:  # EINVAL before Linux 5.14; the pages then come in at first touch, as before
        return False
    return True


def _mapping(array: np.ndarray) -> _mmap.mmap | None:
    """The file mapping under a memory-mapped array (np.load with mmap_mode), where it can take
    advice (madvise: not on Windows); None for an array in memory."""
    view = getattr(array, "base", None)
    return view if isinstance(view, _mmap.mmap) and hasattr(view, "madvise") else None


def page_ranges(rows: np.ndarray, stride: int, offset: int = 0) -> list[tuple[int, int]]:
    """(start, length) in bytes of each run of consecutive `rows` of a file's array whose first row is
    at `offset` and whose rows are `stride` bytes apart, each start rounded down to a page (madvise
    wants page-aligned starts)."""
    starts, lengths = _run_pages(*_runs(np.asarray(rows, np.int64)), stride, offset)
    return list(zip(starts.tolist(), lengths.tolist()))


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row, rows) of each run of consecutive `rows`."""
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    firsts, lasts = rows[np.concatenate([[0], breaks])], rows[np.concatenate([breaks - 1, [len(rows) - 1]])]
    return firsts, lasts - firsts + 1


def _run_pages(firsts: np.ndarray, counts: np.ndarray, stride: int, offset) -> tuple[np.ndarray, np.ndarray]:
    """Byte ranges (starts rounded down to a page, lengths) of runs of rows (see page_ranges;
    `offset` one for all or one a run)."""
    starts = (offset + firsts * stride) // _mmap.PAGESIZE * _mmap.PAGESIZE
    return starts, offset + (firsts + counts) * stride - starts


_verified: dict[tuple, int] = {}  # (path, size, mtime_ns, inode) -> crc32: each file hashed once per process


def file_crc32(path: Path) -> int:
    """CRC-32 of a file's bytes, remembered while the file is unchanged (what opening costs:
    bench/bench_index.py, docs/RELIABILITY.md)."""
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _verified:
        crc = 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                crc = zlib.crc32(block, crc)
        _verified[key] = crc
    return _verified[key]


def chunk_checksums(d: Path) -> dict[str, int]:
    """{file name: CRC-32} of every file of a chunk folder."""
    return {f.name: file_crc32(f) for f in sorted(d.iterdir()) if f.is_file()}
