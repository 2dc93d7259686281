"""FBX files per second through one background Blender (runtime.io.convert_files).

    ./dev py bench/bench_convert.py --blender .venvs/bpy-4.5/bin/python        # 20 Bandai clips as FBX
    ./dev py bench/bench_convert.py --blender /path/to/blender --files 100

Makes the FBX files first (not timed): each Bandai-Namco BVH (an even sample) imported with Blender's
BVH importer and exported with its FBX exporter (baked, one take), in one Blender run. Then times
`convert_files` on all of them into an empty cache: one Blender start, then per file a fresh scene,
the FBX import, and frame-by-frame sampling of the take. Reported: total seconds, files/s and
frames/s, and the start-up cost alone (a batch of one small file). The mapping to canonical joints
is timed apart (`clip_motion`, numpy only, in this process).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime import shared_data  # noqa: E402
from runtime.hashing import content_hash  # noqa: E402
from runtime.io import Converter, convert_files, find_converter  # noqa: E402
from runtime.motion import clip_motion  # noqa: E402

MAKE_FBX = """
import bpy, json, sys, addon_utils
jobs = json.load(open(sys.argv[-1]))
for src, dst in jobs:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for m in ("io_anim_bvh", "io_scene_fbx"):
        addon_utils.enable(m, default_set=False)
    bpy.ops.import_anim.bvh(filepath=src, update_scene_fps=True, update_scene_duration=True)
    bpy.ops.export_scene.fbx(filepath=dst, use_selection=True, bake_anim=True, add_leaf_bones=False,
                             bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False)
import os; os._exit(0)
"""


def make_fbx(converter: Converter, sources: list[Path], folder: Path) -> list[Path]:
    jobs = [(str(s), str(folder / (s.stem + ".fbx"))) for s in sources]
    spec, script = folder / "jobs.json", folder / "make_fbx.py"
    spec.write_text(json.dumps(jobs))
    script.write_text(MAKE_FBX)
    cmd = [converter.executable, str(script), str(spec)] if converter.is_python else \
        [converter.executable, "-b", "--factory-startup", "--python", str(script), "--", str(spec)]
    subprocess.run(cmd, check=True, capture_output=True)
    return [Path(d) for _, d in jobs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blender", default=None, help="Blender executable or a Python with bpy")
    parser.add_argument("--files", type=int, default=20, help="how many FBX files")
    args = parser.parse_args()
    converter = find_converter(args.blender)
    if converter is None:
        print("no Blender found: give --blender", file=sys.stderr)
        return 1
    bvhs = sorted((shared_data.extracted("bandai-namco-2") / "data").glob("*.bvh"))
    step = max(1, len(bvhs) // args.files)
    sources = bvhs[::step][: args.files]
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        tmp = Path(tmp)
        files = make_fbx(converter, sources, tmp)
        items = [(str(f), content_hash(f)) for f in files]
        t0 = time.perf_counter()
        convert_files(items[:1], converter, tmp / "warm")
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = convert_files(items, converter, tmp / "cache")
        seconds = time.perf_counter() - t0
        clips = [c for r in out.values() for c in (r.clips or [])]
        failed = [r for r in out.values() if r.clips is None]
        frames = sum(len(c.positions) for c in clips)
        t0 = time.perf_counter()
        for c in clips:
            clip_motion(c, "bench")
        mapping = time.perf_counter() - t0
    print(f"converter: {converter}")
    print(f"{len(files)} FBX files ({frames} frames at 30 fps, {len(failed)} failed) in {seconds:.2f} s: "
          f"{len(files) / seconds:.2f} files/s, {frames / seconds:.0f} frames/s")
    print(f"a batch of one file: {one:.2f} s (Blender start-up included)")
    print(f"mapping to canonical joints: {1000 * mapping / max(len(clips), 1):.1f} ms per clip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
