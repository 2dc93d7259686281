"""Joint angles from canonical joint positions: the 29 channels of the paper's motion image.

Channels (degrees, except pelvis translation in metres), grouped into 14 body parts:

    pelvis translation  tx, ty, tz          hips      flexion, adduction, rotation (x2)
    pelvis rotation     tilt, list, rotation knees     flexion (x2)
    lumbar              extension, bending, rotation   ankles    dorsiflexion (x2)
    neck                flexion, bending    shoulders flexion, adduction, rotation (x2)
                                            elbows    flexion (x2)

How they are measured, from positions alone:
- Segment frames (x = body left, y = up, z = forward at rest) for pelvis (hips + lower spine),
  thorax (shoulders + upper spine), thighs (hip-knee, with shank and foot giving the twist) and upper
  arms (shoulder-elbow, with the forearm giving the twist, faded into a twist-free frame as
  the elbow straightens, where twist is undefined).
- A 3-DOF joint is the rotation vector (axis x angle) of the child frame relative to its
  parent frame. Its rest pose is the upright stance for hips and lumbar and the T-pose for the
  shoulders, so the rotation vector stays far from its 180-degree singularity in real motion
  (unlike Euler angles, which break at arms held sideways). Right-side twist and ad/abduction
  change sign so that the same movement reads the same on both sides.
- Hinges (knees, elbows) are 180 minus the inner angle; ankles are 90 minus the angle between
  shank and foot.
- Pelvis tilt/list: the swing of the pelvis up-axis from vertical; pelvis rotation: the heading
  change, unwrapped. Within a window, translation and heading are relative to the window's
  first frame (so a window means the same wherever it starts); ty is the height above floor.

`ChannelStats` z-scores the channels with statistics from a training set; `motion_windows`
cuts a clip into fixed windows with a validity mask, overlapping so that no part of a long
clip is unseen.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from .kinematics import normalize, rotation_between, rotation_to_vector
from .skeleton import J

PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pelvis_translation", ("pelvis_tx", "pelvis_ty", "pelvis_tz")),
    ("pelvis_rotation", ("pelvis_tilt", "pelvis_list", "pelvis_rotation")),
    ("hip_l", ("hip_flexion_l", "hip_adduction_l", "hip_rotation_l")),
    ("hip_r", ("hip_flexion_r", "hip_adduction_r", "hip_rotation_r")),
    ("knee_l", ("knee_flexion_l",)),
    ("knee_r", ("knee_flexion_r",)),
    ("ankle_l", ("ankle_dorsiflexion_l",)),
    ("ankle_r", ("ankle_dorsiflexion_r",)),
    ("lumbar", ("lumbar_extension", "lumbar_bending", "lumbar_rotation")),
    ("neck", ("neck_flexion", "neck_bending")),
    ("shoulder_l", ("shoulder_flexion_l", "shoulder_adduction_l", "shoulder_rotation_l")),
    ("shoulder_r", ("shoulder_flexion_r", "shoulder_adduction_r", "shoulder_rotation_r")),
    ("elbow_l", ("elbow_flexion_l",)),
    ("elbow_r", ("elbow_flexion_r",)),
)
PART_NAMES: tuple[str, ...] = tuple(p for p, _ in PARTS)
CHANNELS: tuple[str, ...] = tuple(c for _, cs in PARTS for c in cs)
NUM_CHANNELS = len(CHANNELS)  # 29
NUM_PARTS = len(PARTS)  # 14
C = {name: i for i, name in enumerate(CHANNELS)}
PART_OF_CHANNEL: np.ndarray = np.array([k for k, (_, cs) in enumerate(PARTS) for _ in cs], np.int64)

# The canonical joints whose bones move each part (what the add-on highlights).
PART_JOINTS: dict[str, tuple[str, ...]] = {
    "pelvis_translation": ("pelvis",),
    "pelvis_rotation": ("pelvis",),
    "hip_l": ("left_hip",), "hip_r": ("right_hip",),
    "knee_l": ("left_knee",), "knee_r": ("right_knee",),
    "ankle_l": ("left_ankle", "left_foot"), "ankle_r": ("right_ankle", "right_foot"),
    "lumbar": ("spine1", "spine2", "spine3"),
    "neck": ("neck", "head"),
    "shoulder_l": ("left_collar", "left_shoulder"), "shoulder_r": ("right_collar", "right_shoulder"),
    "elbow_l": ("left_elbow", "left_wrist"), "elbow_r": ("right_elbow", "right_wrist"),
}


def _mirror_tables() -> tuple[np.ndarray, np.ndarray]:
    perm, sign = [], []
    lateral = ("pelvis_tx", "pelvis_list", "pelvis_rotation", "lumbar_bending", "lumbar_rotation", "neck_bending")
    for name in CHANNELS:
        if name.endswith("_l"):
            perm.append(C[name[:-2] + "_r"])
        elif name.endswith("_r"):
            perm.append(C[name[:-2] + "_l"])
        else:
            perm.append(C[name])
        sign.append(-1.0 if name in lateral else 1.0)
    return np.array(perm, np.int64), np.array(sign, np.float32)


MIRROR_PERM, MIRROR_SIGN = _mirror_tables()
"""angles(mirror_positions(p)) == angles(p)[..., MIRROR_PERM] * MIRROR_SIGN"""

_X, _Y, _Z = np.eye(3)


def _frame_xz(x: np.ndarray, z_hint: np.ndarray) -> np.ndarray:
    """Frames (..., 3, 3), columns x, y, z: x exact, z from the hint, y = z cross x."""
    x = normalize(x)
    z = normalize(z_hint - x * np.sum(z_hint * x, axis=-1, keepdims=True))
    return np.stack([x, np.cross(z, x), z], axis=-1)


def _frame_yz(y: np.ndarray, z_hint: np.ndarray) -> np.ndarray:
    """Frames (..., 3, 3): y exact, z from the hint, x = y cross z."""
    y = normalize(y)
    z = normalize(z_hint - y * np.sum(z_hint * y, axis=-1, keepdims=True))
    return np.stack([np.cross(y, z), y, z], axis=-1)


def _frame_xy(x: np.ndarray, y_hint: np.ndarray) -> np.ndarray:
    """Frames (..., 3, 3): x exact, y from the hint, z = x cross y."""
    x = normalize(x)
    y = normalize(y_hint - x * np.sum(y_hint * x, axis=-1, keepdims=True))
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _relative_degrees(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Rotation vector of child relative to parent, (..., 3) degrees: (about x, about y, about z)."""
    return np.rad2deg(rotation_to_vector(np.swapaxes(parent, -1, -2) @ child))


