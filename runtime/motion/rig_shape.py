"""Mapping a rig by its skeleton when its bone names match no convention (numpy only).

A humanoid skeleton has one shape whatever its bones are called: a pelvis where two mirror-image
leg chains and the spine leave; the spine up to a chest where two mirror-image arm chains and
the neck leave; the neck up to the head. Which leg is the left one follows from the pose: up
runs from the pelvis to the head, the hips' line is the side axis, and which way the body faces
is voted on by where the toes point, which way the knees bend and (weakly) the caller's forward
convention (-Y in Blender, +Z in a BVH file); left = up x forward.

Each limb chain (from where it leaves the body to its end, side branches such as twist bones
left out) holds a root part (collar, hip bone), an upper and a lower segment (upper arm and
forearm, thigh and shin) and an end (hand, foot). A segment can be one bone or several
(MakeHuman's upperarm01 / upperarm02): every way of cutting the chain into those parts is
scored against human proportions (upper / lower segment, arm / leg, leg / torso), straight
segments, bones of a segment of comparable length and ends of a usual size; the best cut wins.

Sureness is evidence, not a constant: per joint, the share of that score the chosen bone holds
among the alternatives (a second cut nearly as good halves it), times how usual the proportions
are, how alike the mirror limbs are, and how clearly left and right are told apart. A joint
with little of it gets a doubt: a short sentence on why.

Input is what both a motion file and a Blender armature can give: names, parents and pose
head positions (any unit, any axes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .skeleton import JOINTS

# Human proportions, each (typical ratio, spread in log units): a ratio r lies
# log(r / typical) / spread spreads off. Measured on SMPL's template, CMU and Bandai-Namco files
# and Blender T-pose rigs; the spreads cover all of them within about one.
THIGH_SHIN = (0.97, 0.15)  # hip-knee / knee-ankle: 0.93 (SMPL) to 0.96 (CMU, Bandai-Namco)
UPPER_FORE = (1.2, 0.2)  # shoulder-elbow / elbow-wrist: 1.04 (SMPL) to 1.43 (CMU, whose wrist is down the hand)
ARM_LEG = (0.62, 0.15)  # shoulder-wrist / hip-ankle: 0.58 (CMU, Bandai-Namco) to 0.66 (SMPL)
LEG_TORSO = (1.5, 0.25)  # hip-ankle / the bones' path from the pelvis to the head: 1.25 (T-pose rigs) to 1.9 (CMU)
SHOULDER_WIDTH = (0.34, 0.25)  # shoulder-shoulder / hip-ankle: 0.25 (Bandai-Namco) to 0.46 (CMU); collars 0-0.12
# Proportions up to this many spreads off are usual; beyond it sureness falls (to 0.6 one spread further).
Z_USUAL = 2.0

# Cutting a limb chain into root, upper segment, lower segment and end.
# A bone shorter than this fraction of its limb chain is a helper (zero-length roll bones, CMU's
# LeftFingerBase): it cuts nothing, and a joint at its head is the bone above it.
TINY_FRACTION = 0.03
# A segment of several bones: each is at least this fraction of it (MakeHuman's halves are 0.5;
# a hand after a forearm is 0.15-0.2 of the two together), softened by PIECE_SPREAD.
MIN_PIECE = 0.3
PIECE_SPREAD = 0.04
# A segment's bones are in line: 1 - straight length / path along them is ~0 (0.015 for a 20
# degree bend in its middle); STRAIGHT_SPREAD is how much of that is still "in line".
STRAIGHT_SPREAD = 0.02
# In a leg, a bone just before or after the two segments, in line with the one beside it (cosine
# above INLINE_COS, full weight when collinear), is rather a part of it: it costs as much as it is
# long (as a fraction of the segment) in CONTINUE_SPREADs. (A hip bone goes off sideways and a foot
# forward in any pose; an arm's collar and hand can be in line with it, so arms are measured by
# SHOULDER_WIDTH instead.)
INLINE_COS = 0.9
CONTINUE_SPREAD = 0.1
# The bones before the upper segment (hip bone, collar) and after the lower one (foot and toes,
# hand and fingers) are at most these fractions of the two segments (CMU's collar is 0.42).
MAX_ROOT = {"leg": 0.35, "arm": 0.6}
MAX_END = {"leg": 0.45, "arm": 0.5}
EXCESS_SPREAD = 0.05

# Telling left from right.
# The hips' line is the side axis; which end is left is voted on in log-odds (each vote at most
# CUE_ODDS_MAX: 0.993), the sureness is the votes' sum as a probability.
CUE_ODDS_MAX = 5.0
# Toes vote when the ankle-to-toe vector (the mean of the feet, across the up axis) is at least
# this fraction of a leg, as strongly as the feet point alike: the mean vector's length over the
# mean of theirs (1: parallel; a vote from TOE_AGREE up, one log-odds per TOE_AGREE_SPREAD).
# (A run's mid-frame can have the feet at right angles: 1020 Bandai-Namco and CMU files, six wrong
# by the toes alone, all below 0.25.)
TOE_MIN_FRACTION = 0.08
TOE_AGREE = 0.5
TOE_AGREE_SPREAD = 0.1
# Knees bend forward: the knees' offset from the hip-ankle lines (their sum over twice the leg)
# votes from KNEE_BEND_MIN up, one log-odds per KNEE_BEND_SPREAD (the same files: median 0.11,
# the one wrong at 0.012; a T-pose rig's straight legs are ~0.03 and do not vote).
KNEE_BEND_MIN = 0.03
KNEE_BEND_SPREAD = 0.008
# The caller's forward axis votes as a convention is kept: left/right from it alone is this sure.
SIDE_CONVENTION = 0.6
# Two limbs are side by side when their hips (shoulders) are this fraction of a limb apart
# across the up axis (they are 0.15-0.45), softened by SIDE_APART_SPREAD.
SIDE_APART = 0.04
SIDE_APART_SPREAD = 0.01

# Finding the body.
# Two chains are mirror images when their segment lengths agree within this fraction; sureness
# halves at the limit (real captures differ by up to 7%).
MIRROR_LENGTH_TOL = 0.2
# An arm chain is at least this fraction of a leg chain long (fingers are far shorter).
ARM_MIN_FRACTION = 0.4
# A limb's first bone whose head is this close (fraction of the chain) to the branch point is its root bone.
ROOT_BONE_FRACTION = 0.02
# A leaf at the top of the neck chain is an end bone at the top of the skull (not the head) when its
# segment is at least this many times every other segment of the chain (a skull is ~2 neck bones);
# within HEAD_END_SPREAD (log units) of the limit it could be either.
HEAD_END_RATIO = 1.4
HEAD_END_SPREAD = 0.1

# A piece of evidence below this is named in the joint's doubt.
DOUBT_BELOW = 0.95


class RigShapeError(ValueError):
    """No humanoid shape in the skeleton; `missing` names the canonical joints not found."""

    def __init__(self, reason: str, missing: list[str]):
        super().__init__(reason)
        self.reason = reason
        self.missing = list(missing)


@dataclass(frozen=True)
class ShapeMap:
    """Canonical joint -> bone (or a point between two bones), with how sure and why.

    entries[joint] is a bone index, or ("lerp", a, b, t) with bone indices a, b. sureness[joint]
    is 0..1 from the evidence; reasons[joint] says how the bone was found; doubts[joint] says
    what lowers the sureness ("" when nothing much does).
    """

    entries: dict[str, int | tuple[str, int, int, float]]
    sureness: dict[str, float]
    reasons: dict[str, str]
    summary: str
    doubts: dict[str, str] = field(default_factory=dict)


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
        leaves goes to the one farthest away: the toe, not the heel; a twist bone beside the
        limb is shallower than the limb's own child); stops where it branches."""
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


