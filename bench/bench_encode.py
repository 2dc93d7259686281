"""Encoder speed in onnxruntime: one query (tokenize + text encoder) and batches of motion windows.

    ./dev py bench/bench_encode.py                    # the default bundle, CPU
    ./dev py bench/bench_encode.py --device cuda      # where a GPU and onnxruntime-gpu are present

Burn-in runs first; then p50/p95 over repeated calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.motion import Windows, load_motion  # noqa: E402


def timed(fn, repeat: int, burn_in: int = 5) -> list[float]:
    for _ in range(burn_in):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle, device=args.device)
    print(f"bundle {bundle.model_id}: text {bundle.manifest['text_encoder']['variant']}, motion "
          f"{bundle.manifest['motion_encoder']['variant']}; {bundle.provider_note}; {os.cpu_count()} cores\n")
    print("| what | p50 ms | p95 ms | per item |")
    print("|---|---:|---:|---:|")
    for text in ("a person waves", "a character waves hello with the right hand while walking slowly forward"):
        t = timed(lambda: bundle.encode_query(text), 50)
        print(f"| query, {len(bundle.encode_query(text).tokens)} tokens | {statistics.median(t):.2f} | "
              f"{np.percentile(t, 95):.2f} | |")
    clips = shared_data.bandai_files(2)[::97][:32]
    wins = [bundle.windows(load_motion(p)) for p in clips]
    joined = Windows(np.concatenate([w.angles for w in wins]), np.concatenate([w.mask for w in wins]),
                     np.concatenate([w.start for w in wins]), np.concatenate([w.length for w in wins]))
    full = Windows(joined.angles, np.ones_like(joined.mask), joined.start, np.full_like(joined.length, bundle.window))
    for name, w in (("32 Bandai windows (real lengths)", joined), ("32 full 224-frame windows", full)):
        t = timed(lambda: bundle.encode_windows(w), 10, 2)
        print(f"| {name} | {statistics.median(t):.1f} | {np.percentile(t, 95):.1f} | "
              f"{statistics.median(t) / len(w.start):.2f} ms/window |")


if __name__ == "__main__":
    main()