def _hinge(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """180 minus the angle at b of the chain a-b-c, degrees (0 = straight)."""
    u, v = normalize(a - b), normalize(c - b)
    return 180.0 - np.rad2deg(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))


def _upper_arm_frame(side: str, thorax: np.ndarray, p: np.ndarray) -> np.ndarray:
    s = "left" if side == "l" else "right"
    shoulder, elbow, wrist = p[:, J[f"{s}_shoulder"]], p[:, J[f"{s}_elbow"]], p[:, J[f"{s}_wrist"]]
    u = normalize(elbow - shoulder)
    x_arm = u if side == "l" else -u  # at the T-pose x_arm is the body's left, like the thorax's x
    fore = wrist - elbow
    fore_perp = fore - u * np.sum(fore * u, axis=-1, keepdims=True)
    # twist-free reference: the thorax forward axis carried along by the arm's swing
    carried = (rotation_between(thorax[..., 0], x_arm) @ thorax[..., 2][..., None])[..., 0]
    length = np.linalg.norm(fore, axis=-1, keepdims=True)
    return _frame_xz(x_arm, fore_perp + 0.1 * length * carried)


def clip_angles(positions: np.ndarray) -> np.ndarray:
    """Per-frame channels (F, 29) of canonical positions (F, 22, 3).

    Pelvis tx/tz and rotation are absolute here (the clip's canonical frame);
    `window_angles` makes them relative to a window's start.
    """
    p = np.asarray(positions, np.float64)
    out = np.zeros((p.shape[0], NUM_CHANNELS), np.float64)

    pelvis = _frame_xy(p[:, J["left_hip"]] - p[:, J["right_hip"]], p[:, J["spine1"]] - p[:, J["pelvis"]])
    thorax = _frame_xy(p[:, J["left_shoulder"]] - p[:, J["right_shoulder"]], p[:, J["neck"]] - p[:, J["spine1"]])

    # pelvis: translation, and swing (tilt, list) + twist (heading) about the vertical
    out[:, C["pelvis_tx"]: C["pelvis_tz"] + 1] = p[:, J["pelvis"]]
    swing = rotation_between(np.broadcast_to(_Y, pelvis[..., 1].shape), pelvis[..., 1])
    twist = np.swapaxes(swing, -1, -2) @ pelvis
    heading = np.unwrap(np.arctan2(twist[:, 0, 2], twist[:, 2, 2]))
    sw = np.rad2deg(rotation_to_vector(swing))
    out[:, C["pelvis_tilt"]] = sw[:, 0]
    out[:, C["pelvis_list"]] = sw[:, 2]
    out[:, C["pelvis_rotation"]] = np.rad2deg(heading)

    for side, s, sign in (("l", "left", 1.0), ("r", "right", -1.0)):
        hip, knee, ankle, foot = (p[:, J[f"{s}_{n}"]] for n in ("hip", "knee", "ankle", "foot"))
        # twist reference: the bent shank and the foot both point forward of the thigh
        # (the shank where the knee bends, the foot where the leg is straight)
        thigh = _frame_yz(hip - knee, (knee - ankle) + (foot - ankle))
        w = _relative_degrees(pelvis, thigh)
        out[:, C[f"hip_flexion_{side}"]] = -w[:, 0]
        out[:, C[f"hip_adduction_{side}"]] = -sign * w[:, 2]
        out[:, C[f"hip_rotation_{side}"]] = -sign * w[:, 1]  # internal rotation positive
        out[:, C[f"knee_flexion_{side}"]] = _hinge(hip, knee, ankle)
        out[:, C[f"ankle_dorsiflexion_{side}"]] = 90.0 - (180.0 - _hinge(knee, ankle, foot))

        arm = _upper_arm_frame(side, thorax, p)
        w = _relative_degrees(thorax, arm)
        out[:, C[f"shoulder_flexion_{side}"]] = -sign * w[:, 1]  # arm forward positive
        out[:, C[f"shoulder_adduction_{side}"]] = -sign * w[:, 2]  # 0 at the T-pose, +90 hanging, -90 raised
        out[:, C[f"shoulder_rotation_{side}"]] = w[:, 0]
        out[:, C[f"elbow_flexion_{side}"]] = _hinge(p[:, J[f"{s}_shoulder"]], p[:, J[f"{s}_elbow"]], p[:, J[f"{s}_wrist"]])

    w = _relative_degrees(pelvis, thorax)
    out[:, C["lumbar_extension"]] = -w[:, 0]
    out[:, C["lumbar_bending"]] = w[:, 2]
    out[:, C["lumbar_rotation"]] = w[:, 1]

    head = np.einsum("fji,fj->fi", thorax, p[:, J["head"]] - p[:, J["neck"]])  # in thorax axes
    out[:, C["neck_flexion"]] = np.rad2deg(np.arctan2(head[:, 2], head[:, 1]))
    out[:, C["neck_bending"]] = np.rad2deg(np.arctan2(-head[:, 0], head[:, 1]))
    return out.astype(np.float32)


