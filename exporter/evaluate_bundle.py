"""Evaluate a model bundle with onnxruntime (the runtime's own encoders and MaxSim) on the test sets,
and check it against the figures its manifest records.

    ./dev py exporter/evaluate_bundle.py models/default            # print the figures
    ./dev py exporter/evaluate_bundle.py models/default --check    # compare with manifest.json (exit 1 if off)
    ./dev py exporter/evaluate_bundle.py models/default --check --subset   # the quick check on 64 clips per set
    ./dev py exporter/evaluate_bundle.py models/default --freeform val     # the hand-written free-form queries

The test sets and captions are the training code's (training/splits.json, fixed captions per
clip); the scoring is the runtime's: torch encodes nothing here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from runtime.bundle import Bundle  # noqa: E402
from runtime.features import ChannelStats, Windows  # noqa: E402
from runtime.maxsim import maxsim_packed  # noqa: E402

SUBSET = 64  # clips per test set in the quick check (the first by key)
PROTOCOLS = ("all", "diagonal", "batch32", "label")


def test_sets(window: int, hop: int, subset: int | None = None):
    """The held-out sets with raw (not z-scored) windows: the bundle normalises itself."""
    import training  # noqa: F401  (only for the split, captions and feature cache)
    from training.data import bandai_clips, cmu_clips, load_features, make_eval_set, one_per_group, split_clips

    clips = bandai_clips() + cmu_clips()
    raw = ChannelStats(np.zeros(29, np.float32), np.ones(29, np.float32))
    sets = {"bandai_test": sorted([c for c in split_clips(clips, "test") if c.source == "bandai"], key=lambda c: c.key),
            "cmu_eval": one_per_group([c for c in split_clips(clips, "test") if c.source == "cmu"])}
    features = load_features([c for v in sets.values() for c in v], "all")
    out = []
    for name, members in sets.items():
        members = [c for c in members if c.key in features]
        if subset:
            members = members[:subset]
        out.append(make_eval_set(name, members, features, raw, window, hop))
    return out


def bundle_similarity(bundle: Bundle, eval_set) -> np.ndarray:
    """Texts x clips scores from the bundle: each clip's best window."""
    windows = Windows(eval_set.angles, eval_set.frame_mask, np.zeros(len(eval_set.angles), np.int64),
                      eval_set.frame_mask.sum(1))
    patches = bundle.encode_windows(windows)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in patches])])
    packed = np.concatenate(patches)
    queries = []
    for s in range(0, len(eval_set.captions), 64):
        queries += bundle.encode_queries(eval_set.captions[s: s + 64])
    if bundle.score == "global":
        pooled = np.stack([p.mean(0) / np.linalg.norm(p.mean(0)) for p in patches])
        qv = np.stack([q.tokens.mean(0) / np.linalg.norm(q.tokens.mean(0)) for q in queries])
        win = qv @ pooled.T
    else:
        win = np.stack([maxsim_packed(q.tokens, packed, offsets) for q in queries])
    out = np.full((len(queries), len(eval_set.clips)), -np.inf, np.float32)
    np.maximum.at(out.T, eval_set.window_clip, win.T)
    return out


def set_figures(bundle: Bundle, subset: int | None = None, protocols=PROTOCOLS) -> dict:
    """{test set: {protocol: metrics, "clips": n}} for a loaded bundle."""
    from training.metrics import protocol_metrics

    figures = {}
    for es in test_sets(bundle.window, bundle.hop, subset):
        labels = es.label_keys if any(c.labels for c in es.clips) else None
        m = protocol_metrics(bundle_similarity(bundle, es), es.captions, labels)
        figures[es.name] = {p: m[p] for p in protocols if p in m} | {"clips": len(es.clips)}
    return figures


def freeform_scores(bundle: Bundle, split: str):
    """(queries, the split's EvalSet, query x clip scores, relevance) for the hand-written free-form
    queries of `split` (training/freeform.py), searched among all clips of that split."""
    from dataclasses import replace

    from training.data import load_features, make_eval_set
    from training.freeform import load_queries, relevance, split_pool

    queries = load_queries(split)
    clips = split_pool(split)
    features = load_features(clips, "all")
    clips = [c for c in clips if c.key in features]
    raw = ChannelStats(np.zeros(29, np.float32), np.ones(29, np.float32))
    es = make_eval_set(f"freeform_{split}", clips, features, raw, bundle.window, bundle.hop)
    sim = bundle_similarity(bundle, replace(es, captions=[q.sentence for q in queries]))
    return queries, es, sim, relevance(queries, es.clips)


