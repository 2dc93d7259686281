"""Mapping a rig by its skeleton when its bone names match no convention (numpy only).

A humanoid skeleton has one shape whatever its bones are called: a pelvis where two mirror-image
leg chains and the spine leave; the spine up to a chest where two mirror-image arm chains and
the neck leave; the neck up to the head. In each limb the two longest consecutive segments are
thigh and shin (upper arm and forearm); the bone after them is the foot (hand), the one before
them the hip bone (collar). Which leg is the left one follows from the rest pose: up runs from
the pelvis to the head, forward is where the toes point (or, without toes, the caller's forward
convention: -Y in Blender, +Z in a BVH file), and left = up x forward.

Input is what both a motion file and a Blender armature can give: names, parents and rest-pose
head positions (any unit, any axes). The result says per joint how sure it is and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import JOINTS

# How sure each kind of finding is (0..1): shown to the user beside the mapping.
SURE_TOPOLOGY = 0.95  # a branch point of the tree (pelvis, chest) or a chain's order
SURE_LENGTHS = 0.85  # which bones of a limb chain are the long ones
SURE_SIDE_TOES = 0.9  # left/right from the facing that the toes give
SURE_SIDE_CONVENTION = 0.6  # left/right from the caller's forward axis (no toes to tell)
SURE_BETWEEN = 0.5  # a joint the rig lacks, put between two bones
# Two chains are mirror images when their segment lengths agree within this fraction.
MIRROR_LENGTH_TOL = 0.2
# Toes tell the facing when the ankle-to-toe vector is at least this fraction of a leg.
TOE_MIN_FRACTION = 0.08
# An arm chain is at least this fraction of a leg chain long (fingers are far shorter).
ARM_MIN_FRACTION = 0.4
# A limb's first bone whose head is this close (fraction of the chain) to the branch point is its root bone.
ROOT_BONE_FRACTION = 0.02
# A leaf at the top of the neck chain is an end bone at the top of the skull (not the head) when its
# segment is at least this many times every other segment of the chain (a skull is ~2 neck bones).
HEAD_END_RATIO = 1.4


class RigShapeError(ValueError):
    """No humanoid shape in the skeleton; `missing` names the canonical joints not found."""

    def __init__(self, reason: str, missing: list[str]):
        super().__init__(reason)
        self.reason = reason
        self.missing = list(missing)


@dataclass(frozen=True)
class ShapeMap:
    """Canonical joint -> bone (or a point between two bones), with how sure and why.

    entries[joint] is a bone index, or ("lerp", a, b, t) with bone indices a, b.
    """

    entries: dict[str, int | tuple[str, int, int, float]]
    sureness: dict[str, float]
    reasons: dict[str, str]
    summary: str


def rest_heads(parents, offsets) -> np.ndarray:
    """Rest head positions (J, 3) from parent indices and offsets (a BVH/ASF rest pose)."""
    offsets = np.asarray(offsets, np.float64)
    heads = np.zeros_like(offsets)
    for j, p in enumerate(parents):  # parents come before children
        heads[j] = offsets[j] + (heads[p] if p >= 0 else 0.0)
    return heads


class _Tree:
    def __init__(self, parents, heads, ignore):
        n = len(parents)
        self.parents = [int(p) for p in parents]
        self.heads = np.asarray(heads, np.float64).reshape(n, 3)
        self.ignore = np.zeros(n, bool) if ignore is None else np.asarray(ignore, bool)
        self.children = [[] for _ in range(n)]
        for j, p in enumerate(self.parents):
            if p >= 0 and not self.ignore[j]:
                self.children[p].append(j)
        self.depth = [0] * n  # bones on the longest path down from j, j included
        self.size = [0] * n
        for j in self._post_order():
            kids = self.children[j]
            self.depth[j] = 1 + max((self.depth[c] for c in kids), default=0)
            self.size[j] = 1 + sum(self.size[c] for c in kids)

    def _post_order(self) -> list[int]:
        order, stack = [], [j for j, p in enumerate(self.parents) if p < 0 and not self.ignore[j]]
        while stack:
            j = stack.pop()
            order.append(j)
            stack.extend(self.children[j])
        return order[::-1]

    def tip(self, j: int, origin: int) -> np.ndarray | None:
        """The point of bone j farthest from bone `origin`'s head: j's head or the head of a left-out
        child (a BVH end site, a bone's tail: the tip of a leaf toe, or of a foot without toes);
        None when that is `origin`'s head itself."""
        ends = [j] + [c for c, p in enumerate(self.parents) if p == j and self.ignore[c]]
        far = max(ends, key=lambda c: float(np.linalg.norm(self.heads[c] - self.heads[origin])))
        return None if np.linalg.norm(self.heads[far] - self.heads[origin]) <= 1e-12 else self.heads[far]

    def long_children(self, j: int) -> list[int]:
        return [c for c in self.children[j] if self.depth[c] >= 2]

    def chain(self, start: int) -> list[int]:
        """Bones down from `start` while the way on is clear: one deepest child (a tie between
        leaves goes to the one farthest away: the toe, not the heel); stops where it branches."""
        out = [start]
        while True:
            kids = self.children[out[-1]]
            if not kids:
                return out
            deepest = max(self.depth[c] for c in kids)
            top = [c for c in kids if self.depth[c] == deepest]
            if len(top) > 1 and deepest >= 2:
                return out  # fingers: the hand ends the chain
            if len(top) > 1:
                here = self.heads[out[-1]]
                top = [max(top, key=lambda c: float(np.linalg.norm(self.heads[c] - here)))]
            out.append(top[0])

    def segments(self, chain: list[int]) -> np.ndarray:
        return np.linalg.norm(np.diff(self.heads[chain], axis=0), axis=-1)


def _mirror(tree: _Tree, a: int, b: int) -> bool:
    """Chains from a and b look like mirror images: same number of bones, similar segment
    lengths, and apart from each other."""
    ca, cb = tree.chain(a), tree.chain(b)
    if len(ca) != len(cb) or len(ca) < 2:
        return False
    la, lb = tree.segments(ca), tree.segments(cb)
    scale = max(float(la.sum()), float(lb.sum()), 1e-12)
    if np.abs(la - lb).max() > MIRROR_LENGTH_TOL * max(float(np.maximum(la, lb).max()), 1e-12):
        return False
    starts = np.linalg.norm(tree.heads[ca[0]] - tree.heads[cb[0]])
    ends = np.linalg.norm(tree.heads[ca[-1]] - tree.heads[cb[-1]])
    return bool(max(starts, ends) > 0.05 * scale)


def _branch(tree: _Tree, j: int, min_length: float = 0.0) -> tuple[int, int, int] | None:
    """(mirror child, mirror child, the other long child) when j is a three-way branch point
    whose mirror chains are at least `min_length` long (so fingers are not taken for arms)."""
    kids = tree.long_children(j)
    if len(kids) < 3:
        return None
    for x in range(len(kids)):
        for y in range(x + 1, len(kids)):
            if _mirror(tree, kids[x], kids[y]) and tree.segments(tree.chain(kids[x])).sum() >= min_length:
                rest = [c for c in kids if c not in (kids[x], kids[y])]
                return kids[x], kids[y], max(rest, key=lambda c: tree.size[c])
    return None


def _find_chest(tree: _Tree, start: int, min_arm: float) -> tuple[list[int], tuple[int, int, int]] | None:
    """The spine bones from `start` up to the chest (arms and neck branch there), inclusive."""
    spine, j = [start], start
    while True:
        found = _branch(tree, j, min_arm)
        if found is not None:
            return spine, found
        kids = tree.long_children(j) or tree.children[j]
        if not kids:
            return None
        j = max(kids, key=lambda c: tree.size[c])
        spine.append(j)


def _limb(tree: _Tree, chain: list[int]) -> tuple[int | None, int, int, int, int | None]:
    """(root bone or None, upper, lower, end, after end or None) of a limb chain: upper and
    lower are the two consecutive segments longest together, with a bone after them."""
    seg = tree.segments(chain)
    if len(chain) < 3:
        raise RigShapeError("a limb chain has fewer than three bones", [])
    i = int(np.argmax(seg[:-1] + seg[1:])) if len(seg) >= 2 else 0
    i = min(i, len(chain) - 3)
    parent = tree.parents[chain[0]]
    if (i == 0 and i + 3 < len(chain) and parent >= 0
            and np.linalg.norm(tree.heads[chain[0]] - tree.heads[parent]) <= ROOT_BONE_FRACTION * float(seg.sum())):
        i = 1  # a bone starting where the limb branches off is a collar (hip bone), however long (CMU's)
    before = chain[i - 1] if i >= 1 else None
    after = chain[i + 3] if i + 3 < len(chain) else None
    return before, chain[i], chain[i + 1], chain[i + 2], after


def _head(tree: _Tree, neck_chain: list[int]) -> tuple[int, str]:
    """(the head bone, why) of the chain from the chest up: where the chain branches (eyes, jaw)
    or stops. A chain that stops in a leaf bone is ambiguous: the leaf is the head itself (CMU's
    Neck -> Neck1 -> Head, Unreal's neck_01 -> neck_02 -> head) or an end bone at the top of the
    skull (Mixamo's Head -> HeadTop_End, Biped's Head -> HeadNub). A skull is far longer than a
    neck bone: a leaf whose segment is clearly the longest of the chain is the end bone, and its
    parent the head. (A leaf's tail says nothing: Blender's FBX and glTF importers give a leaf
    bone its parent's length, and a BVH end site can be at the joint itself, as in CMU's files.)"""
    head = neck_chain[-1]
    for k, j in enumerate(neck_chain):  # the head is where the neck chain stops or branches
        if len(tree.long_children(j)) != 1 and k > 0:
            head = j
            break
    k = neck_chain.index(head)
    if k + 1 == len(neck_chain) - 1 and len(tree.children[head]) == 1:
        # one leaf above: the head itself, or the head's end bone
        seg = tree.segments(neck_chain)
        if len(seg) >= 2 and seg[-1] >= HEAD_END_RATIO * float(seg[:-1].max()):
            return head, "below the end bone at the top of the head (the longest of the neck chain)"
        return neck_chain[-1], "top of the neck chain"
    return head, "top of the neck chain" if head == neck_chain[-1] else "where the neck chain branches"


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else v * 0.0


def map_shape(parents, heads, *, forward_hint=(0.0, -1.0, 0.0), ignore=None, names=None) -> ShapeMap:
    """Map a skeleton onto the 22 canonical joints by its shape.

    Args:
        parents: (J,) parent index per bone, -1 for a root (any order).
        heads: (J, 3) rest-pose head positions.
        forward_hint: the character's forward axis in these coordinates, used when no toes
            tell the facing (Blender: -Y; a BVH rest pose: +Z).
        ignore: (J,) True for bones to leave out (BVH end sites).
        names: bone names, for the reasons only.

    Raises:
        RigShapeError: no pelvis with two legs and a spine, or no chest with two arms and a neck.
    """
    tree = _Tree(parents, heads, ignore)
    name = (lambda j: names[j]) if names is not None else (lambda j: f"bone {j}")
    roots = [j for j, p in enumerate(tree.parents) if p < 0 and not tree.ignore[j]]
    if not roots:
        raise RigShapeError("the skeleton has no bones", list(JOINTS))
    # the pelvis: the first three-way branch (breadth first from the largest tree) whose
    # third child leads to a chest
    queue = [max(roots, key=lambda r: tree.size[r])]
    pelvis = legs = torso = None
    legs_at = None
    while queue and pelvis is None:
        j = queue.pop(0)
        found = _branch(tree, j)
        if found is not None:
            legs_at = legs_at if legs_at is not None else j
            leg = float(tree.segments(tree.chain(found[0])).sum())
            torso = _find_chest(tree, found[2], ARM_MIN_FRACTION * leg)
            if torso is not None:
                pelvis, legs = j, found[:2]
                break
        queue.extend(tree.long_children(j))
    if pelvis is None:
        where = (f"two mirror-image chains branch at '{name(legs_at)}', but no second such branch is "
                 "beside or above them" if legs_at is not None else "no bone has two mirror-image chains")
        raise RigShapeError(f"{where}: a humanoid needs two legs and a spine branching at the pelvis, and two "
                            "arms and a neck branching further up the spine", list(JOINTS))
    spine, (arm_a, arm_b, neck_start) = torso
    chest = spine[-1]

    # up: pelvis -> top of the neck chain; forward: the toes, else the hint; left = up x forward
    neck_chain = tree.chain(neck_start)
    head, head_why = _head(tree, neck_chain)
    up = _unit(tree.heads[head] - tree.heads[pelvis])
    leg_chains = [tree.chain(c) for c in legs]
    leg_parts = [_limb(tree, c) for c in leg_chains]
    leg_len = float(np.mean([np.linalg.norm(tree.heads[p[2]] - tree.heads[p[1]])
                             + np.linalg.norm(tree.heads[p[3]] - tree.heads[p[2]]) for p in leg_parts]))
    toes = [tree.tip(p[4] if p[4] is not None else p[3], p[3]) for p in leg_parts]
    forward, side_sure, side_why = None, SURE_SIDE_CONVENTION, "the forward axis convention"
    if all(t is not None for t in toes):
        v = sum(t - tree.heads[p[3]] for t, p in zip(toes, leg_parts)) / 2
        v = v - up * float(v @ up)
        if np.linalg.norm(v) > TOE_MIN_FRACTION * leg_len:
            forward, side_sure, side_why = _unit(v), SURE_SIDE_TOES, "where the toes point"
    if forward is None:
        hint = np.asarray(forward_hint, np.float64)
        forward = _unit(hint - up * float(hint @ up))
    left = _unit(np.cross(up, forward))

    def order(a: int, b: int) -> tuple[int, int, float]:
        """(left, right, how far apart along `left`)."""
        da = float((tree.heads[tree.chain(a)[-1]] - tree.heads[pelvis]) @ left)
        db = float((tree.heads[tree.chain(b)[-1]] - tree.heads[pelvis]) @ left)
        return (a, b, da - db) if da >= db else (b, a, db - da)

    entries: dict[str, int | tuple[str, int, int, float]] = {}
    sure: dict[str, float] = {}
    why: dict[str, str] = {}

    def put(joint, value, s, reason):
        entries[joint], sure[joint], why[joint] = value, s, reason

    put("pelvis", pelvis, SURE_TOPOLOGY, "where the legs and the spine branch")
    # spine: bones from the pelvis to the chest; spine3 is the chest
    between = spine[:-1]
    while between and np.linalg.norm(tree.heads[between[0]] - tree.heads[pelvis]) <= ROOT_BONE_FRACTION * leg_len:
        between = between[1:]  # a bone starting at the pelvis (CMU's LowerBack) is no spine joint of its own
    put("spine3", chest, SURE_TOPOLOGY, "where the arms and the neck branch")
    if len(between) >= 2:
        put("spine1", between[0], SURE_TOPOLOGY, "first spine bone")
        put("spine2", between[len(between) // 2], SURE_LENGTHS, "middle spine bone")
    elif len(between) == 1:
        put("spine1", between[0], SURE_TOPOLOGY, "first spine bone")
        put("spine2", ("lerp", between[0], chest, 0.5), SURE_BETWEEN, "between the spine bone and the chest")
    else:
        put("spine1", ("lerp", pelvis, chest, 1 / 3), SURE_BETWEEN, "a third of the way up to the chest")
        put("spine2", ("lerp", pelvis, chest, 2 / 3), SURE_BETWEEN, "two thirds of the way up to the chest")
    put("head", head, SURE_TOPOLOGY, head_why)
    if neck_chain[0] != head:
        put("neck", neck_chain[0], SURE_TOPOLOGY, "first bone of the neck chain")
    else:
        put("neck", ("lerp", chest, head, 0.5), SURE_BETWEEN, "between chest and head")

    left_leg, right_leg, apart_legs = order(*legs)
    left_arm, right_arm, apart_arms = order(arm_a, arm_b)
    if apart_legs <= 1e-9 and apart_arms <= 1e-9:
        raise RigShapeError("the two legs and the two arms are not side by side: cannot tell left from right",
                            [j for j in JOINTS if j.startswith(("left_", "right_"))])
    for side, leg_start, arm_start in (("left", left_leg, left_arm), ("right", right_leg, right_arm)):
        side_note = f"{side} side from {side_why}"
        before, thigh, shin, foot, toe = _limb(tree, tree.chain(leg_start))
        put(f"{side}_hip", thigh, min(SURE_LENGTHS, side_sure), f"upper of the two long leg bones; {side_note}")
        put(f"{side}_knee", shin, min(SURE_LENGTHS, side_sure), "lower of the two long leg bones")
        put(f"{side}_ankle", foot, min(SURE_LENGTHS, side_sure), "bone after the shin")
        if toe is not None:
            put(f"{side}_foot", toe, min(SURE_LENGTHS, side_sure), "bone after the foot")
        else:
            put(f"{side}_foot", foot, SURE_BETWEEN, "no toe bone: the ankle stands in")
        collar, upper, fore, hand, _ = _limb(tree, tree.chain(arm_start))
        put(f"{side}_shoulder", upper, min(SURE_LENGTHS, side_sure), f"upper of the two long arm bones; {side_note}")
        put(f"{side}_elbow", fore, min(SURE_LENGTHS, side_sure), "lower of the two long arm bones")
        put(f"{side}_wrist", hand, min(SURE_LENGTHS, side_sure), "bone after the forearm")
        if collar is not None:
            put(f"{side}_collar", collar, min(SURE_LENGTHS, side_sure), "bone before the upper arm")
        else:
            put(f"{side}_collar", ("lerp", chest, upper, 0.5), SURE_BETWEEN, "no collar bone: between chest and shoulder")
    summary = (f"skeleton shape: pelvis '{name(pelvis)}', chest '{name(chest)}', head '{name(head)}'; "
               f"left/right from {side_why}")
    return ShapeMap(entries, sure, why, summary)