def _mirror_difference(tree: _Tree, a: int, b: int) -> float | None:
    """How far the chains from a and b are from mirror images: the largest difference of their
    segment lengths as a fraction of the longest (None: not the same number of bones)."""
    ca, cb = tree.chain(a), tree.chain(b)
    if len(ca) != len(cb) or len(ca) < 2:
        return None
    la, lb = tree.segments(ca), tree.segments(cb)
    return float(np.abs(la - lb).max() / max(float(np.maximum(la, lb).max()), 1e-12))


def _mirror(tree: _Tree, a: int, b: int) -> bool:
    """Chains from a and b look like mirror images: same number of bones, similar segment
    lengths, and apart from each other."""
    diff = _mirror_difference(tree, a, b)
    if diff is None or diff > MIRROR_LENGTH_TOL:
        return False
    ca, cb = tree.chain(a), tree.chain(b)
    scale = max(float(tree.segments(ca).sum()), float(tree.segments(cb).sum()), 1e-12)
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


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def _z(ratio: float, prior: tuple[float, float]) -> float:
    """How many spreads `ratio` is off the typical one."""
    return (math.log(max(ratio, 1e-12)) - math.log(prior[0])) / prior[1]


def _usual(z: float) -> float:
    """Sureness left by a proportion `z` spreads off the typical one."""
    return math.exp(-0.5 * max(0.0, abs(z) - Z_USUAL) ** 2)


