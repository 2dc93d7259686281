"""What fused search adds to a text query (runtime/search/fusion.py).

    ./dev py bench/bench_fusion.py                                   # the parts alone
    ./dev py bench/bench_fusion.py --index /tmp/idx --sizes 1000,10000   # + end to end, fused vs MaxSim alone
    ./dev py bench/bench_fusion.py --index /tmp/idx --sizes 100000 --memory-only   # the descriptions' memory
    ./dev py bench/bench_fusion.py --index /tmp/idx --sizes 10000 --profile [--pause-ms 50]  # + each part's time

The parts: the sentence encoder's call on a query, and the dot product with every clip's
description vector plus the standardisation at 1k, 10k and 100k clips (synthetic unit vectors), on
the int8 copies search uses (DescriptionScorer) and, for comparison, in float32; the vectors stay
in cache between these repeated calls, which a search's own reads do not allow (see the end-to-end rows).
End to end (`--index`, a real v6 index with description vectors): bench/bench_search.py's
composed libraries (bench/synthetic_library.py, with cells; each clip with the description vector of
the real clip it is shaped like), 62 of bench/queries' sentences, each
query timed through Searcher.search (text encoder included) with fusion on and off, and fused with
the query's sentence vector given (what fusion itself adds, without the sentence encoder's call),
one after the other (which first rotates), ROUNDS times (two-stage search, which also scores the
windows of the EXTRA_CANDIDATES clips best by description and the population sample). Burn-in
first, then p50/p95. Then what the two-stage
search finds of exact search's ranking, each way: recall@10 (the share of exact search's top 10
clips in the two-stage top 10), over the same queries. Last, per size, the memory the descriptions
take: the index's vectors, the searcher's int8 copies, and the most that making the copies allocates.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from runtime.model import Bundle  # noqa: E402
from runtime.search import DescriptionScorer, description_scores, fuse  # noqa: E402

ROUNDS = 3  # times each query is searched each way
QUERIES = ["a person waves the right hand", "someone walks forward and then turns left", "an angry run",
           "a polite bow from the waist", "sprint at top speed", "a tired walk, shoulders slumped"]


def _timed(fn, n: int, before=lambda: None) -> tuple[float, float]:
    for _ in range(5):
        fn()
    t = []
    for _ in range(n):
        before()
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(t, 50)), float(np.percentile(t, 95))


def end_to_end(bundle, index_path: str, sizes: list[int], work: Path, pause_ms: float = 0.0,
               memory_only: bool = False, profile: bool = False) -> None:
    import shutil
    import statistics

    from bench.bench_search import load_queries
    from bench.synthetic_library import compose_index, with_description_vectors
    from runtime.index import LibraryIndex
    from runtime.search import Searcher

    searches = [q for lines in load_queries().values() for q in lines][::5]  # 62 of bench/queries
    memory = []
    codebook = (bundle.codebook_id, bundle.codebook) if bundle.codebook is not None else None
    source = LibraryIndex.open(index_path, bundle)
    if source.sentence_vectors is None:
        raise SystemExit(f"{index_path}: no description vectors (update it with this version first)")
    if not memory_only:
        print("\n| clips | windows | two-stage p50 ms, MaxSim alone | p95 | two-stage p50 ms, fused | p95 | "
              "p50 ratio | fused, sentence vector given: p50 ratio | recall@10 vs exact, MaxSim alone | fused |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        compose_index(source, work / f"fusion-{size}", size, regions=1, codebook=codebook)  # as bench_search's
        index = with_description_vectors(source, work / f"fusion-{size}")
        row = {}
        searchers = {fusion: Searcher(index, bundle, fusion=fusion) for fusion in (False, True)}
        assert all(searcher.fused == fusion for fusion, searcher in searchers.items())
        memory.append(first_search_memory(index, searchers[True], searches[0]))
        if memory_only:
            del index
            shutil.rmtree(work / f"fusion-{size}", ignore_errors=True)
            continue
        for q in searches[:3]:
            for searcher in searchers.values():
                searcher.search(q, 10, exact=False)
        given = {q: bundle.encode_sentences([q])[0] for q in searches}
        for round_ in range(ROUNDS):
            for i, q in enumerate(searches):  # each way in turn (which first rotates): the load hits all alike
                ways = (False, True, "given")
                for way in ways[(i + round_) % 3:] + ways[:(i + round_) % 3]:
                    bundle.forget_sentences()  # a query met for the first time (searches repeat them)
                    if pause_ms:
                        time.sleep(pause_ms / 1000)
                    t0 = time.perf_counter()
                    if way == "given":  # the fused search's own work: the second encoder's call left out
                        searchers[True]._search_fused(bundle.encode_query(q), 10, False, _done(given[q]))
                    else:
                        searchers[way].search(q, 10, exact=False)
                    row.setdefault(way, []).append((time.perf_counter() - t0) * 1000)
        if profile:
            print(profile_parts(searchers, searches, given, pause_ms), flush=True)
        a, b, c = (statistics.median(row[way]) for way in (False, True, "given"))
        recall = {fusion: np.mean([len({h.clip_id for h in searcher.search(q, 10, exact=False)}
                                       & {h.clip_id for h in searcher.search(q, 10, exact=True)}) / 10
                                   for q in searches]) for fusion, searcher in searchers.items()}
        print(f"| {size} | {index.num_windows} | {a:.1f} | {np.percentile(row[False], 95):.1f} | {b:.1f} | "
              f"{np.percentile(row[True], 95):.1f} | {b / a:.2f} | {c / a:.2f} | {recall[False]:.3f} | "
              f"{recall[True]:.3f} |",
              flush=True)
        del index
        shutil.rmtree(work / f"fusion-{size}", ignore_errors=True)
    print("\n" + "\n".join(memory))


def profile_parts(searchers: dict, searches: list[str], given: dict, pause_ms: float) -> str:
    """p50 of each part of a two-stage fused search with the sentence vector given, timed one by one
    as Searcher._search_fused runs them (each after `pause_ms` idle, ROUNDS rounds): MaxSim's stages
    alone and beside the description's side (on the sentence encoder's thread), the side alone, the
    wait for it, the exact scores, the fusion; and MaxSim alone's whole search for scale."""
    import statistics

    from runtime.search import holding_caller, submit_beside

    fused, alone = searchers[True], searchers[False]
    parts: dict[str, list[float]] = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        parts.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        return out

    def pause():
        if pause_ms:
            time.sleep(pause_ms / 1000)

    for _ in range(ROUNDS):
        for q in searches:
            query, vector = fused.bundle.encode_query(q), given[q]
            pause()
            timed("MaxSim alone, whole search", lambda: alone.search_query(query, 10, exact=False))
            pause()
            t0 = time.perf_counter()
            with holding_caller():
                side = submit_beside(fused._description_side, query, _done(vector))
                windows = timed("stages beside the side", lambda: fused._two_stage_candidates(query, False, 10))
            desc, extra, sample = timed("wait for the side", side.result)
            windows = np.union1d(windows, extra)
            scores = timed("exact scores", lambda: fused.score_windows(query, windows))
            timed("fusion", lambda: fused._fused_hits(windows, scores, desc, 10, two_stage=True, maxsim_like=sample))
            parts.setdefault("fused, sentence vector given, whole", []).append((time.perf_counter() - t0) * 1000)
            pause()
            timed("the side alone", lambda: fused._description_side(query, _done(vector)))
            pause()
            timed("stages alone", lambda: fused._two_stage_candidates(query, False, 10))
    return "parts, p50 ms" + (f" ({pause_ms:g} ms idle before each)" if pause_ms else "") + ": " + \
        ", ".join(f"{name} {statistics.median(t):.2f}" for name, t in parts.items())


