"""Mirrored stretches: frames where the pose model swapped the person's left and right.

When BlazePose's 2D labels swap (seen in side and back views), its 3D pose comes out as the
mirror image: the body seems to face another way (often turned half round in depth, its face
with it). Cues, none of them taken from the left/right labels alone:

- continuity: a body does not turn by more than 120 degrees in a tenth of a second, but a label
  swap flips its forward (left x up, from the labelled hips and shoulders) at once (the model's
  own smoothing spreads that over a few frames: hence a tenth of a second, not one frame);
- the face: the direction from the middle of the ears to the nose is where the person looks; in a
  frontal view a swap turns the body against it (in a side view the face turns with the body and
  says nothing);
- time: the model is right more often than not, so with no face evidence the state the clip
  spends most of its time in is taken as the unmirrored one.

The clip is followed frame by frame: each sudden flip changes the state. Which of the two states
is the mirrored one is chosen by the face evidence of all frames (weighted by how clearly the
face shows), with a small weight per frame for time. Mending swaps the labels of every left and
right landmark in the mirrored frames (the 3D positions are the model's reading of the image and
stay where they are).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import SWAP, B

FLIP_COS = -0.5  # forward turning more than 120 degrees ...
FLIP_WINDOW_S = 0.1  # ... within this time: a label swap
FACE_MIN = 0.03  # metres of nose-to-ears distance across the line of sight for the face to count
TIME_WEIGHT = 0.02  # evidence per frame for the state the clip spends most time in (a clear face frame: 0.03-0.1)


@dataclass(frozen=True)
class Mirrored:
    """Mirrored frames found in a clip.

    Attributes:
        frames: (F,) bool, True for a frame whose left and right were swapped.
        stretches: (first, last) frame indices (both included) of each run of mirrored frames.
    """

    frames: np.ndarray
    stretches: list[tuple[int, int]]

    @property
    def count(self) -> int:
        return int(self.frames.sum())


def _horizontal(v: np.ndarray) -> np.ndarray:
    """Camera axes have y down: drop the vertical part (an approximation for a level-ish camera)."""
    out = v.copy()
    out[..., 1] = 0.0
    return out


def body_forward(world: np.ndarray) -> np.ndarray:
    """(F, 3) unit horizontal forward of the labelled body (left x up)."""
    left = (world[:, B["left_hip"]] - world[:, B["right_hip"]]) + \
        (world[:, B["left_shoulder"]] - world[:, B["right_shoulder"]])
    up = np.array([0.0, -1.0, 0.0])
    fwd = _horizontal(np.cross(left, up))
    return fwd / np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)


def face_forward(world: np.ndarray) -> np.ndarray:
    """(F, 3) horizontal ears-to-nose vector (not unit: its length says how clear the face is)."""
    ears = (world[:, B["left_ear"]] + world[:, B["right_ear"]]) / 2
    return _horizontal(world[:, B["nose"]] - ears)


def find_mirrored(world: np.ndarray, times: np.ndarray | None = None) -> Mirrored:
    """Mirrored frames of (F, 33, 3) landmarks (all frames with a person; see the module docstring).
    `times` (seconds) sets how many frames a tenth of a second is (default: 30 frames/s)."""
    w = np.asarray(world, np.float64)
    n = len(w)
    if n == 0:
        return Mirrored(np.zeros(0, bool), [])
    fwd = body_forward(w)
    steps = np.diff(times) if times is not None and len(times) > 1 else np.array([1 / 30])
    back = max(1, int(round(FLIP_WINDOW_S / max(float(np.median(steps)), 1e-6))))
    # follow the clip: relative[t] says whether frame t is flipped against frame 0
    relative = np.zeros(n, bool)
    oriented = fwd.copy()  # each frame's forward, unflipped by the state so far
    for t in range(1, n):
        relative[t] = relative[t - 1]
        oriented[t] = -fwd[t] if relative[t] else fwd[t]
        before = oriented[max(0, t - back): t]
        if np.min(before @ oriented[t]) < FLIP_COS:
            relative[t] = not relative[t]
            oriented[t] = -oriented[t]
    face = face_forward(w)
    face_len = np.linalg.norm(face, axis=-1)
    agree = np.sum(fwd * face, axis=-1)  # > 0: the labelled body faces where the face looks
    evidence = np.where(face_len > FACE_MIN, np.sign(agree) * np.minimum(face_len, 0.1), 0.0)
    sign = np.where(relative, -1.0, 1.0)
    # > 0: frame 0's state is the unmirrored one
    score = float(np.sum(evidence * sign)) + TIME_WEIGHT * float(np.sum(sign))
    frames = relative if score >= 0 else ~relative
    edges = np.flatnonzero(np.diff(np.concatenate([[0], frames.astype(np.int8), [0]])))
    stretches = [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]
    return Mirrored(frames, stretches)


def mend_mirrored(landmarks: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """(F, 33, ...) landmarks (world or image) with left and right labels swapped in the mirrored frames."""
    out = np.array(landmarks, copy=True)
    out[mirrored] = out[mirrored][:, SWAP]
    return out
