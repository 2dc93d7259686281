"""Text search as a user gets it, at 1k to 1M clips: latency of `Searcher.search` (p50/p95 over
repeats), recall@10 against exact float32 MaxSim, where the time goes, and the memory floor.

    ./dev py bench/bench_search.py                                   # 1k, 10k, 100k (after ./dev demo)
    ./dev py bench/bench_search.py --sizes 1000000 --truth-queries 60 # 1M: a subset for the truth

Queries: the 309 sentences of bench/queries/ (109 written by hand, 200 from templates), each
encoded alone as `search()` encodes it. Libraries: composed from the real index's windows
(bench/synthetic_library.py; their nearest-neighbour cosines are printed next to the real
library's), written as real int8 indexes and opened like any other. Truth: for each query, the
10 best clips by float32 MaxSim of its float32 tokens on every stored patch (decoded), computed
block by block. Timed: `search_query` on the encoded query (candidates, MaxSim on the codes, hits),
each query twice after burn-in; the text encoder's own time is printed once. The floor is one pass
over the bytes a two-stage query must read (first-stage summaries and the candidates' codes) at the
read bandwidth measured here. Recall is also given counting ties (a clip within TIE of the 10th
best's float score, as ann-benchmarks counts). `--pause-ms` idles before each timed query and also
times a fixed numpy workload the same way (the machine's own slowdown after idle); `--where-lost`
says at which stage the missed clips of the truth were dropped, and how many clips tie at the 10th place;
`--refine` gives the recall with other numbers of windows scored again in float32 (Searcher.refine_windows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_library import WindowPool, compose_index, nearest_neighbour_cosines  # noqa: E402
from runtime.index import PROBES, LibraryIndex, decode  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import (EXACT_UP_TO, REFINE_WINDOWS, Searcher, candidate_counts, maxsim_packed,  # noqa: E402
                            segment_max)

QUERY_FILES = {"hand-written": "handwritten.txt", "templated": "templated.txt"}


def load_queries() -> dict[str, list[str]]:
    here = Path(__file__).resolve().parent / "queries"
    return {kind: [s.strip() for s in (here / f).read_text().splitlines() if s.strip()] for kind, f in QUERY_FILES.items()}


def float_truth(index: LibraryIndex, queries: list, k: int = 10) -> list[list[int]]:
    """Each query's `k` best clips (positions in index.clips) by float32 MaxSim on the decoded patches."""
    tokens = np.concatenate([q.tokens for q in queries]).astype(np.float32)
    bounds = np.concatenate([[0], np.cumsum([len(q.tokens) for q in queries])])
    scores = np.empty((len(queries), index.num_windows), np.float32)
    for first, arrays, offsets, live in index.chunk_codes():
        patches = decode(arrays, index.codec)
        best = segment_max((patches @ tokens.T).T, offsets)[:, live]  # (all tokens, live windows)
        n = int(live.sum())
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            scores[i, first: first + n] = best[a:b].mean(0)
    clip = index.windows[:, 0]
    out = []
    for row in scores:
        order = np.argsort(-row, kind="stable")
        seen: list[int] = []
        for w in order:
            if int(clip[w]) not in seen:
                seen.append(int(clip[w]))
                if len(seen) == k:
                    break
        out.append(seen)
    return out


def top_clips(index: LibraryIndex, windows: np.ndarray, scores: np.ndarray, k: int = 10) -> list[int]:
    clips, seen = index.windows[windows, 0], []
    for i in np.argsort(-scores, kind="stable"):
        if int(clips[i]) not in seen:
            seen.append(int(clips[i]))
            if len(seen) == k:
                break
    return seen


def recall(truth: list[list[int]], got: list[list[int]]) -> float:
    return float(np.mean([len(set(t) & set(g)) / len(t) for t, g in zip(truth, got)]))


TIE = 1e-3  # ann-benchmarks' epsilon: a hit within this of the k-th best score counts


def clip_float_score(index: LibraryIndex, query, clip: int) -> float:
    """A clip's float32 MaxSim (its best window), as float_truth scores it."""
    e = index.clips[clip]
    patches, offsets = index.window_patches(np.arange(e.window_start, e.window_start + e.window_count))
    return float(maxsim_packed(query.tokens.astype(np.float32), patches, offsets).max())


