"""Older index formats brought up to the current one in place, when an index is opened (see the
format history in runtime/index/store.py)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
import zlib
from pathlib import Path

import numpy as np

from ..errors import DamagedIndexError
from ..motion import NUM_PARTS
from . import codec as codecs
from . import first_stage
from . import sketch as sketches
from .chunks import chunk_checksums, load_npy, sync_folder, write_json


def upgrade_from_v1(path: Path, meta: dict) -> dict:
    """Add the first-stage summaries (v2) to a v1 index from its stored codes: no re-encoding.
    Each file is renamed into place when complete, then the metadata says v2; an upgrade that is
    killed midway is simply done again at the next open."""
    for name in meta.get("chunks", []):
        d = path / name
        try:
            arrays = {"codes": load_npy(d / "codes.npy", mmap=True)}
            if meta["codec"] != "fp16":
                arrays["scales"] = load_npy(d / "scales.npy")
            doclens = load_npy(d / "doclens.npy")
            summary = first_stage.summarise(codecs.decode(arrays, meta["codec"]), doclens, NUM_PARTS)
        except (OSError, ValueError, KeyError, EOFError) as e:
            raise DamagedIndexError(f"{d}: damaged index chunk ({e}); rebuild the index "
                                    "(python -m runtime index --rebuild FOLDER...)") from None
        for key, value in summary.items():
            tmp = d / f".{key}.{uuid.uuid4().hex[:6]}.npy"
            np.save(tmp, value)
            os.replace(tmp, d / f"{key}.npy")
    meta = dict(meta, format_version=2)
    write_json(path / "metadata.json", meta)
    return meta


def upgrade_from_v2(path: Path, meta: dict) -> dict:
    """v2 -> v3 (clip descriptions): the metadata only. A clip entry without a description reads as
    None (not described yet); the next update describes those clips (see the module docstring)."""
    meta = dict(meta, format_version=3)
    write_json(path / "metadata.json", meta)
    return meta


def upgrade_from_v3(path: Path, meta: dict) -> dict:
    """v3 -> v4: the CRC-32 of every chunk file as it is now, and the metadata's digest. The files
    are trusted as found (a v3 index recorded no checksums to check them against)."""
    meta = dict(meta, format_version=4, checksums={name: chunk_checksums(path / name) for name in meta["chunks"]},
                clips_files={})
    write_json(path / "metadata.json", dict(meta, digest=meta_digest(meta)))
    return meta


def upgrade_from_v4(path: Path, meta: dict) -> dict:
    """v4 -> v5: int8 codes stored as unsigned bytes offset by 128 (runtime.index.codec), and the
    sketches (runtime.index.sketch) computed from the stored codes. Chunk files are never modified
    in place, so each chunk is copied to a new folder (its other files hard-linked where the file
    system allows), the new folders are committed in one metadata write, and only then are the old
    ones deleted: a kill before the commit leaves the v4 index (the next upgrade deletes the
    unlisted folders), a kill after it the v5 one."""
    listed = set(meta["chunks"])
    for d in path.iterdir():  # what an upgrade killed before its commit left (unlisted)
        if d.is_dir() and (d.name.startswith(".tmp-") or (d.name.startswith("chunk-") and d.name not in listed)):
            shutil.rmtree(d, ignore_errors=True)
    renamed: dict[str, str] = {}
    sums: dict[str, dict[str, int]] = {}
    basis = None
    for i, name in enumerate(meta["chunks"]):
        new = f"chunk-{i + 1:06d}-{uuid.uuid4().hex[:6]}"
        old, tmp = path / name, path / f".tmp-{new}"
        try:
            arrays = {"codes": load_npy(old / "codes.npy")}
            if meta["codec"] != "fp16":
                arrays["scales"] = load_npy(old / "scales.npy")
            patches = codecs.decode(arrays, meta["codec"])
            tmp.mkdir()
            for f in old.iterdir():
                if f.is_file() and f.name != "codes.npy":
                    try:
                        os.link(f, tmp / f.name)
                    except OSError:
                        shutil.copy2(f, tmp / f.name)
        except (OSError, ValueError, KeyError, EOFError) as e:
            raise DamagedIndexError(f"{old}: damaged index chunk ({e}); rebuild the index "
                                    "(python -m runtime index --rebuild FOLDER...)") from None
        codes = arrays["codes"]
        if codes.dtype == np.int8:
            codes = codes.view(np.uint8) ^ np.uint8(codecs.INT8_OFFSET)  # c + 128 for every signed byte c
        if basis is None and len(patches):
            basis = sketches.fit_sketch_basis(patches)
        projection = sketches.sketch_basis_array(basis) if basis else np.zeros((sketches.SKETCH_DIMS, patches.shape[1]),
                                                                         np.float32)
        for key, value in [("codes", codes), *sketches.encode_sketches(patches, projection).items()]:
            np.save(tmp / f"{key}.npy", value)
            with open(tmp / f"{key}.npy", "rb") as fh:
                os.fsync(fh.fileno())
        sums[new] = chunk_checksums(tmp)
        os.replace(tmp, path / new)
        renamed[name] = new
    sync_folder(path)
    files = meta.get("clips_files", {})
    meta = dict(meta, format_version=5, chunks=[renamed[n] for n in meta["chunks"]], checksums=sums,
                dropped={renamed[n]: v for n, v in meta["dropped"].items() if n in renamed},
                clips_files={renamed[n]: v for n, v in files.items() if n in renamed})
    if basis:
        meta["sketch_basis"] = basis
    write_json(path / "metadata.json", dict(meta, digest=meta_digest(meta)))
    for name in renamed:
        shutil.rmtree(path / name, ignore_errors=True)
    return meta


def upgrade_to_v6(path: Path, meta: dict) -> dict:
    """The previous format -> v6 (description texts and sentence vectors for fused search): the
    metadata only. No clip has texts or a vector yet (search uses MaxSim alone); the next update
    describes the clips again, without encoding them again, and stores both
    (runtime/index/descriptions.py). Independent of the codes, so it follows v5 (unsigned int8
    codes and sketches)."""
    meta = dict(meta, format_version=6, sentence_encoder=None, sentences_files={})
    write_json(path / "metadata.json", dict(meta, digest=meta_digest(meta)))
    return meta


def meta_digest(meta: dict) -> str:
    """CRC-32 (hex) of the metadata's canonical JSON, less its own digest: a changed byte shows."""
    body = json.dumps({k: v for k, v in meta.items() if k != "digest"}, sort_keys=True, separators=(",", ":"))
    return f"{zlib.crc32(body.encode('utf-8')):08x}"
