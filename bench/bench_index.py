"""Indexing throughput (clips per second, files to a saved index) and index bytes per clip, per codec.

    ./dev py bench/bench_index.py                        # Bandai-Namco 2 sample + CMU, default bundle
    ./dev py bench/bench_index.py --clips 3076 --codecs int8

Each run builds a fresh index from real files (read, joint angles, motion encoder, codec, atomic
chunk writes) with the CLI's settings: file reading in 2 processes, encoding in batches. The
retrieval cost of each codec is measured against float32 patches on the Bandai-Namco test split:
the overlap of the top 10 clips and the text-to-motion R@1 / R@10 (All protocol).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.index import CODECS, LibraryIndex, decode, encode  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import maxsim_packed  # noqa: E402


def throughput(bundle: Bundle, files: list[Path], codec: str, workers: int) -> tuple[float, float, int]:
    """(clips/s, bytes per clip, clips indexed) for indexing `files` from scratch."""
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib"
        lib.mkdir()
        for f in files:
            os.symlink(f.resolve(), lib / f"{f.parent.name}_{f.name}")
        index = LibraryIndex.create(Path(tmp) / "index", bundle, codec)
        t = time.perf_counter()
        report = index.update([lib], bundle, fps_of=shared_data.cmu_fps, workers=workers)
        dt = time.perf_counter() - t
        n = report.added
        return n / dt, index.bytes_on_disk() / max(n, 1), n


def codec_cost(bundle: Bundle) -> dict[str, dict[str, float]]:
    """Retrieval with each codec's decoded patches against float32 patches (Bandai test split)."""
    import training  # noqa: F401  (split and captions only)
    from runtime.motion import load_motion
    from training.data import bandai_clips, eval_caption, split_clips
    from training.metrics import all_metrics, identical_caption_relevance

    clips = sorted([c for c in split_clips(bandai_clips(), "test")], key=lambda c: c.key)
    patches, owner = [], []
    for k, c in enumerate(clips):
        _, p = bundle.encode_motion(load_motion(c.path))
        patches += p
        owner += [k] * len(p)
    owner = np.array(owner)
    queries = [q.tokens for q in bundle.encode_queries([eval_caption(c) for c in clips])]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in patches])])
    flat = np.concatenate(patches)
    rel = identical_caption_relevance([eval_caption(c) for c in clips])

    def scores(decoded: np.ndarray) -> np.ndarray:
        win = np.stack([maxsim_packed(q, decoded, offsets) for q in queries])
        out = np.full((len(queries), len(clips)), -np.inf, np.float32)
        np.maximum.at(out.T, owner, win.T)
        return out

    ref = scores(flat)
    ref_top = np.argsort(-ref, axis=1)[:, :10]
    out = {"fp32": {"top10_overlap": 1.0, **{k: all_metrics(ref, rel)[k] for k in ("t2m_R@1", "t2m_R@10")}}}
    for name in CODECS:
        sim = scores(decode(encode(flat, name), name))
        top = np.argsort(-sim, axis=1)[:, :10]
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref_top, top)])
        m = all_metrics(sim, rel)
        out[name] = {"top10_overlap": overlap, "t2m_R@1": m["t2m_R@1"], "t2m_R@10": m["t2m_R@10"]}
    return out


OPEN_TWICE = """
import sys, time
from runtime.index import LibraryIndex
times = []
for _ in range(2):
    t = time.perf_counter()
    index = LibraryIndex.open(sys.argv[1])
    times.append((time.perf_counter() - t) * 1000)
print(times[0], times[1], len(index.clips), index.bytes_on_disk())
"""


def open_cost(path: Path) -> str:
    """Opening a real index in a fresh process: the first open checks every file's CRC-32, a second
    open in the same process finds them checked (runtime/index/chunks.py)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", OPEN_TWICE, str(path)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.split()
    first, again, clips, size = float(out[0]), float(out[1]), int(out[2]), int(out[3])
    return (f"opening {path} ({clips} clips, {size / 2**20:.0f} MB): {first:.0f} ms the first time in a process "
            f"(checksums of every file checked), {again:.0f} ms again (already checked)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--clips", type=int, default=1000, help="Bandai-Namco clips (evenly spaced sample)")
    parser.add_argument("--codecs", default="int8,int4,fp16")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--open-index", default=str(shared_data.cache_dir() / "index" / "demo"),
                        help="a real index to time opening (./dev demo builds this one); skipped if absent")
    parser.add_argument("--batched", action="store_true",
                        help="encode windows 32 per call, as before the encoders were made batch-invariant "
                             "(a window's patches then depend on its batch): for comparison only")
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle, device="cpu")
    if args.batched:
        bundle.motion_quantized = False  # runtime.model.Bundle then batches an int8 encoder too
    print(f"bundle {bundle.model_id} on {bundle.provider_note}; {os.cpu_count()} cores, {args.workers} reader processes\n")
    bandai = shared_data.bandai_files()
    sample = bandai[:: max(1, len(bandai) // args.clips)][: args.clips]
    cmu = [p for p in shared_data.cmu_files() if p.suffix == ".bvh"]
    print("| files | codec | clips indexed | clips/s | index KB per clip |")
    print("|---|---|---:|---:|---:|")
    for name, files in (("Bandai-Namco", sample), ("CMU BVH", cmu)):
        for codec in args.codecs.split(","):
            rate, size, n = throughput(bundle, files, codec, args.workers)
            print(f"| {name} | {codec} | {n} | {rate:.0f} | {size / 1024:.1f} |", flush=True)
    print("\nretrieval cost of each codec (Bandai-Namco test split, All protocol):\n")
    print("| patches | top-10 overlap with fp32 | t2m R@1 | t2m R@10 |")
    print("|---|---:|---:|---:|")
    for name, m in codec_cost(bundle).items():
        print(f"| {name} | {m['top10_overlap']:.3f} | {m['t2m_R@1']:.2f} | {m['t2m_R@10']:.2f} |")
    if Path(args.open_index, "metadata.json").exists():
        print("\n" + open_cost(Path(args.open_index)))


if __name__ == "__main__":
    main()
