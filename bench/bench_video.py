"""Video -> motion on rendered held-out clips with exact truth: 3D error, left/right, retrieval, speed.

    ./dev setup-video && ./dev setup          # .venvs/video and .venvs/bpy-4.5
    .venvs/video/bin/python bench/bench_video.py [--per-content 2] [--seconds 5] [--views 0,45,90] [--split test]

Clips: Bandai-Namco dataset 2, test split of training/splits.json (never trained on; `--split val`:
its validation split, the same contents, to choose among ways of ranking before the test): the first
take of `--per-content` styles (taken in turn) of each of its 10 contents (walk, walk-turn-left/right, run,
raise-up-left/right/both-hands, wave-left/right/both-hands). Each is rendered by
bench/render_clip.py under headless Blender (.venvs/bpy-4.5; Workbench, 640x480, 20 fps, its
first `--seconds`) from the front, at 45 degrees and from the side, then read back by
runtime.video. Videos and truths are cached in .cache/video/rendered (delete to render again), the
pose model's landmarks of each film in .cache/video/landmarks (the speed figures are then those of
the run that detected them).

Reported per view:
- MPJPE (mm): the 22 joints, each frame's pelvis on the truth's, after the one turn about the
  vertical that best aligns the clip (the heading of a canonical clip is its own frame 0's guess);
  PA-MPJPE (mm): per frame after the best rotation, translation and scale (Procrustes);
- left/right: PA-MPJPE of the left and of the right limbs, and the share of frames closer to
  the mirror image of the truth than to the truth (a left/right swap that was not mended), among
  the frames whose true pose differs from its mirror image by 4 cm or more on average (a
  symmetric pose, such as both arms raised, has no left and right to get wrong);
- retrieval: the split's dataset 2 clips indexed with the shipped model (.cache/video/similar-test,
  similar-val), the extracted motion as a `search --like-video` query (its 10 best hits, as the
  command asks by default) with its own clip left out: is the best hit of the same content (top 1),
  is one of the best 5 (top 5), ranked as it ships (fused with descriptions) and by the patches
  alone (`--no-fusion`); and the same for the true motion of the
  same seconds (what a perfect extraction would get); for the arm moves (raise and wave, left,
  right or both), whether the best hit moves the same arm(s) (left and right told apart);
- speed: frames/s of the pose model and of the whole extraction.
Writes docs/video.json (test) or docs/video_val.json (val).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

from runtime import shared_data  # noqa: E402
from runtime.motion import JOINTS, J, mirror_positions, motion_from_positions  # noqa: E402

RENDERED = shared_data.cache_dir() / "video" / "rendered"
LANDMARKS = shared_data.cache_dir() / "video" / "landmarks"  # the pose model's output per rendered film
BPY = ROOT / ".venvs" / "bpy-4.5" / "bin" / "python"
SPLITS = ROOT / "training" / "splits.json"


def split_stems(split: str) -> set[str]:
    """The Bandai-Namco dataset 2 clips (file stems) of a split of training/splits.json."""
    return {k.split("/", 1)[1] for k in json.loads(SPLITS.read_text())["bandai"][split] if k.startswith("bandai-2/")}


def split_clips(per_content: int, split: str = "test") -> list[Path]:
    keep = sorted(split_stems(split))
    files = {f.stem: f for f in shared_data.bandai_files(2)}
    by_content: dict[str, dict[str, str]] = {}
    for stem in keep:  # the first take of each content and style
        if stem in files:
            by_content.setdefault(stem.split("_")[1], {}).setdefault(stem.split("_")[2], stem)
    chosen = []
    for ci, content in enumerate(sorted(by_content)):  # styles taken in turn, so that they vary
        styles = sorted(by_content[content])
        for j in range(min(per_content, len(styles))):
            chosen.append(files[by_content[content][styles[(ci + 3 * j) % len(styles)]]])
    return chosen


def content_of(label: str) -> str:
    return Path(label).stem.split("_")[1]


def arms_of(content: str) -> str:
    """Which arm(s) an arm content moves ("left", "right", "both"), "" for the others."""
    return next((side for side in ("left", "right", "both") if content.endswith(f"{side}-hand" if side != "both"
                                                                                   else "both-hands")), "")


def render(clip: Path, views: list[float], seconds: float) -> Path:
    """Videos of `clip` from each view (cached), and its truth; returns the common prefix."""
    RENDERED.mkdir(parents=True, exist_ok=True)
    out = RENDERED / f"{clip.stem}_{seconds:g}s"
    missing = [v for v in views if not Path(f"{out}_{v:g}.mp4").is_file()]
    if missing or not Path(f"{out}.npy").is_file():
        part = out.with_name(out.name + ".part")  # renamed once complete: a stopped run leaves no half video
        cmd = ["nice", "-n", "10", str(BPY), str(ROOT / "bench" / "render_clip.py"), str(clip), str(part),
               "--views", ",".join(f"{v:g}" for v in (missing or views)), "--seconds", str(seconds),
               "--truth", f"{part}.npy"]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        for v in missing or views:
            os.replace(f"{part}_{v:g}.mp4", f"{out}_{v:g}.mp4")
        os.replace(f"{part}.npy", f"{out}.npy")
    return out


def film_landmarks(film: str):
    """BlazePose's landmarks of a rendered film, cached in LANDMARKS (the pose model is most of the
    time; everything after it is recomputed on every run). Their `seconds` are the detecting run's."""
    from runtime.video import Landmarks, detect_landmarks, read_frames

    cached = LANDMARKS / (Path(film).stem + ".npz")
    if cached.is_file() and cached.stat().st_mtime >= Path(film).stat().st_mtime:
        z = np.load(cached)
        return Landmarks(film, z["frames"], z["times"], z["world"], z["image"], z["visibility"],
                         int(z["width"]), int(z["height"]), float(z["seconds"]))
    lm = detect_landmarks(read_frames(film), film)
    LANDMARKS.mkdir(parents=True, exist_ok=True)
    part = cached.with_suffix(".part.npz")
    np.savez(part, frames=lm.frames, times=lm.times, world=lm.world, image=lm.image, visibility=lm.visibility,
             width=lm.width, height=lm.height, seconds=lm.seconds)
    os.replace(part, cached)
    return lm


