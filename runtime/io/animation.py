"""The skeletal animation every reader returns: a joint tree with per-frame local transforms.

One shape for BVH and ASF/AMC, so that forward kinematics, rig mapping and everything after
them exist once. The arrays stay in the file's own units and axes; `runtime.motion` turns them
into canonical 20 fps joint positions in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Animation:
    """A joint hierarchy and its motion, as stored in a file.

    Joint j's transform relative to its parent at frame f is

        Translate(t) @ pre[j] @ R(axes[j][0], a0) @ R(axes[j][1], a1) @ ... @ post[j]

    with t = `translations[f, k]` if joint j is `translation_joints[k]`, else `offsets[j]`,
    and (a0, a1, ...) = `angles[f, j, :len(axes[j])]` in degrees.

    Attributes:
        path: the file it came from (for messages).
        names: joint names, parents before children. End sites are joints named `<parent>_end`.
        parents: (J,) int32, -1 for a root.
        offsets: (J, 3) float64 rest offsets from the parent, in file units.
        axes: per joint, the rotation axes in matrix-product order ("ZXY" means Rz @ Rx @ Ry);
            "" for a joint without rotation.
        angles: (F, J, 3) float32 rotation angles in degrees.
        translation_joints: (K,) int32 joints whose translation is animated.
        translations: (F, K, 3) float32 their per-frame translations in file units.
        pre, post: (J, 3, 3) constant rotations around the animated one (ASF bone axes), or None.
        fps: frame rate the file states.
        end_site: (J,) bool, True for end-site joints (no channels, only an offset).
        line_of_frame0: line number of the first frame in the file (for messages), or 0.
    """

    path: str
    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    axes: tuple[str, ...]
    angles: np.ndarray
    translation_joints: np.ndarray
    translations: np.ndarray
    fps: float
    end_site: np.ndarray
    pre: np.ndarray | None = None
    post: np.ndarray | None = None
    line_of_frame0: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.angles.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.flatnonzero(self.parents == j)]
