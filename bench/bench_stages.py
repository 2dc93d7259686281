"""What two of a large query's stages cost, and the choices runtime.index and runtime.search make in them.

    ./dev py bench/bench_stages.py .cache/bench/composed-100000-r1      # after bench_search.py --keep

The gather of the exact candidates' codes, on an index whose codes stay memory-mapped (opened as
one above runtime.index's codes_in_memory_limit) and fit in memory: the windows' codes and scales
gathered as `Searcher.score_windows` gathers them (`window_codes`, reused buffers), for new random
sets of --windows windows each time (what queries do), on one thread and on two
(runtime.index.gather); the same from fresh mappings of the same files whose pages have not been
touched (what a gather costs without runtime.index.chunks.populate at open), and how long
populating all the codes takes; then the same gathers from the codes read into the process's
memory (opened as an index below that limit). The sketch stage (`Searcher.sketch_candidates`) on
the cells stage's candidates of bench/queries' sentences, in blocks of 8,192 and of 1,024 windows
(Searcher.sketch_block), on one thread and on two. p50 over --repeats.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.bench_cells import p50_ms  # noqa: E402
from runtime.index import LibraryIndex, load_npy, populate  # noqa: E402


def sketch_blocks(index: LibraryIndex, repeats: int) -> None:
    from bench.bench_search import load_queries
    from runtime.model import Bundle
    from runtime.search import Searcher, candidate_counts

    bundle = Bundle.load(device="cpu")
    searcher = Searcher(index, bundle, fusion=False)
    first, middle = candidate_counts(index.num_windows, 10, searcher.first_stage == "cells")
    texts = [q for lines in load_queries().values() for q in lines]
    queries = [bundle.encode_query(t) for t in texts[:: max(1, len(texts) // repeats)]]
    candidates = [searcher.candidate_windows(q, first) for q in queries]
    print(f"sketch stage: {first} windows' sketches -> {middle} ({len(queries)} queries)")
    two = searcher.split_sketches
    for block, split in ((8192, two), (1024, two), (1024, 10**9)):
        searcher.sketch_block, searcher.split_sketches = block, split
        ms = p50_ms(lambda qc: searcher.sketch_candidates(*qc, middle), list(zip(queries, candidates)))
        print(f"  blocks of {block} windows, {'two threads' if split < 10**9 else 'one thread'}: p50 {ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index")
    parser.add_argument("--windows", type=int, default=2000,
                        help="windows a gather takes (bench_search: 1,998 at 100k)")
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    os.environ["MOTION_SEARCH_CODES_IN_MEMORY_MB"] = "0"  # mapped first (an index above the memory limit)
    index = LibraryIndex.open(args.index)
    rng = np.random.default_rng(0)

    def draw() -> list[np.ndarray]:
        return [np.sort(rng.choice(index.num_windows, args.windows, replace=False)) for _ in range(args.repeats)]

    rows = int(np.mean([index.doclens[ids].sum() for ids in draw()[:5]]))
    print(f"{index.num_windows} windows; a gather of {args.windows} windows: ~{rows} rows, "
          f"{rows * index.embed_dim / 1e6:.0f} MB of codes")
    for _ in range(3):
        index.window_codes(draw()[0], reuse="exact", two_threads=True)
    for two in (False, True):
        ms = p50_ms(lambda ids: index.window_codes(ids, reuse="exact", two_threads=two), draw())
        print(f"gather, {'two threads' if two else 'one thread'}: p50 {ms:.1f} ms")
    # the same files mapped again: pages in the page cache, but not yet in this mapping
    fresh = [{"codes": load_npy(Path(args.index) / name / "codes.npy", mmap=True), "scales": arrays["scales"]}
             for name, (arrays, _) in zip(index.live_chunks, index._parts)]
    print(f"gather from fresh mappings (first touch), one thread: p50 "
          f"{p50_ms(lambda ids: index._gather_mapped(fresh, ids, 'exact'), draw()):.1f} ms")
    fresh = [dict(f, codes=load_npy(Path(args.index) / name / "codes.npy", mmap=True))
             for name, f in zip(index.live_chunks, fresh)]
    t0 = time.perf_counter()
    done = sum(populate(f["codes"]) for f in fresh)
    print(f"populate {done} fresh mappings ({sum(f['codes'].nbytes for f in fresh) / 1e9:.2f} GB): "
          f"{time.perf_counter() - t0:.2f} s")
    print(f"gather from them after populate, one thread: p50 "
          f"{p50_ms(lambda ids: index._gather_mapped(fresh, ids, 'exact'), draw()):.1f} ms")
    fresh.clear()  # (the second mappings go before the sketch stage)
    os.environ["MOTION_SEARCH_CODES_IN_MEMORY_MB"] = str(2**30)  # the same codes read into the process's memory
    held = LibraryIndex.open(args.index)
    for two in (False, True):
        ms = p50_ms(lambda ids: held.window_codes(ids, reuse="exact", two_threads=two), draw())
        print(f"gather from codes held in memory, {'two threads' if two else 'one thread'}: p50 {ms:.1f} ms")
    del held
    sketch_blocks(index, args.repeats)


if __name__ == "__main__":
    main()