def first_search_memory(index, searcher, text: str) -> str:
    """What fused search holds of the descriptions (the index's vectors, the searcher's int8 copies, made
    at its first fused search) and the most that making the copies allocates at once, by tracemalloc
    (numpy reports its arrays to it)."""
    import tracemalloc

    vector = searcher.bundle.encode_sentences([text])[0]
    tracemalloc.start()
    searcher.description_scores(vector)  # the first: makes the copies
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    copies = searcher._descriptions.codes_t.nbytes + searcher._descriptions.scales.nbytes
    from bench.search_memory import status

    own = status().get("RssAnon", float("nan")) * 1024  # MiB (Linux)
    return (f"{len(index.clips)} clips: description vectors {index.sentence_vectors.nbytes / 2**20:.1f} MiB "
            f"({index.sentence_vectors.dtype}), int8 copies {copies / 2**20:.1f} MiB, making them allocated at "
            f"most {peak / 2**20:.1f} MiB at once; the process's own memory then {own:.0f} MiB")


def _done(value):
    from concurrent.futures import Future

    f = Future()
    f.set_result(value)
    return f


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=None, help="a real v6 index with description vectors: end to end too")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--work", default="/tmp/motion-search-bench")
    parser.add_argument("--text-encoder-spins", action="store_true",
                        help="for comparison: the text encoder's threads busy-wait after each call (before 2026-12-07)")
    parser.add_argument("--memory-only", action="store_true",
                        help="with --index: the descriptions' memory only (no timing, no recall)")
    parser.add_argument("--profile", action="store_true",
                        help="with --index: also time the parts of a fused search one by one (profile_parts)")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="idle this long before each timed search (a user's pace; 0: back to back)")
    args = parser.parse_args()
    bundle = Bundle.load(device="cpu")
    if args.text_encoder_spins:
        from runtime.model import make_session

        bundle.text_session = make_session(str(bundle.path / bundle.manifest["text_encoder"]["file"]), "cpu")[0]
    k = iter(range(10 ** 9))
    # each call a new query: the bundle remembers the vectors of texts it has encoded
    p50, p95 = _timed(lambda: bundle.encode_sentences([QUERIES[next(k) % len(QUERIES)]]), 60, bundle.forget_sentences)
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
        scorer = DescriptionScorer(v, has)  # what search uses: int8 copies
        p50, p95 = _timed(lambda: fuse(m, scorer.scores(q)), 40)
        f50, _ = _timed(lambda: fuse(m, description_scores(v, has, q)), 40)
        error = np.abs(scorer.scores(q) - description_scores(v, has, q)).max()
        print(f"{clips:>7} clips: description scores + fuse p50 {p50:.2f} ms, p95 {p95:.2f} ms on int8 copies "
              f"({scorer.codes_t.nbytes / 1e6:.0f} MB; float32 {v.nbytes / 1e6:.0f} MB: p50 {f50:.2f} ms; "
              f"largest difference {error:.4f}; {v.nbytes / 2e6:.0f} MB float16 on disk)")
    if args.index:
        end_to_end(bundle, args.index, [int(x) for x in args.sizes.split(",")], Path(args.work), args.pause_ms,
                   args.memory_only, args.profile)


if __name__ == "__main__":
    main()
