"""Clips per second of the motion describer (runtime/describe), on one core, describer only.

    ./dev py bench/bench_describe.py                # 500 Bandai clips (an even sample) + every CMU file
    ./dev py bench/bench_describe.py --bandai 3077  # every Bandai clip

Every clip is loaded first (read -> rig -> FK -> 20 fps canonical positions: `bench_motion.py`
measures that); then only `describe_positions` is timed, one clip after another in this one
process, with BLAS threads pinned to 1. A warm-up pass over the first clips runs first. Then
`--repeat` passes over all clips: "one pass" is clips over the wall time of the first pass;
"best of N" keeps each clip's fastest time (on a shared machine the fastest is the describer's
own cost, the rest is waiting for the core), and the ms columns are of those.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.describe import describe_positions  # noqa: E402
from runtime.motion import load_motion  # noqa: E402


def load(items: list[tuple[str, float | None]]) -> tuple[list[tuple[np.ndarray, float]], int]:
    """The clips' canonical positions (and fps); files that fail to load are counted, not kept."""
    out, failed = [], 0
    for path, fps in items:
        try:
            m = load_motion(path, fps=fps)
        except Exception:  # a real library has broken files; bench_motion.py reports them
            failed += 1
            continue
        out.append((np.ascontiguousarray(m.positions), m.fps))
    return out, failed


def measure(clips: list[tuple[np.ndarray, float]], repeat: int) -> dict:
    for pos, fps in clips[: min(len(clips), 20)]:
        describe_positions(pos, fps)  # warm-up: imports, caches
    best = [float("inf")] * len(clips)
    walls, events = [], 0
    for r in range(repeat):
        wall = time.perf_counter()
        for k, (pos, fps) in enumerate(clips):
            t = time.perf_counter()
            d = describe_positions(pos, fps)
            best[k] = min(best[k], time.perf_counter() - t)
            if r == 0:
                events += len(d.events)
        walls.append(time.perf_counter() - wall)
    seconds = [len(p) / fps for p, fps in clips]
    return {
        "clips": len(clips), "mean_s": float(np.mean(seconds)), "max_s": max(seconds),
        "one_pass": len(clips) / walls[0], "best": len(clips) / sum(best),
        "p50_ms": 1000 * statistics.median(best), "p95_ms": 1000 * float(np.percentile(best, 95)),
        "max_ms": 1000 * max(best), "ms_per_s": 1000 * sum(best) / sum(seconds), "events": events / len(clips),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bandai", type=int, default=500, help="Bandai clips to use (evenly spaced sample)")
    parser.add_argument("--repeat", type=int, default=3, help="times each clip is described (the fastest counts)")
    args = parser.parse_args()
    bandai = shared_data.bandai_files()
    step = max(1, len(bandai) // args.bandai)
    sets = {
        "Bandai-Namco": [(str(p), None) for p in bandai[::step][: args.bandai]],
        "CMU (BVH + AMC)": [(str(p), shared_data.cmu_fps(p)) for p in shared_data.cmu_files()],
    }
    print(f"machine: {os.cpu_count()} cores; numpy {np.__version__}; one process")
    print(f"command: ./dev py bench/bench_describe.py --bandai {args.bandai} --repeat {args.repeat}\n")
    print(f"| clips | mean / max s | clips/s, one pass | clips/s, best of {args.repeat} | p50 ms/clip | p95 ms/clip "
          "| max ms | ms per clip second | events per clip | not loaded |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, items in sets.items():
        clips, failed = load(items)
        r = measure(clips, args.repeat)
        print(f"| {name}: {r['clips']} | {r['mean_s']:.1f} / {r['max_s']:.0f} | {r['one_pass']:.0f} | "
              f"{r['best']:.0f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['max_ms']:.1f} | {r['ms_per_s']:.2f} | "
              f"{r['events']:.1f} | {failed} |", flush=True)


if __name__ == "__main__":
    main()
