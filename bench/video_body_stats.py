"""Where this project's rigs put the joints BlazePose has no landmark for (runtime/video/body.py's constants).

    ./dev py bench/video_body_stats.py [--every 60]

Over every `--every`-th Bandai-Namco dataset-2 clip (canonical joints, runtime.motion), each frame's
trunk frame: origin between the hips, up to between the shoulders, left across hips and shoulders,
forward = left x up, unit = the hip-to-shoulder length. Prints the median (left, up, forward) of the
pelvis, spine1-3, neck, head and left collar in it, the head's distance from the neck, and how far
each collar is from the neck towards its shoulder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.motion import J, load_motion  # noqa: E402


def trunk_stats(p: np.ndarray) -> dict:
    hips = (p[:, J["left_hip"]] + p[:, J["right_hip"]]) / 2
    shoulders = (p[:, J["left_shoulder"]] + p[:, J["right_shoulder"]]) / 2
    length = np.linalg.norm(shoulders - hips, axis=-1, keepdims=True)
    up = (shoulders - hips) / length
    left = p[:, J["left_hip"]] - p[:, J["right_hip"]] + p[:, J["left_shoulder"]] - p[:, J["right_shoulder"]]
    left = left - up * (left * up).sum(-1, keepdims=True)
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    forward = np.cross(left, up)
    out = {}
    for name in ("pelvis", "spine1", "spine2", "spine3", "neck", "head", "left_collar"):
        d = (p[:, J[name]] - hips) / length
        out[name] = np.median(np.stack([(d * left).sum(-1), (d * up).sum(-1), (d * forward).sum(-1)], -1), 0)
    neck = p[:, J["neck"]]
    out["head_from_neck"] = np.median(np.linalg.norm(p[:, J["head"]] - neck, axis=-1) / length[:, 0])
    out["collar_t"] = np.median(np.linalg.norm(p[:, J["left_collar"]] - neck, axis=-1)
                                / np.linalg.norm(p[:, J["left_shoulder"]] - neck, axis=-1))
    out["trunk_m"] = np.median(length)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--every", type=int, default=60)
    args = ap.parse_args()
    files = shared_data.bandai_files(2)[:: args.every]
    rows = [trunk_stats(load_motion(f).positions.astype(np.float64)) for f in files]
    print(f"{len(files)} clips (left, up, forward in trunk lengths):")
    for key in rows[0]:
        print(f"  {key:<15s} {np.round(np.median([r[key] for r in rows], 0), 3)}")


if __name__ == "__main__":
    main()
