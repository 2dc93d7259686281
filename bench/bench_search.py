"""Query latency (text encode + search) at 1k, 10k and 100k clips, exact vs two-stage, with the
two-stage recall@10 against exact search; index bytes per clip.

    ./dev py bench/bench_search.py --index .cache/index/demo        # after ./dev demo
    ./dev py bench/bench_search.py --index .cache/index/demo --sizes 1000,10000 --device cpu

The large libraries are made from the real index's embeddings: every window is replicated with
its patches slightly perturbed (gaussian noise, sigma 0.02 per dimension, then renormalised) so
that copies are distinct clips, written as a real index on disk and opened like any other.
Burn-in queries run first; each query is timed end to end (Searcher.search: tokenize, text
encoder, candidates, MaxSim, hits). The two-stage search uses the per-body-part first stage
(runtime.index.first_stage); "pooled" is the recall of the one-vector-per-window first stage with the
same number of candidates. MaxSim runs on the stored codes (runtime.search.code_scores); the last two
columns compare that with float MaxSim on the decoded patches.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.index import LibraryIndex, chunk_checksums, save_chunk_arrays, write_metadata  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import Searcher, default_candidates  # noqa: E402

QUERIES = [
    "a person waves the right hand", "someone raises the left hand", "a character walks and turns left",
    "an elderly person walks slowly", "a person runs forward energetically", "someone bows politely",
    "a tired person waves both hands", "a person kicks", "someone dances", "a person walks backward",
    "a happy person waves goodbye", "a figure raises both arms above the head", "someone jumps forward",
    "a person walks to the right", "an angry person punches", "a young person waves hello with the left hand",
    "someone turns right while walking", "a person sprints", "a character slashes with a sword",
    "someone calls out to a friend", "a person dances salsa", "a person plays basketball", "someone climbs",
    "a person walks like a giant", "a feminine walk", "someone waves the left hand in a masculine way",
]


def synthetic_index(source: LibraryIndex, target: Path, clips: int, seed: int = 0) -> LibraryIndex:
    """An index of `clips` clips made from `source`'s windows (perturbed copies), on disk."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    meta = dict(source.meta, chunks=[], dropped={}, checksums={}, clips_files={})
    ok = [c for c in source.clips if c.status == "ok" and c.window_count]
    every, offsets = source.window_patches(np.arange(source.num_windows))  # decoded once
    per_chunk = 256  # as LibraryIndex.update writes them
    made = 0
    while made < clips:
        n = min(per_chunk, clips - made)
        pick = rng.integers(0, len(ok), n)
        entries, wins, patches = [], [], []
        for k, i in enumerate(pick):
            c = ok[i]
            entries.append(dict(vars(c), id=f"{c.id}#{made + k}", label=f"{c.label}#{made + k}"))
            entries[-1].pop("window_start")
            entries[-1].pop("window_count")
            for w in range(c.window_start, c.window_start + c.window_count):
                p = every[offsets[w]: offsets[w + 1]]
                p = p + rng.normal(0, 0.02, p.shape).astype(np.float32)
                patches.append(p / np.linalg.norm(p, axis=1, keepdims=True))
                wins.append((k, int(source.windows[w, 1]), int(source.windows[w, 2])))
        name = f"chunk-{len(meta['chunks']) + 1:06d}"
        d = target / name
        d.mkdir()
        save_chunk_arrays(d, wins, patches, source.codec, source.embed_dim)
        (d / "clips.json").write_text(json.dumps(entries))
        meta["chunks"].append(name)
        meta["checksums"][name] = chunk_checksums(d)
        made += n
    write_metadata(target, meta)
    return LibraryIndex.open(target)


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean share of each top-k list in `a` found in the matching list of `b` (recall@k against `a`)."""
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


def time_queries(searcher: Searcher, exact: bool, k: int = 10) -> tuple[list[float], list[list[str]]]:
    for q in QUERIES[:3]:
        searcher.search(q, k, exact=exact)  # burn-in
    times, results = [], []
    for q in QUERIES:
        t = time.perf_counter()
        hits = searcher.search(q, k, exact=exact)
        times.append(1000 * (time.perf_counter() - t))
        results.append([h.clip_id for h in hits])
    return times, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=".cache/index/demo", help="a real index (./dev demo builds one)")
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--work", default=".cache/bench", help="where the synthetic indexes go")
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle, device=args.device)
    source = LibraryIndex.open(args.index, bundle)
    print(f"bundle {bundle.model_id} on {bundle.provider_note}; source index {args.index}: {len(source.ok_clips)} "
          f"clips, {source.num_windows} windows, codec {source.codec}, {os.cpu_count()} cores\n")
    print(f"real index: {source.bytes_on_disk() / len(source.clips) / 1024:.1f} KB per clip on disk")
    print("\n| clips | windows | KB/clip | exact p50 ms | exact p95 ms | two-stage p50 ms | two-stage p95 ms | "
          "candidates | two-stage recall@10 vs exact | pooled first stage: recall@10 | "
          "integer vs float exact recall@10 | two-stage p50 ms, decoding to float |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",")]:
        index = synthetic_index(source, Path(args.work) / f"index-{size}", size)
        searcher = Searcher(index, bundle)
        ex_t, ex_r = time_queries(searcher, exact=True)
        st_t, st_r = time_queries(searcher, exact=False)
        recall = overlap(ex_r, st_r)
        _, po_r = time_queries(Searcher(index, bundle, first_stage="pooled"), exact=False)
        pooled_recall = overlap(ex_r, po_r)
        int_vs_float = float_p50 = "-"  # float exact search decodes every patch per query: up to 10k clips
        if size <= 10000:
            decoding = Searcher(index, bundle, integer_kernel=False)
            _, fl_r = time_queries(decoding, exact=True)
            int_vs_float = f"{overlap(fl_r, ex_r):.3f}"
            float_p50 = f"{statistics.median(time_queries(decoding, exact=False)[0]):.1f}"
        kb = index.bytes_on_disk() / size / 1024
        print(f"| {size} | {index.num_windows} | {kb:.1f} | {statistics.median(ex_t):.1f} | "
              f"{np.percentile(ex_t, 95):.1f} | {statistics.median(st_t):.1f} | {np.percentile(st_t, 95):.1f} | "
              f"{default_candidates(index.num_windows, 10)} | {recall:.3f} | {pooled_recall:.3f} | {int_vs_float} | "
              f"{float_p50} |", flush=True)
        del searcher, index
        shutil.rmtree(Path(args.work) / f"index-{size}", ignore_errors=True)


if __name__ == "__main__":
    main()
