"""One chunk's files: its arrays written from float patches, and the atomic JSON and .npy helpers
every index file goes through (a temporary name, fsync, then a rename)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np

from ..motion import NUM_PARTS
from . import codec as codecs
from . import first_stage


def save_chunk_arrays(d: Path, wins: list[tuple[int, int, int]], patches: list[np.ndarray], codec: str,
                      embed_dim: int) -> None:
    """Write one chunk's arrays (all but clips.json) into directory `d`, from each window's float patches."""
    flat = np.concatenate(patches) if patches else np.zeros((0, embed_dim), np.float32)
    doclens = np.array([len(p) for p in patches], np.int32)
    arrays = codecs.encode(flat, codec)
    pooled = np.stack([p.mean(0) / max(np.linalg.norm(p.mean(0)), 1e-9) for p in patches]) if patches else \
        np.zeros((0, embed_dim), np.float32)
    summary = first_stage.summarise(flat, doclens, NUM_PARTS)
    np.save(d / "windows.npy", np.array(wins, np.int64).reshape(-1, 3))
    np.save(d / "doclens.npy", doclens)
    np.save(d / "codes.npy", arrays["codes"])
    if "scales" in arrays:
        np.save(d / "scales.npy", arrays["scales"])
    np.save(d / "pooled.npy", pooled.astype(np.float16))
    np.save(d / "parts.npy", summary["parts"])
    np.save(d / "basis.npy", summary["basis"])


def write_json(path: Path, data, indent: int | None = 1) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
