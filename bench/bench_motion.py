"""Clips per second from a motion file to its motion image (z-scored angle windows + mask).

    ./dev py bench/bench_motion.py                 # Bandai sample + every CMU file, 1 and 2 processes
    ./dev py bench/bench_motion.py --bandai 3076   # every Bandai clip

Each clip: read (BVH or ASF/AMC) -> map rig -> FK -> 20 fps canonical positions -> 29 joint
angles -> 224-frame windows (hop 112) -> z-score. A warm-up pass runs first (file cache, imports).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.motion import ChannelStats, clip_angles, load_motion, motion_windows  # noqa: E402

STATS = ChannelStats(np.zeros(29, np.float32), np.ones(29, np.float32))


def motion_image(item: tuple[str, float | None]) -> tuple[float, int]:
    """Seconds spent and windows made for one clip (0 windows if the file fails to load)."""
    path, fps = item
    t = time.perf_counter()
    try:
        w = motion_windows(clip_angles(load_motion(path, fps=fps).positions), 224, 112)
        STATS.normalize(w.angles, w.mask)
        n = len(w.start)
    except Exception:  # broken clips are part of a real library: they cost time too
        n = 0
    return time.perf_counter() - t, n


def measure(items: list[tuple[str, float | None]], processes: int) -> dict:
    for item in items[: min(len(items), 20)]:
        motion_image(item)  # warm-up: imports, page cache, rig-table cache
    t = time.perf_counter()
    if processes == 1:
        results = [motion_image(i) for i in items]
    else:
        with mp.get_context("fork").Pool(processes) as pool:
            results = pool.map(motion_image, items, chunksize=8)
    wall = time.perf_counter() - t
    per_clip = [r[0] for r in results]
    return {
        "clips": len(items), "processes": processes, "wall_s": wall, "clips_per_s": len(items) / wall,
        "p50_ms": 1000 * statistics.median(per_clip), "p95_ms": 1000 * float(np.percentile(per_clip, 95)),
        "windows": sum(r[1] for r in results), "failed": sum(r[1] == 0 for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bandai", type=int, default=1000, help="Bandai clips to use (evenly spaced sample)")
    args = parser.parse_args()
    bandai = shared_data.bandai_files()
    step = max(1, len(bandai) // args.bandai)
    sets = {
        "Bandai-Namco (BVH, 30 fps)": [(str(p), None) for p in bandai[::step][: args.bandai]],
        "CMU (BVH + AMC, 60-120 fps)": [(str(p), shared_data.cmu_fps(p)) for p in shared_data.cmu_files()],
    }
    print(f"machine: {os.cpu_count()} cores; numpy {np.__version__}\n")
    print("| clips | processes | clips/s | p50 ms/clip | p95 ms/clip | windows | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, items in sets.items():
        for processes in (1, 2):
            r = measure(items, processes)
            print(f"| {name}: {r['clips']} | {processes} | {r['clips_per_s']:.0f} | {r['p50_ms']:.1f} | "
                  f"{r['p95_ms']:.1f} | {r['windows']} | {r['failed']} |")


if __name__ == "__main__":
    main()