def _head(tree: _Tree, neck_chain: list[int]) -> tuple[int, str, float]:
    """(the head bone, why, how sure) of the chain from the chest up: where the chain branches
    (eyes, jaw) or stops. A chain that stops in a leaf bone is ambiguous: the leaf is the head
    itself (CMU's Neck -> Neck1 -> Head, Unreal's neck_01 -> neck_02 -> head) or an end bone at
    the top of the skull (Mixamo's Head -> HeadTop_End, Biped's Head -> HeadNub). A skull is far
    longer than a neck bone: a leaf whose segment is clearly the longest of the chain is the end
    bone, and its parent the head; near the limit it could be either. (A leaf's tail says
    nothing: Blender's FBX and glTF importers give a leaf bone its parent's length, and a BVH end
    site can be at the joint itself, as in CMU's files.)"""
    head = neck_chain[-1]
    for k, j in enumerate(neck_chain):  # the head is where the neck chain stops or branches
        if len(tree.long_children(j)) != 1 and k > 0:
            head = j
            break
    k = neck_chain.index(head)
    if k + 1 == len(neck_chain) - 1 and len(tree.children[head]) == 1:
        # one leaf above: the head itself, or the head's end bone
        seg = tree.segments(neck_chain)
        if len(seg) >= 2:
            x = math.log(max(float(seg[-1]), 1e-12) / max(HEAD_END_RATIO * float(seg[:-1].max()), 1e-12))
            sure = _logistic(abs(x) / HEAD_END_SPREAD)
            if x >= 0:
                return head, "below the end bone at the top of the head (the longest of the neck chain)", sure
            return neck_chain[-1], "top of the neck chain", sure
        return neck_chain[-1], "top of the neck chain", 1.0
    return head, ("top of the neck chain" if head == neck_chain[-1] else "where the neck chain branches"), 1.0


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else v * 0.0


@dataclass
class _Limbs:
    """A mirror pair of limbs cut into parts: chain indices s (upper segment's first bone),
    m (lower segment's first bone), e (end bone), the same on both sides."""

    chains: tuple[list[int], list[int]]
    s: int
    m: int
    e: int
    toes: tuple[int | None, int | None]  # per side: the bone of the toe joint (legs), else None
    sure: dict[str, float]  # role (root, upper, bend, end, toe) -> share of the evidence for the chosen bone
    rival: dict[str, int]  # role -> chain index of the best other bone for it (side 0), when there is one
    ratio: float  # upper / lower segment (mean of the sides)
    length: float  # upper + lower segment (mean of the sides)

    def bone(self, side: int, k: int) -> int:
        return self.chains[side][k]


