"""Retargeting canonical joint positions onto an armature's bones (numpy only, no bpy).

The clip is 22 canonical joint positions per frame (`runtime.motion`: metres, Y up, facing +Z).
The armature is its bones' rest matrices in armature space. The solve, in bone hierarchy order:

- the pelvis bone takes the clip's pelvis trajectory (scaled by the ratio of the armature's leg
  length to the clip's) and the pelvis orientation that hips and spine give;
- every other mapped bone keeps its head where its parent puts it and swings, from the pose
  its parent carries it to, so that it points from its canonical joint toward the next mapped
  joint of its chain (hip -> knee -> ankle -> foot, collar -> shoulder -> elbow -> wrist,
  spine1 -> ... -> neck -> head), with the clip's direction of that segment;
- unmapped bones are solved at their rest pose relative to their parent; Apply keys only the
  mapped bones and those above them, so fingers, face, twist bones and props keep their own pose.

Limb directions therefore match the clip exactly while the armature keeps its own proportions.
Twist about a bone's own axis is the smallest one (a swing); the clip's joint positions say
nothing about it, except for the bone that carries both collars (the chest): it also turns about
its axis so that the line between the collars follows the clip's (the torso's twist). The result is each driven bone's `matrix_basis` per frame, the channel values
Blender keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..motion import JOINTS, J, RigMap, leg_length, rotation_between

# The canonical joint a bone mapped to each joint points at (the next joint down its chain).
AIM_CHILD: dict[str, str] = {
    "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head",
    **{f"{s}_{a}": f"{s}_{b}" for s in ("left", "right") for a, b in (
        ("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"),
        ("collar", "shoulder"), ("shoulder", "elbow"), ("elbow", "wrist"))},
}
FEET = tuple(J[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot"))
# A standing pose has its feet-to-head axis within this angle of world up.
STANDING_MAX_TILT_DEG = 45.0
_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# axes and small rotations

def to_blender(p: np.ndarray) -> np.ndarray:
    """Canonical (Y up, facing +Z) -> Blender world axes (Z up, facing -Y): (x, y, z) -> (x, -z, y)."""
    p = np.asarray(p)
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def from_blender(p: np.ndarray) -> np.ndarray:
    """Blender world axes -> canonical: (x, y, z) -> (x, z, -y)."""
    p = np.asarray(p)
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, _EPS), n[..., 0]


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def body_frame(pos: np.ndarray) -> np.ndarray:
    """Pelvis orientation (..., 3, 3) from canonical joints (..., 22, 3): columns left, up, forward.

    Up runs from the pelvis to spine1; left is the right-to-left hip line made perpendicular to it.
    """
    up, _ = _unit(pos[..., J["spine1"], :] - pos[..., J["pelvis"], :])
    left = pos[..., J["left_hip"], :] - pos[..., J["right_hip"], :]
    left, _ = _unit(left - up * np.sum(left * up, axis=-1, keepdims=True))
    forward = np.cross(left, up)
    return np.stack([left, up, forward], axis=-1)


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) as (w, x, y, z), w >= 0."""
    m = np.asarray(m, np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cand = np.stack([
        np.stack([1.0 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1.0 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                  m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                  1.0 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                  1.0 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
    ], axis=-2)  # (..., 4, 4): row k is 4*q*q[k] up to sign; pick the best-conditioned row
    diag = np.stack([1.0 + tr, 1.0 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                     1.0 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 1.0 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q, _ = _unit(q)
    return q * np.where(q[..., :1] < 0.0, -1.0, 1.0)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so that consecutive quaternions are on the same side (no 360 degree spins)."""
    q = np.array(q, np.float64)
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0.0:
            q[i] = -q[i]
    return q


# ---------------------------------------------------------------------------------------------
# the armature

@dataclass(frozen=True, eq=False)
class Rig:
    """An armature's bones at rest, parents before children.

    Attributes:
        names: bone names.
        parents: (n,) parent index, -1 for a root.
        rest: (n, 4, 4) each bone's rest matrix in armature space (`Bone.matrix_local`).
        world: (4, 4) the armature object's `matrix_world`.
        connected: (n,) `Bone.use_connect` (a connected bone cannot move away from its parent).
    """

    names: tuple[str, ...]
    parents: np.ndarray
    rest: np.ndarray
    world: np.ndarray
    connected: np.ndarray

    @classmethod
    def from_bones(cls, names, parent_names, rest, world, connected=None) -> "Rig":
        """A rig from bones in any order (`parent_names[i]` is None for a root)."""
        names = list(names)
        rest = np.asarray(rest, np.float64).reshape(len(names), 4, 4)
        connected = np.zeros(len(names), bool) if connected is None else np.asarray(connected, bool)
        index = {n: i for i, n in enumerate(names)}
        order, seen = [], set()

        def visit(i: int, trail: tuple[int, ...] = ()) -> None:
            if i in seen:
                return
            if i in trail:
                raise ValueError(f"bone hierarchy has a cycle at '{names[i]}'")
            p = parent_names[i]
            if p is not None:
                visit(index[p], trail + (i,))
            seen.add(i)
            order.append(i)

        for i in range(len(names)):
            visit(i)
        new = {old: k for k, old in enumerate(order)}
        parents = np.array([new[index[parent_names[i]]] if parent_names[i] is not None else -1 for i in order], np.int64)
        return cls(tuple(names[i] for i in order), parents, rest[order], np.asarray(world, np.float64), connected[order])

    @property
    def heads(self) -> np.ndarray:
        """(n, 3) rest head positions, armature space."""
        return self.rest[:, :3, 3]

    def to_world(self, p: np.ndarray) -> np.ndarray:
        return p @ self.world[:3, :3].T + self.world[:3, 3]

    def to_armature(self, p: np.ndarray) -> np.ndarray:
        inv = np.linalg.inv(self.world)
        return p @ inv[:3, :3].T + inv[:3, 3]

    def forward(self, basis: np.ndarray) -> np.ndarray:
        """Pose matrices (T, n, 4, 4) in armature space from per-bone `matrix_basis` (T, n, 4, 4)."""
        pose = np.empty_like(basis)
        for b, p in enumerate(self.parents):
            if p < 0:
                pose[:, b] = self.rest[b] @ basis[:, b]
            else:
                pose[:, b] = pose[:, p] @ (np.linalg.inv(self.rest[p]) @ self.rest[b]) @ basis[:, b]
        return pose


# ---------------------------------------------------------------------------------------------
# placing the clip in the scene

@dataclass(frozen=True)
class Placement:
    """Where the clip's first frame goes, in world coordinates (Z up)."""

    origin: np.ndarray  # (3,) x, y of the pelvis at the first frame; z of the floor
    yaw: float  # radians about world Z, 0 = facing -Y
    leg: float  # the armature's leg length, world units
    source: str  # 'rest', 'pose' or 'object': what the placement was taken from


def is_standing(joints_world: np.ndarray) -> bool:
    """True when the feet-to-head axis of canonical joints (22, 3) (world, Z up) is near vertical."""
    feet = (joints_world[J["left_ankle"]] + joints_world[J["right_ankle"]]) / 2
    up, n = _unit(joints_world[J["head"]] - feet)
    return bool(n > _EPS and up[2] >= math.cos(math.radians(STANDING_MAX_TILT_DEG)))


def facing_yaw(joints_world: np.ndarray) -> float:
    """Yaw of a body's forward direction (radians about Z, 0 = facing -Y) from hips and shoulders."""
    left = (joints_world[J["left_hip"]] - joints_world[J["right_hip"]]) + (
        joints_world[J["left_shoulder"]] - joints_world[J["right_shoulder"]])
    forward = np.cross(left, [0.0, 0.0, 1.0])  # left x up
    if math.hypot(forward[0], forward[1]) < _EPS:
        return 0.0
    # rot_z(yaw) @ (0, -1, 0) = (sin yaw, -cos yaw, 0)
    return math.atan2(forward[0], -forward[1])


def placement(candidates: list[tuple[str, np.ndarray]], object_matrix: np.ndarray) -> Placement:
    """Take the first standing pose of `candidates` [(name, canonical joints (22, 3) world)].

    The clip starts at that pose's pelvis, facing where it faces, its floor at the lowest foot
    joint. A rig with no standing pose (a BVH rest pose lying on its side) starts at the
    object's origin, facing the object's -Y. The leg length comes from the first candidate
    (bone lengths do not change with the pose).
    """
    leg = leg_length(np.asarray(candidates[0][1])[None])
    for name, joints in candidates:
        if is_standing(joints):
            floor = float(joints[list(FEET), 2].min())
            origin = np.array([joints[J["pelvis"], 0], joints[J["pelvis"], 1], floor])
            return Placement(origin, facing_yaw(joints), leg, name)
    m = np.asarray(object_matrix, np.float64)
    forward = -m[:3, 1]
    yaw = math.atan2(forward[0], -forward[1]) if math.hypot(forward[0], forward[1]) > _EPS else 0.0
    return Placement(m[:3, 3].copy(), yaw, leg, "object")


def align_start(pos: np.ndarray) -> np.ndarray:
    """Canonical positions (T, 22, 3) turned about Y to face +Z at frame 0, pelvis over the origin there.

    A clip cut out of a longer file starts wherever the performer stood; this puts every cut on
    the same footing. Heights (the floor at y = 0) are kept.
    """
    pos = np.asarray(pos, np.float64)
    p0 = pos[0]
    left = (p0[J["left_hip"]] - p0[J["right_hip"]]) + (p0[J["left_shoulder"]] - p0[J["right_shoulder"]])
    angle = math.atan2(left[2], left[0])  # rotate about Y so that left -> +X
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    out = pos @ rot.T
    out[..., 0] -= out[0, J["pelvis"], 0]
    out[..., 2] -= out[0, J["pelvis"], 2]
    return out


def place(pos: np.ndarray, where: Placement, scale: float) -> np.ndarray:
    """Aligned canonical positions (T, 22, 3) -> world positions (Z up) at `where`, scaled by `scale`."""
    return to_blender(np.asarray(pos, np.float64) * scale) @ rot_z(where.yaw).T + where.origin


# ---------------------------------------------------------------------------------------------
# the solve

@dataclass(frozen=True, eq=False)
class Plan:
    """Which bone does what, fixed once per armature and bone map.

    Attributes:
        rig: the armature.
        rigmap: canonical joints -> the rig's bones (`runtime.motion.rigs.map_rig` on `rig.names`).
        joint_bone: (22,) the bone index each joint is the head of, or -1 for a joint between
            bones (a lerp in the bone map).
        pelvis: the pelvis bone.
        aims: (bone, joint, aim joint, rest aim direction in the bone's rest frame) per swung bone.
        rest_frame: (3, 3) pelvis orientation at rest (armature space), see `body_frame`.
        held: mapped bones that keep their parent's pose (no chain child, or zero length to it).
        twists: (bone, left joint, right joint, rest left-right line in the bone's rest frame) for
            the bone that carries both collars (else both shoulders): after its swing it turns
            about its own axis so that the collar line follows the clip's, or the torso's twist
            (a punch, a look over the shoulder) would be lost and the shoulders land off.
    """

    rig: Rig
    rigmap: RigMap
    joint_bone: np.ndarray
    pelvis: int
    aims: tuple[tuple[int, int, int, np.ndarray], ...]
    rest_frame: np.ndarray
    held: tuple[str, ...]
    twists: tuple[tuple[int, int, int, np.ndarray], ...] = ()

    @property
    def driven(self) -> list[int]:
        """Bones that get keys, in hierarchy order."""
        return sorted({self.pelvis} | {a[0] for a in self.aims})

    def rest_joints(self) -> np.ndarray:
        """Canonical joints (22, 3) of the rest pose, armature space."""
        return self.rigmap.apply(self.rig.heads)


def plan(rig: Rig, rigmap: RigMap) -> Plan:
    """Decide the solve for `rig` whose bones `rigmap` maps (built on `rig.names`)."""
    exact = (rigmap.weight == 0.0) & (rigmap.a == rigmap.b)
    joint_bone = np.where(exact, rigmap.a, -1).astype(np.int64)
    pelvis = int(joint_bone[J["pelvis"]])
    if pelvis < 0:
        raise ValueError("the pelvis must be a bone of its own, not a point between two bones")
    heads = rig.heads
    scale = max(leg_length(rigmap.apply(heads)[None]), _EPS)
    claimed = {pelvis}
    aims, held = [], []
    for joint in JOINTS:  # parents before children
        bone = int(joint_bone[J[joint]])
        if bone < 0 or bone in claimed:
            continue
        claimed.add(bone)
        target = AIM_CHILD.get(joint)
        while target is not None and (joint_bone[J[target]] < 0 or joint_bone[J[target]] == bone):
            target = AIM_CHILD.get(target)
        if target is None:
            held.append(rig.names[bone])
            continue
        vec = heads[joint_bone[J[target]]] - heads[bone]
        if np.linalg.norm(vec) < 1e-4 * scale:
            held.append(rig.names[bone])
            continue
        local = np.linalg.inv(rig.rest[bone][:3, :3]) @ vec
        aims.append((bone, J[joint], J[target], local / np.linalg.norm(local)))
    aims.sort(key=lambda a: a[0])  # hierarchy order
    return Plan(rig, rigmap, joint_bone, pelvis, tuple(aims), body_frame(rigmap.apply(heads)), tuple(held),
                _twists(rig, joint_bone, {a[0] for a in aims}))


def _twists(rig: Rig, joint_bone: np.ndarray, aimed: set[int]) -> tuple:
    """The aimed bone that carries both collars (else both shoulders), with the rest line between them."""
    for left, right in (("left_collar", "right_collar"), ("left_shoulder", "right_shoulder")):
        lb, rb = int(joint_bone[J[left]]), int(joint_bone[J[right]])
        if lb < 0 or rb < 0 or lb == rb:
            continue
        above_left = set()
        b = int(rig.parents[lb])
        while b >= 0:
            above_left.add(b)
            b = int(rig.parents[b])
        carrier = int(rig.parents[rb])
        while carrier >= 0 and carrier not in above_left:
            carrier = int(rig.parents[carrier])
        if carrier < 0 or carrier not in aimed:
            return ()
        line = rig.heads[lb] - rig.heads[rb]
        if np.linalg.norm(line) < _EPS:
            return ()
        local = np.linalg.inv(rig.rest[carrier][:3, :3]) @ line
        return ((carrier, J[left], J[right], local / np.linalg.norm(local)),)
    return ()


def solve(p: Plan, targets: np.ndarray) -> np.ndarray:
    """`matrix_basis` (T, n, 4, 4) of every bone so the rig follows `targets` (T, 22, 3), armature space.

    Only the bones in `p.driven` differ from the identity.
    """
    rig = p.rig
    targets = np.asarray(targets, np.float64)
    frames, n = len(targets), len(rig.names)
    eye = np.broadcast_to(np.eye(4), (frames, 4, 4))
    basis = np.broadcast_to(np.eye(4), (frames, n, 4, 4)).copy()
    pose = np.empty((frames, n, 4, 4))
    aim_of = {a[0]: a for a in p.aims}
    twist_of = {t[0]: t for t in p.twists}
    target_frame = body_frame(targets)
    for b, parent in enumerate(rig.parents):
        base = rig.rest[b] if parent < 0 else pose[:, parent] @ (np.linalg.inv(rig.rest[parent]) @ rig.rest[b])
        base = np.broadcast_to(base, (frames, 4, 4))
        if b == p.pelvis:
            m = np.array(eye)
            m[:, :3, :3] = target_frame @ p.rest_frame.T @ rig.rest[b][:3, :3]
            m[:, :3, 3] = targets[:, J["pelvis"]]
        elif b in aim_of:
            _, joint, aim, local = aim_of[b]
            current = base[:, :3, :3] @ local
            want, length = _unit(targets[:, aim] - targets[:, joint])
            want = np.where((length > _EPS)[:, None], want, current)  # a zero-length segment: no swing
            m = np.array(base)
            m[:, :3, :3] = rotation_between(current, want) @ base[:, :3, :3]
            if b in twist_of:
                m[:, :3, :3] = _twist(m[:, :3, :3], want, twist_of[b], targets) @ m[:, :3, :3]
        else:
            pose[:, b] = base
            continue
        pose[:, b] = m
        basis[:, b] = np.linalg.inv(base) @ m
    return basis


def _twist(rot: np.ndarray, axis: np.ndarray, twist, targets: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) about the bone's aimed `axis` (T, 3) that turn its carried left-right line
    (rest line `twist[3]` under `rot`) onto the clip's, both seen across the axis."""
    _, left, right, local = twist
    now = rot @ local
    want = targets[:, left] - targets[:, right]
    now = now - axis * np.sum(now * axis, axis=-1, keepdims=True)
    want = want - axis * np.sum(want * axis, axis=-1, keepdims=True)
    ok = (np.linalg.norm(now, axis=-1) > _EPS) & (np.linalg.norm(want, axis=-1) > _EPS)
    angle = np.where(ok, np.arctan2(np.sum(axis * np.cross(now, want), axis=-1), np.sum(now * want, axis=-1)), 0.0)
    c, s_ = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -axis[..., 2], axis[..., 1]
    k[..., 1, 0], k[..., 1, 2] = axis[..., 2], -axis[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -axis[..., 1], axis[..., 0]
    return np.eye(3) + s_ * k + (1.0 - c) * (k @ k)


@dataclass(frozen=True, eq=False)
class Tracks:
    """Channel values for keys, per driven bone (hierarchy order)."""

    bones: tuple[str, ...]
    quaternions: np.ndarray  # (T, len(bones), 4) w, x, y, z; continuous over time
    pelvis_location: np.ndarray  # (T, 3) the pelvis bone's `location`
    pelvis: str


def tracks(p: Plan, basis: np.ndarray) -> Tracks:
    """Keyable channel values from `solve`'s bases."""
    driven = p.driven
    quats = matrix_to_quaternion(basis[:, driven, :3, :3])
    for k in range(len(driven)):
        quats[:, k] = continuous_quaternions(quats[:, k])
    return Tracks(tuple(p.rig.names[b] for b in driven), quats, basis[:, p.pelvis, :3, 3].copy(), p.rig.names[p.pelvis])


def retarget(p: Plan, canonical: np.ndarray, where: Placement, source_leg: float) -> tuple[np.ndarray, np.ndarray]:
    """Canonical clip positions (T, 22, 3) -> (matrix_basis (T, n, 4, 4), world targets (T, 22, 3)).

    The clip is aligned to start at `where`, scaled by the ratio of the rig's leg to `source_leg`.
    """
    world = place(align_start(canonical), where, where.leg / max(source_leg, _EPS))
    basis = solve(p, p.rig.to_armature(world))
    # The clip's floor is under its lowest foot joints; the rig's feet, with its own hip height
    # above the pelvis bone and its own leg proportions, land higher or lower: lift or lower
    # the whole clip so that they stand on the floor the way the clip's do.
    drop = _floor_gap(p, basis, where.origin[2])
    if abs(drop) > 1e-6 * where.leg:
        world = world - np.array([0.0, 0.0, drop])
        basis = solve(p, p.rig.to_armature(world))
    return basis, world


def _floor_gap(p: Plan, basis: np.ndarray, floor: float) -> float:
    """How far above `floor` (world z) the rig's lowest foot joints are, as the clip's floor is
    measured: the 1st percentile over frames of the lowest of ankles and toes."""
    pose = p.rig.forward(basis)
    feet = p.rig.to_world(p.rigmap.apply(pose[:, :, :3, 3]))[:, list(FEET), 2]
    return float(np.percentile(feet.min(axis=1), 1)) - float(floor)
