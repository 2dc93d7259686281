"""What fused search adds to a text query (runtime/search/fusion.py): the sentence encoder's call
on the query, the dot product with every clip's description vector, the standardisation, at 1k,
10k and 100k clips (synthetic unit vectors; the encoder on real queries). Burn-in first, then
p50/p95. The rest of a query (text encoder, first stage, MaxSim) is bench/bench_search.py's; the
two-stage search also scores the windows of the EXTRA_CANDIDATES clips best by description
(about 64 x 2 windows more than its candidates).

    ./dev py bench/bench_fusion.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from runtime.model import Bundle  # noqa: E402
from runtime.search.fusion import description_scores, fuse  # noqa: E402

QUERIES = ["a person waves the right hand", "someone walks forward and then turns left", "an angry run",
           "a polite bow from the waist", "sprint at top speed", "a tired walk, shoulders slumped"]


def _timed(fn, n: int) -> tuple[float, float]:
    for _ in range(5):
        fn()
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(t, 50)), float(np.percentile(t, 95))


def main() -> None:
    bundle = Bundle.load(device="cpu")
    k = iter(range(10 ** 9))
    p50, p95 = _timed(lambda: bundle.encode_sentences([QUERIES[next(k) % len(QUERIES)]]), 60)
    print(f"sentence encoder, one query: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    p50, p95 = _timed(lambda: bundle.encode_query(QUERIES[next(k) % len(QUERIES)]), 60)
    print(f"(for scale) text encoder, one query: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    rng = np.random.default_rng(0)
    q = bundle.encode_sentences(QUERIES[:1])[0]
    for clips in (1_000, 10_000, 100_000):
        v = rng.standard_normal((clips, bundle.sentence_dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        has = np.ones(clips, bool)
        m = rng.standard_normal(clips).astype(np.float32)
        p50, p95 = _timed(lambda: fuse(m, description_scores(v, has, q)), 40)
        print(f"{clips:>7} clips: description scores + fuse p50 {p50:.2f} ms, p95 {p95:.2f} ms "
              f"(vectors {v.nbytes / 1e6:.0f} MB float32 in memory, {v.nbytes / 2e6:.0f} MB float16 on disk)")


if __name__ == "__main__":
    main()
