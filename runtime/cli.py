"""Command line: `python -m runtime COMMAND ...` (see `--help`)."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
from pathlib import Path

from .errors import MotionSearchError


def _motion_image_or_error(item: tuple[str, float | None]) -> tuple[str, int, str]:
    from .features import clip_angles, motion_windows
    from .motion import load_motion

    path, fps = item
    try:
        motion = load_motion(path, fps=fps)
        return path, len(motion_windows(clip_angles(motion.positions)).start), ""
    except MotionSearchError as e:
        return path, 0, str(e)


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the default library (Bandai-Namco + CMU from the shared data)."""
    from . import shared_data
    from .motion import load_motion
    from .plots import draw_motion
    from .progress import Progress

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    library = [(str(p), fps) for p, fps in shared_data.default_library()]
    print(f"default library: {len(library)} clips from {shared_data.data_dir()} (extracted to {shared_data.cache_dir()})")
    ok, windows, failed = 0, 0, []
    with Progress(len(library), "motion images") as bar, mp.get_context("fork").Pool(args.jobs) as pool:
        for path, n, error in pool.imap_unordered(_motion_image_or_error, library, chunksize=8):
            bar.update()
            if error:
                failed.append(error)
            else:
                ok, windows = ok + 1, windows + n
    print(f"{ok} clips -> {windows} motion-image windows; {len(failed)} skipped:")
    for e in failed:
        print(f"  skipped {e}")
    examples = [p for p, _ in library if any(k in p for k in (
        "dataset-2_wave-left-hand_normal_001.bvh", "dataset-2_raise-up-right-hand_active_001.bvh",
        "dataset-2_walk-turn-left_normal_001.bvh", "daz-przestr/13/13_11.bvh"))]
    fps_of = dict(library)
    for p in examples:
        png = out / (Path(p).stem + ".png")
        draw_motion(load_motion(p, fps=fps_of[p]), png)
        print(f"wrote {png}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime", description="Fine-grained text-to-motion search.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the pipeline on the default library (../shared/data)")
    demo.add_argument("--out", default="out/demo", help="folder for the pictures")
    demo.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    demo.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MotionSearchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
