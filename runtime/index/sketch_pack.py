"""One file holding the sketches of many chunks, for an index whose sketches stay memory-mapped.

Search's middle stage reads the sketches (runtime.index.sketch) of tens of thousands of windows a
query. Held in memory (up to CODES_IN_MEMORY: a library of ~150k clips) that is one gather; above
that they stay mapped, one file per chunk, and a query's windows fall in nearly every chunk (a
1M-clip library's 35,000 in 3,906 of its 3,907), so the gather went chunk by chunk, a few numpy
calls each. Packed in one mapped file they are one gather again (at 1M the stage took 298 ms a
query chunk by chunk, 170 ms from the pack: bench/bench_search.py's stage line,
docs/BENCHMARKS.md), and their pages stay the page cache's, not the process's (held in memory, a
1M-clip library's 1.9 GB would break its 4 GB).

The pack (`sketches-<id>.npy` in the index folder): records of 18 bytes, a patch's 16 sketch bytes
and its float16 scale (one read a patch), the rows of the chunks it lists back to back (every row
of each chunk, a dropped window's too). metadata.json's `sketch_pack` names the file, its chunks,
their rows and the file's CRC-32. A chunk written after the pack is read from its own files until
the pack is written again; a chunk compacted away leaves dead rows in it. The writer (under the
lock, at the end of an update) writes it again when either is more than PACK_SLACK of it (write_pack:
temporary name, fsync, rename, then the metadata commit; the old file is deleted after it, and a
kill between leaves an unlisted file the next writer deletes). A pack is only a copy of the chunks'
own sketches: one damaged or gone is passed over by readers (with a warning) and written again by
the next update.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable

import numpy as np

from .chunks import file_crc32, load_npy, sync_folder
from .sketch import SKETCH_DIMS

PACK_DTYPE = np.dtype([("sketch", np.uint8, (SKETCH_DIMS,)), ("scale", "<f2")])
PACK_SLACK = 0.125  # rows outside the pack, or dead rows in it: more than this share, and it is written again
PREFIX = "sketches-"


def pack_files(folder: Path) -> list[Path]:
    """The pack files in an index folder (listed or not), and temporary ones left by a kill."""
    return [*folder.glob(f"{PREFIX}*.npy"), *folder.glob(f".{PREFIX}*.tmp")]


def wanted(meta: dict, rows: dict[str, int]) -> bool:
    """Whether the writer should write the pack again: none yet, or the chunks outside it, or the
    rows of chunks no longer listed, hold more than PACK_SLACK of it. `rows`: sketch rows per chunk
    listed now."""
    pack = meta.get("sketch_pack")
    total = sum(rows.values())
    if not total:
        return False
    if not pack:
        return True
    packed = dict(zip(pack["chunks"], pack["rows"]))
    outside = sum(n for name, n in rows.items() if name not in packed)
    dead = sum(n for name, n in packed.items() if name not in rows)
    return outside > PACK_SLACK * total or dead > PACK_SLACK * max(sum(packed.values()), 1)


def write_pack(folder: Path, chunks: list[str], progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Write the sketches of `chunks` (in this order) into a new pack file, durable, and return what
    metadata.json records of it ({"file", "chunks", "rows", "crc"}); nothing lists it yet. `progress`
    is called per chunk as progress(done, chunks, note) (a 1M-clip library: ~30 s)."""
    rows = [len(load_npy(folder / name / "sketch_scales.npy", mmap=True)) for name in chunks]
    name = f"{PREFIX}{uuid.uuid4().hex[:8]}.npy"
    tmp = folder / f".{name}.tmp"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=PACK_DTYPE, shape=(sum(rows),))
    start = 0
    for k, (chunk, n) in enumerate(zip(chunks, rows)):
        if progress and k % 64 == 0:
            progress(k, len(chunks), "sketches packed in one file (a large library: makes search faster)")
        out["sketch"][start: start + n] = load_npy(folder / chunk / "sketch.npy", mmap=True)
        out["scale"][start: start + n] = load_npy(folder / chunk / "sketch_scales.npy")
        start += n
    out.flush()
    del out
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, folder / name)
    sync_folder(folder)
    return {"file": name, "chunks": list(chunks), "rows": rows, "crc": file_crc32(folder / name)}


def open_pack(folder: Path, pack: dict) -> tuple[np.ndarray, dict[str, int]] | None:
    """(the mapped records, {chunk: its first row in them}) of the pack `pack` (metadata's
    `sketch_pack`), or None where their type or number differs from what `pack` records (its CRC-32
    is the caller's check)."""
    records = load_npy(folder / pack["file"], mmap=True)
    if records.dtype != PACK_DTYPE or len(records) != sum(pack["rows"]):
        return None
    firsts = np.concatenate([[0], np.cumsum(pack["rows"])[:-1]]).astype(np.int64)
    return records, dict(zip(pack["chunks"], firsts.tolist()))