def _fit_limbs(tree: _Tree, chains: tuple[list[int], list[int]], kind: str, reference: float,
               toes: tuple[int | None, int | None] = (None, None)) -> _Limbs:
    """Cut a mirror pair of limb chains into root, upper, lower and end (see the module doc).

    Args:
        kind: "leg" or "arm" (which proportions apply).
        reference: the length the limb is compared with: the torso path for legs, the legs for arms.
        toes: per side, a toe bone below a chain that ends where the toes branch.
    """
    inner, cross = (THIGH_SHIN, LEG_TORSO) if kind == "leg" else (UPPER_FORE, ARM_LEG)
    n = min(len(c) for c in chains)
    if n < 3:
        raise RigShapeError(f"a{'n' if kind == 'arm' else ''} {kind} chain has fewer than three bones", [])
    sides = []
    for chain in chains:
        chain = chain[:n]
        pts = tree.heads[chain]
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=-1)
        tip = tree.tip(chain[-1], chain[-1])
        tip_len = 0.0 if tip is None else float(np.linalg.norm(tip - pts[-1]))
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        total = float(cum[-1]) + tip_len
        tiny = TINY_FRACTION * max(total, 1e-12)
        parent = tree.parents[chain[0]]
        at_branch = parent >= 0 and np.linalg.norm(pts[0] - tree.heads[parent]) <= ROOT_BONE_FRACTION * total
        sides.append((pts, seg, cum, tip_len, tiny, at_branch))
    # a bone starting where the limb leaves the body is a root bone (collar, hip bone), however long (CMU's)
    s_min = 1 if n >= 4 and any(at for *_, at in sides) else 0
    # chain positions whose head is where the one above starts (a helper bone's) stand for the upper one
    same = [k for k in range(n)]
    for k in range(1, n):
        if all(side[1][k - 1] <= side[4] for side in sides):
            same[k] = same[k - 1]

    cands, scores = [], []
    for s in range(s_min, n - 2):
        for m in range(s + 1, n - 1):
            for e in range(m + 1, n):
                if same[s] == same[m] or same[m] == same[e]:
                    continue
                total_score, ratios, lengths = 0.0, [], []
                for pts, seg, cum, tip_len, tiny, _ in sides:
                    upper, lower = float(np.linalg.norm(pts[m] - pts[s])), float(np.linalg.norm(pts[e] - pts[m]))
                    if upper <= tiny or lower <= tiny:
                        total_score = -math.inf
                        break
                    score = -0.5 * _z(upper / lower, inner) ** 2 - 0.5 * _z((upper + lower) / reference, cross) ** 2
                    for a, b, straight in ((s, m, upper), (m, e, lower)):
                        path = float(cum[b] - cum[a])
                        score -= 0.5 * ((1.0 - straight / path) / STRAIGHT_SPREAD) ** 2
                        pieces = [float(x) for x in seg[a:b] if x > tiny]
                        if len(pieces) > 1:
                            for x in pieces:
                                short = MIN_PIECE - x / sum(pieces)
                                score -= 0.5 * (max(0.0, short) / PIECE_SPREAD) ** 2
                    # a leg's long bone just before (after) the two segments and in line with them is
                    # rather a part of them: the leg's full chain is used, from its root to the foot
                    for k, seg_start, seg_end, length in ((s - 1, s, m, upper), (e, m, e, lower)):
                        while 0 <= k < len(seg) and seg[k] <= tiny:
                            k += -1 if k < s else 1
                        if kind == "leg" and 0 <= k < len(seg):
                            inline = float(_unit(pts[k + 1] - pts[k]) @ _unit(pts[seg_end] - pts[seg_start]))
                            cont = max(0.0, (inline - INLINE_COS) / (1.0 - INLINE_COS)) * float(seg[k]) / length
                            score -= 0.5 * (cont / CONTINUE_SPREAD) ** 2
                    root = float(cum[s]) / (upper + lower)
                    end = (float(cum[-1] - cum[e]) + tip_len) / (upper + lower)
                    score -= 0.5 * (max(0.0, root - MAX_ROOT[kind]) / EXCESS_SPREAD) ** 2
                    score -= 0.5 * (max(0.0, end - MAX_END[kind]) / EXCESS_SPREAD) ** 2
                    total_score += score / len(sides)  # the mean of the sides: mirror limbs are one piece of evidence
                    ratios.append(upper / lower)
                    lengths.append(upper + lower)
                if math.isfinite(total_score) and kind == "arm":
                    # the shoulders are at the sides of the chest, the collars near its middle
                    width = float(np.linalg.norm(sides[0][0][s] - sides[1][0][s])) / reference
                    total_score -= 0.5 * _z(width, SHOULDER_WIDTH) ** 2
                if math.isfinite(total_score):
                    cands.append((s, m, e, float(np.mean(ratios)), float(np.mean(lengths))))
                    scores.append(total_score)
    if not cands:
        raise RigShapeError(f"no {kind} chain has two long segments", [])
    scores = np.array(scores)
    p = np.exp(scores - scores.max())
    p /= p.sum()
    best = int(np.argmax(p))
    s, m, e, ratio, length = cands[best]

    def after(e):
        """The first chain position past the end bone that is not at its head (the toe), or None."""
        return next((k for k in range(e + 1, n) if same[k] != same[e]), None)

    def toe_key(c):
        k = after(c[2])
        if k is not None:
            return same[k]
        return "branch" if toes[0] is not None else None

    keys = {"root": lambda c: 0 if c[0] >= 1 else None, "upper": lambda c: same[c[0]],
            "bend": lambda c: same[c[1]], "end": lambda c: same[c[2]], "toe": toe_key}
    sure, rival = {}, {}
    for role, key in keys.items():
        chosen = key(cands[best])
        mass: dict = {}
        for c, pc in zip(cands, p):
            mass[key(c)] = mass.get(key(c), 0.0) + float(pc)
        sure[role] = mass[chosen]
        others = [(v, k) for k, v in mass.items() if k != chosen and isinstance(k, int)]
        if others:
            rival[role] = max(others)[1]
    picked_toes = tuple((toes[i] if after(e) is None else chains[i][after(e)]) for i in range(2))
    return _Limbs((chains[0][:n], chains[1][:n]), same[s], same[m], same[e], picked_toes, sure, rival, ratio, length)