def yaw_align(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """`pred` turned about +Y (one angle for the clip) to best match `truth`; both pelvis-centred."""
    a, b = pred[..., [0, 2]].reshape(-1, 2), truth[..., [0, 2]].reshape(-1, 2)
    angle = np.arctan2(np.sum(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]), np.sum(a * b))
    c, s = np.cos(angle), np.sin(angle)
    out = pred.copy()
    out[..., 0], out[..., 2] = c * pred[..., 0] - s * pred[..., 2], s * pred[..., 0] + c * pred[..., 2]
    return out


def procrustes(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per frame: `pred` after the rotation, translation and scale that best match `truth` (J, 3)."""
    out = np.empty_like(pred)
    for f in range(len(pred)):
        p, t = pred[f] - pred[f].mean(0), truth[f] - truth[f].mean(0)
        u, s, vt = np.linalg.svd(p.T @ t)
        d = np.sign(np.linalg.det(u @ vt))
        rot = u @ np.diag([1, 1, d]) @ vt
        scale = (s * [1, 1, d]).sum() / (p ** 2).sum()
        out[f] = scale * p @ rot + truth[f].mean(0)
    return out


MIRROR_MIN_M = 0.04  # mean joint distance between a pose and its mirror image for left and right to be told

SIDE = {s: [J[n] for n in JOINTS if n.startswith(s + "_") and "collar" not in n and "hip" not in n]
        for s in ("left", "right")}


def errors(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Error figures (mm) of canonical `pred` against `truth` (same frames, both (F, 22, 3))."""
    p = pred - pred[:, :1]
    t = truth - truth[:, :1]
    p = yaw_align(p, t)
    pa = procrustes(pred, truth)
    pa_mirror = procrustes(pred, mirror_positions(truth))
    err = np.linalg.norm(pa - truth, axis=-1)
    mirrored = np.linalg.norm(pa_mirror - mirror_positions(truth), axis=-1).mean(1) < err.mean(1)
    # only frames where the mirror image differs from the pose (a symmetric pose has no left and right)
    asymmetric = np.linalg.norm(procrustes(mirror_positions(truth), truth) - truth, axis=-1).mean(1) > MIRROR_MIN_M
    return {"mpjpe": 1000 * float(np.linalg.norm(p - t, axis=-1).mean()), "pa_mpjpe": 1000 * float(err.mean()),
            "pa_left": 1000 * float(err[:, SIDE["left"]].mean()),
            "pa_right": 1000 * float(err[:, SIDE["right"]].mean()),
            "mirrored_share": float(mirrored[asymmetric].mean()) if asymmetric.any() else 0.0,
            "asymmetric_frames": int(asymmetric.sum()), "mirrored_frames": int(mirrored[asymmetric].sum())}


def library(bundle, split: str = "test"):
    """The split's dataset 2 clips indexed with the shipped model (.cache/video/similar-<split>)."""
    from runtime.index import LibraryIndex

    stems = split_stems(split)
    files = [f for f in shared_data.bandai_files(2) if f.stem in stems]
    index = LibraryIndex.open_or_create(shared_data.cache_dir() / "video" / f"similar-{split}", bundle, replace_stale=True)
    index.update(files, bundle, workers=1)
    return index


TOP = 10  # hits asked for, as `search --like-video` asks by default (it decides whether the library is scored
# exactly or in two stages, and so which clips the fused score is standardised over)


def retrieval(searcher, motion, clip: Path) -> tuple[bool, bool, list[str]]:
    """(best hit of the same content, one of the best 5 is, the best 5's contents)."""
    own = searcher.clips_of_file(clip)
    hits = searcher.search_like(searcher.encode(motion, str(clip)), TOP, exclude=own)[:5]
    got = [content_of(h.label) for h in hits]
    want = content_of(clip.name)
    return bool(got and got[0] == want), want in got, got


def retrievals(searchers: dict, motion, clip: Path) -> dict:
    """The retrieval figures of a query motion under each searcher: {"top1", "top5", "hits",
    "top1_same_arms"} of the first (what ships), "<name>_top1" and "<name>_top5" of the others."""
    out = {}
    want = arms_of(content_of(clip.name))
    for k, (name, searcher) in enumerate(searchers.items()):
        t1, t5, got = retrieval(searcher, motion, clip)
        if k == 0:
            out.update(top1=t1, top5=t5, hits=got, top1_same_arms=(arms_of(got[0]) == want) if want and got else None)
        else:
            out.update({f"{name}_top1": t1, f"{name}_top5": t5})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-content", type=int, default=2)
    ap.add_argument("--split", choices=("test", "val"), default="test",
                    help="whose clips are filmed and searched for (val: to choose among variants; test: to report)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--views", default="0,45,90")
    ap.add_argument("--render-only", action="store_true", help="only render the videos (no video env needed)")
    ap.add_argument("--rendered-only", action="store_true", help="measure only the clips already rendered")
    ap.add_argument("--out", default=None, help="default docs/video.json (test), docs/video_val.json (val)")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "docs" / ("video.json" if args.split == "test" else "video_val.json"))
    views = [float(v) for v in args.views.split(",")]
    clips = split_clips(args.per_content, args.split)
    if args.rendered_only:
        clips = [c for c in clips if all(Path(f"{RENDERED / f'{c.stem}_{args.seconds:g}s'}_{v:g}.mp4").is_file()
                                         for v in views) and (RENDERED / f"{c.stem}_{args.seconds:g}s.npy").is_file()]
    print(f"{len(clips)} clips x {len(views)} views", flush=True)
    prefixes = []
    for k, clip in enumerate(clips):
        t = time.perf_counter()
        prefixes.append(render(clip, views, args.seconds))
        print(f"  [{k + 1}/{len(clips)}] {clip.stem}: rendered in {time.perf_counter() - t:.0f} s", flush=True)
    if args.render_only:
        return

    from runtime.model import Bundle
    from runtime.search import SimilarSearcher
    from runtime.video import VideoError, motion_from_landmarks

    bundle = Bundle.load(None, device="cpu")
    index = library(bundle, args.split)
    # what ships (fused with the descriptions), and the late interaction alone for comparison
    searchers = {"fused": SimilarSearcher(index, bundle), "unfused": SimilarSearcher(index, bundle, fusion=False)}
    rows = []
    for clip, prefix in zip(clips, prefixes):
        truth = np.load(f"{prefix}.npy").astype(np.float64)
        truth_motion = motion_from_positions(truth, 20.0, str(clip), rig="bandai")
        rows.append({"clip": clip.stem, "view": "truth", **retrievals(searchers, truth_motion, clip)})
        for view in views:
            try:
                v = motion_from_landmarks(film_landmarks(f"{prefix}_{view:g}.mp4"))
            except VideoError as e:  # counted as a miss for retrieval, left out of the error figures
                rows.append({"clip": clip.stem, "view": f"{view:g}", "failed": str(e), "top1": False, "top5": False,
                             "unfused_top1": False, "unfused_top5": False})
                print(f"  {clip.stem} view {view:g}: {e}", flush=True)
                continue
            m = v.motion
            a = m.first_source_frame
            n = min(m.num_frames, len(truth) - a)
            e = errors(m.positions[:n].astype(np.float64), truth[a:a + n])
            raw = motion_from_landmarks(v.landmarks, mend=False).motion  # the same film, mirrored frames kept
            before = errors(raw.positions[:n].astype(np.float64), truth[a:a + n])
            e["mirrored_frames_before"] = before["mirrored_frames"]
            r = retrievals(searchers, m, clip)
            rows.append({"clip": clip.stem, "view": f"{view:g}", **e, **r,
                         "frames": len(v.landmarks), "with_person": int(v.landmarks.found.sum()),
                         "mended": v.mirrored.count, "pose_fps": len(v.landmarks) / v.landmarks.seconds,
                         "extract_fps": len(v.landmarks) / v.seconds})
            print(f"  {clip.stem} view {view:g}: MPJPE {e['mpjpe']:.0f} PA {e['pa_mpjpe']:.0f} mm, "
                  f"mirrored {e['mirrored_share']:.0%}, mended {v.mirrored.count}, top1 {r['top1']} top5 {r['top5']} "
                  f"{r['hits'][:3]} (unfused: top1 {r['unfused_top1']})",
                  flush=True)
    summary = summarise(rows, ["truth"] + [f"{v:g}" for v in views])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"split": args.split, "clips": [c.stem for c in clips], "seconds": args.seconds,
                                          "summary": summary, "rows": rows}, indent=1))
    print_table(summary)


