"""Find-similar latency (motion -> motion search) at 1k and 10k clips, exact vs two-stage, with the
two-stage recall@10 against exact search.

    ./dev py bench/bench_similar.py --index .cache/index/demo        # after ./dev demo
    ./dev py bench/bench_similar.py --index .cache/index/demo --sizes 1000,10000

The libraries are composed from the real index's windows as in bench/bench_search.py
(bench/synthetic_library.py), written and opened as real int8 indexes. The queries are real files of the source index
(an even sample of its Bandai-Namco clips, 1-11 s): each is timed end to end, from the file
(read, joint angles, motion encoder, first stage, same-part late interaction on the stored codes,
hits) and from already encoded patches (what Find Similar on a result does), after burn-in. Where
the index holds description vectors (fused find similar), the one-time cost of the clips' describer
vectors (runtime.index.describer_vectors, made at a searcher's first motion query) is timed first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_library import compose_index, with_description_vectors  # noqa: E402
from runtime.index import LibraryIndex  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.motion import load_motion  # noqa: E402
from runtime.search import SimilarSearcher, similar_candidates  # noqa: E402

QUERIES = 24


def query_files(source: LibraryIndex) -> list[str]:
    files = sorted(c.path for c in source.ok_clips if "dataset-" in os.path.basename(c.path))
    return files[:: max(1, len(files) // QUERIES)][:QUERIES]


def time_queries(searcher: SimilarSearcher, files: list[str], exact: bool, k: int = 10):
    """(ms from the file, ms from the encoded query, top-k clip ids) per query."""
    queries = [searcher.encode(load_motion(f)) for f in files]
    for q in queries[:3]:
        searcher.search_like(q, k, exact=exact)  # burn-in
    full, search, results = [], [], []
    for f, q in zip(files, queries):
        t = time.perf_counter()
        hits = searcher.search_like(q, k, exact=exact)
        search.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        searcher.search_like(searcher.encode(load_motion(f)), k, exact=exact)
        full.append(1000 * (time.perf_counter() - t))
        results.append([h.clip_id for h in hits])
    return full, search, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=".cache/index/demo", help="a real index (./dev demo builds one)")
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--work", default=".cache/bench", help="where the synthetic indexes go")
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle, device=args.device)
    source = LibraryIndex.open(args.index, bundle)
    files = query_files(source)
    print(f"bundle {bundle.model_id} on {bundle.provider_note}; source index {args.index}: {len(source.ok_clips)} "
          f"clips, {source.num_windows} windows; {len(files)} query files; {os.cpu_count()} cores\n")
    print("| clips | windows | exact p50 ms | two-stage p50 ms (encoded query) | two-stage p50 ms (from the file) | "
          "two-stage p95 ms (from the file) | candidates | two-stage recall@10 vs exact | fused | "
          "describer vectors, once (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for size in [int(s) for s in args.sizes.split(",")]:
        index = compose_index(source, Path(args.work) / f"index-{size}", size)
        if source.sentence_vectors is not None:  # fused find similar, as it ships
            index = with_description_vectors(source, Path(args.work) / f"index-{size}")
        searcher = SimilarSearcher(index, bundle)
        once = "-"
        if searcher.fused:
            t = time.perf_counter()
            searcher.describer_scores(np.eye(1, bundle.sentence_dim, dtype=np.float32)[0])
            once = f"{time.perf_counter() - t:.2f}"
        _, ex_t, ex_r = time_queries(searcher, files, exact=True)
        st_full, st_t, st_r = time_queries(searcher, files, exact=False)
        print(f"| {size} | {index.num_windows} | {statistics.median(ex_t):.1f} | {statistics.median(st_t):.1f} | "
              f"{statistics.median(st_full):.1f} | {np.percentile(st_full, 95):.1f} | "
              f"{similar_candidates(index.num_windows, 10)} | {overlap(ex_r, st_r):.3f} | "
              f"{'yes' if searcher.fused else 'no'} | {once} |", flush=True)
        del searcher, index
        shutil.rmtree(Path(args.work) / f"index-{size}", ignore_errors=True)


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean share of each top-k list in `a` found in the matching list of `b` (recall@k against `a`)."""
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


if __name__ == "__main__":
    main()
