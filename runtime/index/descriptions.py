"""What an index stores of a clip's descriptions for fused search (format v6): the texts, and one
sentence vector per clip.

A clip's texts are the describer's summary, CAPTIONS varied captions of the whole clip (seeded:
the same clip, the same texts) and, for a clip longer than one window, the summary of every
WINDOW-frame stretch (hop HOP), so that what happens late in a long take is said too. Each text
goes through the bundle's pretrained sentence encoder (runtime.model.Bundle.encode_sentences);
the clip's vector is the mean of those unit vectors, so that its dot product with a query's unit
vector is the mean cosine between the query and the clip's descriptions (measured on the
free-form validation queries against the best caption's cosine, the normalised mean, the summary
alone and the captions without windows: docs/RESULTS.md). Where the bundle has a reference
(runtime/model/reference.py), the vector adds, times its weight, the captions of the training
clips nearest to the clip in motion (its motion vector: clip_motion_vectors, from the windows'
pooled vectors the chunk stores, so describing again reads no patch).

Per chunk, `sentences.npy` (clips, S) float16 holds the vectors row by row as clips.json lists
the clips (a failed clip's row is zeros); when descriptions are redone, `sentences-<id>.npy`
(metadata.json's `sentences_files` names it). metadata.json's `sentence_encoder` is the id of the
encoder that made them, with the reference's id after a "+" where the bundle has one (None: no
vectors yet, as after the in-place upgrade of an older index; the next update describes the clips
again without encoding their motion again).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import MotionSearchError
from ..motion import Motion, window_starts
from .chunks import pooled_vectors

log = logging.getLogger(__name__)

CAPTIONS = 8  # varied captions of the whole clip, besides its summary
WINDOW = 224  # frames (20 fps) of a long clip's stretches, each summarised
HOP = 112
SEED = 0


def description_texts(motion: Motion) -> list[str]:
    """The summary, the captions and, for a long clip, each stretch's summary ([] when the clip
    cannot be described: too short, or a describer error, logged and never fatal)."""
    from ..describe import describe

    try:
        d = describe(motion)
        texts = [d.summary] + [c.text for c in d.captions(CAPTIONS, seed=SEED)]
        n = motion.num_frames
        if n > WINDOW:
            for s in window_starts(n, WINDOW, HOP):
                try:
                    texts.append(describe(motion, int(s), int(s) + WINDOW).summary)
                except MotionSearchError:
                    pass
    except MotionSearchError:
        return []
    except Exception as e:  # noqa: BLE001 - a describer bug must not cost the clip its place in the index
        log.warning("%s: cannot describe (%s: %s)", motion.source, type(e).__name__, e)
        return []
    return [t for t in texts if t]  # repeats kept: a clip that walks in most stretches is mostly a walk


def description_vectors(bundle, texts: list[list[str] | None], motion: np.ndarray | None = None) -> np.ndarray:
    """(clips, S) float32: each clip's mean of its texts' unit sentence vectors (zeros for no texts),
    plus, where the bundle has a reference (runtime/model/reference.py) and the clips' motion vectors
    are given ((clips, D): clip_motion_vectors), the reference's weight times the captions of the
    training clips nearest in motion (one reference call for all the clips)."""
    out = np.zeros((len(texts), bundle.sentence_dim), np.float32)
    for k, t in enumerate(texts):
        if t:
            out[k] = bundle.encode_sentences(t).mean(axis=0)
    reference = getattr(bundle, "reference", None)
    has = np.array([bool(t) for t in texts], bool)
    if reference is not None and motion is not None and has.any():
        out[has] += reference.weight * reference.caption_vectors(np.asarray(motion, np.float32)[has])
    return out


def description_vector(bundle, texts: list[str] | None, motion_vector: np.ndarray | None = None) -> np.ndarray:
    """One clip's description vector ((S,) float32): description_vectors of one clip."""
    return description_vectors(bundle, [texts], None if motion_vector is None else np.atleast_2d(motion_vector))[0]


def describer_blocks(index, bundle):
    """Each clip's describer vector: its description vector without the captions the bundle's
    reference lends (the index's vector less the reference's weight times those captions, from the
    clip's motion vector as the index made it), what the describer said of the clip alone. A motion
    query compares with these (runtime.search.similar: borrowed captions follow the nearest training
    clips in motion, which the late interaction already weighs). Yields, a chunk at a time, (clips
    (n,) positions, (n, S) float32 vectors) for the clips whose vector differs from the index's:
    none when the bundle has no reference or the index no vectors."""
    stored = index.sentence_vectors
    reference = getattr(bundle, "reference", None)
    if stored is None or reference is None:
        return
    for clips, motion in index.clip_motion_blocks():
        has = index.has_sentence[clips]  # a clip without texts got no borrowed captions either
        if has.any():
            yield clips[has], stored[clips[has]].astype(np.float32) - reference.weight * \
                reference.caption_vectors(motion[has])


def describer_vectors(index, bundle) -> np.ndarray | None:
    """(clips, S) float16 every clip's describer vector (describer_blocks; the index's vectors where
    the bundle has no reference); None when the index holds no vectors."""
    if index.sentence_vectors is None:
        return None
    out = index.sentence_vectors.copy()
    for clips, vectors in describer_blocks(index, bundle):
        out[clips] = vectors
    return out


def motion_vector(patches: list[np.ndarray]) -> np.ndarray | None:
    """(D,) float32: one motion's vector (clip_motion_vectors) from its windows' patches (None: no windows)."""
    if not patches:
        return None
    return clip_motion_vectors(pooled_vectors(patches), np.zeros(len(patches), np.int64), 1)[0]


def clip_motion_vectors(pooled: np.ndarray, owner: np.ndarray, clips: int) -> np.ndarray:
    """(clips, D) float32: each clip's unit mean of its windows' pooled vectors (`pooled` (W, D), as
    an index stores them; `owner` (W,) each window's clip); zeros for a clip without windows."""
    pooled = np.asarray(pooled, np.float32)
    out = np.zeros((clips, pooled.shape[1]), np.float32)
    np.add.at(out, np.asarray(owner, np.int64), pooled)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.where(norms > 0, out / np.maximum(norms, 1e-9), 0.0).astype(np.float32)


def vectors_file(meta: dict, chunk: str) -> str:
    return meta.get("sentences_files", {}).get(chunk, "sentences.npy")
