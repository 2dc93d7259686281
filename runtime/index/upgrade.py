"""Older index formats brought up to the current one in place, when an index is opened (see the
format history in runtime/index/store.py)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from ..errors import LibraryIndexError
from ..motion import NUM_PARTS
from . import codec as codecs
from . import first_stage
from .chunks import load_npy, write_json


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
        except (OSError, ValueError, KeyError) as e:
            raise LibraryIndexError(f"{d}: damaged index chunk ({e}); rebuild the index") from None
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
