"""The shared library on Qdrant (runtime/studio) next to the local index, on composed libraries:
search latency (p50/p95), recall@10 against float32 exact MaxSim, bytes per window, upload speed.

    ./dev py bench/bench_qdrant.py                      # 1k and 10k clips (after ./dev demo)
    ./dev py bench/bench_qdrant.py --sizes 100000       # needs ~12 GB RAM and ~20 GB disk (docs/STUDIO.md)

The store runs in this process (qdrant-edge-py: Qdrant's engine, the segment code a server runs, no
network). Libraries: composed from the real index's windows (bench/synthetic_library.py, as
bench_search.py makes them), uploaded with QdrantStore.sync. Queries: an even pick of the 309
sentences of bench/queries/, each encoded once (the encoder's time is the same for both stores and
is left out). Truth: each query's 10 best clips by float32 MaxSim on the decoded patches
(bench_search.float_truth). Timed, after burn-in: the local Searcher (MaxSim alone, its default
path at that size) and the store's StoreSearcher (MaxSim alone) as
  - int8 scan: every window's int8 copy, the best rescored on the float16 originals;
  - prefetch N: Qdrant's two stages in one request (N windows by the 14 part vectors, then MaxSim);
  - float16 exact: every window's originals (a subset of the queries).
With `--fused` (an index whose description vectors the bundle's sentence encoder made: the clips
keep their real clip's vector, as bench/bench_fusion.py gives them), fused search too: the local
index's two stages and the store's (MaxSim's best windows, the clips best by description and the
population sample, runtime/studio/searcher.py), timed, each with recall@10 against the local exact
fused search (every window and every clip scored). As for the other rows, the encoders' time is
left out: the bundle remembers each query's sentence vector from the exact pass. And fused find
similar from 24 clips of the library (itself left out), local two stages and the store's, with
recall@10 against the local exact fused find similar.
Bytes per window: the shard's segments on disk (allocated blocks; the write-ahead log apart: its
32 MiB files do not grow with the library) over the windows, and what stays in RAM (the int8 copies
of patches and parts, one byte per dimension, plus Qdrant's per-vector offsets and scale).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_search import float_truth, load_queries, recall  # noqa: E402
from bench.synthetic_library import WindowPool, compose_index, with_description_vectors  # noqa: E402
from runtime.index import LibraryIndex  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import Searcher, SimilarSearcher, candidate_counts  # noqa: E402
from runtime.studio import QdrantStore, StoreSearcher, clip_key_of, parse_store  # noqa: E402


def folder_bytes(path: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks: Qdrant pre-allocates sparse files)."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def timed_hits(search, queries, burn_in: int = 3) -> tuple[list[float], list[list]]:
    for q in queries[:burn_in]:
        search(q)
    times, got = [], []
    for q in queries:
        t = time.perf_counter()
        hits = search(q)
        times.append(1e3 * (time.perf_counter() - t))
        got.append(hits)
    return times, got


def row(name: str, times: list[float], rec: float, extra: str = "") -> str:
    return (f"| {name} | {statistics.median(times):.1f} | {np.percentile(times, 95):.1f} | {rec:.3f} | {extra} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=".cache/index/demo", help="a real int8 index (./dev demo builds one)")
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=100, help="queries picked evenly from the 309")
    parser.add_argument("--prefetch", default="1000,4000", help="first-stage windows of the prefetch rows")
    parser.add_argument("--work", default=".cache/bench-qdrant", help="where the composed indexes and shards go")
    parser.add_argument("--keep", action="store_true", help="keep the shards (to look at their files)")
    parser.add_argument("--fused", action="store_true", help="fused search too (an index with description vectors)")
    args = parser.parse_args()

    bundle = Bundle.load(args.bundle, device="cpu")
    source = LibraryIndex.open(args.index, bundle)
    texts = [s for lines in load_queries().values() for s in lines]
    pick = np.linspace(0, len(texts) - 1, min(args.queries, len(texts))).round().astype(int)
    queries = [bundle.encode_query(texts[i]) for i in pick]
    print(f"bundle {bundle.model_id}; source {args.index}: {len(source.ok_clips)} clips, {source.num_windows} windows; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {len(queries)} queries")
    pool = WindowPool(source)
    work = Path(args.work)
    for size in [int(s) for s in args.sizes.split(",")]:
        target = work / f"composed-{size}"
        compose_index(source, target, size, regions=1, pool=pool)
        index = with_description_vectors(source, target) if args.fused else LibraryIndex.open(target, bundle)
        n = index.num_windows
        root = os.path.commonpath([c.path for c in index.clips if c.path])
        position = {clip_key_of(c, root): i for i, c in enumerate(index.clips)}
        truth = float_truth(index, queries)
        print(f"\n## {size} clips, {n} windows ({float(index.doclens.mean()):.0f} patches per window on average); "
              f"load {os.getloadavg()[0]:.2f}")
        # the local index, its default path at this size
        local = Searcher(index, bundle, fusion=False)
        times, got = timed_hits(lambda q: local.search_query(q, 10), queries)
        lines = ["| store, path | p50 ms | p95 ms | recall@10 | notes |", "|---|---|---|---|---|"]
        lines.append(row("local index (default path)", times, recall(truth, [[_pos(index, h) for h in hits]
                                                                             for hits in got]),
                         f"{index.bytes_on_disk() / n / 1024:.1f} KB/window on disk"))
        # the store, in this process
        shard = work / f"shard-{size}"
        shutil.rmtree(shard, ignore_errors=True)
        store = QdrantStore.open(parse_store(f"qdrant+edge://{shard.resolve()}"), bundle, create=True)
        t = time.perf_counter()
        report = store.sync(index, "bench", root)
        upload_s = time.perf_counter() - t
        store.close()  # closed: the optimiser's replaced segments are gone from the disk
        wal = folder_bytes(shard / "wal")  # the write-ahead log: bounded segments, not per window
        disk = folder_bytes(shard) - wal
        t = time.perf_counter()
        store = QdrantStore.open(parse_store(f"qdrant+edge://{shard.resolve()}"), bundle)
        reopen_s = time.perf_counter() - t
        patches = float(index.doclens.mean())
        ram = (patches + 14) * (bundle.embed_dim + 4 * 2)  # int8 per dimension; Qdrant's per-vector offset/scale
        print(f"upload: {report.summary()}: {size / upload_s:.0f} clips/s, {n / upload_s:.0f} windows/s "
              f"(with optimize()); shard {disk / 2**20:.0f} MiB on disk = {disk / n / 1024:.1f} KB/window (and a "
              f"{wal / 2**20:.0f} MiB write-ahead log); "
              f"int8 in RAM ~{ram / 1024:.1f} KB/window; reopened in {reopen_s:.2f} s")
        shared = StoreSearcher(store, bundle, fusion=False)
        keyed = lambda hits: [position[h.clip_key] for h in hits]  # noqa: E731
        shared.exact_up_to = 10**12
        times, got = timed_hits(lambda q: shared.search_query(q, 10), queries)
        lines.append(row("Qdrant edge, int8 scan + rescore", times, recall(truth, [keyed(h) for h in got]),
                         f"{disk / n / 1024:.1f} KB/window on disk"))
        shared.exact_up_to = 0
        for c in [int(x) for x in args.prefetch.split(",")] + [candidate_counts(n, 10)[0]]:
            if c >= n:
                continue
            shared.candidates = c
            for scan in (True, False):
                shared.prefetch_scan = scan
                times, got = timed_hits(lambda q: shared.search_query(q, 10), queries)
                lines.append(row(f"Qdrant edge, prefetch {c} by parts ({'int8 scan' if scan else 'HNSW'}), then MaxSim",
                                 times, recall(truth, [keyed(h) for h in got])))
        if n <= 20_000:  # above, every query reads all the originals (GBs of float16 from disk): left out
            few = queries[:20]
            times, got = timed_hits(lambda q: shared.search_query(q, 10, exact=True), few, burn_in=1)
            lines.append(row("Qdrant edge, float16 exact (20 queries)", times,
                             recall(truth[:20], [keyed(h) for h in got])))
        if args.fused:
            lines += fused_rows(index, store, bundle, queries, position)
            lines += similar_rows(index, store, bundle, position)
        store.close()
        print("\n".join(lines))
        print(f"load after: {os.getloadavg()[0]:.2f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"peak memory of this process so far: {peak:.2f} GB", flush=True)
        del local, index, shared, store
        shutil.rmtree(target, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(shard, ignore_errors=True)


def fused_rows(index: LibraryIndex, store: QdrantStore, bundle: Bundle, queries, position: dict) -> list[str]:
    """Fused search, local two stages and the store's, timed, with recall@10 against the local exact
    fused search."""
    local = Searcher(index, bundle)
    shared = StoreSearcher(store, bundle)
    if not (local.fused and shared.fused):
        raise SystemExit("--fused: the index has no description vectors from this bundle's sentence encoder")
    truth = [[_pos(index, h) for h in local.search_query(q, 10, exact=True)] for q in queries]
    times, got = timed_hits(lambda q: local.search_query(q, 10, exact=False), queries)
    got = [[_pos(index, h) for h in hits] for hits in got]
    against = "recall against the local exact fused search"
    out = [row("local index, fused (two stages)", times, recall(truth, got), against)]
    shared.exact_up_to = 0
    times, got = timed_hits(lambda q: shared.search_query(q, 10), queries)
    out.append(row("Qdrant edge, fused (prefetch by parts, then MaxSim; population sample)", times,
                   recall(truth, [[position[h.clip_key] for h in hits] for hits in got]), against))
    return out


def similar_rows(index: LibraryIndex, store: QdrantStore, bundle: Bundle, position: dict, count: int = 24) -> list[str]:
    """Fused find similar from a clip of the library (what Find Similar on a result does: its stored
    patches and describer vector), `count` clips picked evenly, itself left out: the local index's two
    stages and the store's (part vectors by Qdrant, the clips best by description and the population
    sample fetched with their windows), timed, with recall@10 against the local exact fused search."""
    local = SimilarSearcher(index, bundle)
    shared = StoreSearcher(store, bundle)
    key_of = {i: key for key, i in position.items()}
    clips = [int(c) for c in np.linspace(0, len(index.clips) - 1, count).round()]
    truth = [[_pos(index, h) for h in local.search_like(local.clip_query(c), 10, exclude={c}, exact=True)]
             for c in clips]
    times, got = timed_hits(lambda c: local.search_like(local.clip_query(c), 10, exclude={c}, exact=False), clips)
    against = "find similar from a clip: recall against the local exact fused search"
    out = [row("local index, find similar, fused (two stages)", times,
               recall(truth, [[_pos(index, h) for h in hits] for hits in got]), against)]
    shared.exact_up_to = 0
    times, got = timed_hits(lambda c: shared.search_like(shared.clip_query("bench", key_of[c]), 10,
                                                         exclude={("bench", key_of[c])}, exact=False), clips)
    out.append(row("Qdrant edge, find similar, fused (parts by Qdrant; population sample)", times,
                   recall(truth, [[position[h.clip_key] for h in hits] for hits in got]), against))
    return out


def _pos(index: LibraryIndex, hit) -> int:
    if not hasattr(index, "_pos"):
        index._pos = {c.id: i for i, c in enumerate(index.clips)}
    return index._pos[hit.clip_id]


if __name__ == "__main__":
    main()