def summarise(rows: list[dict], views: list[str]) -> dict:
    out = {}
    for view in views:
        everything = [x for x in rows if x["view"] == view]
        r = [x for x in everything if "failed" not in x]  # films where a person was found
        out[view] = {k: float(np.mean([x[k] for x in everything]))
                     for k in ("top1", "top5", "unfused_top1", "unfused_top5")}
        out[view]["queries"] = len(everything)
        arms = [x["top1_same_arms"] for x in everything if x.get("top1_same_arms") is not None]
        out[view]["top1_same_arms"] = float(np.mean(arms)) if arms else float("nan")
        out[view]["arm_queries"] = len(arms)
        if view != "truth":
            out[view]["no_person"] = len(everything) - len(r)
            for k in ("mpjpe", "pa_mpjpe", "pa_left", "pa_right", "pose_fps", "extract_fps"):
                out[view][k] = float(np.mean([x[k] for x in r])) if r else float("nan")
            out[view]["mended_frames"] = int(sum(x["mended"] for x in r))
            asym = sum(x["asymmetric_frames"] for x in r)
            out[view]["mirrored_share"] = sum(x["mirrored_frames"] for x in r) / asym if asym else 0.0
            out[view]["mirrored_share_before"] = sum(x["mirrored_frames_before"] for x in r) / asym if asym else 0.0
    return out