def window_angles(angles: np.ndarray, start: int, length: int) -> np.ndarray:
    """Channels of frames [start, start + length) with translation and heading made relative
    to the window's first frame, in that frame's heading (ty stays the height above floor)."""
    win = np.array(angles[start: start + length], np.float32)
    if len(win) == 0:
        return win
    yaw0 = np.deg2rad(win[0, C["pelvis_rotation"]])
    dx = win[:, C["pelvis_tx"]] - win[0, C["pelvis_tx"]]
    dz = win[:, C["pelvis_tz"]] - win[0, C["pelvis_tz"]]
    c, s = np.cos(yaw0), np.sin(yaw0)
    win[:, C["pelvis_tx"]] = c * dx - s * dz
    win[:, C["pelvis_tz"]] = s * dx + c * dz
    win[:, C["pelvis_rotation"]] -= win[0, C["pelvis_rotation"]]
    return win


@dataclass(frozen=True)
class Windows:
    """A clip cut into fixed windows.

    Attributes:
        angles: (W, T, 29) float32 channels (zero where padded).
        mask: (W, T) bool, True on real frames.
        start: (W,) int64 first frame of each window (20 fps frames of the clip).
        length: (W,) int64 real frames in each window.
    """

    angles: np.ndarray
    mask: np.ndarray
    start: np.ndarray
    length: np.ndarray


