"""A clip library's index: every window of every clip, as compressed patch embeddings.

An index is a directory (ColBERT's layout, minus pickle):

    metadata.json        format version, the bundle's model id, sizes, codec, the chunk list,
                         dropped entries, a CRC-32 of every chunk file, its own digest; the one
                         commit point, replaced atomically (see "Commit protocol")
    .lock                the writer lock (runtime/index/lock.py)
    chunk-000001/        one batch of clips, written to a temporary name and renamed when complete
        clips.json       per clip: id, path, content hash, size/mtime, frame rates, rig, status, error,
                         description (one sentence from runtime.describe); after descriptions
                         are redone, clips-<id>.json (metadata names it)
        windows.npy      (W, 3) int64: clip (in this chunk), first frame (20 fps), frames
        doclens.npy      (W,) int32 patches per window
        codes.npy        (P, D) patch codes (runtime.index.codec), scales.npy for int codecs
        pooled.npy       (W, D) float16 unit mean of each window's patches
        parts.npy        (W, parts, 32) float16 per-body-part means, projected (runtime.index.first_stage)
        basis.npy        (32, D) float32 the chunk's projection for parts.npy
        sketch.npy       (P, 16) uint8 each patch on the index's top 16 directions (runtime.index.sketch),
        sketch_scales.npy  (P,) float16 their scales; metadata.json keeps the directions (sketch_basis)
        cells-<id>.npy   (U,) uint16 each window's distinct cells of the bundle's codebook `id`, window
                         after window, and cell_counts-<id>.npy (W,) uint16 how many (runtime.index.cells:
                         search's first stage); metadata.json's `codebook` names the codebook
        sentences.npy    (clips, S) float16 each clip's description vector for fused search
                         (runtime/index/descriptions.py); after descriptions are redone,
                         sentences-<id>.npy (metadata's `sentences_files` names it)
    sketches-<id>.npy    an index whose sketches stay memory-mapped (a library of more than ~150k clips):
                         every chunk's sketches in one file, so that a query gathers them at once
                         (runtime/index/sketch_pack.py); metadata.json's `sketch_pack` names it
    report.json          the last update: what was added, changed, removed, what failed, and the
                         files in the library folders it did not read
    converted/           FBX / glTF / .blend clips as Blender evaluated them, one .npz per file
                         content (runtime.io.blender_files; runtime.library.scene_clips keeps it pruned)

Updates are incremental: a file is re-encoded only when its content hash (checked when its
size or modification time changed) or its frame-rate override differs. A file that fails to load
becomes a `failed` entry with its error and never stops the rest; failed entries are tried again
at every update (a worker crash or a changed converter is not the file's fault), and the report
lists every clip that is failed now. A file that was indexed and cannot be read now keeps its
entry (reported, not lost).

Commit protocol (what a kill -9 at any moment leaves: the index of the last commit, complete):
1. Only the holder of the writer lock (`.lock`, released by the OS when its process dies) writes;
   it re-reads metadata.json after taking the lock. Readers never lock and never write, except to
   upgrade an older format, which they do under the lock.
2. A chunk's files are written into `.tmp-<name>/`, fsynced, their CRC-32s taken, and the folder is
   renamed to `<name>/`. Nothing refers to it yet: a kill here leaves an unlisted folder, which the
   next writer deletes.
3. The commit: metadata.json is replaced atomically (temporary file, fsync, rename, folder fsync)
   by one that lists the new chunk with its checksums AND drops the entries it replaces (changed
   files' old versions) in the same write. So a changed clip is always searchable, old or new.
   Files gone from the library are dropped in a commit of their own (they are gone).
4. Chunk files are never modified in place. Descriptions redone are a new clips-<id>.json,
   committed like a chunk; compaction writes all its new chunks first and commits them in one
   metadata write; a new sketch pack is written whole before the commit that lists it; only then
   are replaced files and folders deleted.
5. A reader verifies metadata.json's digest and every listed file's CRC-32 (each file once per
   process while it is unchanged); a mismatch is a damaged index, named with the file, and
   `python -m runtime index --rebuild` encodes the library again. A reader that raced a writer's
   deletion of replaced files reads the new metadata.json and tries again.

Each clip's description (`Description.summary` of runtime.describe, e.g. "A person waves the right
hand.") is computed from the Motion already loaded for encoding; a clip the describer cannot
describe (too short, say) gets "" and is indexed all the same. Format history: v1 patches only;
v2 adds the per-body-part first stage, computed from the stored codes when a v1 index is opened;
v3 adds descriptions; v4 adds the checksums and the digest (computed from the files as they are when
a v3 index is opened); v5 stores int8 codes as unsigned bytes offset by 128 (the CPU's fast integer
product; a v4 index's int8 chunks are copied to new folders with their codes converted, committed
in one metadata write, as compaction does) and adds the sketches (sketch.npy, sketch_scales.npy: each
patch on the index's 16 top directions, runtime/index/sketch.py; `sketch_basis` in metadata.json),
computed from the stored codes when a v4 index is opened; v6 adds each clip's description texts
(`captions` in clips.json) and sentence vector (sentences.npy), and metadata's `sentence_encoder` (the
id of the bundle's sentence encoder that made them) and `sentences_files`. Opening a v5 index only
rewrites its metadata for v6 (no sentence encoder): search runs on MaxSim alone until the next update
describes the clips again (read, not encoded) and stores their vectors; the same happens when the
bundle's sentence encoder changed. Opening a v2 index only rewrites its metadata (v3): its clips have no
description yet (None; search shows ""), and the next `update` reads those unchanged files again
to describe them, without encoding them again (clips.json of each chunk is replaced atomically).
The same happens when the describer itself changed (metadata.json records its `describer`
version): descriptions are redone, patches are kept. Cells are optional files of a v6 chunk, not a
format version: an index without them (older, or written by an older version, or with another
codebook) searches with the per-body-part first stage, and the next update gives every chunk the
cells of its bundle's codebook (computed from the stored codes, new files committed in one
metadata write; nothing is encoded again).
Describing on open instead would make the first search after an upgrade read the whole library,
and could not reach in-memory motions (Blender actions), which only an update is handed.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import DamagedIndexError, LibraryIndexError, StaleIndexError, safe_text
from ..hashing import content_hash
from ..library import NOT_MOTION, MotionItem, prune_cache, scan, scene_file_items
from ..motion import Motion, Windows
from . import codec as codecs
from . import scratch
from . import first_stage
from . import sketch as sketches
from . import open_files, sketch_pack
from .cells import CellStage
from .chunks import (cells_files, chunk_checksums, file_crc32, load_npy, pooled_vectors, populate, prefetch_runs,
                     save_cells, save_chunk_arrays, sync_folder, write_json)
from .entries import ClipEntry, UpdateReport, entry_json
from .gather import SPLIT_GATHER_ROWS, on_both_cores, packed_rows
from .ingest import describer_version, read_all, read_description
from .lock import IndexLock
from .upgrade import meta_digest, upgrade_from_v1, upgrade_from_v2, upgrade_from_v3, upgrade_from_v4, upgrade_to_v6
from .descriptions import clip_motion_vectors, description_vectors, vectors_file

INDEX_FORMAT = "motion-search-index"
INDEX_VERSION = 6  # 2: per-body-part first stage (parts.npy, basis.npy); 3: clip descriptions; 4: checksums;
# 5: int8 codes as unsigned bytes (offset 128) and patch sketches; 6: description texts and sentence vectors
# (sentences.npy) for fused search
DEFAULT_CODEC = "int8"
ENCODE_BATCH = 32  # clips whose windows go through the motion encoder together
UPGRADE_WAIT_S = 60.0  # a reader waits this long for a running update before upgrading an old format
CODES_IN_MEMORY = 256 * 2**20  # bytes of codes always read into memory when opened (codes_in_memory_limit)
CODES_MEMORY_SHARE = 8  # ... and up to this share of the machine's memory (1/8), from the first search on
# (LibraryIndex._start_holding, on a thread of its own); above it they stay memory-mapped. A query copies
# its exact candidates' codes; from the process's own memory that copy ran 2-4x faster than from the
# page cache's mapped pages (2,000 random windows at 100k: 5.7 against 20.9 ms on two threads,
# bench/bench_stages.py; docs/BENCHMARKS.md). Sketches (a tenth of the bytes, read from many windows)
# are read into memory up to CODES_IN_MEMORY only: a 1M-clip index's 1.9 GB of them stay mapped, which
# keeps its process within 4 GB, packed in one file by the writer (runtime.index.sketch_pack).
SENTENCE_BLOCK = 65_536  # description vectors checked for NaN this many at a time when opened (25 MB of bools)
OPEN_TRIES = 3  # a reader that raced a writer's clean-up reads the new metadata and tries again
REBUILD_HINT = "run `python -m runtime index --rebuild FOLDER...` (or Update Index in Blender) to encode it again"

log = logging.getLogger(__name__)


class LibraryIndex:
    """An opened index. `open`, `create`, or `open_or_create`; then `update` and search."""

    def __init__(self, path: Path, meta: dict):
        self.path = path
        self.meta = meta
        self.codec = meta["codec"]
        self.embed_dim = int(meta["embed_dim"])
        self.replaced = ""  # what open_or_create(replace_stale=True) replaced, if it did
        self._lock = IndexLock(path)
        self._codebook: tuple[str, np.ndarray] | None = None  # an update's bundle's (id, centroids): new chunks' cells
        self._cell_stage: CellStage | None = None
        self._hold_lock = threading.Lock()
        self._holder: threading.Thread | None = None  # copying the codes into memory (_start_holding)
        self._load_chunks()

    # ----------------------------------------------------------------------------- open / create

    @classmethod
    def create(cls, path: str | os.PathLike, bundle, codec: str = DEFAULT_CODEC) -> "LibraryIndex":
        path = Path(path)
        if codec not in codecs.CODECS:
            raise ValueError(f"unknown codec '{codec}'")
        if (path / "metadata.json").exists():
            raise LibraryIndexError(f"{path}: an index already exists here")
        path.mkdir(parents=True, exist_ok=True)
        with IndexLock(path):
            if (path / "metadata.json").exists():
                raise LibraryIndexError(f"{path}: an index already exists here")
            return cls._create_locked(path, bundle, codec)

    @classmethod
    def _create_locked(cls, path: Path, bundle, codec: str) -> "LibraryIndex":
        meta = {"format": INDEX_FORMAT, "format_version": INDEX_VERSION, "model_id": bundle.model_id,
                "embed_dim": bundle.embed_dim, "window": bundle.window, "hop": bundle.hop, "codec": codec,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "chunks": [], "dropped": {}, "checksums": {},
                "clips_files": {}, "describer": describer_version(),
                "sentence_encoder": getattr(bundle, "sentence_id", None), "sentences_files": {}}
        return cls(path, write_metadata(path, meta))

    @classmethod
    def open(cls, path: str | os.PathLike, bundle=None) -> "LibraryIndex":
        """Open an index; with `bundle`, refuse one built by another model.

        Raises:
            LibraryIndexError: missing, unreadable, damaged, another format version or model.
        """
        path = Path(path)
        for attempt in range(OPEN_TRIES):
            meta = read_meta(path)
            if bundle is not None and meta.get("model_id") != bundle.model_id:
                raise other_model_error(path, meta.get("model_id"), bundle.model_id)
            if meta["format_version"] < INDEX_VERSION:
                with IndexLock(path, wait_s=UPGRADE_WAIT_S):
                    meta = _upgraded(path, read_meta(path))
            try:
                return cls(path, meta)
            except _Raced:
                if attempt == OPEN_TRIES - 1:
                    raise LibraryIndexError(f"{path}: the index keeps changing while it is read; try again") from None
        raise AssertionError("unreachable")

    @classmethod
    def open_or_create(cls, path: str | os.PathLike, bundle, codec: str = DEFAULT_CODEC,
                       replace_stale: bool = False, rebuild: bool = False) -> "LibraryIndex":
        """Open the index at `path`, or create an empty one there.

        With `replace_stale`, an index built by another model or in an older format is replaced by
        an empty one with the same codec (the next update encodes every clip again): an index is
        derived from the motion files, which stay the truth. A damaged index is replaced only with
        `rebuild`, which replaces any index there (keeping its conversion cache).
        """
        path = Path(path)
        if not (path / "metadata.json").exists():
            return cls.create(path, bundle, codec)
        if rebuild:
            return cls._replace(path, bundle, codec, "rebuilt on request")
        try:
            return cls.open(path, bundle)
        except StaleIndexError as e:
            if not replace_stale:
                raise
            return cls._replace(path, bundle, codec, str(e))

    @classmethod
    def _replace(cls, path: Path, bundle, codec: str, why: str) -> "LibraryIndex":
        """An empty index in place of the one at `path` (same codec when it can be read), under the
        writer lock; the conversion cache moves across (it depends on the files, not the model)."""
        with IndexLock(path, wait_s=0.0):
            try:
                meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
                old_codec = meta.get("codec") if isinstance(meta, dict) else None
                what = f"{meta.get('model_id')}, format v{meta.get('format_version')}"
            except (OSError, ValueError):
                old_codec, what = None, "unreadable"
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:6]}")
            os.replace(path, old)  # out of the way first: a crash leaves either index, never a mix
        index = cls.create(path, bundle, old_codec if old_codec in codecs.CODECS else codec)
        if (old / "converted").is_dir():
            os.replace(old / "converted", path / "converted")
        index.replaced = what if not why.startswith("rebuilt") else f"{what}; {why}"
        shutil.rmtree(old, ignore_errors=True)
        return index

    def _load_chunks(self) -> None:
        with self._hold_lock:  # a copy of the codes under way for the state before is dropped (hold_mapped_codes)
            self._loaded, self._holder = object(), None
            self._hold_later = False
        # the state before lets go of its mapped files first: each mapping holds a file descriptor, and
        # a 1M-clip library maps ~15,600 files (4 a chunk): both states at once passed the usual 20,000
        self._parts = self._layout = self._pooled = self._summaries = self._sketches = self._sketch_pack = None
        self._first_stage = self._cell_chunks = self._cell_stage = self._in_memory = None
        self.clips: list[ClipEntry] = []
        self._origin: dict[str, tuple[str, int]] = {}  # clip id -> (chunk, row in its clips file)
        self._chunk_sizes: dict[str, int] = {}  # chunk -> entries in its clips file, dropped ones too
        self._sketch_rows: dict[str, int] = {}  # chunk -> rows of its sketches, dropped windows' too
        windows, doclens, pooled, parts, summaries, layout = [], [], [], [], [], []
        part_chunks: list[str] = []  # the chunks of `parts`, in order
        sketched: list[dict[str, np.ndarray]] = []  # per chunk with live windows: its sketches
        try:  # codes small enough to hold in memory are read (and checked) once, after this loop
            codes_bytes = sum((self.path / n / "codes.npy").stat().st_size for n in self.meta["chunks"])
        except FileNotFoundError as e:
            raise _Raced(e.filename or str(self.path)) from None
        in_memory = codes_bytes <= codes_in_memory_limit(share=False)
        # mapped files (runtime.index.open_files): each chunk's codes; above the limit its pooled
        # vectors, part summaries and sketches too; and a sketch pack
        maps = len(self.meta["chunks"]) * (1 if in_memory else 4) + (0 if in_memory else 1)
        room = open_files.room_for(maps)
        if room < maps:
            raise LibraryIndexError(open_files.too_many_files_message(self.path, maps, room))
        sentence_rows: list[np.ndarray | None] = []  # v6: per chunk, its live clips' description vectors
        cell_names = cells_files(self.meta["codebook"]) if self.meta.get("codebook") else None
        cell_chunks: list | None = [] if cell_names else None  # per live chunk: (cells, counts, live)
        for name in self.meta["chunks"]:
            d = self.path / name
            self._verify(name, skip=("codes.npy",) if in_memory else ())
            try:
                raw = json.loads((d / self._clips_file(name)).read_text(encoding="utf-8"))
                w = load_npy(d / "windows.npy")
                dl = load_npy(d / "doclens.npy")
                try:
                    arrays = {"codes": load_npy(d / "codes.npy", mmap=True)}
                except (ValueError, EOFError) as e:  # (its checksum is taken when it is read, in memory mode)
                    raise DamagedIndexError(f"{d / 'codes.npy'}: damaged index file ({safe_text(e, 200)}); "
                                            f"{REBUILD_HINT}") from None
                if self.codec != "fp16":
                    arrays["scales"] = load_npy(d / "scales.npy")
                # a large index's per-window arrays stay mapped like its codes (small ones are read:
                # no mapped file then keeps a later update in this process from deleting a chunk)
                pw = load_npy(d / "pooled.npy", mmap=not in_memory)
                sk = {"codes": load_npy(d / "sketch.npy", mmap=not in_memory),
                      "scales": load_npy(d / "sketch_scales.npy")}
                fs_parts, fs_basis = load_npy(d / "parts.npy", mmap=not in_memory), load_npy(d / "basis.npy")
                entries = [ClipEntry(**item) for item in raw]
                vec_name = vectors_file(self.meta, name)
                vectors = load_npy(d / vec_name) if vec_name in self.meta.get("checksums", {}).get(name, {}) else None
                listed = self.meta.get("checksums", {}).get(name, {})
                cells = [load_npy(d / f) for f in cell_names] if cell_names and all(f in listed for f in cell_names) \
                    else None
            except FileNotFoundError as e:
                raise _Raced(e.filename or str(d)) from None
            except (OSError, ValueError, TypeError, EOFError, json.JSONDecodeError) as e:
                if isinstance(e, OSError) and e.errno in (errno.EMFILE, errno.ENFILE):  # not the index's fault
                    raise LibraryIndexError(open_files.too_many_files_message(self.path, maps, 0)) from None
                raise DamagedIndexError(f"{d}: damaged index chunk ({safe_text(e, 200)}); {REBUILD_HINT}") from None
            if not (len(w) == len(dl) == len(pw) == len(fs_parts)) or \
                    not (int(dl.sum()) == len(arrays["codes"]) == len(sk["codes"]) == len(sk["scales"])) or \
                    (w.size and int(w[:, 0].max()) >= len(raw)) or (vectors is not None and len(vectors) != len(raw)) or \
                    (cells is not None and (len(cells[1]) != len(w) or int(cells[1].sum(dtype=np.int64)) != len(cells[0]))):
                raise DamagedIndexError(f"{d}: index chunk arrays disagree in size (truncated?); {REBUILD_HINT}")
            dropped = set(self.meta["dropped"].get(name, []))
            offsets = np.concatenate([[0], np.cumsum(dl)])
            first_local = {}
            self._chunk_sizes[name] = len(entries)
            self._sketch_rows[name] = len(sk["scales"])
            keep_rows = [k for k in range(len(entries)) if k not in dropped]
            sentence_rows.append(vectors[keep_rows].astype(np.float16) if vectors is not None else None)
            for k, entry in enumerate(entries):
                if k in dropped:
                    continue
                first_local[k] = len(self.clips)
                self.clips.append(entry)
                self._origin[entry.id] = (name, k)
            live = ~np.isin(w[:, 0], list(dropped)) if dropped else np.ones(len(w), bool)
            if live.any():
                glob_clip = np.array([first_local[int(c)] for c in w[live, 0]], np.int64)
                windows.append(np.stack([glob_clip, w[live, 1], w[live, 2]], axis=1))
                doclens.append(dl[live])
                pooled.append((pw, live))
                summaries.append((fs_basis, fs_parts, live))
                parts.append((arrays, offsets[:-1][live]))
                part_chunks.append(name)
                layout.append((offsets, live))
                sketched.append(sk)
                if cell_chunks is not None and cells is None:  # a chunk written by an older version: none used
                    cell_chunks = None
                elif cell_chunks is not None:
                    cell_chunks.append((cells[0], cells[1], live))
        self.windows = np.concatenate(windows) if windows else np.zeros((0, 3), np.int64)
        self._load_sentence_vectors(sentence_rows)
        self._cell_chunks = cell_chunks if cell_chunks else None
        self._cell_stage = None
        self.doclens = np.concatenate(doclens).astype(np.int64) if doclens else np.zeros(0, np.int64)
        self._pooled = pooled  # per chunk (mapped float16, live): concatenated only if the pooled first stage is used
        self._summaries = summaries  # per chunk (basis, live parts); made a FirstStage when first used
        self._first_stage: first_stage.FirstStage | None = None
        self._parts = parts  # per chunk: (arrays, first patch row of each live window)
        self.live_chunks = part_chunks  # the chunk folders of _parts (with live windows), in window order
        self._layout = layout  # per chunk: (offsets of all its windows, dropped ones too; which are live)
        self._window_part = np.concatenate([np.full(len(p[1]), i) for i, p in enumerate(parts)]) if parts else \
            np.zeros(0, np.int64)
        self._window_row = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        # (16, D) float32 projection of the sketches (runtime.index.sketch); None for an empty index
        basis = self.meta.get("sketch_basis")
        self.sketch_basis = sketches.sketch_basis_array(basis) if basis else None
        base = np.concatenate([[0], np.cumsum([len(k["codes"]) for k in sketched])]).astype(np.int64)
        # sketches: in memory when small (one gather per query), else gathered from each chunk's mapped file
        self._sketches = sketched if sketched else None
        if sketched and sum(k["codes"].nbytes for k in sketched) <= codes_in_memory_limit(share=False):
            self._sketches = ({key: np.concatenate([k[key] for k in sketched]) for key in ("codes", "scales")},
                              self._window_row + base[self._window_part])
        # mapped: the chunks' sketches in one file where the writer packed them (runtime.index.sketch_pack)
        self._pack_broken = False  # the listed pack damaged or gone: read from the chunks, packed again by a writer
        self._sketch_pack = self._open_sketch_pack(part_chunks) \
            if sketched and not isinstance(self._sketches, tuple) and self.meta.get("sketch_pack") else None
        self._in_memory = None
        # codes larger than half this machine's memory cannot all stay in the page cache: a query's
        # candidates are then asked for all at once before they are copied (chunks.prefetch_runs)
        self._prefetch_codes = not in_memory and sum(a["codes"].nbytes for a, _ in parts) > physical_memory() // 2
        if not in_memory and not self._prefetch_codes:  # they fit: each page mapped now, not at its first touch
            for arrays, _ in parts:
                populate(arrays["codes"])
        if in_memory:  # a chunk without live windows is not read: checked here all the same
            for name in set(self.meta["chunks"]) - set(part_chunks):
                self._verify(name, skip=tuple(set(self.meta.get("checksums", {}).get(name, {})) - {"codes.npy"}))
        if in_memory and parts:
            self._hold_codes_in_memory(part_chunks)
        # larger codes within the machine's share stay mapped until the first gather (_start_holding)
        self._hold_later = bool(parts) and not in_memory and codes_bytes <= codes_in_memory_limit()
        # windows are stored clip after clip: each clip's windows are one run
        counts = np.bincount(self.windows[:, 0], minlength=len(self.clips)) if len(self.windows) else \
            np.zeros(len(self.clips), np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(self.clips) else np.zeros(0, np.int64)
        for entry, start, count in zip(self.clips, starts, counts):
            entry.window_start, entry.window_count = int(start), int(count)

    def _open_sketch_pack(self, chunks: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The sketch pack metadata lists (runtime.index.sketch_pack), checked against its CRC-32:
        (its mapped records, each live window's first row in them (-1: not in it), which windows are
        in it), `chunks` being the live chunks in window order. A pack damaged or gone is only a copy
        of the chunks' own sketches (checked on their own): None then, with a warning naming it; the
        next update writes it again."""
        pack = self.meta["sketch_pack"]
        f = self.path / str(pack.get("file", ""))
        why = ""
        try:
            opened = sketch_pack.open_pack(self.path, pack) if file_crc32(f) == pack["crc"] else None
            why = "" if opened is not None else "its checksum or size differs from those recorded when it was written"
        except FileNotFoundError:
            if read_meta(self.path).get("sketch_pack") != pack:
                raise _Raced(str(f)) from None  # a writer packed them again since we read the metadata
            opened, why = None, "missing"
        except (OSError, ValueError, EOFError, TypeError, KeyError) as e:  # (KeyError: metadata without a field)
            opened, why = None, safe_text(e, 200)
        if opened is None:
            log.warning("%s: damaged index file (%s); search reads each chunk's sketches instead (slower) until "
                        "the next update writes it again", f, why)
            self._pack_broken = True
            return None
        records, firsts = opened
        first = np.array([firsts.get(name, -1) for name in chunks], np.int64)[self._window_part]
        inside = first >= 0
        return records, np.where(inside, first + self._window_row, -1), inside

    def _hold_codes_in_memory(self, chunks: list[str]) -> None:
        """Read every chunk's codes (memory-mapped until now) into one array in memory, checking each
        file's CRC-32 on the bytes read (one read per file), and point the chunks at their slices.
        A query's gather of its candidates' codes from process memory is 2-4x faster than from the
        page cache's mapped pages (bench/bench_stages.py); codes_in_memory_limit says which indexes."""
        mapped = [a["codes"] for a, _ in self._parts]
        base = np.concatenate([[0], np.cumsum([len(c) for c in mapped])]).astype(np.int64)
        codes = np.empty((int(base[-1]), mapped[0].shape[1]), mapped[0].dtype)
        for i, (name, m) in enumerate(zip(chunks, mapped)):
            f = self.path / name / "codes.npy"
            out = codes[base[i]: base[i + 1]]
            try:
                with open(f, "rb") as fh:
                    crc = zlib.crc32(fh.read(m.offset))
                    got = fh.readinto(memoryview(out).cast("B")) if out.size else 0
                    crc = zlib.crc32(out, crc) if out.size else crc
                    extra = fh.read(1)
            except FileNotFoundError:
                raise _Raced(str(f)) from None
            except OSError as e:
                raise DamagedIndexError(f"{f}: cannot read index file ({e.strerror or e}); {REBUILD_HINT}") from None
            if got != out.nbytes or extra or crc != self.meta.get("checksums", {}).get(name, {}).get("codes.npy", crc):
                raise DamagedIndexError(f"{f}: damaged index file (its checksum differs from the one recorded "
                                        f"when it was written); {REBUILD_HINT}")
        self._point_at(codes)

    def _start_holding(self) -> None:
        """Start copying the mapped codes into the process's memory on a thread of their own (once
        per loaded state). The first gather of an index whose codes are within the machine's share
        (codes_in_memory_limit) but above CODES_IN_MEMORY starts it and goes on from the mapped
        codes, as do the gathers until the copy is in place: the 2.7 GB of a 100k-clip library took
        4.5-6 s here, mostly filling fresh memory (docs/BENCHMARKS.md), which no query waits for. An
        instance opened only to be updated (the add-on's background update beside its searching one, the
        `index` command) never gathers, so never holds them. A daemon thread: a process that ends
        (a one-query CLI run) does not wait for it."""
        with self._hold_lock:
            if not self._hold_later or self._holder is not None:
                return
            self._holder = threading.Thread(target=self.hold_mapped_codes, name="motion-search-hold", daemon=True)
            self._holder.start()

    def hold_mapped_codes(self) -> None:
        """Copy the mapped codes (checked when opened) into one array in memory and point the chunks
        at it (see _start_holding; also callable directly). Gathers under way keep reading the mapped
        arrays; a reload of the index meanwhile (an update) makes the copy void."""
        with self._hold_lock:
            if not self._hold_later:
                return
            loaded, mapped = self._loaded, [a["codes"] for a, _ in self._parts]
        codes = self._copied(mapped)  # (outside the lock: seconds)
        with self._hold_lock:
            if self._hold_later and self._loaded is loaded:
                self._point_at(codes)
                self._hold_later = False

    @staticmethod
    def _copied(mapped: list[np.ndarray]) -> np.ndarray:
        """The copy itself (its own method: a test holds it back to race a reload against it)."""
        return np.concatenate(mapped)

    def _point_at(self, codes: np.ndarray) -> None:
        """Point each chunk at its rows of `codes` (every live chunk's codes back to back, in order)
        and of one array of their scales."""
        base = np.concatenate([[0], np.cumsum([len(a["codes"]) for a, _ in self._parts])]).astype(np.int64)
        whole = {"codes": codes}
        if "scales" in self._parts[0][0]:
            whole["scales"] = np.concatenate([a["scales"] for a, _ in self._parts])
        self._parts = [({key: v[base[i]: base[i + 1]] for key, v in whole.items()}, starts)
                       for i, (_, starts) in enumerate(self._parts)]
        self._in_memory = (whole, self._window_row + base[self._window_part])

    def _load_sentence_vectors(self, rows: list[np.ndarray | None]) -> None:
        """`sentence_vectors` (clips, S) float16 as the chunks store them (half float32's memory: 768
        bytes a clip), zeros where a clip has none (a chunk of an upgraded index, a failed clip), and
        `has_sentence` (clips,) bool; None when no clip has a vector. A vector that is not finite
        throughout (NaN or inf: nothing this version writes) counts as none: its clip stays neutral in
        the fused score rather than making every score NaN."""
        dims = {len(r[0]) if len(r) else 0 for r in rows if r is not None} - {0}
        if not dims or len(dims) > 1:
            self.sentence_vectors, self.has_sentence = None, np.zeros(len(self.clips), bool)
            return
        dim = dims.pop()
        self.sentence_vectors = np.concatenate([r if r is not None and len(r) else np.zeros((n, dim), np.float16)
                                                for r, n in zip(rows, self._live_counts(rows))]) \
            if rows else np.zeros((0, dim), np.float16)
        for start in range(0, len(self.sentence_vectors), SENTENCE_BLOCK):  # a vector with NaN or inf: none
            block = self.sentence_vectors[start: start + SENTENCE_BLOCK]  # (a block's temporaries, not the library's)
            block[~np.isfinite(block).all(axis=1)] = 0
        self.has_sentence = self.sentence_vectors.any(axis=1)  # a buffered reduction: no temporary of the library

    def _live_counts(self, rows) -> list[int]:
        return [self._chunk_sizes[name] - len(set(self.meta["dropped"].get(name, []))) for name in self.meta["chunks"]]

    def _clips_file(self, chunk: str) -> str:
        return self.meta.get("clips_files", {}).get(chunk, "clips.json")

    def _verify(self, chunk: str, skip: tuple[str, ...] = ()) -> None:
        """Every file the metadata lists for `chunk` is there with its CRC-32 (see the module docstring);
        files in `skip` are checked as they are read (_hold_codes_in_memory)."""
        d = self.path / chunk
        for fname, crc in self.meta.get("checksums", {}).get(chunk, {}).items():
            if fname in skip:
                continue
            try:
                ok = file_crc32(d / fname) == crc
            except FileNotFoundError:
                if not d.is_dir() or fname == self._clips_file(chunk):
                    raise _Raced(str(d / fname)) from None  # a writer replaced it since we read the metadata
                raise DamagedIndexError(f"{d / fname}: index file missing; {REBUILD_HINT}") from None
            except OSError as e:
                raise DamagedIndexError(f"{d / fname}: cannot read index file ({e.strerror or e}); {REBUILD_HINT}") \
                    from None
            if not ok:
                raise DamagedIndexError(f"{d / fname}: damaged index file (its checksum differs from the one "
                                        f"recorded when it was written); {REBUILD_HINT}")

    # ----------------------------------------------------------------------------------- reading

    @functools.cached_property
    def pooled(self) -> np.ndarray:
        """(W, D) float32 unit mean patch of every window (the pooled first stage, for comparison)."""
        if not self._pooled:
            return np.zeros((0, self.embed_dim), np.float32)
        return np.concatenate([pw[live] for pw, live in self._pooled]).astype(np.float32)

    def clip_motion_blocks(self):
        """Each clip's motion vector (clip_motion_vectors) from the pooled vectors as stored, a chunk
        at a time (a library's vectors never held at once): yields (clips (n,) int64 positions,
        (n, D) float32 vectors) per chunk with live windows."""
        start = 0
        for pw, live in self._pooled or []:
            n = int(live.sum())
            owner = self.windows[start: start + n, 0]
            start += n
            clips, local = np.unique(owner, return_inverse=True)
            yield clips, clip_motion_vectors(np.asarray(pw[live]), local, len(clips))

    @property
    def first_stage(self) -> first_stage.FirstStage:
        """The per-body-part window summaries (runtime.index.first_stage) on one index-wide basis:
        made when first used (find similar, or search without cells), not at open: at 1M clips
        they are half a gigabyte."""
        if self._first_stage is None:
            self._first_stage = first_stage.FirstStage([(basis, parts[live]) for basis, parts, live in self._summaries])
        return self._first_stage

    def cell_stage(self, codebook_id: str | None, codebook: np.ndarray | None, cosines=None) -> CellStage | None:
        """The cells first stage (runtime.index.cells) when every live window has cells made by this
        codebook, else None (an index from before cells, or another codebook, until its next update).
        `cosines`: how query tokens get their cosines with the centroids (the bundle's codebook_cosines)."""
        if codebook is None or self._cell_chunks is None or self.meta.get("codebook") != codebook_id:
            return None
        if self._cell_stage is None:
            self._cell_stage = CellStage(codebook, self._cell_chunks, cosines)
        return self._cell_stage

    @property
    def num_windows(self) -> int:
        return len(self.windows)

    @property
    def ok_clips(self) -> list[ClipEntry]:
        return [c for c in self.clips if c.status == "ok"]

    def _by_chunk(self, window_ids: Iterable[int]):
        """Where the patches of `window_ids` live: their offsets (windows back to back) and, per
        chunk touched, (chunk, positions in the result, rows in the chunk). The chunks' runs are
        found among the windows, not their rows: a 1M library's sketch stage asks for 25,000 windows,
        2.4M rows, in 3,898 of its 3,907 chunks, and grouping every row cost several times more."""
        ids = _window_ids(window_ids)
        rows, offsets = self._rows(self._window_row, ids)  # each row in its chunk
        total = int(offsets[-1])
        if not total:
            return offsets, []
        part = self._window_part[ids]
        order = np.argsort(part, kind="stable") if (np.diff(part) < 0).any() else None  # ids not in index order
        if order is not None:  # windows grouped by chunk; `where` then lists positions in the result
            part = part[order]
            positions, starts = packed_rows(offsets, order)
        runs = np.concatenate([[0], np.flatnonzero(np.diff(part)) + 1, [len(ids)]])  # windows of one chunk
        segments = []
        for a, b in zip(runs[:-1].tolist(), runs[1:].tolist()):
            where = slice(int(offsets[a]), int(offsets[b])) if order is None else positions[starts[a]: starts[b]]
            segments.append((int(part[a]), where, rows[where]))
        return offsets, segments

    def window_patches(self, window_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """float32 patches of the given windows, back to back, and their offsets."""
        offsets, segments = self._by_chunk(window_ids)
        if len(segments) == 1:  # all in one chunk: decode straight into the result
            chunk, _, rows = segments[0]
            return codecs.decode(self._parts[chunk][0], self.codec, rows), offsets
        out = np.empty((int(offsets[-1]), self.embed_dim), np.float32)
        for chunk, where, rows in segments:
            out[where] = codecs.decode(self._parts[chunk][0], self.codec, rows)
        return out, offsets

    def chunk_codes(self):
        """Per chunk, the stored arrays as they are (memory-mapped codes, nothing copied), for
        scoring every window: (first global window id, arrays, offsets of all the chunk's windows
        (dropped ones too), which of them are live (in global window order))."""
        first = 0
        for (arrays, _), (offsets, live) in zip(self._parts, self._layout):
            yield first, arrays, offsets, live
            first += int(live.sum())

    def window_codes(self, window_ids: Iterable[int], reuse: str = "", two_threads: bool = False,
                     hold: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored codes and per-patch scales of the given windows, back to back, and their
        offsets (for runtime.search.code_scores; int8 / int4 indexes only). With `reuse` (a name),
        the arrays are this thread's reusable buffers of that name (runtime.index.scratch), valid
        until the next such call: a query's gathers without fresh memory. `two_threads`: a large
        gather copies half its rows on a second thread (runtime.index.gather). `hold`: False for a
        few windows of exact search, which reads the chunks in place and starts no copy."""
        if self._hold_later and hold:
            self._start_holding()
        if self._in_memory is not None:  # one gather from one array
            return self._gather(*self._in_memory, window_ids, reuse, two_threads)
        return self._gather_mapped([arrays for arrays, _ in self._parts], window_ids, reuse, self._prefetch_codes,
                                   two_threads)

    def _gather_mapped(self, per_chunk: list[dict[str, np.ndarray]], window_ids, reuse: str = "",
                       prefetch: bool = False, two_threads: bool = False) -> tuple:
        """`codes` and `scales` rows of the given windows from each chunk's own (mapped) arrays,
        back to back, and their offsets (`prefetch`: every read under way before the first copy
        waits for one; it costs a system call per window where the pages are in memory already;
        `two_threads`: see window_codes)."""
        ids = _window_ids(window_ids)
        offsets, segments = self._by_chunk(ids)
        first = per_chunk[segments[0][0]] if segments else per_chunk[0]
        codes, scales = _outputs(first, int(offsets[-1]), reuse)
        if prefetch:  # each window's rows are one run
            prefetch_runs([a["codes"] for a in per_chunk], self._window_part[ids], self._window_row[ids],
                          self.doclens[ids])

        def copy(part: list) -> None:
            for chunk, where, rows in part:
                if isinstance(where, slice):  # windows in index order: straight into place
                    np.take(per_chunk[chunk]["codes"], rows, axis=0, out=codes[where], mode="clip")
                    np.take(per_chunk[chunk]["scales"], rows, out=scales[where], mode="clip")
                else:
                    codes[where] = np.take(per_chunk[chunk]["codes"], rows, axis=0)
                    scales[where] = np.take(per_chunk[chunk]["scales"], rows)

        if two_threads and int(offsets[-1]) >= SPLIT_GATHER_ROWS:
            on_both_cores(copy, *_halves(segments, int(offsets[-1])))
        else:
            copy(segments)
        return codes, scales, offsets

    def window_sketches(self, window_ids: Iterable[int], reuse: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sketches (runtime.index.sketch) and their scales of the given windows, back to back,
        and their offsets (`reuse` as for window_codes)."""
        if self._sketches is None:
            return np.zeros((0, sketches.SKETCH_DIMS), np.uint8), np.zeros(0, np.float16), np.zeros(1, np.int64)
        if isinstance(self._sketches, tuple):
            return self._gather(*self._sketches, window_ids, reuse)
        if self._sketch_pack is not None:
            return self._packed_sketches(_window_ids(window_ids), reuse)
        return self._gather_mapped(self._sketches, window_ids, reuse)

    def _packed_sketches(self, ids: np.ndarray, reuse: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """window_sketches from the sketch pack: one gather of records (the sketches and scales returned
        are views of them); windows of chunks written after the pack from their chunks' files."""
        records, first_row, inside = self._sketch_pack
        packed = inside[ids]
        if packed.all():
            rows, offsets = self._rows(first_row, ids)
            out = scratch.buffer(f"{reuse}_records", (len(rows),), records.dtype) if reuse else \
                np.empty(len(rows), records.dtype)
            np.take(records, rows, out=out, mode="clip")
            return out["sketch"], out["scale"], offsets
        offsets = np.concatenate([[0], np.cumsum(self.doclens[ids])])
        codes, scales = _outputs(self._sketches[0], int(offsets[-1]), reuse)
        for part in (packed, ~packed):
            docs = np.flatnonzero(part)
            if len(docs):
                where, _ = packed_rows(offsets, docs)
                got = self._packed_sketches(ids[docs]) if part is packed else \
                    self._gather_mapped(self._sketches, ids[docs])
                codes[where], scales[where] = got[0], got[1]
        return codes, scales, offsets

    def _rows(self, first_row: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, offsets) of windows `ids` whose patches start at rows `first_row[ids]` of an array:
        every row of each window, window after window, and where each window starts among them."""
        lens = self.doclens[ids]
        offsets = np.concatenate([[0], np.cumsum(lens)])
        return np.repeat(first_row[ids] - offsets[:-1], lens) + np.arange(int(offsets[-1])), offsets

    def _gather(self, whole: dict[str, np.ndarray], first_row: np.ndarray, window_ids, reuse: str = "",
                two_threads: bool = False) -> tuple:
        rows, offsets = self._rows(first_row, _window_ids(window_ids))
        codes, scales = _outputs(whole, len(rows), reuse)

        def copy(part: slice) -> None:  # (with mode "raise", `out` is buffered)
            np.take(whole["codes"], rows[part], axis=0, out=codes[part], mode="clip")
            np.take(whole["scales"], rows[part], out=scales[part], mode="clip")

        half = len(rows) // 2 if two_threads and len(rows) >= SPLIT_GATHER_ROWS else len(rows)
        on_both_cores(copy, slice(0, half), slice(half, len(rows)))
        return codes, scales, offsets

    def bytes_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    # ---------------------------------------------------------------------------------- updating

    def update(self, sources: Iterable[str | os.PathLike], bundle, motions: Iterable[MotionItem] = (),
               fps_of: Callable[[str], float | None] | None = None,
               progress: Callable[[int, int, str], None] | None = None,
               should_stop: Callable[[], bool] | None = None, chunk_clips: int = 256,
               workers: int = 0, rig_overrides: dict | None = None, converter=None,
               wait_s: float = 0.0) -> UpdateReport:
        """Make the index hold exactly the motion files under `sources` and the given `motions`.

        Args:
            sources: folders (searched recursively) and files.
            bundle: the runtime.model.Bundle this index was built with.
            motions: in-memory motions (Blender actions), by id.
            fps_of: the real frame rate of a file when its own is wrong (None keeps the file's).
            progress: called as progress(done, total, note) while encoding.
            should_stop: polled between clips; True stops after saving what is done.
            chunk_clips: clips per saved chunk (what a crash can lose at most).
            workers: processes reading files (0: in this process; use 0 inside Blender).
            rig_overrides: a user's bone mapping for rigs no convention knows
                (runtime.motion.load_mapping_file); changing it re-reads every file.
            converter: the Blender that reads FBX, glTF and .blend files
                (runtime.io.find_converter); None: those files are reported as not read unless
                their clips are in the index's conversion cache (`converted/`).
            wait_s: how long to wait for another update of this index to finish (then the error
                says which process holds it).

        Unchanged clips with no description yet (an index upgraded from v2) are read again and
        described after the new clips are encoded, without encoding them again (report.described).

        Raises:
            LibraryIndexError: another process is updating this index (after `wait_s`), or the
                index on disk is damaged.
        """
        self._lock.wait_s = wait_s
        with self._lock:
            self.meta = read_meta(self.path)  # what the last writer committed
            if self.meta["format_version"] < INDEX_VERSION:
                self.meta = _upgraded(self.path, self.meta)
            self._load_chunks()
            return self._update(sources, bundle, motions, fps_of, progress, should_stop, chunk_clips, workers,
                                rig_overrides, converter)

    def _update(self, sources, bundle, motions, fps_of, progress, should_stop, chunk_clips, workers,
                rig_overrides, converter) -> UpdateReport:
        t0 = time.time()
        if bundle.model_id != self.meta["model_id"]:
            raise other_model_error(self.path, self.meta["model_id"], bundle.model_id)
        self._collect_garbage()
        if getattr(bundle, "codebook", None) is not None:
            self._codebook = (bundle.codebook_id, bundle.codebook)
            self._add_cells(progress)
        report = UpdateReport()
        rig_map = hashlib.sha1(json.dumps(rig_overrides, sort_keys=True).encode()).hexdigest()[:12] \
            if rig_overrides else ""
        # id -> (chunk, row, entry) of every live clip, as _load_chunks read them under the lock
        existing: dict[str, tuple[str, int, ClipEntry]] = {c.id: (*self._origin[c.id], c) for c in self.clips}
        todo: list[tuple[str, object]] = []  # (id, path or MotionItem)
        undescribed: list[tuple[str, object]] = []  # unchanged clips to describe: (id, path or MotionItem)
        redescribe = self.meta.get("describer") != describer_version()  # descriptions of an older describer
        # v6: description vectors of another sentence encoder (or none yet): describe again, keep the patches
        redescribe |= self.meta.get("sentence_encoder") != getattr(bundle, "sentence_id", None)
        seen: set[str] = set()
        kept: list[tuple[str, str]] = []  # (id, why): indexed before, unreadable now, entry kept
        files, scene_files, roots = [], [], []
        for src in sources:
            src = os.fspath(src)
            if not os.path.lexists(src):
                report.failed.append((src, f"{src}: library folder or file not found"))
                continue
            found = scan(src)
            roots.append(src if os.path.isdir(src) else os.path.dirname(os.path.abspath(src)))
            files += found.motion
            scene_files += found.scene
            report.not_read += [(p, NOT_MOTION) for p in found.other] + found.skipped
        for path in files:
            path = os.path.abspath(path)
            if path in seen:
                continue
            seen.add(path)
            fps = fps_of(path) if fps_of else None
            old = existing.get(path)
            try:
                st = os.stat(path)
                same_reading = old is not None and old[2].fps_override == fps and old[2].rig_map == rig_map
                unchanged = same_reading and (old[2].size == st.st_size and old[2].mtime_ns == st.st_mtime_ns
                                              or old[2].content_hash == content_hash(path))  # touched, not changed
            except OSError as e:
                why = f"{path}: cannot read the file now ({e.strerror or e})"
                if old is not None and old[2].status == "ok":
                    kept.append((path, why + "; kept as it was indexed"))
                    continue
                unchanged = False  # read (and fail) below, so that it is a failed entry
            if unchanged and old[2].status == "ok":
                report.unchanged += 1
                if old[2].description is None or old[2].captions is None or redescribe:
                    undescribed.append((path, path))
                continue
            todo.append((path, path))  # new, changed, or failed before: tried (again)
        motions = list(motions) + scene_file_items(
            self.path / "converted", scene_files, existing, seen, converter, fps_of, rig_overrides, rig_map,
            report, progress, should_stop, redescribe, roots)
        for item in motions:
            if item.id in seen:
                continue
            seen.add(item.id)
            old = existing.get(item.id)
            if old and old[2].content_hash == item.content_hash and old[2].status == "ok" and \
                    old[2].rig_map == item.rig_map:
                report.unchanged += 1
                if old[2].description is None or old[2].captions is None or redescribe:
                    undescribed.append((item.id, item))
                continue
            todo.append((item.id, item))
        gone = [i for i in existing if i not in seen]
        replaced = [i for i, _ in todo if i in existing]
        report.removed = len(gone)
        report.updated = len(replaced)
        report.added = len(todo) - len(replaced)
        if gone:  # gone from the library: dropped now (a changed clip is dropped with its new version)
            self._commit_meta(self._with_drops(self.meta, [existing[i][:2] for i in gone]))
        done, total = 0, len(todo) + len(undescribed)
        for s in range(0, len(todo), chunk_clips):
            batch = todo[s: s + chunk_clips]
            entries, wins, patches = [], [], []
            pending: list[tuple[ClipEntry, Motion]] = []
            stopped = False
            for _, (entry, motion) in read_all(batch, fps_of, workers, rig_overrides, rig_map):
                if motion is None:
                    report.failed.append((entry.id, entry.error))
                    entries.append(entry)
                else:
                    pending.append((entry, motion))
                done += 1
                if progress:
                    progress(done, total, entry.label)
                if len(pending) >= ENCODE_BATCH:
                    self._encode(bundle, pending, entries, wins, patches, report)
                    pending = []
                if should_stop and should_stop():
                    stopped = True
                    break
            self._encode(bundle, pending, entries, wins, patches, report)
            if entries:
                pooled = pooled_vectors(patches) if patches else None  # for the chunk and the motion vectors
                motion = clip_motion_vectors(pooled, [w[0] for w in wins], len(entries)) if patches else None
                self._write_chunk(entries, wins, patches, [existing[e.id][:2] for e in entries if e.id in existing],
                                  vectors=_vectors(bundle, entries, motion), pooled=pooled)
            if stopped:
                report.cancelled = True
                not_done = len(todo) - done
                report.added = max(0, report.added - not_done)
                break
        if undescribed and not report.cancelled:
            report.described, report.cancelled = self._describe_unchanged(
                undescribed, existing, fps_of, workers, rig_overrides, rig_map, progress, should_stop, done, total,
                bundle)
        if not report.cancelled and redescribe:
            self._commit_meta(dict(self.meta, describer=describer_version(),
                                   sentence_encoder=getattr(bundle, "sentence_id", None)))
        # a file that failed is reported as failed, not as added or updated
        for ident, _ in report.failed:
            if ident in existing:
                report.updated -= 1
            elif ident in seen:
                report.added -= 1
        if self._dropped_fraction() > 0.3:
            self.compact()
        if not report.cancelled:
            self._pack_sketches(progress)
        self._load_chunks()
        listed = {ident for ident, _ in report.failed}
        report.failed += [(c.id, c.error) for c in self.clips if c.status == "failed" and c.id not in listed]
        report.failed += kept
        report.unsure = [(c.id, c.rig_unsure) for c in self.clips if c.status == "ok" and c.rig_unsure]
        report.seconds = time.time() - t0
        write_json(self.path / "report.json", asdict(report))
        if not report.cancelled:
            prune_cache(self.path / "converted", self.clips)
        return report

    def _describe_unchanged(self, items: list[tuple[str, object]], existing: dict, fps_of, workers: int,
                            rig_overrides, rig_map: str, progress, should_stop, done: int,
                            total: int, bundle=None) -> tuple[int, bool]:
        """Describe unchanged clips that have no description (read again, not encoded again) and
        commit each touched chunk's new clips file. Returns (clips described, stopped)."""
        by_chunk: dict[str, list[tuple[str, object]]] = {}
        for ident, item in items:
            by_chunk.setdefault(existing[ident][0], []).append((ident, item))
        described, stopped = 0, False
        for name, batch in by_chunk.items():
            found: dict[int, tuple[str, list[str]]] = {}
            for ident, (label, text) in read_all(batch, fps_of, workers, rig_overrides, rig_map,
                                                  read=read_description):
                found[existing[ident][1]] = text
                done += 1
                if progress:
                    progress(done, total, label)
                if should_stop and should_stop():
                    stopped = True
                    break
            old_file = self._clips_file(name)
            raw = json.loads((self.path / name / old_file).read_text(encoding="utf-8"))
            for k, (text, texts) in found.items():
                raw[k]["description"], raw[k]["captions"] = text, texts
            new_file = f"clips-{uuid.uuid4().hex[:8]}.json"
            write_json(self.path / name / new_file, raw, indent=None)
            meta = json.loads(json.dumps(self.meta))
            meta.setdefault("clips_files", {})[name] = new_file
            sums = meta.setdefault("checksums", {}).setdefault(name, {})
            sums.pop(old_file, None)
            sums[new_file] = file_crc32(self.path / name / new_file)
            old_vectors = vectors_file(self.meta, name)
            motion = clip_motion_vectors(load_npy(self.path / name / "pooled.npy"),
                                         load_npy(self.path / name / "windows.npy")[:, 0], len(raw))
            vectors = _vectors(bundle, [ClipEntry(**item) for item in raw], motion)  # every row: one encoder for all
            if vectors is not None:  # v6: the chunk's sentence vectors, a new file committed with the clips file
                new_vectors = f"sentences-{uuid.uuid4().hex[:8]}.npy"
                np.save(self.path / name / new_vectors, vectors)
                sums.pop(old_vectors, None)
                sums[new_vectors] = file_crc32(self.path / name / new_vectors)
                meta.setdefault("sentences_files", {})[name] = new_vectors
            self._commit_meta(meta)
            (self.path / name / old_file).unlink(missing_ok=True)
            if vectors is not None and old_vectors != meta["sentences_files"][name]:
                (self.path / name / old_vectors).unlink(missing_ok=True)
            described += len(found)
            if stopped:
                break
        return described, stopped

    @staticmethod
    def _encode(bundle, pending: list[tuple[ClipEntry, Motion]], entries: list[ClipEntry],
                wins: list[tuple[int, int, int]], patches: list[np.ndarray], report: UpdateReport) -> None:
        """Encode the windows of several clips in one encoder call (fewer, fuller batches)."""
        if not pending:
            return
        cut = [bundle.windows(m) for _, m in pending]
        joined = Windows(np.concatenate([w.angles for w in cut]), np.concatenate([w.mask for w in cut]),
                         np.concatenate([w.start for w in cut]), np.concatenate([w.length for w in cut]))
        try:
            encoded = bundle.encode_windows(joined)
        except Exception as e:  # the encoder failing is reported per clip, never fatal to the library
            for entry, _ in pending:
                entry.status, entry.error = "failed", f"{entry.id}: cannot encode ({str(e).splitlines()[0]})"
                entry.description = ""
                report.failed.append((entry.id, entry.error))
                entries.append(entry)
            return
        k = 0
        for (entry, _), w in zip(pending, cut):
            for j in range(len(w.start)):
                wins.append((len(entries), int(w.start[j]), int(w.length[j])))
                patches.append(encoded[k])
                k += 1
            entries.append(entry)

    def add_cells(self, bundle) -> None:
        """Give every chunk the cells of `bundle`'s codebook now, under the writer lock (`update` does
        it by itself; this is for an index that is searched, not updated: a benchmark's)."""
        if getattr(bundle, "codebook", None) is None:
            return
        with self._lock:
            self.meta = read_meta(self.path)
            self._load_chunks()
            self._codebook = (bundle.codebook_id, bundle.codebook)
            self._add_cells()

    def _add_cells(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        """Give every chunk that lacks them the cells of the update's codebook (an index from before
        cells, or of another codebook): new files in each chunk folder, then one metadata commit that
        lists them and names the codebook (a kill before it leaves unlisted files, deleted by the
        next writer). Computed from the stored codes: the same cells a new chunk gets. `progress` is
        called per chunk as progress(done, chunks, "cells of CHUNK ...") (about 2 minutes at 10k clips
        with 16,384 cells on this 2-core machine: docs/BENCHMARKS.md)."""
        ident, _ = self._codebook
        meta = json.loads(json.dumps(self.meta))
        sums_of = meta.setdefault("checksums", {})
        todo = [n for n in meta["chunks"] if not all(f in sums_of.get(n, {}) for f in cells_files(ident))]
        if not todo and meta.get("codebook") == ident:
            return
        t = time.time()
        for sums in sums_of.values():  # another codebook's cells: unlisted now, deleted by _collect_garbage
            for f in [f for f in sums if f.startswith(("cells-", "cell_counts-")) and f not in cells_files(ident)]:
                del sums[f]
        for k, name in enumerate(todo):
            if progress:
                progress(k, len(todo), f"cells of {name} (once: makes search faster)")
            d = self.path / name
            arrays = {"codes": load_npy(d / "codes.npy")}
            if self.codec != "fp16":
                arrays["scales"] = load_npy(d / "scales.npy")
            for f in save_cells(d, self._codebook, codecs.decode(arrays, self.codec), load_npy(d / "doclens.npy")):
                sums_of.setdefault(name, {})[f] = file_crc32(d / f)
        meta["codebook"] = ident
        self._commit_meta(meta)
        self._collect_garbage()
        self._load_chunks()
        log.info("%s: cells of %d chunks added in %.1f s", self.path, len(todo), time.time() - t)

    def pack_sketches(self) -> bool:
        """Write the sketch pack now where it is wanted (`_pack_wanted`), under the writer lock; whether
        it was (`update` does it by itself; this is for an index that is searched, not updated: a
        benchmark's)."""
        if not self._pack_wanted():
            return False
        with self._lock:
            self.meta = read_meta(self.path)  # what the last writer committed
            done = self._pack_sketches()
            if done:
                self._load_chunks()
            return done

    def _pack_wanted(self) -> bool:
        """Whether the sketches stay mapped (more than codes_in_memory_limit(share=False) of them) and
        their pack is missing, stale (runtime.index.sketch_pack.wanted) or damaged."""
        for name in set(self.meta["chunks"]) - set(self._sketch_rows):  # chunks written since the last load
            self._sketch_rows[name] = len(load_npy(self.path / name / "sketch_scales.npy", mmap=True))
        rows = {name: self._sketch_rows[name] for name in self.meta["chunks"]}
        return sum(rows.values()) * sketches.SKETCH_DIMS > codes_in_memory_limit(share=False) and \
            (self._pack_broken or sketch_pack.wanted(self.meta, rows))

    def _pack_sketches(self, progress: Callable[[int, int, str], None] | None = None) -> bool:
        """Write the chunks' sketches into one file and commit it (runtime.index.sketch_pack) where
        `_pack_wanted`, then delete the pack it replaces; whether it did. The caller holds the writer lock."""
        if not self._pack_wanted():
            return False
        t = time.time()
        old = self.meta.get("sketch_pack")
        meta = json.loads(json.dumps(self.meta))
        meta["sketch_pack"] = sketch_pack.write_pack(self.path, list(self.meta["chunks"]), progress)
        self._commit_meta(meta)
        if old:
            try:
                (self.path / old["file"]).unlink(missing_ok=True)
            except OSError:  # mapped by a reader where that forbids it (Windows): the next writer's
                pass
        log.info("%s: sketches of %d chunks packed in %.1f s", self.path, len(meta["chunks"]), time.time() - t)
        return True

    def _sketch_basis(self, patches: list[np.ndarray]) -> list | None:
        """The index's sketch basis (runtime.index.sketch): the committed one, or fitted on the
        patches of the first chunk that has any (committed with that chunk)."""
        if self.meta.get("sketch_basis"):
            return self.meta["sketch_basis"]
        return sketches.fit_sketch_basis(np.concatenate(patches)) if patches else None

    def _build_chunk(self, entries: list[ClipEntry], wins: list[tuple[int, int, int]],
                     patches: list[np.ndarray], basis: list | None, vectors: np.ndarray | None = None,
                     pooled: np.ndarray | None = None) -> tuple[str, dict[str, int]]:
        """Write a chunk's files, durable and checksummed, under its final name; nothing lists it yet
        (`pooled`: the windows' pooled vectors where the caller has them)."""
        name = f"chunk-{len(self.meta['chunks']) + 1:06d}-{uuid.uuid4().hex[:6]}"
        tmp = self.path / f".tmp-{name}"
        tmp.mkdir()
        basis_array = sketches.sketch_basis_array(basis) if basis else np.zeros((sketches.SKETCH_DIMS, self.embed_dim),
                                                                          np.float32)
        save_chunk_arrays(tmp, wins, patches, self.codec, self.embed_dim, basis_array, self._codebook, pooled)
        (tmp / "clips.json").write_text(json.dumps([entry_json(e) for e in entries]), encoding="utf-8")
        if vectors is not None:
            np.save(tmp / "sentences.npy", vectors)
        for f in tmp.iterdir():  # on disk before the rename makes the chunk visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        sums = chunk_checksums(tmp)
        os.replace(tmp, self.path / name)
        sync_folder(self.path)
        return name, sums

    def _write_chunk(self, entries: list[ClipEntry], wins: list[tuple[int, int, int]],
                     patches: list[np.ndarray], replaces: list[tuple[str, int]] = (),
                     vectors: np.ndarray | None = None, pooled: np.ndarray | None = None) -> None:
        """Build a chunk and commit it, dropping the entries it `replaces` in the same commit."""
        basis = self._sketch_basis(patches)
        name, sums = self._build_chunk(entries, wins, patches, basis, vectors, pooled)
        self._chunk_sizes[name] = len(entries)
        meta = self._with_drops(self.meta, replaces)
        if basis:
            meta["sketch_basis"] = basis
        meta["chunks"].append(name)
        meta.setdefault("checksums", {})[name] = sums
        meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._commit_meta(meta)

    def _commit_meta(self, meta: dict) -> None:
        """The commit point (see the module docstring)."""
        self.meta = write_metadata(self.path, meta)

    @staticmethod
    def _with_drops(meta: dict, where) -> dict:
        meta = json.loads(json.dumps(meta))  # a copy: self.meta changes only by a commit
        for chunk, k in where:
            meta["dropped"].setdefault(chunk, [])
            if k not in meta["dropped"][chunk]:
                meta["dropped"][chunk].append(k)
        return meta

    def _dropped_fraction(self) -> float:
        total = live = 0
        for name in self.meta["chunks"]:
            n = self._chunk_sizes[name]
            total += n
            live += n - len(self.meta["dropped"].get(name, []))
        return 1.0 - live / total if total else 0.0

    def compact(self) -> None:
        """Rewrite the live entries into fresh chunks, commit them in one metadata write, then delete
        the old chunks (the caller holds the writer lock: update() does)."""
        with self._lock:
            self._load_chunks()
            old = list(self.meta["chunks"])
            entries = list(self.clips)
            built: list[tuple[str, dict[str, int]]] = []
            basis = self.meta.get("sketch_basis")
            step = 1024
            for s in range(0, len(entries), step):
                part = entries[s: s + step]
                wins, patches = [], []
                for k, e in enumerate(part):
                    for w in range(e.window_start, e.window_start + e.window_count):
                        p, _ = self.window_patches([w])
                        wins.append((k, int(self.windows[w, 1]), int(self.windows[w, 2])))
                        patches.append(p)
                basis = basis or self._sketch_basis(patches)
                vectors = None
                if self.sentence_vectors is not None:
                    vectors = self.sentence_vectors[s: s + step]
                built.append(self._build_chunk(part, wins, patches, basis, vectors))
            meta = json.loads(json.dumps(self.meta))
            meta.update(chunks=[n for n, _ in built], dropped={}, checksums={n: sums for n, sums in built},
                        clips_files={}, sentences_files={})
            if basis:
                meta["sketch_basis"] = basis
            self._commit_meta(meta)
            for name in old:
                shutil.rmtree(self.path / name, ignore_errors=True)
            self._load_chunks()

    def _collect_garbage(self) -> None:
        """Remove what an interrupted writer left: temporary and unlisted chunk folders, unlisted
        clips files, temporary metadata files, sketch packs not listed (the caller holds the writer lock)."""
        listed = set(self.meta["chunks"])
        for d in self.path.iterdir():
            if d.is_dir() and (d.name.startswith(".tmp-") or (d.name.startswith("chunk-") and d.name not in listed)):
                shutil.rmtree(d, ignore_errors=True)
            elif d.is_file() and d.name.startswith(".metadata.json."):
                d.unlink(missing_ok=True)
        listed_pack = (self.meta.get("sketch_pack") or {}).get("file")
        for f in sketch_pack.pack_files(self.path):  # replaced, or left by a kill before its commit
            if f.name != listed_pack:
                try:
                    f.unlink(missing_ok=True)
                except OSError:  # still mapped by a reader (Windows): the next writer's
                    pass
        for name in listed:
            keep = self._clips_file(name)
            for f in (self.path / name).glob("*.json"):
                if f.name != keep:
                    f.unlink(missing_ok=True)
            for f in (self.path / name).glob(".*.tmp"):
                f.unlink(missing_ok=True)
            keep = vectors_file(self.meta, name)
            for f in (self.path / name).glob("sentences*.npy"):
                if f.name != keep:
                    f.unlink(missing_ok=True)
            listed_files = self.meta.get("checksums", {}).get(name, {})
            for f in [*(self.path / name).glob("cells-*.npy"), *(self.path / name).glob("cell_counts-*.npy")]:
                if f.name not in listed_files:  # another codebook's, or left by a kill before its commit
                    f.unlink(missing_ok=True)


def _vectors(bundle, entries: list[ClipEntry], motion: np.ndarray | None = None) -> np.ndarray | None:
    """(clips, S) float16 description vectors of `entries` (zeros for a clip without texts), or None
    when the bundle has no sentence encoder (runtime.index.descriptions); `motion`: the entries'
    motion vectors (clip_motion_vectors), for the captions a bundle's reference lends."""
    if bundle is None or getattr(bundle, "sentence_session", None) is None:
        return None
    return description_vectors(bundle, [e.captions if e.status == "ok" else None for e in entries],
                               motion).astype(np.float16)


def _outputs(like: dict[str, np.ndarray], rows: int, reuse: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays for `rows` gathered rows of like["codes"] and like["scales"]: fresh, or this thread's
    buffers named `reuse`."""
    shape, dtypes = (rows, *like["codes"].shape[1:]), (like["codes"].dtype, like["scales"].dtype)
    if not reuse:
        return np.empty(shape, dtypes[0]), np.empty(rows, dtypes[1])
    return scratch.buffer(f"{reuse}_codes", shape, dtypes[0]), scratch.buffer(f"{reuse}_scales", (rows,), dtypes[1])


def _halves(segments: list, total: int) -> tuple[list, list]:
    """Gather segments (chunk, positions in the result, rows in the chunk) of `total` rows in all, as
    two lists of half the rows each (the segment where the half falls cut in two)."""
    half, done, first, second = total // 2, 0, [], []
    for chunk, where, rows in segments:
        k = min(max(half - done, 0), len(rows))  # rows of this segment that go to the first half
        if k:
            first.append((chunk, slice(where.start, where.start + k) if isinstance(where, slice) else where[:k],
                          rows[:k]))
        if k < len(rows):
            second.append((chunk, slice(where.start + k, where.stop) if isinstance(where, slice) else where[k:],
                           rows[k:]))
        done += len(rows)
    return first, second


def _window_ids(window_ids: Iterable[int]) -> np.ndarray:
    return window_ids.astype(np.int64) if isinstance(window_ids, np.ndarray) else np.fromiter(window_ids, np.int64)


def physical_memory() -> int:
    """Bytes of memory this machine has (0 where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return 0


def codes_in_memory_limit(share: bool = True) -> int:
    """Bytes of codes an open index reads into memory (above it they stay memory-mapped: a 1M-clip
    library's 27 GB): CODES_IN_MEMORY (read when opened), or with `share` the machine's memory /
    CODES_MEMORY_SHARE where that is more (3 GB on a 24 GB machine: a 100k-clip library's 2.7 GB;
    copied on a thread of their own from the first search on).
    MOTION_SEARCH_CODES_IN_MEMORY_MB overrides both (0: always mapped)."""
    value = os.environ.get("MOTION_SEARCH_CODES_IN_MEMORY_MB")
    try:
        if value:
            return int(float(value) * 2**20)
    except ValueError:
        log.warning("MOTION_SEARCH_CODES_IN_MEMORY_MB=%r is not a number of megabytes; ignored", value)
    return max(CODES_IN_MEMORY, physical_memory() // CODES_MEMORY_SHARE if share else 0)


def other_model_error(path: Path, built_with, in_use: str) -> StaleIndexError:
    return StaleIndexError(f"{path}: built with model {built_with}, but the model in use is {in_use}: "
                           "update the index to encode the library again")


class _Raced(DamagedIndexError):
    """A file listed by the metadata this reader read is gone: a writer replaced it since (open()
    reads the new metadata and tries again), or, under the writer lock, the index is damaged."""

    def __init__(self, path: str):
        super().__init__(f"{path}: index file missing; {REBUILD_HINT}")


def write_metadata(path: str | os.PathLike, meta: dict) -> dict:
    """Replace `<path>/metadata.json` atomically with `meta` and its digest; returns `meta` without it.
    Only a writer holding the lock calls this (and tests that make damaged or foreign indexes)."""
    meta = {k: v for k, v in meta.items() if k != "digest"}
    write_json(Path(path) / "metadata.json", dict(meta, digest=meta_digest(meta)))
    return meta


def read_meta(path: Path) -> dict:
    """metadata.json, checked: this format, a version this code reads, its digest (v4 on).

    Raises:
        LibraryIndexError: missing, unreadable, damaged, not an index, or a newer format.
    """
    meta_path = path / "metadata.json"
    if not meta_path.exists():
        raise LibraryIndexError(f"{path}: no index here (metadata.json missing): build one with `index`")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DamagedIndexError(f"{meta_path}: unreadable index metadata ({safe_text(e, 200)}); {REBUILD_HINT}") \
            from None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        raise LibraryIndexError(f"{path}: not a motion search index")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > INDEX_VERSION or version < 1:
        raise LibraryIndexError(f"{path}: index format v{version} is newer than this version of motion search "
                                f"reads (v{INDEX_VERSION}): update motion search, or index into another folder")
    if version >= 4:
        digest = meta.pop("digest", None)
        if digest != meta_digest(meta):
            raise DamagedIndexError(f"{meta_path}: damaged index metadata (its digest differs); {REBUILD_HINT}")
    try:
        _check_meta(meta)
    except (KeyError, TypeError, ValueError) as e:
        raise DamagedIndexError(f"{meta_path}: damaged index metadata ({safe_text(e, 200)}); {REBUILD_HINT}") \
            from None
    return meta


def _check_meta(meta: dict) -> None:
    if meta["codec"] not in codecs.CODECS or int(meta["embed_dim"]) <= 0:
        raise ValueError(f"codec {meta['codec']!r}, embed_dim {meta['embed_dim']!r}")
    if not isinstance(meta["chunks"], list) or not isinstance(meta["dropped"], dict):
        raise ValueError("chunks / dropped")
    for name in meta["chunks"]:
        if not isinstance(name, str) or not name.startswith("chunk-") or "/" in name or "\\" in name:
            raise ValueError(f"chunk name {name!r}")


def _upgraded(path: Path, meta: dict) -> dict:
    """An older format brought up to this one in place (the caller holds the writer lock)."""
    if meta["format_version"] == 1:
        meta = upgrade_from_v1(path, meta)
    if meta["format_version"] == 2:
        meta = upgrade_from_v2(path, meta)
    if meta["format_version"] == 3:
        meta = upgrade_from_v3(path, meta)
    if meta["format_version"] == 4:
        meta = upgrade_from_v4(path, meta)
    if meta["format_version"] == 5:
        meta = upgrade_to_v6(path, meta)
    if meta["format_version"] != INDEX_VERSION:
        raise StaleIndexError(f"{path}: index format v{meta['format_version']} is not v{INDEX_VERSION}: "
                              "update the index to encode the library again")
    return meta
