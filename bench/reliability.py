"""The reliability campaign behind docs/RELIABILITY.md: damaged files of every format beside good
ones, `index` killed at random moments, two updates at once. Counts what a user would suffer:
crashes (a traceback or a non-zero exit of `index`), hangs, files silently lost (neither indexed
nor named in the report), good files lost, clips lost to a kill, broken indexes.

    ./dev py bench/reliability.py                                  # BVH and ASF/AMC only
    ./dev py bench/reliability.py --blender .venvs/bpy-4.5/bin/python   # + FBX, GLB, glTF, .blend
    ./dev py bench/reliability.py --blender ... --json docs/reliability.json

Real files only: Bandai-Namco and CMU clips from ../shared/data, scene files written by Blender's
own exporters from them, each damaged in the ways of tests/reliability_cases.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime import shared_data  # noqa: E402
from runtime.index import LibraryIndex  # noqa: E402
from runtime.model import default_bundle_path  # noqa: E402
from tests.reliability_cases import KINDS, mutate_file  # noqa: E402

GOOD = ["dataset-2_walk_normal_001.bvh", "dataset-2_run_normal_001.bvh", "dataset-2_wave-left-hand_normal_001.bvh",
        "dataset-2_walk-turn-right_normal_001.bvh", "dataset-2_raise-up-both-hands_normal_001.bvh",
        "dataset-2_wave-both-hands_normal_001.bvh"]
EXPORT = r"""
import sys, bpy, addon_utils
for m in ("io_anim_bvh", "io_scene_fbx", "io_scene_gltf2"):
    addon_utils.enable(m, default_set=True)
out = sys.argv[-1]
for k, path in enumerate(sys.argv[1:-1]):
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.import_anim.bvh(filepath=path, update_scene_fps=True, update_scene_duration=True)
    bpy.ops.export_scene.fbx(filepath=f"{out}/s{k}.fbx", bake_anim=True, add_leaf_bones=False)
    bpy.ops.export_scene.gltf(filepath=f"{out}/s{k}.glb", export_format="GLB")
    bpy.ops.export_scene.gltf(filepath=f"{out}/t{k}.gltf", export_format="GLTF_SEPARATE")
    bpy.ops.wm.save_as_mainfile(filepath=f"{out}/s{k}.blend")
"""
DRIVER = """
import sys
from runtime.index import LibraryIndex
from runtime.model import Bundle
bundle = Bundle.load(sys.argv[1], device="cpu")
LibraryIndex.open_or_create(sys.argv[2], bundle).update([sys.argv[3]], bundle, chunk_clips=2,
                                                         wait_s=float(sys.argv[4]))
