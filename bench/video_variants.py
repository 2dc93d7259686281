"""Ways of ranking the library for a film's motion, compared on rendered films (choose on val).

    .venvs/video/bin/python bench/bench_video.py --split val --per-content 2 --views 0,45   # renders, landmarks
    .venvs/video/bin/python bench/video_variants.py collect --split val --per-content 2 --views 0,45
    .venvs/video/bin/python bench/video_variants.py report --split val

`collect` reads each rendered film of the split (bench/bench_video.py renders them and caches the
landmarks), turns it into query motions (the film as runtime.video reads it, and variants: more or
less smoothing, elbows or knees bent by a few degrees), and stores, for every query and every
clip of the split's library (.cache/video/similar-<split>), the per-body-part halves of the
similar-search score on the stored patches (forward: mean over the query's patches of one part of
their best cosine among the clip's patches of that part; backward: the reverse), the description
agreement (runtime.index.description_texts of the query, embedded, against the clip's stored
vector), and the same halves between library clips, in .cache/video/variants-<split>.npz.
`report` ranks the library (every clip scored; the film's source clip left out) under each
scoring and prints top-1 / top-5 same content per view, the true motion as the ceiling.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_video as bv  # noqa: E402
from runtime import shared_data  # noqa: E402
from runtime.motion import NUM_PARTS, motion_from_positions  # noqa: E402

CACHE = shared_data.cache_dir() / "video"


def clip_patches(index) -> list[list[np.ndarray]]:
    """Per clip of the index, its windows' float patches (time-major, 14 parts interleaved)."""
    out = []
    for e in index.clips:
        if e.status != "ok" or not e.window_count:
            out.append([])
            continue
        p, off = index.window_patches(np.arange(e.window_start, e.window_start + e.window_count))
        out.append([p[a:b] for a, b in zip(off[:-1], off[1:])])
    return out


def part_halves(query: list[np.ndarray], windows: list[np.ndarray]) -> np.ndarray:
    """(2, 14): per part, forward and backward means of the best (query window, clip window) pair
    under the uniform score."""
    best, best_score = None, -np.inf
    for q in query:
        for w in windows:
            fb = np.zeros((2, NUM_PARTS))
            for p in range(NUM_PARTS):
                s = w[p::NUM_PARTS] @ q[p::NUM_PARTS].T  # (clip patches, query patches)
                fb[0, p] = s.max(axis=0).mean()
                fb[1, p] = s.max(axis=1).mean()
            score = fb.mean()
            if score > best_score:
                best, best_score = fb, score
    return best if best is not None else np.full((2, NUM_PARTS), -1.0)


def rotate(v: np.ndarray, axis: np.ndarray, deg: float) -> np.ndarray:
    """Vectors (F, 3) turned by `deg` about unit axes (F, 3) (Rodrigues)."""
    t = np.radians(deg)
    return v * np.cos(t) + np.cross(axis, v) * np.sin(t) + axis * (axis * v).sum(-1, keepdims=True) * (1 - np.cos(t))


def bend(positions: np.ndarray, joint: str, deg: float) -> np.ndarray:
    """Canonical positions with a hinge (elbows or knees, both sides) flexed `deg` more; the joints
    below it turn with it. A straight limb bends about the body's left axis (knees backwards,
    elbows forwards)."""
    from runtime.motion import J

    out = positions.copy()
    left = positions[:, J["left_hip"]] - positions[:, J["right_hip"]]
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    for side in ("left", "right"):
        if joint == "knee":
            a, b, below = f"{side}_hip", f"{side}_knee", [f"{side}_ankle", f"{side}_foot"]
            fallback = left
        else:
            a, b, below = f"{side}_shoulder", f"{side}_elbow", [f"{side}_wrist"]
            fallback = -left
        u = positions[:, J[b]] - positions[:, J[a]]
        v = positions[:, J[below[0]]] - positions[:, J[b]]
        axis = np.cross(u, v)
        n = np.linalg.norm(axis, axis=-1, keepdims=True)
        small = n[:, 0] < np.sin(np.radians(5)) * np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
        axis = np.where(small[:, None], fallback, axis / np.maximum(n, 1e-9))
        for j in below:
            out[:, J[j]] = positions[:, J[b]] + rotate(positions[:, J[j]] - positions[:, J[b]], axis, deg)
    return out


def query_motions(lm) -> dict:
    """The query motions of one film: name -> Motion (the film as read, and variants)."""
    from dataclasses import replace

    from runtime.video import motion_from_landmarks

    film = motion_from_landmarks(lm).motion
    out = {"film": film, "smooth0.1": motion_from_landmarks(lm, smooth_s=0.1).motion,
           "smooth0": motion_from_landmarks(lm, smooth_s=0.0).motion}
    for joint, deg in (("elbow", 15), ("knee", 10), ("elbow", -10)):
        out[f"{joint}{deg:+d}"] = replace(film, positions=bend(film.positions, joint, deg).astype(film.positions.dtype))
    return out


