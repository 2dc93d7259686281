"""Older index formats brought up to the current one in place, when an index is opened (see the
format history in runtime/index/store.py)."""

from __future__ import annotations

import json
import os
import uuid
import zlib
from pathlib import Path

import numpy as np

from ..errors import DamagedIndexError
from ..motion import NUM_PARTS
from . import codec as codecs
from . import first_stage
from .chunks import chunk_checksums, load_npy, write_json


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


def upgrade_to_v6(path: Path, meta: dict) -> dict:
    """The previous format -> v6 (description texts and sentence vectors for fused search): the
    metadata only. No clip has texts or a vector yet (search uses MaxSim alone); the next update
    describes the clips again, without encoding them again, and stores both
    (runtime/index/descriptions.py). Independent of the codes, so it follows v4 on this branch and
    v5 (issue 21's unsigned int8 codes) once both are merged."""
    meta = dict(meta, format_version=6, sentence_encoder=None, sentences_files={})
    write_json(path / "metadata.json", dict(meta, digest=meta_digest(meta)))
    return meta


def meta_digest(meta: dict) -> str:
    """CRC-32 (hex) of the metadata's canonical JSON, less its own digest: a changed byte shows."""
    body = json.dumps({k: v for k, v in meta.items() if k != "digest"}, sort_keys=True, separators=(",", ":"))
    return f"{zlib.crc32(body.encode('utf-8')):08x}"
