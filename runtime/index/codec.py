"""Compact storage of unit-length patch embeddings (the index's bulk).

    fp16   2 bytes per dimension
    int8   1 byte per dimension + a float16 scale per patch (symmetric, per-patch absmax), stored
           as unsigned bytes offset by 128 (index format v5): the CPU's fast integer products
           (AVX-512 VNNI / AVX2) multiply unsigned by signed bytes, and onnxruntime takes the
           offset as a zero point; signed x signed was 3.8x slower (bench/bench_kernels.py)
    int4   half a byte per dimension (two per byte) + a float16 scale per patch (16 levels,
           clipped at 2.5 x the patch's RMS component)

Each codec turns (P, D) float32 into named arrays and back. What each costs in retrieval is
measured by bench/bench_search.py and written in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import numpy as np

CODECS = ("fp16", "int8", "int4")
INT4_CLIP = 2.5  # int4 range in units of the patch's RMS component
INT8_OFFSET = 128  # int8 codes -127..127 are stored as 1..255


def encode(x: np.ndarray, codec: str) -> dict[str, np.ndarray]:
    x = np.asarray(x, np.float32)
    if codec == "fp16":
        return {"codes": x.astype(np.float16)}
    if codec not in ("int8", "int4"):
        raise ValueError(f"unknown codec '{codec}' (known: {', '.join(CODECS)})")
    if codec == "int8":
        scale = np.maximum(np.abs(x).max(axis=1), 1e-12) / 127.0
        q = (np.clip(np.rint(x / scale[:, None]), -127, 127) + INT8_OFFSET).astype(np.uint8)
    else:
        # 16 levels (-8..7): clipping the rare large components at 2.5 x the patch's RMS leaves a
        # finer step for the rest (cosine error on real patches: 0.0052 mean vs 0.0062 at absmax)
        rms = np.sqrt((x * x).mean(axis=1))
        scale = np.maximum(np.minimum(np.abs(x).max(axis=1), INT4_CLIP * rms), 1e-12) / 7.5
        q = np.clip(np.rint(x / scale[:, None]), -8, 7).astype(np.int8)
    if codec == "int4":
        if q.shape[1] % 2:
            raise ValueError("int4 needs an even embedding size")
        nib = (q + 8).astype(np.uint8)  # 0..15
        q = (nib[:, 0::2] | (nib[:, 1::2] << 4)).astype(np.uint8)
    return {"codes": q, "scales": scale.astype(np.float16)}


def decode(arrays: dict[str, np.ndarray], codec: str, rows: np.ndarray | slice | None = None) -> np.ndarray:
    """float32 (P, D) of all rows, or of `rows` (indices or a slice)."""
    sel = slice(None) if rows is None else rows
    codes = arrays["codes"][sel]
    if codec == "fp16":
        return codes.astype(np.float32)
    scale = arrays["scales"][sel].astype(np.float32)[:, None]
    if codec == "int8":  # signed bytes: an index of format v4 or older, read before its upgrade
        return (codes.astype(np.float32) - (INT8_OFFSET if codes.dtype == np.uint8 else 0)) * scale
    if codec == "int4":
        lo = (codes & 0x0F).astype(np.int8) - 8
        hi = (codes >> 4).astype(np.int8) - 8
        out = np.empty((codes.shape[0], codes.shape[1] * 2), np.float32)
        out[:, 0::2] = lo
        out[:, 1::2] = hi
        return out * scale
    raise ValueError(f"unknown codec '{codec}'")


def bytes_per_patch(codec: str, dim: int) -> float:
    return {"fp16": 2.0 * dim, "int8": dim + 2.0, "int4": dim / 2 + 2.0}[codec]