def collect(args) -> None:
    from runtime.index import describer_vectors
    from runtime.search import query_description
    from runtime.model import Bundle
    from runtime.search import SimilarSearcher

    views = [float(v) for v in args.views.split(",")]
    clips = bv.split_clips(args.per_content, args.split)
    bundle = Bundle.load(None, device="cpu")
    index = bv.library(bundle, args.split)
    searcher = SimilarSearcher(index, bundle, fusion=False)
    lib = clip_patches(index)
    contents = [bv.content_of(e.label or e.path) for e in index.clips]
    sent = describer_vectors(index, bundle)  # as search compares a query motion with
    rows = []
    for clip in clips:
        prefix = bv.RENDERED / f"{clip.stem}_{args.seconds:g}s"
        if not all(Path(f"{prefix}_{v:g}.mp4").is_file() for v in views):
            print(f"  {clip.stem}: not rendered, left out", flush=True)
            continue
        truth = np.load(f"{prefix}.npy").astype(np.float64)
        own = searcher.clips_of_file(clip)
        for view in ["truth"] + views:
            try:
                motions = {"truth": motion_from_positions(truth, 20.0, str(clip), rig="bandai")} if view == "truth" \
                    else query_motions(bv.film_landmarks(f"{prefix}_{view:g}.mp4"))
            except Exception as e:  # noqa: BLE001
                print(f"  {clip.stem} {view}: {e}", flush=True)
                continue
            view = view if view == "truth" else f"{view:g}"
            for name, motion in motions.items():
                _, patches = bundle.encode_motion(motion)
                halves = np.stack([part_halves(patches, w) for w in lib])  # (clips, 2, 14)
                dvec = query_description(bundle, motion)  # as search makes a query motion's
                dvec = dvec if dvec is not None else np.zeros(bundle.sentence_dim, np.float32)
                desc = sent @ dvec if sent is not None else np.zeros(len(lib))
                rows.append({"clip": clip.stem, "view": view, "query": name, "halves": halves,
                             "desc": desc, "own": sorted(own)})
            print(f"  {clip.stem} {view}: {len(motions)} queries", flush=True)
    lib_halves = np.stack([np.stack([part_halves(q, w) for w in lib]) for q in lib])  # (clips, clips, 2, 14)
    out = CACHE / f"variants-{args.split}.npz"
    np.savez(out, lib_halves=lib_halves, clip=[r["clip"] for r in rows], view=[r["view"] for r in rows],
             query=[r["query"] for r in rows],
             halves=np.stack([r["halves"] for r in rows]), desc=np.stack([r["desc"] for r in rows]),
             own=np.array([r["own"][0] if r["own"] else -1 for r in rows]), contents=contents)
    print(f"wrote {out}")


def standardised(x: np.ndarray, own: int) -> np.ndarray:
    """(x - mean) / sd over the clips other than `own` (the clips a search scores)."""
    keep = np.arange(len(x)) != own
    return (x - x[keep].mean()) / max(float(x[keep].std()), 1e-12)


def ranks(scores: np.ndarray, own: int, k: int = 5) -> np.ndarray:
    s = scores.astype(np.float64).copy()
    if own >= 0:
        s[own] = -np.inf
    return np.argsort(-s, kind="stable")[:k]


class Results:
    """The collected arrays, and top-1 / top-5 same content of a scoring."""

    def __init__(self, path: Path):
        z = np.load(path)
        self.halves, self.desc, self.query, self.view = z["halves"], z["desc"], z["query"], z["view"]
        self.clip, self.own, self.contents, self.lib_halves = z["clip"], z["own"], z["contents"], z["lib_halves"]
        self.row = {(str(c), str(v), str(q)): i for i, (c, v, q) in enumerate(zip(self.clip, self.view, self.query))}
        self.views = sorted({str(v) for v in self.view} - {"truth"}) + ["truth"]

    def variant(self, i: int, name: str) -> int:
        """The row of the same film's query `name` (the truth is its own only variant)."""
        return i if self.view[i] == "truth" else self.row[(str(self.clip[i]), str(self.view[i]), name)]

    def evaluate(self, scorer) -> dict:
        """{view: (top-1 hits, top-5 hits, films)} ranking by `scorer(i) -> (clips,)`, i a film's row."""
        out: dict = {}
        for i in range(len(self.query)):
            if self.query[i] not in ("film", "truth"):
                continue
            want = bv.content_of(str(self.clip[i]))
            got = [self.contents[c] for c in ranks(scorer(i), int(self.own[i]))]
            t = out.setdefault(str(self.view[i]), [0, 0, 0])
            t[0] += got[0] == want
            t[1] += want in got
            t[2] += 1
        return out

    def line(self, name: str, scorer) -> str:
        res = self.evaluate(scorer)
        return f"| {name} | " + " | ".join(f"{res[v][0] / res[v][2]:.0%} / {res[v][1] / res[v][2]:.0%}"
                                            for v in self.views) + " |"