"""


def run_index(lib: Path, index: Path, blender: str | None, timeout: float) -> tuple[str, str]:
    """('ok' | 'crash' | 'hang', output) of `python -m runtime index`."""
    cmd = [sys.executable, "-m", "runtime", "index", str(lib), "--index", str(index), "--jobs", "2"]
    if blender:
        cmd += ["--blender", blender]
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return "hang", ""
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    return ("crash" if r.returncode != 0 or "Traceback" in out else "ok"), out


def damaged_files(blender: str | None, per_file: int, timeout: float) -> dict:
    bandai = shared_data.extracted("bandai-namco-2") / "data"
    amc_dir = shared_data.extracted("cmu-asfamc")
    amcs = sorted(amc_dir.rglob("*.amc"))[:3]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="ms_reliability_") as tmp:
        tmp = Path(tmp)
        lib, bad = tmp / "lib", tmp / "lib" / "damaged"
        bad.mkdir(parents=True)
        for name in GOOD:
            shutil.copy(bandai / name, lib / name)
        bases: dict[str, list[Path]] = {".bvh": [bandai / GOOD[0], bandai / GOOD[2],
                                                 next(shared_data.extracted("cmu-bvh").rglob("*.bvh"))],
                                        ".amc": amcs}
        if blender:
            scenes = tmp / "scenes"
            scenes.mkdir()
            subprocess.run([blender, "-c", EXPORT, str(bandai / GOOD[0]), str(bandai / GOOD[2]), str(scenes)],
                           check=True, capture_output=True, timeout=600)
            for suffix in (".fbx", ".glb", ".blend"):
                bases[suffix] = sorted(scenes.glob(f"s*{suffix}"))
            bases[".gltf"] = sorted(scenes.glob("t*.gltf"))
        tried = Counter()
        made: list[tuple[Path, str]] = []
        for suffix, files in bases.items():
            for k in range(per_file * len(files)):
                src = files[k % len(files)]
                out = bad / f"{suffix[1:]}_{k:03d}{suffix}"
                out.write_bytes(mutate_file(src.read_bytes(), suffix, rng, k // len(files)))
                if suffix == ".amc":
                    shutil.copy(next(src.parent.glob("*.asf")), out.with_suffix(".asf"))
                if suffix == ".gltf":  # its buffer beside it, damaged every other time
                    data = src.with_suffix(".bin").read_bytes()
                    out.with_suffix(".bin").write_bytes(mutate_file(data, ".bin", rng, k) if k % 2 else data)
                    text = out.read_bytes().replace(src.with_suffix(".bin").name.encode(),
                                                    out.with_suffix(".bin").name.encode())
                    out.write_bytes(text)
                made.append((out, suffix))
                tried[suffix] += 1
        index = tmp / "index"
        t0 = time.time()
        status, out = run_index(lib, index, blender, timeout)
        seconds = time.time() - t0
        report = json.loads((index / "report.json").read_text()) if (index / "report.json").exists() else {}
        named = {p for p, _ in report.get("failed", [])} | {p for p, _ in report.get("not_read", [])}
        idx = LibraryIndex.open(index) if (index / "metadata.json").exists() else None
        ids = {c.id for c in idx.clips} if idx else set()
        paths = {c.path for c in idx.clips} if idx else set()
        ok_paths = {c.path for c in idx.ok_clips} if idx else set()
        silently_lost = Counter(s for f, s in made if str(f) not in named and str(f) not in paths)
        indexed = Counter(s for f, s in made if str(f) in ok_paths)
        good_lost = sum(str(lib / n) not in ids for n in GOOD)
        return {"tried": dict(tried), "indexed_anyway": dict(indexed), "run": status, "seconds": round(seconds, 1),
                "silently_lost": dict(silently_lost), "good_files_lost": good_lost,
                "failed_named": len(report.get("failed", [])), "output_tail": out[-600:] if status != "ok" else ""}


def _start(index: Path, lib: Path, wait_s: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(default_bundle_path()), str(index), str(lib),
                             str(wait_s)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)


def _change(lib: Path, round_: int, extra: list[Path]) -> None:
    for k, f in enumerate(sorted(lib.glob("*.bvh"))):
        if k % 2 == round_ % 2:
            with open(f, "a") as fh:
                fh.write(" \n")
    gone = lib / extra[round_ % len(extra)].name
    gone.unlink(missing_ok=True)
    shutil.copy(extra[(round_ + 3) % len(extra)], lib / extra[(round_ + 3) % len(extra)].name)


def kills_and_races(kills: int, races: int) -> dict:
    bandai = shared_data.extracted("bandai-namco-2") / "data"
    extra = sorted(bandai.glob("dataset-2_*_active_00[1-3].bvh"))
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="ms_kills_") as tmp:
        tmp = Path(tmp)
        lib, index = tmp / "lib", tmp / "index"
        lib.mkdir()
        for name in GOOD:
            shutil.copy(bandai / name, lib / name)
        _start(index, lib).wait()
        t0 = time.time()
        _change(lib, 0, extra)
        _start(index, lib).wait()
        span = max(time.time() - t0, 2.0)
        lost = unreadable = twice = 0
        for round_ in range(1, kills + 1):
            before = {c.id for c in LibraryIndex.open(index).ok_clips}
            _change(lib, round_, extra)
            now = {str(f) for f in lib.glob("*.bvh")}
            p = _start(index, lib)
            time.sleep(float(rng.uniform(0.2, span)))
            p.send_signal(signal.SIGKILL)
            p.wait()
            try:
                ids = [c.id for c in LibraryIndex.open(index).clips]
            except Exception:  # noqa: BLE001 - counted, not raised
                unreadable += 1
                continue
            lost += len((before & now) - set(ids))
            twice += len(ids) - len(set(ids))
        broken = refused = 0
        for round_ in range(races):
            _change(lib, 100 + round_, extra)
            a, b = _start(index, lib), _start(index, lib)
            codes = sorted([a.wait(), b.wait()])
            refused += codes == [0, 1] and b"being updated by process" in (a.stderr.read() + b.stderr.read())
            try:
                LibraryIndex.open(index)
            except Exception:  # noqa: BLE001
                broken += 1
        final = _start(index, lib).wait()
        complete = final == 0 and {c.id for c in LibraryIndex.open(index).ok_clips} == {str(f) for f in
                                                                                         lib.glob("*.bvh")}
        return {"kills": kills, "clips_lost": lost, "unreadable_after_kill": unreadable, "clips_twice": twice,
                "races": races, "second_update_refused_with_holder": int(refused), "broken_after_race": broken,
                "final_update_complete": complete}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blender", default=None, help="a Blender, or a Python with bpy: adds FBX/GLB/glTF/.blend")
    parser.add_argument("--per-file", type=int, default=12, help="damaged copies of each base file")
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--races", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before `index` counts as hung")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)
    figures = {"damaged_files": damaged_files(args.blender, args.per_file, args.timeout),
               "kills_and_races": kills_and_races(args.kills, args.races),
               "machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    print(json.dumps(figures, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    d, k = figures["damaged_files"], figures["kills_and_races"]
    print("\n| format | damaged files tried | indexed anyway | silently lost |\n|---|---:|---:|---:|")
    for suffix, n in d["tried"].items():
        print(f"| {suffix} | {n} | {d['indexed_anyway'].get(suffix, 0)} | {d['silently_lost'].get(suffix, 0)} |")
    print(f"\nindex run: {d['run']} in {d['seconds']} s; good files lost: {d['good_files_lost']}; kinds: "
          f"{', '.join(KINDS)}")
    print(f"kills: {k['kills']}, clips lost {k['clips_lost']}, unreadable {k['unreadable_after_kill']}; "
          f"races: {k['races']}, broken {k['broken_after_race']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