def window_starts(num_frames: int, window: int, hop: int) -> np.ndarray:
    """Starts of overlapping windows that cover every frame; the last one ends at the clip's end."""
    if num_frames <= window:
        return np.zeros(1, np.int64)
    starts = list(range(0, num_frames - window + 1, hop))
    if starts[-1] != num_frames - window:
        starts.append(num_frames - window)
    return np.array(starts, np.int64)


def motion_windows(angles: np.ndarray, window: int = 224, hop: int = 112) -> Windows:
    """Cut per-frame channels (F, 29) into windows of `window` frames, `hop` apart."""
    num_frames = angles.shape[0]
    if num_frames == 0:
        raise ValueError("a clip with no frames has no windows")
    starts = window_starts(num_frames, window, hop)
    out = np.zeros((len(starts), window, NUM_CHANNELS), np.float32)
    mask = np.zeros((len(starts), window), bool)
    lengths = np.zeros(len(starts), np.int64)
    for k, s in enumerate(starts):
        win = window_angles(angles, int(s), window)
        out[k, : len(win)] = win
        mask[k, : len(win)] = True
        lengths[k] = len(win)
    return Windows(out, mask, starts, lengths)


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel mean and standard deviation for z-scoring, from a training set."""

    mean: np.ndarray  # (29,)
    std: np.ndarray  # (29,)

    def normalize(self, angles: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """z-scored channels; padded frames (mask False) stay exactly 0."""
        out = ((angles - self.mean) / self.std).astype(np.float32)
        if mask is not None:
            out = np.where(mask[..., None], out, 0.0).astype(np.float32)
        return out

    @classmethod
    def fit(cls, windows: list[Windows], min_std: float = 1e-3) -> "ChannelStats":
        """Statistics over the real frames of training windows."""
        frames = np.concatenate([w.angles[w.mask] for w in windows], axis=0).astype(np.float64)
        return cls(frames.mean(0).astype(np.float32), np.maximum(frames.std(0), min_std).astype(np.float32))

    def to_json(self) -> dict:
        return {"channels": list(CHANNELS), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "ChannelStats":
        if list(data.get("channels", [])) != list(CHANNELS):
            raise ValueError("channel statistics were computed for a different channel layout")
        mean, std = np.array(data["mean"], np.float32), np.array(data["std"], np.float32)
        if mean.shape != (NUM_CHANNELS,) or std.shape != (NUM_CHANNELS,) or not (std > 0).all():
            raise ValueError("channel statistics must hold 29 means and 29 positive deviations")
        return cls(mean, std)

    def save(self, path: str | os.PathLike) -> None:
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ChannelStats":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))
