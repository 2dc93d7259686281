"""MaxSim straight on the index's int8 / int4 codes, with onnxruntime's integer matrix product.

Decoding the candidates' codes to float32 before a float matrix product reads and writes four
times the bytes the codes hold; on a 2-core CPU that copy, not the arithmetic, is most of a
query's time. Here the query tokens are quantised to int8 (one scale per token) and multiplied
with the stored codes as they are; the two scales are applied to the int32 products. The kernels
are the two ONNX graphs in runtime/search/kernels/ (exporter/make_kernels.py writes them).

Quantising the query adds an error of at most about 1/254 of a token's largest component per
dimension, enough to reorder near-ties; search scores its best few windows again with `fine`
(the rounding's remainder as a second int8 token). bench/bench_search.py measures the effect as
recall@10 against float MaxSim.

The stored bytes are unsigned (offset 128) and the query's signed: onnxruntime's fast u8 x s8
product. On a CPU without VNNI (AVX2 or AVX-512 alone: AMD Zen 1-3, Intel before Ice Lake) that
product adds pairs of byte products in 16 bits, which saturate (2 x 255 x 127 > 32,767): scores are
off. `signed_products_exact` tries it once per process; where it saturates,
the int8 kernels' `_unsigned` twins take the query as unsigned bytes too (u8 x u8, exact everywhere,
a little slower: bench/bench_kernels.py). int4 nibbles (at most 2 x 15 x 127) never saturate.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..index import scratch
from ..model import cpu_session
from .maxsim import segment_max

KERNELS = Path(__file__).resolve().parent / "kernels"
CODECS = ("int8", "int4")


def kernel_session(name: str, threads: int):
    return cpu_session(str(KERNELS / name), threads)


@functools.cache
def signed_products_exact() -> bool:
    """Whether onnxruntime multiplies unsigned by signed bytes exactly on this CPU: the int8 kernel
    on the worst case (every byte 255 against 127, one query token and several), against the product
    in integers."""
    session = kernel_session("patch_scores_int8.onnx", 1)
    codes = np.full((64, 256), 255, np.uint8)
    for tokens in (1, 8):
        got = session.run(None, {"codes": codes, "q": np.full((256, tokens), 127, np.int8),
                                 "patch_scale": np.ones((64, 1), np.float32),
                                 "token_scale": np.ones((1, tokens), np.float32)})[0]
        if not np.array_equal(got, np.full((64, tokens), 127 * 127 * 256, np.float32)):
            return False
    return True


def int8_kernel(name: str, threads: int) -> tuple[object, bool]:
    """(session, unsigned): the int8 kernel `name` ("patch_scores_int8", "first_stage_int8") that this
    CPU computes exactly, and whether it takes the query as unsigned bytes (query_bytes)."""
    unsigned = not signed_products_exact()
    return kernel_session(f"{name}_unsigned.onnx" if unsigned else f"{name}.onnx", threads), unsigned


def query_bytes(q: np.ndarray, unsigned: bool) -> np.ndarray:
    """Signed query bytes as a kernel takes them: as they are, or offset by 128 as unsigned bytes."""
    q = np.ascontiguousarray(q, np.int8)
    return q.view(np.uint8) ^ np.uint8(128) if unsigned else q


def quantize_columns(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D, L) float -> (D, L) int8 and (1, L) float32 scales: one scale per column (query token)."""
    scale = np.maximum(np.abs(q).max(axis=0), 1e-12) / 127.0
    return np.clip(np.rint(q / scale), -127, 127).astype(np.int8), scale.reshape(1, -1).astype(np.float32)