def freeform_figures(bundle: Bundle, split: str) -> dict:
    """R@k and median rank of the free-form queries of `split` (Bandai-Namco and CMU clips together)."""
    from training.freeform import freeform_metrics

    _, es, sim, rel = freeform_scores(bundle, split)
    return freeform_metrics(sim, rel) | {"clips": len(es.clips)}


# Words whose evidence should lie on a moving body part, by class (the free-form queries use them).
WORD_CLASSES = {
    "arm": {"arm", "arms", "hand", "hands", "fist", "elbow", "shoulder", "wave", "waves", "waving", "waved", "raise",
            "raises", "raising", "raised", "lift", "lifts", "lifting", "punch", "punches", "jabbing", "wrist"},
    "leg": {"leg", "legs", "foot", "feet", "knee", "knees", "kick", "kicks", "hop", "hops", "hopping", "squatting"},
    "torso": {"bow", "bows", "bends", "bend", "lean", "leans", "waist", "torso", "back", "twisting"},
    "travel": {"walk", "walks", "walking", "run", "runs", "running", "jog", "jogging", "jogger", "sprint", "sprinting",
               "steps", "strolling", "jump", "jumps", "jumping", "dash", "dashes"},
    "turn": {"turn", "turns", "turning", "spin", "spins", "veering"},
    "side": {"left", "right"},
}
TOP_MOVING = 3  # a word's best patch counts as a hit when its part is among the 3 fastest-moving then


def part_speeds(motion) -> np.ndarray:
    """(frames, 14) how fast each body part moves, deg/s: the mean absolute rate of its joint-angle
    channels (pelvis translation as metres per second over the leg length, in rad -> deg), computed
    from the motion alone, independently of the describer and of the model."""
    from runtime.features import C, NUM_PARTS, PART_OF_CHANNEL, clip_angles
    from runtime.motion import leg_length

    ang = clip_angles(motion.positions).astype(np.float64)
    trans = [C["pelvis_tx"], C["pelvis_ty"], C["pelvis_tz"]]
    ang[:, trans] *= np.degrees(1.0) / max(leg_length(motion.positions), 0.2)
    rate = np.abs(np.gradient(ang, axis=0)) * motion.fps
    out = np.zeros((len(ang), NUM_PARTS))
    for p in range(NUM_PARTS):
        out[:, p] = rate[:, PART_OF_CHANNEL == p].mean(axis=1)
    return out


def grounding_figures(bundle: Bundle, split: str) -> dict:
    """Where each query word's best patch lies in the clip the model ranks first among the query's
    relevant clips: is that body part one of the TOP_MOVING fastest-moving parts over the patch's
    frames? Per word class; plus, for queries naming two classes of action or body part, how often
    their words land on different parts. For "left"/"right" also: on the named side."""
    from runtime.explain import explain_motion
    from runtime.features import PART_NAMES
    from training.data import clip_motion

    queries, es, sim, rel = freeform_scores(bundle, split)
    hits: dict[str, list[int]] = {k: [0, 0] for k in WORD_CLASSES}
    side = [0, 0]
    pairs = [0, 0]
    motions: dict[str, object] = {}
    for qi, q in enumerate(queries):
        clip = es.clips[int(np.argmax(np.where(rel[qi], sim[qi], -np.inf)))]
        if clip.key not in motions:
            motions[clip.key] = clip_motion(clip)
        motion = motions[clip.key]
        speeds = part_speeds(motion)
        e = explain_motion(bundle, q.sentence, motion, clip.key)
        named: dict[str, set[str]] = {}
        for w in e.words:
            word = w.word.lower().strip(".,!?")
            cls = next((k for k, words in WORD_CLASSES.items() if word in words), None)
            if cls is None or w.is_stop_word:
                continue
            fast = np.argsort(-speeds[w.start: w.end + 1].mean(axis=0))[:TOP_MOVING]
            hit = PART_NAMES.index(w.part) in fast
            hits[cls][0] += int(hit)
            hits[cls][1] += 1
            if cls == "side":
                side[0] += int(w.part.endswith("_l" if word == "left" else "_r"))
                side[1] += 1
            else:
                named.setdefault(cls, set()).add(w.part)
        if len(named) >= 2:  # two kinds of action / body part: do they light two places?
            parts = list(named.values())
            pairs[0] += int(any(a.isdisjoint(b) for i, a in enumerate(parts) for b in parts[i + 1:]))
            pairs[1] += 1
    pct = lambda h: round(100.0 * h[0] / h[1], 1) if h[1] else None  # noqa: E731
    out = {f"{k} words on a moving part %": pct(v) for k, v in hits.items()}
    out |= {f"{k} words": v[1] for k, v in hits.items()}
    out["left/right words on the named side %"] = pct(side)
    out["two-kind queries on different parts %"] = pct(pairs)
    out["two-kind queries"] = pairs[1]
    return out


