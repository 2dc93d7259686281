"""Measure any `runtime.model.bundle.Bundle` (an exported model, or a trained run through
training/torch_bundle.py) on the hand-written free-form queries and on word grounding.

One home for these figures: exporter/evaluate_bundle.py reports them for the shipped bundle,
training/evaluate.py for every run of the comparison in docs/RESULTS.md.
"""

from __future__ import annotations

import numpy as np

from runtime.model import Bundle
from runtime.motion import ChannelStats, Windows
from runtime.search import maxsim_packed

RAW = ChannelStats(np.zeros(29, np.float32), np.ones(29, np.float32))  # a bundle normalises windows itself


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


def freeform_scores(bundle: Bundle, split: str, whole: bool = True):
    """(the split's EvalSet whose captions are the free-form queries of `split`, query x clip scores,
    relevance) for the hand-written queries (training/freeform.py), searched among all clips of
    that split. `whole=False`: only what a smoke run's cut-down feature cache answers."""
    from training.data import load_features
    from training.evaluate import freeform_set
    from training.freeform import split_pool

    features = load_features(split_pool(split), "all")
    es, rel = freeform_set(split, features, RAW, bundle.window, bundle.hop, whole)
    return es, bundle_similarity(bundle, es), rel


def freeform_figures(bundle: Bundle, split: str) -> dict:
    """R@k and median rank of the free-form queries of `split` (Bandai-Namco and CMU clips together)."""
    from training.freeform import freeform_metrics

    es, sim, rel = freeform_scores(bundle, split)
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
}
SIDE_WORDS = {"left", "right"}
LIMB_WORDS = {"arm", "arms", "hand", "hands", "fist", "elbow", "shoulder", "wrist", "leg", "legs", "foot", "feet",
              "knee", "knees", "hip", "ankle", "heel", "toe", "toes"}
TOP_MOVING = 3  # a word's best patch counts as a hit when its part is among the 3 fastest-moving then


def part_speeds(motion) -> np.ndarray:
    """(frames, 14) how fast each body part moves, deg/s: the norm of the rates of its joint-angle
    channels (pelvis translation as metres per second over the leg length, in rad -> deg), computed
    from the motion alone, independently of the describer and of the model."""
    from runtime.motion import NUM_PARTS, PART_OF_CHANNEL, C, clip_angles, leg_length

    ang = clip_angles(motion.positions).astype(np.float64)
    trans = [C["pelvis_tx"], C["pelvis_ty"], C["pelvis_tz"]]
    ang[:, trans] *= np.degrees(1.0) / max(leg_length(motion.positions), 0.2)
    rate = np.gradient(ang, axis=0) * motion.fps
    out = np.zeros((len(ang), NUM_PARTS))
    for p in range(NUM_PARTS):
        out[:, p] = np.linalg.norm(rate[:, PART_OF_CHANNEL == p], axis=1)
    return out


def side_kind(words: list[str], k: int) -> str:
    """"limb" when the side word at k names the side of a body part ("the left hand", "right arm
    and leg"), else "direction" ("turns left", "to the right")."""
    return "limb" if any(w in LIMB_WORDS for w in words[k + 1: k + 4]) else "direction"


def grounding_figures(bundle: Bundle, split: str, whole: bool = True, scored=None) -> dict:
    """Where each query word's best patch lies in the clip the model ranks first among the query's
    relevant clips: is that body part one of the TOP_MOVING parts that move fastest over the patch's
    frames (part_speeds)? Per word class; "left"/"right" naming the side of a limb also: on the
    named side; "left"/"right" as a direction are a class apart. For queries naming two classes of
    action or body part: how often their words land on different parts.

    `scored`: what freeform_scores(bundle, split, whole) returned, when the caller has it."""
    from runtime.motion import PART_NAMES
    from runtime.search import explain_motion
    from training.data import clip_motion

    es, sim, rel = scored or freeform_scores(bundle, split, whole)
    motions: dict[str, object] = {}
    hits = {k: [0, 0] for k in (*WORD_CLASSES, "side", "direction")}
    side, pairs = [0, 0], [0, 0]
    for qi, sentence in enumerate(es.captions):
        clip = es.clips[int(np.argmax(np.where(rel[qi], sim[qi], -np.inf)))]
        if clip.key not in motions:
            motions[clip.key] = clip_motion(clip)
        motion = motions[clip.key]
        speeds = part_speeds(motion)
        e = explain_motion(bundle, sentence, motion, clip.key)
        words = [w.word.lower().strip(".,!?") for w in e.words]
        named: dict[str, set[str]] = {}
        for k, w in enumerate(e.words):
            word = words[k]
            if word in SIDE_WORDS:
                cls = "side" if side_kind(words, k) == "limb" else "direction"
            else:
                cls = next((c for c, members in WORD_CLASSES.items() if word in members), None)
            if cls is None or w.is_stop_word:
                continue
            fast = np.argsort(-speeds[w.start: w.end + 1].mean(axis=0))[:TOP_MOVING]
            hits[cls][0] += int(PART_NAMES.index(w.part) in fast)
            hits[cls][1] += 1
            if cls == "side":
                side[0] += int(w.part.endswith("_l" if word == "left" else "_r"))
                side[1] += 1
            elif cls != "direction":
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
