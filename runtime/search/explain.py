"""Why a clip matched: for each word of the query, the body part and time span of its best patch.

MaxSim already names the evidence: each query token's score is its best patch, and a patch is
one body part over 16 frames. A word's match is the best patch over its word pieces. The
joints x time heat map spreads every token's similarity (scaled to its own best patch) over the
part's joints and the patch's frames, keeping the strongest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import Bundle, Query
from ..motion import JOINTS, NUM_PARTS, PART_JOINTS, PART_NAMES

STOP_WORDS = frozenset("a an the and or of to with his her their its is are was while then as in on at".split())


@dataclass(frozen=True)
class WordMatch:
    """One word of the query and where it matched.

    `start`/`end` are 20 fps frames of the clip; `start_frame`/`end_frame` frames of the source file.
    """

    word: str
    part: str
    joints: tuple[str, ...]
    score: float
    patch: int
    start: int
    end: int
    start_frame: int
    end_frame: int
    is_stop_word: bool


@dataclass(frozen=True)
class Explanation:
    text: str
    clip_id: str
    words: list[WordMatch]
    heatmap: np.ndarray  # (22 joints, frames of the window at 20 fps) in [0, 1]
    window_start: int  # 20 fps frame of the clip where the heat map starts
    joint_strength: dict[str, float]  # per canonical joint, its strongest moment, in [0, 1]

    def to_json(self) -> dict:
        return {"text": self.text, "clip": self.clip_id, "window_start": self.window_start,
                "words": [{"word": w.word, "part": w.part, "joints": list(w.joints), "score": round(w.score, 4),
                           "start_frame": w.start_frame, "end_frame": w.end_frame, "stop_word": w.is_stop_word}
                          for w in self.words],
                "joint_strength": {j: round(v, 4) for j, v in self.joint_strength.items()}}


def explain_patches(bundle: Bundle, query: Query, patches: np.ndarray, window_start: int, window_length: int,
                    clip_id: str = "", to_source=lambda f: f) -> Explanation:
    """Explain a query against one window's patches (n, D), time-major (patch i: part i % 14).

    Args:
        to_source: maps a 20 fps frame of the clip to a frame of the source file.
    """
    sims = query.tokens @ patches.T  # (tokens, patches)
    best = sims.argmax(axis=1)
    pf = bundle.patch_frames
    words: list[WordMatch] = []
    for w, word in enumerate(query.words):
        toks = np.flatnonzero(query.word_of_token == w)
        if len(toks) == 0:
            continue
        t = toks[np.argmax(sims[toks, best[toks]])]
        patch = int(best[t])
        part = PART_NAMES[patch % NUM_PARTS]
        start = window_start + (patch // NUM_PARTS) * pf
        end = min(start + pf, window_start + window_length) - 1
        words.append(WordMatch(word, part, PART_JOINTS[part], float(sims[t, patch]), patch, start, end,
                               int(round(to_source(start))), int(round(to_source(end))),
                               word.lower() in STOP_WORDS))
    # heat map: each token's similarities scaled to [0, 1] by its own range, strongest token wins
    lo, hi = sims.min(axis=1, keepdims=True), sims.max(axis=1, keepdims=True)
    rel = np.max((sims - lo) / np.maximum(hi - lo, 1e-9), axis=0)  # (patches,)
    cols = int(np.ceil(len(patches) / NUM_PARTS))
    grid = np.zeros((NUM_PARTS, cols), np.float32)
    grid[np.arange(len(patches)) % NUM_PARTS, np.arange(len(patches)) // NUM_PARTS] = rel
    heat = np.zeros((len(JOINTS), window_length), np.float32)
    frames = np.minimum(np.arange(window_length) // pf, cols - 1)
    for p, part in enumerate(PART_NAMES):
        for j in PART_JOINTS[part]:
            heat[JOINTS.index(j)] = np.maximum(heat[JOINTS.index(j)], grid[p, frames])
    strength = {j: float(heat[k].max()) for k, j in enumerate(JOINTS)}
    return Explanation(query.text, clip_id, words, heat, window_start, strength)


def explain(bundle: Bundle, text: str, hit, index) -> Explanation:
    """Explain a search hit (runtime.search.Hit) from the index's stored patches."""
    patches, _ = index.window_patches([hit.window])
    entry = index.clips[int(index.windows[hit.window, 0])]
    return explain_patches(bundle, bundle.encode_query(text), patches, hit.start, hit.length, hit.clip_id,
                           entry.source_frame)


def explain_motion(bundle: Bundle, text: str, motion, clip_id: str = "") -> Explanation:
    """Explain a query against a clip (its best window), encoding the clip now."""
    from .maxsim import maxsim_packed

    windows, patches = bundle.encode_motion(motion)
    query = bundle.encode_query(text)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in patches])])
    k = int(np.argmax(maxsim_packed(query.tokens, np.concatenate(patches), offsets)))
    return explain_patches(bundle, query, patches[k], int(windows.start[k]), int(windows.length[k]),
                           clip_id or motion.source, lambda f: float(motion.source_frame(f)))
