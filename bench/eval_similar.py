"""Find-similar quality on Bandai-Namco dataset 2: does a clip find its own other takes?

    ./dev py bench/eval_similar.py                  # the test split (289 clips never trained on)
    ./dev py bench/eval_similar.py --split all      # every dataset-2 clip (2,902; most trained on)

Every clip of the sample is indexed with the shipped model, then each one is the query (from its
stored patches, as Find Similar on a result does) with itself left out. Dataset 2 has 10 contents
(walk, wave-right-hand, ...) x 7 styles (active, elderly, ...), each performed in several takes;
the test split keeps 2-10 takes of every content x style pair. Reported: the share of queries whose
best hit has the same content, and the same content and style (another take of the same thing),
and the mean share of the top 5 with the same content: for runtime.search.similar's search (fused
with the clips' descriptions, as it ships, and by the late interaction alone), and for
scoring choices computed directly in float on every pair (any body part vs the same body part;
forward only, i.e. text search's MaxSim with the query's patches as its tokens, vs symmetric).
The brute-force rows take each window as a query (2 of the 289 test clips have two windows).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.index import LibraryIndex  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import SimilarSearcher  # noqa: E402

SPLITS = Path(__file__).resolve().parent.parent / "training" / "splits.json"


def sample(split: str) -> list[Path]:
    """Dataset-2 files of a split of training/splits.json (read as JSON: no torch needed)."""
    files = shared_data.bandai_files(2)
    if split == "all":
        return files
    keep = {k.split("/", 1)[1] for k in json.loads(SPLITS.read_text())["bandai"][split] if k.startswith("bandai-2/")}
    return [f for f in files if f.stem in keep]


def content_style(label: str) -> tuple[str, str]:
    """`dataset-2_wave-right-hand_normal_003` -> ("wave-right-hand", "normal")."""
    parts = label.split("_")
    return parts[1], parts[2]


def evaluate(searcher: SimilarSearcher, k: int = 5) -> dict:
    """Each clip as the query, itself left out: shares of best hits with the same content (and style)."""
    index = searcher.index
    same_content = same_both = 0
    top_content = []
    times = []
    for i, e in enumerate(index.clips):
        query = searcher.clip_query(i)
        t = time.perf_counter()
        hits = searcher.search_like(query, k, exclude={i})
        times.append(1000 * (time.perf_counter() - t))
        want = content_style(e.label)
        got = [content_style(h.label) for h in hits]
        same_content += got[0][0] == want[0]
        same_both += got[0] == want
        top_content.append(np.mean([g[0] == want[0] for g in got]))
    n = len(index.clips)
    return {"queries": n, "top1_content": same_content / n, "top1_content_style": same_both / n,
            f"top{k}_content": float(np.mean(top_content)), "p50_ms": float(np.median(times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=("test", "val", "train", "all"))
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--work", default=".cache/bench", help="where the index goes (kept: updated incrementally)")
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle, device="cpu")
    files = sample(args.split)
    index = LibraryIndex.open_or_create(Path(args.work) / f"similar-{args.split}", bundle, replace_stale=True)
    report = index.update(files, bundle, workers=2)
    print(f"bundle {bundle.model_id}; {len(files)} dataset-2 clips ({args.split} split): {report.summary()}\n")
    print("| score | queries | best hit: same content | best hit: same content and style | top 5: same content |"
          " p50 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, fusion in (("fused with descriptions, what ships", True), ("late interaction alone", False)):
        r = evaluate(SimilarSearcher(index, bundle, fusion=fusion))
        print(f"| SimilarSearcher (same part, symmetric, int8 codes; {name}) | {r['queries']} | "
              f"{r['top1_content']:.3f} | {r['top1_content_style']:.3f} | {r['top5_content']:.3f} | "
              f"{r['p50_ms']:.1f} |", flush=True)
    for name, same_part, symmetric in (("any part, forward only (text MaxSim)", False, False),
                                       ("any part, symmetric", False, True), ("same part, symmetric", True, True)):
        r = brute_force(index, same_part, symmetric)
        print(f"| {name} (float, every pair) | {r['queries']} | {r['top1_content']:.3f} | "
              f"{r['top1_content_style']:.3f} | {r['top5_content']:.3f} | - |", flush=True)


def brute_force(index: LibraryIndex, same_part: bool, symmetric: bool, k: int = 5) -> dict:
    """The same figures for a scoring choice, computed directly on the decoded patches of every pair
    of clips (each clip's best window pair)."""
    patches, offsets = index.window_patches(np.arange(index.num_windows))
    wins = [patches[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    clip = index.windows[:, 0]
    labels = [content_style(index.clips[int(c)].label) for c in clip]
    same_content = same_both = 0
    top_content = []
    for i, q in enumerate(wins):
        scores = np.full(len(wins), -np.inf)
        for j, d in enumerate(wins):
            sims = q @ d.T
            if same_part:
                sims = np.where((np.arange(len(q)) % 14)[:, None] == (np.arange(len(d)) % 14)[None, :], sims, -1.0)
            forward = sims.max(1).mean()
            scores[j] = 0.5 * (forward + sims.max(0).mean()) if symmetric else forward
        scores[clip == clip[i]] = -np.inf
        best = {}
        for j in np.argsort(-scores):  # best window per clip
            best.setdefault(int(clip[j]), j)
            if len(best) == k:
                break
        got = [labels[j] for j in best.values()]
        same_content += got[0][0] == labels[i][0]
        same_both += got[0] == labels[i]
        top_content.append(np.mean([g[0] == labels[i][0] for g in got]))
    n = len(wins)
    return {"queries": n, "top1_content": same_content / n, "top1_content_style": same_both / n,
            f"top{k}_content": float(np.mean(top_content))}

if __name__ == "__main__":
    main()
