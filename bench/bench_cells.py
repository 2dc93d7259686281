"""The cells first stage's one-off figures, reproducible (docs/BENCHMARKS.md, issue 21).

    ./dev py bench/bench_cells.py                                   # cosines, cells from source (.cache/index/demo)
    ./dev py bench/bench_cells.py --composed .cache/bench/composed-10000-r1   # + postings sweep (its truth)
    ./dev py bench/bench_cells.py --cold .cache/bench/composed-1000000-r1     # + a cold gather, prefetch or not

- Query tokens' cosines with the bundle's centroids: numpy's product against the bundle's codebook
  graph on one onnxruntime thread (Bundle.codebook_cosines), 60 real queries.
- Cells from source: what share of composed patches (bench/synthetic_library.py: one region from
  another window, every code +-1) keep their real source patch's cell (what `--cells-from-source`
  assumes at 1M) when assigned from their own codes.
- Postings sweep (`--composed`, an index kept by bench_search.py --keep with its float truth of all
  309 queries): recall@10 at the table's candidate counts and search p50 when each query token walks
  at least twice, once, a half ... an eighth of the postings search walks at that size
  (Searcher.min_postings, from runtime.search's CELLS_TABLE).
- Cold gather (`--cold`, an index whose codes are memory-mapped): 2,000 random windows' codes after
  the index's files are dropped from the page cache (posix_fadvise DONTNEED), with and without
  prefetch_rows (madvise WILLNEED), alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_search import load_queries, recall_with  # noqa: E402
from bench.synthetic_library import WindowPool  # noqa: E402
from runtime.index import LibraryIndex, assign_cells, decode  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import Searcher, candidate_counts  # noqa: E402


def p50_ms(fn, items) -> float:
    """Median milliseconds of fn(item) over `items`."""
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def cosines(bundle: Bundle, queries: list) -> None:
    tokens = [q.tokens for q in queries]
    for _ in range(2):  # alternating: the machine's load hits both alike
        numpy_ms = p50_ms(lambda t: t @ bundle.codebook.T, tokens)
        graph_ms = p50_ms(bundle.codebook_cosines, tokens)
        print(f"cosines of a query's tokens with {len(bundle.codebook)} centroids: numpy {numpy_ms:.2f} ms, "
              f"the codebook graph {graph_ms:.2f} ms (p50 of {len(tokens)} queries)")


def cells_from_source(bundle: Bundle, source: LibraryIndex, windows: int = 2000) -> None:
    pool, rng = WindowPool(source), np.random.default_rng(0)
    real = pool.cells(bundle.codebook)
    same = total = 0
    for w in rng.integers(0, source.num_windows, windows):
        codes, scales, _, rows = pool.compose(int(w), rng, 1)
        noisy = np.clip(codes.astype(np.int16) + rng.integers(-1, 2, codes.shape, dtype=np.int16), 1, 255)
        own = assign_cells(decode({"codes": noisy.astype(np.uint8), "scales": scales}, "int8"), bundle.codebook)
        same += int((own == real[rows]).sum())
        total += len(rows)
    print(f"composed patches whose own cell is their source patch's: {same / total:.3f} of {total}")


def min_postings_sweep(bundle: Bundle, path: Path, queries: list) -> None:
    index = LibraryIndex.open(path, bundle)
    position = {c.id: i for i, c in enumerate(index.clips)}
    truth = [[position[c] for c in row] for row in json.loads((path / f"truth-{len(queries)}.json").read_text())]
    searcher = Searcher(index, bundle, fusion=False)
    default = searcher.min_postings  # what search walks at this size (runtime.search's CELLS_TABLE)
    first, middle = candidate_counts(index.num_windows, 10, True)
    for value in (2 * default, default, default // 2, default // 4, default // 8):
        searcher.min_postings = value
        r = recall_with(searcher, queries, truth, first, middle)
        print(f"MIN_POSTINGS {value}: recall@10 {r:.3f} at {first} / {middle} candidates, "
              f"search p50 {p50_ms(lambda q: searcher.search_query(q, 10), queries):.1f} ms")


def cold_gather(bundle: Bundle, path: Path, windows: int = 2000, rounds: int = 2) -> None:
    index = LibraryIndex.open(path, bundle)
    files = [p for p in path.glob("chunk-*/*.npy")]
    rng = np.random.default_rng(1)
    for _ in range(rounds):
        for prefetch in (False, True):
            for f in files:
                fd = os.open(f, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            ids = np.sort(rng.choice(index.num_windows, windows, replace=False))
            t = time.perf_counter()
            index._gather_mapped([a for a, _ in index._parts], ids, "cold", prefetch)
            print(f"{windows} windows' codes from a cold page cache, prefetch {'on' if prefetch else 'off'}: "
                  f"{1e3 * (time.perf_counter() - t):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=".cache/index/demo", help="a real index (./dev demo builds one)")
    parser.add_argument("--composed", default=None, help="a composed index kept by bench_search.py --keep")
    parser.add_argument("--cold", default=None, help="an index with memory-mapped codes (e.g. the 1M one)")
    args = parser.parse_args()
    bundle = Bundle.load(device="cpu")
    texts = [t for v in load_queries().values() for t in v]
    print(f"load {os.getloadavg()[0]:.2f}")
    cosines(bundle, [bundle.encode_query(t) for t in texts[::5]])
    cells_from_source(bundle, LibraryIndex.open(args.index, bundle))
    if args.composed:
        min_postings_sweep(bundle, Path(args.composed), [bundle.encode_query(t) for t in texts])
    if args.cold:
        cold_gather(bundle, Path(args.cold))
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