class CodeScorer:
    """Scores packed documents given by their codes and per-patch scales (see runtime.index.codec)."""

    def __init__(self, codec: str, threads: int = 0):
        if codec not in CODECS:
            raise ValueError(f"no integer kernel for codec '{codec}' (have: {', '.join(CODECS)})")
        self.codec = codec
        if codec == "int8":
            self.session, self.unsigned = int8_kernel("patch_scores_int8", threads)
        else:
            self.session, self.unsigned = kernel_session(f"patch_scores_{codec}.onnx", threads), False

    @staticmethod
    def quantize_query(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(L, D) float -> (L, D) int8 and (L,) float32 scales."""
        q = np.asarray(q, np.float32)
        scale = np.maximum(np.abs(q).max(axis=1), 1e-12) / 127.0
        return np.clip(np.rint(q / scale[:, None]), -127, 127).astype(np.int8), scale.astype(np.float32)

    def patch_scores(self, q: np.ndarray, codes: np.ndarray, scales: np.ndarray, fine: bool = False) -> np.ndarray:
        """(N, L) cosines of every patch with every query token. `fine`: each token as its int8
        rounding plus the int8 rounding of what that leaves (two kernel columns a token, summed), an
        error ~250 times smaller than one rounding's: float32 MaxSim on the decoded codes to ~1e-5,
        without decoding them."""
        qi, qs = self.quantize_query(q)
        if fine:
            ri, rs = self.quantize_query(np.asarray(q, np.float32) - qi * qs[:, None])
            both = self._run(np.concatenate([qi, ri]), np.concatenate([qs, rs]), codes, scales)
            return both[:, : len(qi)] + both[:, len(qi):]
        return self._run(qi, qs, codes, scales)

    def _run(self, qi: np.ndarray, qs: np.ndarray, codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
        feed = {"codes": np.ascontiguousarray(codes),
                "patch_scale": np.asarray(scales, np.float32).reshape(-1, 1),
                "token_scale": qs.reshape(1, -1)}
        if self.codec == "int8":
            feed["q"] = query_bytes(qi.T, self.unsigned)
        else:
            feed["q_even"] = np.ascontiguousarray(qi[:, 0::2].T)
            feed["q_odd"] = np.ascontiguousarray(qi[:, 1::2].T)
        return self.session.run(None, feed)[0]

    def maxsim(self, q: np.ndarray, codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray,
               fine: bool = False) -> np.ndarray:
        """MaxSim of one query (L, D) against packed documents (offsets as in runtime.search.maxsim;
        `fine` as in patch_scores)."""
        if len(offsets) < 2:
            return np.zeros(0, np.float32)
        sims = self.patch_scores(q, codes, scales, fine)  # (sum N, L)
        return segment_max(sims.T, offsets).mean(axis=0)


class FirstStageScorer:
    """The first stage's score of every window (runtime.index.FirstStage) with one integer kernel
    call: the query projected onto the index-wide basis, quantised per token, multiplied with the
    stored summary bytes; for each token the best body part, averaged over tokens."""

    def __init__(self, first_stage, threads: int = 0):
        self.first_stage = first_stage
        self.session, self.unsigned = int8_kernel("first_stage_int8", threads)

    def scores(self, tokens: np.ndarray) -> np.ndarray:
        fs = self.first_stage
        if fs.num_windows == 0:
            return np.zeros(0, np.float32)
        q, token_scale = quantize_columns(fs.basis @ np.asarray(tokens, np.float32).T)
        return self.session.run(None, {"parts": fs.codes, "q": query_bytes(q, self.unsigned),
                                       "row_scale": fs.row_scale, "token_scale": token_scale})[0]


def sketch_maxsim(q: np.ndarray, codes: np.ndarray, scales: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """MaxSim of a query projected onto the sketch directions (L, dims) against packed documents'
    sketches (unsigned bytes offset by 128, one float16 scale per patch; runtime.index.sketch).

    In float32 with numpy, tokens by patches so that the scaling and the per-window maximum run along
    contiguous rows, in this thread's reusable buffers (runtime.index.scratch): with 16 dimensions the
    integer kernel was slower (bench/bench_kernels.py)."""
    if len(offsets) < 2:
        return np.zeros(0, np.float32)
    q = np.asarray(q, np.float32)
    n = len(codes)
    values = scratch.buffer("sketch_values", codes.shape, np.float32)
    np.copyto(values, codes, casting="unsafe")  # (a subtraction while casting took 3 times as long)
    sims = scratch.buffer("sketch_sims", (len(q), n), np.float32)
    np.matmul(q, values.T, out=sims)  # (L, N)
    sims -= 128.0 * q.sum(axis=1, keepdims=True)  # (c - 128) . q
    weight = scratch.buffer("sketch_weight", (n,), np.float32)
    np.copyto(weight, scales, casting="unsafe")
    sims *= weight[None, :]
    return np.maximum.reduceat(sims, offsets[:-1], axis=1).mean(axis=0)