def evaluate_bundle(path: str | Path, protocols=PROTOCOLS, subset: bool = True) -> dict:
    """Figures of a bundle on the full test sets (and, with `subset`, on the quick-check subset)."""
    bundle = Bundle.load(path, device="cpu")
    out = set_figures(bundle, None, protocols)
    if subset:
        out["subset"] = set_figures(bundle, SUBSET, protocols) | {"clips_per_set": SUBSET}
    return out


def compare(expected: dict, actual: dict) -> list[str]:
    """Differences larger than one query's worth of recall (ties may flip across CPUs)."""
    problems = []
    for set_name, protos in actual.items():
        if not isinstance(protos, dict) or set_name not in expected:
            continue
        n = protos.get("clips") or 1
        for proto, figs in protos.items():
            if not isinstance(figs, dict):
                continue
            for key, value in figs.items():
                want = expected[set_name].get(proto, {}).get(key)
                if want is None:
                    problems.append(f"{set_name}/{proto}/{key}: not in the manifest")
                    continue
                tol = 1.0 if key.endswith("MedR") else 100.0 / n + 1e-6
                if abs(value - want) > tol:
                    problems.append(f"{set_name}/{proto}/{key}: {value:.2f} now, {want:.2f} in the manifest")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default="models/default")
    parser.add_argument("--check", action="store_true", help="compare with the figures in manifest.json")
    parser.add_argument("--subset", action="store_true", help=f"only the first {SUBSET} clips of each test set")
    parser.add_argument("--freeform", choices=("val", "test"), default=None,
                        help="only the hand-written free-form queries of this split")
    parser.add_argument("--grounding", choices=("val", "test"), default=None,
                        help="where the words of this split's free-form queries land, against the motion")
    args = parser.parse_args(argv)
    if args.grounding:
        for k, v in grounding_figures(Bundle.load(args.bundle, device="cpu"), args.grounding).items():
            print(f"{k}: {v}")
        return 0
    if args.freeform:
        f = freeform_figures(Bundle.load(args.bundle, device="cpu"), args.freeform)
        print(f"free-form {args.freeform} ({f['queries']} queries, {f['clips']} clips): R@1 {f['R@1']:.2f} "
              f"R@5 {f['R@5']:.2f} R@10 {f['R@10']:.2f} MedR {f['MedR']:.1f}")
        return 0
    manifest = json.loads((Path(args.bundle) / "manifest.json").read_text())
    actual = set_figures(Bundle.load(args.bundle, device="cpu"), SUBSET if args.subset else None)
    expected = manifest.get("evaluation", {})
    expected = expected.get("subset", {}) if args.subset else expected
    for set_name, figs in actual.items():
        if isinstance(figs, dict) and "all" in figs:
            a = figs["all"]
            print(f"{set_name} ({figs['clips']} clips): t2m R@1 {a['t2m_R@1']:.2f} R@5 {a['t2m_R@5']:.2f} "
                  f"R@10 {a['t2m_R@10']:.2f} MedR {a['t2m_MedR']:.1f}; m2t R@1 {a['m2t_R@1']:.2f}")
    if args.check:
        if not expected:
            print("the manifest holds no evaluation figures to check against")
            return 1
        problems = compare(expected, actual)
        for p in problems:
            print("MISMATCH", p)
        print("bundle matches its manifest" if not problems else f"{len(problems)} figures differ from the manifest")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