def report(args) -> None:
    from runtime.motion import PART_NAMES
    from runtime.search import FUSION_WEIGHT

    r = Results(CACHE / f"variants-{args.split}.npz")
    H, D = r.halves, r.desc
    n = {v: int(sum((r.view == v) & np.isin(r.query, ("film", "truth")))) for v in r.views}
    print(f"{args.split} split: films per view {n}; top-1 / top-5 same content, every clip scored\n")
    print("| ranking | " + " | ".join(f"{v} deg" if v != "truth" else "true motion" for v in r.views) + " |")
    print("|---|" + "---:|" * len(r.views))
    uniform = lambda i: H[i].mean((1, 2))  # noqa: E731
    print(r.line("patches, both directions (as shipped before)", uniform))
    print(r.line("patches, forward only", lambda i: H[i][:, 0].mean(1)))
    print(r.line("patches, backward only", lambda i: H[i][:, 1].mean(1)))

    names = sorted(set(r.query) - {"film", "truth"})
    for name in names:
        print(r.line(f"the film read as variant {name}", lambda i, name=name: uniform(r.variant(i, name))))
    for group in (["smooth0.1"], ["elbow+15"], ["elbow+15", "knee+10"], ["smooth0.1", "smooth0"], names):
        print(r.line("mean score of the film and " + ", ".join(group),
                     lambda i, g=group: np.mean([uniform(r.variant(i, v)) for v in ["film"] + g], 0)))

    # per-part weights from how faithfully films give each part: the film against its own source clip
    films = [i for i in range(len(r.query)) if r.query[i] == "film" and r.own[i] >= 0]
    truth_of = {str(r.clip[i]): i for i in range(len(r.query)) if r.query[i] == "truth"}
    own_sim = np.array([H[i][r.own[i]].mean(0) for i in films]).mean(0)
    noise = np.array([(H[i] - H[truth_of[str(r.clip[i])]]).mean(1).std(0) for i in films]).mean(0)
    for name, w in (("its own clip's similarity", own_sim), ("the same, to the 4th power", own_sim ** 4),
                    ("1 / sd of (film - truth) scores", 1 / noise), ("1 / variance of the same", 1 / noise ** 2)):
        w = w / w.sum()
        print(r.line(f"parts weighted by {name}", lambda i, w=w: (H[i].mean(1) * w).sum(1)))
    print(r.line("each part standardised over the clips, then averaged",
                 lambda i: np.mean([standardised(H[i].mean(1)[:, p], int(r.own[i])) for p in range(len(PART_NAMES))], 0)))

    library = r.lib_halves.mean((2, 3))
    np.fill_diagonal(library, np.nan)  # a clip's similarity to itself is left out of the expansion
    for k in (1, 3, 5, 10):
        def expanded(i, k=k):
            s = uniform(i)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                t = np.nanmean(library[ranks(s, int(r.own[i]), k)], 0)
            return s + np.where(np.isnan(t), np.nanmax(t), t)  # the single best hit: as alike as the best other
        print(r.line(f"query expansion: + mean similarity to the best {k}", expanded))

    print(r.line("descriptions alone", lambda i: D[i]))
    def fused(weight, score=uniform, variants=("film",)):
        def f(i):
            rows = [r.variant(i, v) for v in variants]
            own = int(r.own[i])
            return standardised(np.mean([score(j) for j in rows], 0), own) \
                + weight * standardised(np.mean([D[j] for j in rows], 0), own)
        return f
    for w in (0.1, 0.2, FUSION_WEIGHT, 0.5, 1.0):
        print(r.line(f"fused: z(patches) + {w:g} z(descriptions)" + (" (text search's weight)" if w == FUSION_WEIGHT
                                                                     else ""), fused(w)))
    print(r.line(f"fused {FUSION_WEIGHT:g}, patches forward only", fused(FUSION_WEIGHT, lambda i: H[i][:, 0].mean(1))))
    print(r.line(f"fused {FUSION_WEIGHT:g}, mean over all variants", fused(FUSION_WEIGHT, variants=["film"] + names)))
    print("\nper part: the film's similarity to its own clip, and the sd of (film - truth) scores over the clips")
    for p, name in enumerate(PART_NAMES):
        print(f"  {name:20s} {own_sim[p]:.3f}  {noise[p]:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=("collect", "report"))
    ap.add_argument("--split", choices=("val", "test"), default="val")
    ap.add_argument("--per-content", type=int, default=2)
    ap.add_argument("--views", default="0,45")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    collect(args) if args.what == "collect" else report(args)


if __name__ == "__main__":
    main()