def tie_aware_recall(index: LibraryIndex, queries: list, truth: list[list[int]], got: list[list[int]]) -> float:
    """Recall@k that also counts a returned clip whose float score is within TIE of the truth's k-th
    best (ann-benchmarks' recall): where many clips tie at the k-th place, which of them the strict
    recall's truth names is chance. Scores only the clips named."""
    counted = []
    for q, t, g in zip(queries, truth, got):
        kth = min(clip_float_score(index, q, c) for c in t)
        counted.append(sum(c in t or clip_float_score(index, q, c) >= kth - TIE for c in g) / len(t))
    return float(np.mean(counted))


def read_bandwidth_gbs(mb: int = 1024) -> float:
    """Bytes per second of one streaming read pass over memory (best of 5)."""
    a = np.ones(mb * 2**20 // 8, np.int64)
    best = min(_timed(lambda: a.sum()) for _ in range(5))
    return a.nbytes / best / 1e9


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def idle_control(pause_ms: float, rounds: int = 40) -> tuple[float, float]:
    """This machine's own slowdown after idle: p50 ms of a fixed numpy workload (8 steps of a sort
    and a product, about as long as a 100k search) back to back and after `pause_ms` idle, as
    --pause-ms times the search. What the search loses beyond it is the search's."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(200_000).astype(np.float32)
    m1, m2 = rng.standard_normal((600, 256)).astype(np.float32), rng.standard_normal((256, 2000)).astype(np.float32)

    def work():
        for _ in range(8):
            np.sort(a)
            m1 @ m2
    for _ in range(10):
        work()
    out = []
    for pause in (0.0, pause_ms):
        times = []
        for _ in range(rounds):
            time.sleep(pause / 1000)
            times.append(1e3 * _timed(work))
        out.append(statistics.median(times))
    return out[0], out[1]


def stage_times(searcher: Searcher, query, first: int, middle: int, pause_ms: float = 0.0) -> dict[str, float]:
    """One two-stage query's parts, in ms: the first stage, the sketches of its candidates (gather and
    kernel), the exact MaxSim of theirs (gather and kernel), the best of those scored again
    (Searcher.refine_windows); after `pause_ms` idle, as --pause-ms."""
    index = searcher.index
    if pause_ms:
        time.sleep(pause_ms / 1000)
    t0 = time.perf_counter()
    cand = searcher.candidate_windows(query, first) if first < index.num_windows else np.arange(index.num_windows)
    t1 = time.perf_counter()
    if middle < len(cand):
        cand = searcher.sketch_candidates(query, cand, middle)
    t2 = time.perf_counter()
    codes, scales, offsets = index.window_codes(cand, reuse="exact", two_threads=True)  # as search() gathers
    t3 = time.perf_counter()
    scores = searcher._scorer.maxsim(query.tokens, codes, scales, offsets)
    t4 = time.perf_counter()
    searcher.refine_gathered(query, scores, codes, scales, offsets)  # as score_windows does
    t5 = time.perf_counter()
    return {"first": 1e3 * (t1 - t0), "sketch": 1e3 * (t2 - t1), "gather": 1e3 * (t3 - t2), "kernel": 1e3 * (t4 - t3),
            "refine": 1e3 * (t5 - t4)}


def recall_with(searcher: Searcher, queries: list, truth, first: int, middle: int) -> float:
    got = []
    for q in queries:
        cand = searcher.candidate_windows(q, first) if first < searcher.index.num_windows else \
            np.arange(searcher.index.num_windows)
        if middle < len(cand):
            cand = searcher.sketch_candidates(q, cand, middle)
        got.append(top_clips(searcher.index, cand, searcher.score_windows(q, cand)))
    return recall(truth, got)


def where_lost(searcher: Searcher, queries: list, truth: list[list[int]], first: int, middle: int) -> str:
    """Where the clips of the truth that two-stage search misses were lost (not among the first
    stage's candidates, dropped by the sketches, or ranked below the 10th by the exact scores: int8,
    the best rescored in float32), and how many clips tie with the truth's 10th best within TIE
    (float scores of the first stage's candidates' clips: a query's plateau, counted there because
    scoring every window is the truth's hour-long pass at 1M)."""
    index, lost, plateau = searcher.index, {"first stage": 0, "sketches": 0, "exact": 0}, []
    clip_of = index.windows[:, 0]
    for q, t in zip(queries, truth):
        cand = searcher.candidate_windows(q, first)
        kept = searcher.sketch_candidates(q, cand, middle) if middle < len(cand) else cand
        got = top_clips(index, kept, searcher.score_windows(q, kept))
        for c in set(t) - set(got):
            stage = "first stage" if not np.isin(clip_of[cand], c).any() else \
                "sketches" if not np.isin(clip_of[kept], c).any() else "exact"
            lost[stage] += 1
        scores = np.empty(len(cand), np.float32)
        for s in range(0, len(cand), 4096):
            patches, offsets = index.window_patches(cand[s: s + 4096])
            scores[s: s + 4096] = maxsim_packed(q.tokens.astype(np.float32), patches, offsets)
        best = np.full(len(index.clips), -np.inf, np.float32)
        np.maximum.at(best, clip_of[cand], scores)
        kth = min(float(best[c]) if np.isfinite(best[c]) else clip_float_score(index, q, c) for c in t)
        plateau.append(int((np.abs(best - kth) < TIE).sum()))
    return (f"truth clips missed, where: {', '.join(f'{k} {v}' for k, v in lost.items())}; clips within {TIE:g} "
            f"of a query's 10th best: median {statistics.median(plateau):g}, largest {max(plateau)} (queries with 50 "
            f"or more: {sum(p >= 50 for p in plateau)} of {len(plateau)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default=".cache/index/demo", help="a real int8 index (./dev demo builds one)")
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--regions", type=int, default=1, help="body regions drawn from other windows per window")
    parser.add_argument("--truth-queries", type=int, default=0, help="queries for the float truth (0: all)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="idle this long before each timed query (a user's pace; 0: back to back)")
    parser.add_argument("--work", default=".cache/bench", help="where the composed indexes go")
    parser.add_argument("--keep", action="store_true", help="keep the composed indexes (and their float truth)")
    parser.add_argument("--reuse", action="store_true", help="use composed indexes and truth kept by --keep")
    parser.add_argument("--sweep", action="store_true", help="recall at other candidate counts")
    parser.add_argument("--candidates", default="", help="recall at these counts instead: FIRST/SKETCH,... (e.g. 50000/1000)")
    parser.add_argument("--where-lost", action="store_true",
                        help="where the missed clips of the truth were lost, and the near-ties at the 10th place")
    parser.add_argument("--refine", default="",
                        help="recall with these numbers of windows rescored in float32 (e.g. 0,16,64,256)")
    parser.add_argument("--cells-from-source", action="store_true",
                        help="composed windows take their real patches' cells (fast, for 1M; 98.8%% the same: bench_cells.py)")
    parser.add_argument("--first-stage", default="auto", choices=("auto", "cells", "parts"),
                        help="the first stage (auto: cells when the index has them)")
    args = parser.parse_args()

    bundle = Bundle.load(args.bundle, device="cpu")
    source = LibraryIndex.open(args.index, bundle)
    sets = load_queries()
    texts = [(kind, s) for kind, lines in sets.items() for s in lines]
    enc_ms, queries = [], []
    for _, s in texts:
        t = time.perf_counter()
        queries.append(bundle.encode_query(s))
        enc_ms.append(1e3 * (time.perf_counter() - t))
    kinds = np.array([kind for kind, _ in texts])
    bw = read_bandwidth_gbs()
    centre = source.pooled.mean(0)
    nn = lambda ix: " / ".join(f"{v:.3f}" for v in np.percentile(nearest_neighbour_cosines(ix, centre), [5, 50, 95]))
    print(f"bundle {bundle.model_id}; source {args.index}: {len(source.ok_clips)} clips, {source.num_windows} windows; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; read bandwidth {bw:.1f} GB/s")
    print(f"{len(texts)} queries ({', '.join(f'{len(v)} {k}' for k, v in sets.items())}); text encoder p50 "
          f"{statistics.median(enc_ms):.1f} ms, p95 {np.percentile(enc_ms, 95):.1f} ms (one sentence, as search() does)")
    print(f"real library nearest-neighbour cosine (centred mean patch) p5 / p50 / p95: {nn(source)}\n")
    pool = WindowPool(source)
    for size in [int(s) for s in args.sizes.split(",")]:
        target = Path(args.work) / f"composed-{size}-r{args.regions}"
        t = time.perf_counter()
        codebook = (bundle.codebook_id, bundle.codebook) if bundle.codebook is not None else None
        if not (args.reuse and (target / "metadata.json").exists()):
            compose_index(source, target, size, regions=args.regions, pool=pool, codebook=codebook,
                          cells_from_source=args.cells_from_source)
        made_s = time.perf_counter() - t
        t = time.perf_counter()
        index = LibraryIndex.open(target, bundle)
        open_s = time.perf_counter() - t
        t, mapped = time.perf_counter(), index._in_memory is None
        index.hold_mapped_codes()  # a session's first search starts this copy on a thread; timed here once
        hold = f", codes copied into memory in {time.perf_counter() - t:.1f} s" \
            if mapped and index._in_memory is not None else ""
        if codebook and index.meta.get("codebook") != codebook[0]:  # kept from before cells: added now
            t = time.perf_counter()
            index.add_cells(bundle)
            print(f"cells added to the kept index in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        if index.pack_sketches():  # mapped sketches (a 1M library's) in one file, as an update leaves them
            print(f"sketches packed in one file in {time.perf_counter() - t:.0f} s (and the index opened again)")
        searcher = Searcher(index, bundle, fusion=False, first_stage=args.first_stage)  # MaxSim's ranking (fused: bench_fusion.py)
        cells = searcher.first_stage == "cells"
        position = {c.id: i for i, c in enumerate(index.clips)}
        n = index.num_windows
        print(f"## {size} clips: {n} windows, {index.bytes_on_disk() / size / 1024:.1f} KB/clip, made in {made_s:.0f} s, "
              f"opened in {open_s:.2f} s{hold}")
        pick = np.arange(len(queries)) if not args.truth_queries else \
            np.linspace(0, len(queries) - 1, args.truth_queries).round().astype(int)
        # what the search returns, and how long it takes (load noted before and after); timed first,
        # so that the peak memory printed next is the search's (with the source library's pool)
        load0 = os.getloadavg()[0]
        for q in queries[:5]:
            searcher.search_query(q, 10)
        times, got = [], []
        for r in range(args.repeats):
            for i in pick if r or args.truth_queries else range(len(queries)):  # a subset: only it
                if args.pause_ms:
                    time.sleep(args.pause_ms / 1000)
                t = time.perf_counter()
                hits = searcher.search_query(queries[i], 10)
                times.append(1e3 * (time.perf_counter() - t))
                if r == 0 and i in set(pick.tolist()):
                    got.append([position[h.clip_id] for h in hits])
        load1 = os.getloadavg()[0]
        print(f"memory of this process after opening and searching: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB "
              f"resident (mapped index files included), {_status_gb('RssAnon')} GB its own now (anonymous), "
              f"{_status_gb('RssFile')} GB of mapped files resident now")
        print(f"nearest-neighbour cosine p5 / p50 / p95: {nn(index)}")
        t = time.perf_counter()
        cached = target / f"truth-{len(pick)}.json"  # clip ids: valid for this composed index only
        if args.reuse and cached.exists():
            truth = [[position[c] for c in row] for row in json.loads(cached.read_text())]
        else:
            truth = float_truth(index, [queries[i] for i in pick])
            cached.write_text(json.dumps([[index.clips[c].id for c in row] for row in truth]))
        print(f"float truth for {len(pick)} queries in {time.perf_counter() - t:.0f} s")
        exact_path = n <= EXACT_UP_TO
        paused = f" (each after {args.pause_ms:g} ms idle)" if args.pause_ms else ""
        if args.pause_ms:
            busy, idle = idle_control(args.pause_ms)
            print(f"the machine after {args.pause_ms:g} ms idle: a fixed numpy workload p50 {busy:.1f} ms back to "
                  f"back, {idle:.1f} ms after idle ({idle / busy:.2f}x)")
        print(f"search() ({'exact' if exact_path else '%s first stage, sketches, exact: %d / %d windows' % ((searcher.first_stage,) + candidate_counts(n, 10, cells))}): p50 {statistics.median(times):.1f} ms, "
              f"p95 {np.percentile(times, 95):.1f} ms over {len(times)} queries{paused}; recall@10 vs float exact "
              f"{recall(truth, got):.3f} (hand-written {recall(*_only(truth, got, kinds[pick], 'hand-written')):.3f}, "
              f"templated {recall(*_only(truth, got, kinds[pick], 'templated')):.3f}); load {load0:.2f} -> {load1:.2f}")
        print(f"recall@10 counting a clip within {TIE:g} of the 10th best float score (ann-benchmarks' recall): "
              f"{tie_aware_recall(index, [queries[i] for i in pick], truth, got):.3f}")
        if not exact_path and searcher._scorer is not None:
            first, middle = candidate_counts(n, 10, cells)
            parts = [stage_times(searcher, queries[i], first, middle, args.pause_ms) for i in pick[:50]]
            med = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
            sk_bytes = first * float(index.doclens.mean()) * 18 if middle < first else 0  # 16 bytes + a float16 scale a patch
            cand_bytes = middle * float(index.doclens.mean()) * 258
            if cells:  # per query token: its probed inverted lists, and two passes over a float per window
                tokens = float(np.mean([len(q.tokens) for q in queries]))
                probed = float(np.diff(searcher._cells.starts).mean()) * PROBES * 4
                fs_bytes = tokens * (probed + 8 * n)
            else:
                fs_bytes = (index.first_stage.codes.nbytes + index.first_stage.row_scale.nbytes) if first < n else 0
            floor = (fs_bytes + sk_bytes + cand_bytes) / bw / 1e6
            print(f"stages p50: first stage {med['first']:.1f} ms ({fs_bytes / 1e6:.0f} MB), sketches of {first} windows "
                  f"{med['sketch']:.1f} ms ({sk_bytes / 1e6:.0f} MB), gathering {middle} windows' codes {med['gather']:.1f} ms, "
                  f"kernel {med['kernel']:.1f} ms ({cand_bytes / 1e6:.0f} MB), the best {searcher.refine_windows} "
                  f"again {med['refine']:.1f} ms; floor {floor:.1f} ms: search p50 is "
                  f"{statistics.median(times) / floor:.1f}x the floor")
            if args.where_lost:
                print(where_lost(searcher, [queries[i] for i in pick], truth, first, middle))
            if args.candidates:  # recall at the given counts only
                sel = [queries[i] for i in pick]
                pairs = [tuple(int(v) for v in pair.split("/")) for pair in args.candidates.split(",")]
                print("recall@10 by candidates: " + "; ".join(
                    f"first {f} / sketch {m}: {recall_with(searcher, sel, truth, f, m):.3f}" for f, m in pairs))
            elif args.sweep:
                sel = [queries[i] for i in pick]
                firsts = (first // 2, first, 2 * first, 4 * first) if cells else (first // 2, first, 2 * first, n)
                rows = [f"first {f} / sketch {m}: {recall_with(searcher, sel, truth, f, m):.3f}"
                        for f in sorted({c for c in firsts if c <= n})
                        for m in sorted({middle // 2, middle, 2 * middle} | ({f} if cells else set()))]
                print("recall@10 by candidates: " + "; ".join(rows))
        if args.refine:  # the recall search() gets, with other numbers of windows rescored in float32
            sel, rows = [queries[i] for i in pick], []
            for r in (int(v) for v in args.refine.split(",")):
                searcher.refine_windows = r
                rows.append(f"{r}: {recall(truth, [top_clips(index, *searcher.window_scores(q)) for q in sel]):.3f}")
            searcher.refine_windows = REFINE_WINDOWS
            print("recall@10 by windows rescored in float32: " + "; ".join(rows))
        if size <= 100_000:
            ex_t, ex_r = [], []
            for i in pick[:100 if size <= 10_000 else 20]:
                t = time.perf_counter()
                w, s = searcher.window_scores(queries[i], exact=True)
                ex_t.append(1e3 * (time.perf_counter() - t))
                ex_r.append(top_clips(index, w, s))
            print(f"exact MaxSim on every window (int8, the best {REFINE_WINDOWS} rescored in float32): "
                  f"p50 {statistics.median(ex_t):.1f} ms; recall@10 vs float exact "
                  f"{recall(truth[:len(ex_r)], ex_r):.3f}")
        if size <= 10_000:  # plain numpy on float32 patches held in memory, for comparison
            patches, offsets = index.window_patches(np.arange(n))
            np_t = [1e3 * _timed(lambda i=i: maxsim_packed(queries[i].tokens, patches, offsets)) for i in pick[:50]]
            print(f"numpy float32 exact MaxSim (patches decoded in memory, {patches.nbytes / 1e6:.0f} MB): "
                  f"p50 {statistics.median(np_t):.1f} ms")
            del patches
        print(f"peak memory of this process so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB\n",
              flush=True)
        del searcher, index
        if not args.keep:
            shutil.rmtree(target, ignore_errors=True)


def _status_gb(field: str) -> str:
    """A memory field of /proc/self/status in GB (Linux; "?" elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return f"{int(line.split()[1]) / 2**20:.2f}"
    except OSError:
        pass
    return "?"


def _only(truth, got, kinds, kind):
    keep = [i for i, k in enumerate(kinds) if k == kind]
    return [truth[i] for i in keep], [got[i] for i in keep]


if __name__ == "__main__":
    main()