def _middle_toe(tree: _Tree, foot: int) -> int | None:
    """The toe a foot's toes are centred on, when the leg chain ends at a foot where several toe
    chains branch (MakeHuman's toe1-1 ... toe5-1): the one nearest their mean."""
    toes = tree.long_children(foot)
    if len(toes) < 2:
        return None
    centre = tree.heads[toes].mean(axis=0)
    return min(toes, key=lambda t: float(np.linalg.norm(tree.heads[t] - centre)))


def _sides(tree: _Tree, up: np.ndarray, legs: _Limbs, arms: _Limbs, forward_hint):
    """Which leg and arm are the left ones: the hips' line is the body's side axis; which way it
    points is voted on by where the toes point, which way the knees bend (forward, in any pose
    with them bent) and the caller's forward axis (a weak vote), each in log-odds.

    Returns:
        (left axis, left leg's chain index, left arm's chain index, sureness, why, doubt,
         legs apart, arms apart (fractions of a limb)).
    """
    def across(v):
        return v - up * float(v @ up)

    hips = [tree.heads[legs.bone(i, legs.s)] for i in range(2)]
    line = across(hips[0] - hips[1])
    if np.linalg.norm(line) <= 1e-9 * max(legs.length, 1e-12):  # hips at one point: the shoulders' line
        line = across(tree.heads[arms.bone(0, arms.s)] - tree.heads[arms.bone(1, arms.s)])
    if np.linalg.norm(line) <= 1e-9 * max(legs.length, 1e-12):
        raise RigShapeError("the two legs and the two arms are not side by side: cannot tell left from right",
                            [j for j in JOINTS if j.startswith(("left_", "right_"))])
    votes = []  # (+1: chain 0 is the left one, -1: chain 1 is; log-odds; what tells)

    def vote(forward, odds, what):
        side = float(line @ np.cross(up, forward))
        if odds > 0 and abs(side) > 1e-12:
            votes.append((1.0 if side > 0 else -1.0, min(odds, CUE_ODDS_MAX), what))

    ankles = [legs.bone(i, legs.e) for i in range(2)]
    toes = [tree.tip(a if t is None else t, a) for a, t in zip(ankles, legs.toes)]  # else a foot's own tip
    if all(t is not None for t in toes):
        each = [across(t - tree.heads[a]) for t, a in zip(toes, ankles)]
        mean = sum(each) / 2
        if float(np.linalg.norm(mean)) > TOE_MIN_FRACTION * legs.length:
            agree = float(np.linalg.norm(mean)) / max(float(np.mean([np.linalg.norm(x) for x in each])), 1e-12)
            vote(mean, (agree - TOE_AGREE) / TOE_AGREE_SPREAD, "where the toes point")
    bend = sum(across(tree.heads[legs.bone(i, legs.m)] - (tree.heads[legs.bone(i, legs.s)]
                                                          + tree.heads[legs.bone(i, legs.e)]) / 2) for i in range(2))
    vote(bend, (float(np.linalg.norm(bend)) / (2 * legs.length) - KNEE_BEND_MIN) / KNEE_BEND_SPREAD,
         "the way the knees bend")
    hint = across(np.asarray(forward_hint, np.float64))
    vote(hint, math.log(SIDE_CONVENTION / (1 - SIDE_CONVENTION)), "the forward axis convention")
    total = sum(sign * odds for sign, odds, _ in votes)
    sign = 1.0 if total >= 0 else -1.0
    left = sign * _unit(line)
    told = [what for s, odds, what in votes if s == sign and odds >= 1.0] or [
        max(((odds, what) for s, odds, what in votes if s == sign), default=(0.0, "the forward axis convention"))[1]]
    against = [what for s, odds, what in votes if s != sign and odds >= 1.0]
    if against:
        doubt = f"{' and '.join(told)} and {' and '.join(against)} disagree on which way the body faces"
    elif told == ["the forward axis convention"]:
        doubt = ("left and right only from the forward axis convention (no toes or bent knees show which way the "
                 "body faces)")
    else:
        doubt = f"{' and '.join(told)} barely show which way the body faces"
    shoulders = float((tree.heads[arms.bone(0, arms.s)] - tree.heads[arms.bone(1, arms.s)]) @ left)
    return (left, 0 if sign > 0 else 1, 0 if shoulders >= 0 else 1, _logistic(abs(total)), " and ".join(told), doubt,
            float(np.linalg.norm(line)) / legs.length, abs(shoulders) / arms.length)