def print_table(summary: dict) -> None:
    print("\n| view | queries | MPJPE mm | PA-MPJPE mm | PA left / right mm | frames mirrored before -> after "
          "mending | top-1 same content (patches alone -> fused) | top-5 same content (-> fused) | arm moves: top-1 same arm(s) | frames mended "
          "| pose model fps | extraction fps |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for view, s in summary.items():
        if view == "truth":
            print(f"| true motion (ceiling) | {s['queries']} | - | - | - | - | {s['unfused_top1']:.0%} -> {s['top1']:.0%} "
                  f"| {s['unfused_top5']:.0%} -> {s['top5']:.0%} "
                  f"| {s['top1_same_arms']:.0%} of {s['arm_queries']} | - | - | - |")
        else:
            print(f"| {view} deg | {s['queries']} ({s['no_person']} without a person found) | {s['mpjpe']:.0f} "
                  f"| {s['pa_mpjpe']:.0f} | {s['pa_left']:.0f} / {s['pa_right']:.0f} "
                  f"| {s['mirrored_share_before']:.1%} -> {s['mirrored_share']:.1%} "
                  f"| {s['unfused_top1']:.0%} -> {s['top1']:.0%} | {s['unfused_top5']:.0%} -> {s['top5']:.0%} "
                  f"| {s['top1_same_arms']:.0%} of {s['arm_queries']} | {s['mended_frames']} | {s['pose_fps']:.0f} "
                  f"| {s['extract_fps']:.0f} |")


if __name__ == "__main__":
    main()
