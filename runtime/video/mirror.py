"""Mirrored stretches: frames where the pose model swapped the person's left and right.

When BlazePose's 2D labels swap (seen in side views), its 3D pose comes out as the mirror image:
the body seems to face the other way while the face still looks where it did. Two cues, both
free of the left/right labels' own say:

- the face: the direction from the middle of the ears to the nose is where the person looks;
  the body's forward (left x up, from the labelled hips and shoulders) points away from it by
  more than 90 degrees in a mirrored frame;
- continuity: a body does not turn by more than 120 degrees between two frames (1/60-1/20 s),
  but a label swap flips its forward at once.

The clip is cut at every such flip, and each flip changes the state; the first piece's state
is the one that makes most face evidence agree (weighted by how clearly the face shows), and a
piece whose own face evidence is clear and says otherwise follows it. Mending swaps the labels of every left and right landmark in those frames
(the 3D positions are the model's reading of the image and stay where they are).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import SWAP, B

FLIP_COS = -0.5  # forward turning more than 120 degrees between neighbouring frames: a label swap
FACE_MIN = 0.03  # metres of nose-to-ears distance across the line of sight for the face to count


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


def find_mirrored(world: np.ndarray) -> Mirrored:
    """Mirrored frames of (F, 33, 3) landmarks (all frames with a person; see the module docstring)."""
    w = np.asarray(world, np.float64)
    n = len(w)
    if n == 0:
        return Mirrored(np.zeros(0, bool), [])
    fwd = body_forward(w)
    face = face_forward(w)
    flips = np.flatnonzero(np.sum(fwd[1:] * fwd[:-1], axis=-1) < FLIP_COS) + 1
    bounds = np.concatenate([[0], flips, [n]])
    pieces = list(zip(bounds[:-1], bounds[1:]))
    # each piece's state relative to the first piece: flips alternate it
    relative = np.array([i % 2 for i in range(len(pieces))], bool)
    face_len = np.linalg.norm(face, axis=-1)
    agree = np.sum(fwd * face, axis=-1)  # > 0: the body faces where the face looks
    evidence = np.where(face_len > FACE_MIN, np.sign(agree) * np.minimum(face_len, 0.1), 0.0)
    votes = np.array([evidence[a:b].sum() for a, b in pieces])
    # choose the state of the first piece that makes most face evidence agree
    signed = np.where(relative, -votes, votes)
    first_mirrored = signed.sum() < 0
    mirrored_piece = relative ^ first_mirrored
    # a piece whose own face evidence is clear and contradicts the overall choice follows its evidence
    for i, v in enumerate(votes):
        length = pieces[i][1] - pieces[i][0]
        if abs(v) > 0.02 * length and (v < 0) != mirrored_piece[i]:
            mirrored_piece[i] = v < 0
    frames = np.zeros(n, bool)
    for (a, b), m in zip(pieces, mirrored_piece):
        frames[a:b] = m
    stretches = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], frames.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        stretches.append((int(a), int(b) - 1))
    return Mirrored(frames, stretches)


def mend_mirrored(landmarks: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """(F, 33, ...) landmarks (world or image) with left and right labels swapped in the mirrored frames."""
    out = np.array(landmarks, copy=True)
    out[mirrored] = out[mirrored][:, SWAP]
    return out