class _Evidence:
    """Per joint, the pieces of evidence (sureness 0..1, what it says when it is low)."""

    def __init__(self):
        self.items: dict[str, list[tuple[float, str]]] = {}

    def add(self, joints, sure: float, doubt: str) -> None:
        for j in [joints] if isinstance(joints, str) else joints:
            self.items.setdefault(j, []).append((float(sure), doubt))

    def sureness(self, joint: str) -> float:
        return float(np.prod([s for s, _ in self.items.get(joint, [])] or [1.0]))

    def doubt(self, joint: str) -> str:
        low = sorted((s, d) for s, d in self.items.get(joint, []) if s < DOUBT_BELOW and d)
        out: list[str] = []
        for _, d in low:
            if d not in out:
                out.append(d)
        return "; ".join(out[:2])


def map_shape(parents, heads, *, forward_hint=(0.0, -1.0, 0.0), ignore=None, names=None) -> ShapeMap:
    """Map a skeleton onto the 22 canonical joints by its shape.

    Args:
        parents: (J,) parent index per bone, -1 for a root (any order).
        heads: (J, 3) head positions in a pose that shows the body (a rest pose or a frame).
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
    neck_chain = tree.chain(neck_start)
    head, head_why, head_sure = _head(tree, neck_chain)
    up = _unit(tree.heads[head] - tree.heads[pelvis])

    # the torso's length along its bones, pelvis to head: what the legs are measured against
    torso_path = [pelvis] + spine + neck_chain[:neck_chain.index(head) + 1]
    torso_len = max(float(tree.segments(torso_path).sum()), 1e-12)

    # the limbs cut into root, segments and end (legs first: the arms are measured against them)
    leg_chains = (tree.chain(legs[0]), tree.chain(legs[1]))
    leg_toes = tuple(_middle_toe(tree, c[-1]) for c in leg_chains)
    leg_toes = leg_toes if all(t is not None for t in leg_toes) else (None, None)
    leg_fit = _fit_limbs(tree, leg_chains, "leg", torso_len, leg_toes)
    arm_fit = _fit_limbs(tree, (tree.chain(arm_a), tree.chain(arm_b)), "arm", leg_fit.length)
    _, left_leg, left_arm, side_sure, side_why, side_doubt, apart_legs, apart_arms = _sides(
        tree, up, leg_fit, arm_fit, forward_hint)
    right_leg, right_arm = 1 - left_leg, 1 - left_arm

    entries: dict[str, int | tuple[str, int, int, float]] = {}
    why: dict[str, str] = {}
    ev = _Evidence()

    def put(joint, value, reason):
        entries[joint], why[joint] = value, reason

    # evidence for the whole body: proportions, and mirror limbs alike
    arm_leg = arm_fit.length / max(leg_fit.length, 1e-12)
    leg_torso = leg_fit.length / torso_len
    body = list(JOINTS)
    ev.add(body, _usual(_z(arm_leg, ARM_LEG)), f"arms {arm_leg:.2f} times as long as the legs, unusual for a human")
    ev.add(body, _usual(_z(leg_torso, LEG_TORSO)),
           f"legs {leg_torso:.2f} times as long as the spine and neck, unusual for a human")
    leg_joints = [f"{s}_{j}" for s in ("left", "right") for j in ("hip", "knee", "ankle", "foot")]
    arm_joints = [f"{s}_{j}" for s in ("left", "right") for j in ("collar", "shoulder", "elbow", "wrist")]
    for limbs, joints, what in ((legs, leg_joints + ["pelvis"], "legs"),
                                ((arm_a, arm_b), arm_joints + ["spine3"], "arms")):
        diff = _mirror_difference(tree, *limbs) or 0.0
        ev.add(joints, 1.0 - 0.5 * (diff / MIRROR_LENGTH_TOL) ** 2,
               f"the two {what} differ in length by {diff:.0%}")
    ev.add(leg_joints, _usual(_z(leg_fit.ratio, THIGH_SHIN)),
           f"thigh {leg_fit.ratio:.2f} times as long as the shin, unusual for a human")
    ev.add(arm_joints, _usual(_z(arm_fit.ratio, UPPER_FORE)),
           f"upper arm {arm_fit.ratio:.2f} times as long as the forearm, unusual for a human")
    sides = [j for j in JOINTS if j.startswith(("left_", "right_"))]
    ev.add(sides, side_sure, side_doubt)
    ev.add(leg_joints, _logistic((apart_legs - SIDE_APART) / SIDE_APART_SPREAD), "the legs are not side by side")
    ev.add(arm_joints, _logistic((apart_arms - SIDE_APART) / SIDE_APART_SPREAD), "the arms are not side by side")

    put("pelvis", pelvis, "where the legs and the spine branch")
    # spine: bones from the pelvis to the chest; spine3 is the chest
    between = spine[:-1]
    near = ROOT_BONE_FRACTION * leg_fit.length
    while between and np.linalg.norm(tree.heads[between[0]] - tree.heads[pelvis]) <= near:
        between = between[1:]  # a bone starting at the pelvis (CMU's LowerBack) is no spine joint of its own
    put("spine3", chest, "where the arms and the neck branch")
    if len(between) >= 2:
        put("spine1", between[0], "first spine bone")
        put("spine2", between[len(between) // 2], "middle spine bone")
    elif len(between) == 1:
        put("spine1", between[0], "first spine bone")
        put("spine2", ("lerp", between[0], chest, 0.5), "between the spine bone and the chest")
    else:
        put("spine1", ("lerp", pelvis, chest, 1 / 3), "a third of the way up to the chest")
        put("spine2", ("lerp", pelvis, chest, 2 / 3), "two thirds of the way up to the chest")
    put("head", head, head_why)
    ev.add(["head", "neck"], head_sure, "the top bone of the neck chain could be the head or the top of the skull")
    if neck_chain[0] != head:
        put("neck", neck_chain[0], "first bone of the neck chain")
    else:
        put("neck", ("lerp", chest, head, 0.5), "between chest and head")

    def rival(fit: _Limbs, side: int, role: str) -> str:
        k = fit.rival.get(role)
        return (f"'{name(fit.bone(side, k))}' fits nearly as well" if k is not None
                else "another bone fits nearly as well")

    for side, leg_i, arm_i in (("left", left_leg, left_arm), ("right", right_leg, right_arm)):
        side_note = f"{side} side from {side_why}"
        lf, af = leg_fit, arm_fit
        put(f"{side}_hip", lf.bone(leg_i, lf.s),
            f"start of the thigh (the upper of the leg's two long segments); {side_note}")
        put(f"{side}_knee", lf.bone(leg_i, lf.m), "where the leg bends: start of the shin")
        put(f"{side}_ankle", lf.bone(leg_i, lf.e), "end of the shin")
        toe = lf.toes[leg_i]
        if toe is not None:
            put(f"{side}_foot", toe, "bone after the foot" if toe in lf.chains[leg_i] else "the middle toe")
        else:
            put(f"{side}_foot", lf.bone(leg_i, lf.e), "no toe bone: the ankle stands in")
        for joint, role in (("hip", "upper"), ("knee", "bend"), ("ankle", "end"), ("foot", "toe")):
            ev.add(f"{side}_{joint}", lf.sure[role], rival(lf, leg_i, role))
        put(f"{side}_shoulder", af.bone(arm_i, af.s), f"start of the upper arm (the upper of the arm's two long "
                                                      f"segments); {side_note}")
        put(f"{side}_elbow", af.bone(arm_i, af.m), "where the arm bends: start of the forearm")
        put(f"{side}_wrist", af.bone(arm_i, af.e), "end of the forearm")
        if af.s >= 1:
            put(f"{side}_collar", af.bone(arm_i, 0), "first bone of the arm chain, before the upper arm")
        else:
            put(f"{side}_collar", ("lerp", chest, af.bone(arm_i, af.s), 0.5),
                "no collar bone: between chest and shoulder")
        for joint, role in (("collar", "root"), ("shoulder", "upper"), ("elbow", "bend"), ("wrist", "end")):
            ev.add(f"{side}_{joint}", af.sure[role], rival(af, arm_i, role))

    sure = {j: ev.sureness(j) for j in JOINTS}
    doubts = {j: ev.doubt(j) for j in JOINTS}
    summary = (f"skeleton shape: pelvis '{name(pelvis)}', chest '{name(chest)}', head '{name(head)}'; "
               f"left/right from {side_why}")
    return ShapeMap(entries, sure, why, summary, doubts)
