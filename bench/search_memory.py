"""What a search process holds in memory: open an index, search, print the process's memory.

    ./dev py bench/search_memory.py .cache/bench/composed-1000000-r1 --queries 20

Nothing else is loaded (bench_search.py's figure includes the real library it composes from), so
this is the memory an add-on or the command line needs for that index: its own (anonymous)
memory, and how much of the index's memory-mapped files happened to be resident (page cache the
system can drop, counted in the process's resident size); where the first search started copying
the codes into memory (an index within the machine's share: runtime.index.store), once more after
that copy. Linux (/proc/self/status).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_search import load_queries  # noqa: E402
from runtime.index import LibraryIndex  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import Searcher  # noqa: E402


def status() -> dict[str, float]:
    """GB of the memory fields of /proc/self/status."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("index")
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    bundle = Bundle.load(None)
    print("bundle loaded:", {k: round(v, 2) for k, v in status().items()})
    t = time.perf_counter()
    index = LibraryIndex.open(args.index, bundle)
    searcher = Searcher(index, bundle, fusion=False)
    print(f"opened {index.num_windows} windows in {time.perf_counter() - t:.0f} s ({searcher.first_stage} first stage):",
          {k: round(v, 2) for k, v in status().items()})
    texts = [t for lines in load_queries().values() for t in lines]
    picks = [texts[round(i * (len(texts) - 1) / max(args.queries - 1, 1))] for i in range(args.queries)]
    times = []
    for text in picks:
        t = time.perf_counter()
        searcher.search(text, 10)
        times.append(1e3 * (time.perf_counter() - t))
    print(f"{len(picks)} searches, p50 {statistics.median(times):.0f} ms:", {k: round(v, 2) for k, v in status().items()})
    if index._holder is not None:  # codes being copied into memory (a library within the machine's share)
        t = time.perf_counter()
        index._holder.join()
        print(f"codes copied into memory (the first search started it; waited {time.perf_counter() - t:.1f} s more):",
              {k: round(v, 2) for k, v in status().items()})


if __name__ == "__main__":
    main()
