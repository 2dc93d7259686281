"""Apply on a generated Rigify rig: seconds for a 10 s walk, and reading the applied action back.

    .venvs/bpy-4.5/bin/python bench/bench_rigify.py            # Blender 4.5 LTS as the bpy module
    .venvs/bpy-5.0/bin/python bench/bench_rigify.py --profile  # and where the time goes (cProfile)

A rig generated from Rigify's human metarig (Rigify enabled headless, as the add-on tests do) takes
a real Bandai-Namco walk (`dataset-1_walk_proud_001.bvh`, its first 10 s) at a 30 fps scene through
`apply.apply_clip` (what the Apply button runs); then `blend_clips.action_motion` reads the applied
action back (what Describe Action and Find Similar run) and the describer says what it sees. Each
is timed `--repeat` times after one burn-in run; the median is printed.

Measured on the development machine (2 shared cores), median of 5:

| | Apply, 10 s walk (300 frames) | read back | read back described as |
|---|---:|---:|---|
| before (one rig evaluation per frame and body level: 1,800), Blender 4.5.15 | 12.8 s | 0.07 s | "jumps up while raising both arms ... bends forward" |
| before, Blender 5.0.1 | 11.5 s | 0.07 s | the same |
| after (128 rig evaluations, numpy between), Blender 4.5.15 | 1.2 s | 1.2 s | "A person walks forward." |
| after, Blender 5.0.1 | 1.2 s | 1.4 s | "A person walks forward." |

The read back was fast and wrong before (the F-curves of the controls, the constraints ignored);
it now evaluates the rig frame by frame (about 4 ms a frame).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="ms_bench_user_"))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402  (the bpy venvs only)

WALK = "dataset-1_walk_proud_001.bvh"  # Bandai-Namco 1, 331 frames at 30 fps
SECONDS = 10.0
REPO, PACKAGE = "ms_bench", "motion_search"


def enable_addon():
    """The add-on as an installed extension (a throw-away repository linking to blender_addon/)."""
    import importlib

    import addon_utils  # (needs bpy first)

    repo_dir = tempfile.mkdtemp(prefix="ms_bench_repo_")
    os.symlink(ROOT / "blender_addon", os.path.join(repo_dir, PACKAGE))
    bpy.context.preferences.extensions.repos.new(name=REPO, module=REPO, custom_directory=repo_dir, source='USER')
    assert addon_utils.enable(f"bl_ext.{REPO}.{PACKAGE}", default_set=True) is not None
    addon_utils.enable("rigify", default_set=True)
    return lambda name: importlib.import_module(f"bl_ext.{REPO}.{PACKAGE}.{name}")


def generated_rig():
    """A fresh file with a rig generated from Rigify's human metarig (the rig active)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    rig = bpy.context.active_object
    assert "DEF-spine" in rig.data.bones
    return rig


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # burn-in
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT / ".cache/data/bandai-namco-1/data"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions for one Apply")
    args = parser.parse_args()
    mod = enable_addon()
    apply, blend_clips = mod("apply"), mod("blend_clips")
    from runtime import retarget
    from runtime.describe import describe

    path = str(Path(args.data) / WALK)
    rig = generated_rig()
    scene = bpy.context.scene
    end = round(SECONDS * 30) - 1

    def run_apply():
        return apply.apply_clip(rig, scene, path, start_frame=0, end_frame=end)

    def read_back():
        action = rig.animation_data.action
        return blend_clips.action_motion(action, rig, retarget.scene_fps(scene.render.fps, scene.render.fps_base))

    if args.profile:
        import cProfile
        import pstats

        run_apply()
        prof = cProfile.Profile()
        prof.runcall(run_apply)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        prof = cProfile.Profile()
        prof.runcall(read_back)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(15)
    t_apply, done = timed(run_apply, args.repeat)
    frames = done.frame_end - done.frame_start + 1
    t_read, motion = timed(read_back, args.repeat)
    print(f"Blender {bpy.app.version_string}: Apply of {SECONDS:g} s of {WALK} ({frames} frames at 30 fps) on a "
          f"generated Rigify rig ({len(rig.pose.bones)} bones): {t_apply:.2f} s (median of {args.repeat})")
    if isinstance(motion, str):
        print(f"read back: {motion}")
    else:
        print(f"read back (Describe Action / Find Similar sampling): {t_read:.2f} s; "
              f"described as: {describe(motion).summary}")
    sys.stdout.flush()
    os._exit(0)  # bpy 4.x can hang at interpreter exit with add-ons registered


if __name__ == "__main__":
    main()
