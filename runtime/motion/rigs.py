"""Rig conventions: which bone of a file (or a Blender armature) is which canonical joint.

A convention is a table: canonical joint -> candidates, each a bone name or `("lerp", a, b, t)`
for a joint the rig does not have (a point between two bones' heads). Names are compared
case-insensitively after dropping a namespace prefix (`mixamorig:Hips` -> `hips`). The best
convention is the one that resolves all 22 joints with the most distinctive bones; a user's
JSON mapping overrides entries of any table. The Blender add-on uses the same tables for
retargeting and highlighting.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

import numpy as np

from ..errors import BoneMapFileError, RigMappingError
from .skeleton import JOINTS

Candidate = str | tuple[str, str, str, float]


def _limbs(names: dict[str, str | list[str]]) -> dict[str, list[Candidate]]:
    """Left and right limb entries from name patterns: {S} = L/R, {Side} = Left/Right, {s}/{side} lower case."""
    out: dict[str, list[Candidate]] = {}
    for joint, pattern in names.items():
        for side, (a, b) in (("left_", ("L", "Left")), ("right_", ("R", "Right"))):
            pats = [pattern] if isinstance(pattern, str) else pattern
            out[side + joint] = [p.format(S=a, Side=b, s=a.lower(), side=b.lower()) for p in pats]
    return out


CONVENTIONS: dict[str, dict[str, list[Candidate]]] = {
    # SMPL / SMPL-X joint names, as written by SMPL-to-BVH exporters and by this project
    "smpl": {j: [j] for j in JOINTS if not j.startswith(("left_", "right_"))}
    | {"pelvis": ["pelvis", "Pelvis", "m_avg_Pelvis"], "spine1": ["spine1", "Spine1"],
       "spine2": ["spine2", "Spine2"], "spine3": ["spine3", "Spine3"]}
    | _limbs({"hip": ["{side}_hip", "{S}_Hip"], "knee": ["{side}_knee", "{S}_Knee"],
                  "ankle": ["{side}_ankle", "{S}_Ankle"], "foot": ["{side}_foot", "{S}_Foot"],
                  "collar": ["{side}_collar", "{S}_Collar"], "shoulder": ["{side}_shoulder", "{S}_Shoulder"],
                  "elbow": ["{side}_elbow", "{S}_Elbow"], "wrist": ["{side}_wrist", "{S}_Wrist"]}),
    # CMU conversions in MotionBuilder naming (31 joints; LowerBack/Spine/Spine1/Neck/Neck1)
    "cmu_motionbuilder": {
        "pelvis": ["Hips"], "spine1": ["Spine"], "spine2": [("lerp", "Spine", "Spine1", 0.5)],
        "spine3": ["Spine1"], "neck": ["Neck"], "head": ["Head"],
    } | _limbs({"hip": "{Side}UpLeg", "knee": "{Side}Leg", "ankle": "{Side}Foot", "foot": "{Side}ToeBase",
                    "collar": "{Side}Shoulder", "shoulder": "{Side}Arm", "elbow": "{Side}ForeArm", "wrist": "{Side}Hand"}),
    # CMU ASF/AMC bone names (this project's AMC reader names a joint after the bone starting there)
    "cmu_asf": {
        "pelvis": ["root", "hip"], "spine1": ["upperback"], "spine2": [("lerp", "upperback", "thorax", 0.5)],
        "spine3": ["thorax"], "neck": ["lowerneck"], "head": ["head"],
    } | _limbs({"hip": "{s}femur", "knee": "{s}tibia", "ankle": "{s}foot", "foot": "{s}toes",
                    "collar": "{s}clavicle", "shoulder": "{s}humerus", "elbow": "{s}radius", "wrist": "{s}wrist"}),
    # CMU conversions in DAZ / Poser naming, and DAZ Genesis
    "cmu_daz": {
        "pelvis": ["hip", "pelvis"], "spine1": ["abdomen", "abdomenLower"], "spine2": ["chest", "chestLower"],
        "spine3": [("lerp", "chest", "neck", 0.5), "chestUpper"], "neck": ["neck", "neckLower"], "head": ["head"],
    } | _limbs({"hip": ["{s}Thigh", "{s}ThighBend"], "knee": "{s}Shin", "ankle": "{s}Foot",
                    "foot": ["{s}Toe", "{s}Foot_end"], "collar": "{s}Collar", "shoulder": ["{s}Shldr", "{s}ShldrBend"],
                    "elbow": ["{s}ForeArm", "{s}ForearmBend"], "wrist": "{s}Hand"}),
    # 3ds Max-style conversions of CMU (LeftHip/LeftKnee/..., lowerback/Chest/Chest2/lowerneck)
    "max_cmu": {
        "pelvis": ["Hips"], "spine1": ["Chest"], "spine2": [("lerp", "Chest", "Chest2", 0.5)],
        "spine3": ["Chest2"], "neck": ["lowerneck"], "head": ["Head"],
    } | _limbs({"hip": "{Side}Hip", "knee": "{Side}Knee", "ankle": "{Side}Ankle", "foot": "{Side}Toe",
                    "collar": "{Side}Collar", "shoulder": "{Side}Shoulder", "elbow": "{Side}Elbow", "wrist": "{Side}Wrist"}),
    # 3ds Max Character Studio Biped
    "max_biped": {
        "pelvis": ["Bip01 Pelvis", "Bip01"], "spine1": ["Bip01 Spine"], "spine2": ["Bip01 Spine1"],
        "spine3": ["Bip01 Spine2", ("lerp", "Bip01 Spine1", "Bip01 Neck", 0.5)], "neck": ["Bip01 Neck"],
        "head": ["Bip01 Head"],
    } | _limbs({"hip": "Bip01 {S} Thigh", "knee": "Bip01 {S} Calf", "ankle": "Bip01 {S} Foot",
                    "foot": ["Bip01 {S} Toe0", "Bip01 {S} Foot_end"], "collar": "Bip01 {S} Clavicle",
                    "shoulder": "Bip01 {S} UpperArm", "elbow": "Bip01 {S} Forearm", "wrist": "Bip01 {S} Hand"}),
    # Bandai Namco Research motion datasets
    "bandai": {
        "pelvis": ["Hips"], "spine1": ["Spine"], "spine2": [("lerp", "Spine", "Chest", 0.5)],
        "spine3": ["Chest"], "neck": ["Neck"], "head": ["Head"],
    } | _limbs({"hip": "UpperLeg_{S}", "knee": "LowerLeg_{S}", "ankle": "Foot_{S}", "foot": "Toes_{S}",
                    "collar": "Shoulder_{S}", "shoulder": "UpperArm_{S}", "elbow": "LowerArm_{S}", "wrist": "Hand_{S}"}),
    # Reallusion iClone / Character Creator 3 and 4
    "iclone_cc": {
        "pelvis": ["CC_Base_Hip"], "spine1": ["CC_Base_Waist"], "spine2": ["CC_Base_Spine01"],
        "spine3": ["CC_Base_Spine02"], "neck": ["CC_Base_NeckTwist01"], "head": ["CC_Base_Head"],
    } | _limbs({"hip": "CC_Base_{S}_Thigh", "knee": "CC_Base_{S}_Calf", "ankle": "CC_Base_{S}_Foot",
                    "foot": "CC_Base_{S}_ToeBase", "collar": "CC_Base_{S}_Clavicle", "shoulder": "CC_Base_{S}_Upperarm",
                    "elbow": "CC_Base_{S}_Forearm", "wrist": "CC_Base_{S}_Hand"}),
    # Mixamo / HumanIK (namespace prefixes such as mixamorig: are dropped before matching)
    "mixamo": {
        "pelvis": ["Hips"], "spine1": ["Spine"], "spine2": ["Spine1", ("lerp", "Spine", "Spine2", 0.5)],
        "spine3": ["Spine2"], "neck": ["Neck"], "head": ["Head"],  # two spine bones: Spine, Spine2
    } | _limbs({"hip": "{Side}UpLeg", "knee": "{Side}Leg", "ankle": "{Side}Foot",
                    "foot": ["{Side}ToeBase", "{Side}Foot_end"], "collar": "{Side}Shoulder", "shoulder": "{Side}Arm",
                    "elbow": "{Side}ForeArm", "wrist": "{Side}Hand"}),
    # KIT-ML joint positions as HumanML3D stores them (21 joints, `KIT_JOINTS` order); it has
    # no collars: they sit halfway between the lower neck and each shoulder
    "kit_ml": {
        "pelvis": ["root"], "spine1": ["BP"], "spine2": [("lerp", "BP", "BT", 0.5)], "spine3": ["BT"],
        "neck": ["BLN"], "head": ["BUN"],
        "left_collar": [("lerp", "BLN", "LS", 0.5)], "right_collar": [("lerp", "BLN", "RS", 0.5)],
    } | {k: v for k, v in _limbs({"hip": "{S}H", "knee": "{S}K", "ankle": "{S}A", "foot": "{S}Mrot",
                                  "shoulder": "{S}S", "elbow": "{S}E", "wrist": "{S}W"}).items()},
    # Unreal Engine 5 mannequin (Manny/Quinn): five spine bones, the arms on spine_05
    "unreal5": {
        "pelvis": ["pelvis"], "spine1": ["spine_01"], "spine2": ["spine_03"], "spine3": ["spine_05", "spine_04"],
        "neck": ["neck_01"], "head": ["head"],
    } | _limbs({"hip": "thigh_{s}", "knee": "calf_{s}", "ankle": "foot_{s}", "foot": "ball_{s}",
                    "collar": "clavicle_{s}", "shoulder": "upperarm_{s}", "elbow": "lowerarm_{s}", "wrist": "hand_{s}"}),
    # Unreal Engine 4 mannequin (and UE-named exports): three spine bones (or spine_01 and spine_03)
    "unreal": {
        "pelvis": ["pelvis"], "spine1": ["spine_01"], "spine2": ["spine_02", ("lerp", "spine_01", "spine_03", 0.5)],
        "spine3": ["spine_03"], "neck": ["neck_01"], "head": ["head"],
    } | _limbs({"hip": "thigh_{s}", "knee": "calf_{s}", "ankle": "foot_{s}", "foot": "ball_{s}",
                    "collar": "clavicle_{s}", "shoulder": "upperarm_{s}", "elbow": "lowerarm_{s}", "wrist": "hand_{s}"}),
    # Auto-Rig Pro deform bones (.x centre, .l/.r sides; the limbs' "_stretch" bones deform), and
    # the same names without "_stretch" as some exports write them
    "auto_rig_pro": {
        "pelvis": ["root.x"], "spine1": ["spine_01.x"], "spine2": ["spine_02.x"],
        "spine3": ["spine_03.x", ("lerp", "spine_02.x", "neck.x", 0.5)], "neck": ["neck.x"], "head": ["head.x"],
    } | _limbs({"hip": ["thigh_stretch.{s}", "thigh.{s}"], "knee": ["leg_stretch.{s}", "leg.{s}"],
                    "ankle": "foot.{s}", "foot": "toes_01.{s}", "collar": "shoulder.{s}",
                    "shoulder": ["arm_stretch.{s}", "arm.{s}"], "elbow": ["forearm_stretch.{s}", "forearm.{s}"],
                    "wrist": "hand.{s}"}),
    # VRoid Studio exports (VRM models read by Blender's VRM add-on keep these bone names)
    "vroid": {
        "pelvis": ["J_Bip_C_Hips"], "spine1": ["J_Bip_C_Spine"], "spine2": ["J_Bip_C_Chest"],
        "spine3": ["J_Bip_C_UpperChest", ("lerp", "J_Bip_C_Chest", "J_Bip_C_Neck", 0.5)],
        "neck": ["J_Bip_C_Neck"], "head": ["J_Bip_C_Head"],
    } | _limbs({"hip": "J_Bip_{S}_UpperLeg", "knee": "J_Bip_{S}_LowerLeg", "ankle": "J_Bip_{S}_Foot",
                    "foot": "J_Bip_{S}_ToeBase", "collar": "J_Bip_{S}_Shoulder", "shoulder": "J_Bip_{S}_UpperArm",
                    "elbow": "J_Bip_{S}_LowerArm", "wrist": "J_Bip_{S}_Hand"}),
    # VRM humanoid bone names (hips, spine, chest, upperChest, leftUpperLeg, ...)
    "vrm": {
        "pelvis": ["hips"], "spine1": ["spine"], "spine2": ["chest"],
        "spine3": ["upperChest", ("lerp", "chest", "neck", 0.5)], "neck": ["neck"], "head": ["head"],
    } | _limbs({"hip": "{side}UpperLeg", "knee": "{side}LowerLeg", "ankle": "{side}Foot", "foot": "{side}Toes",
                    "collar": "{side}Shoulder", "shoulder": "{side}UpperArm", "elbow": "{side}LowerArm",
                    "wrist": "{side}Hand"}),
    # Blender Rigify: deform bones of a generated rig, or the metarig's own names
    "rigify": {
        "pelvis": ["DEF-spine", "spine"], "spine1": ["DEF-spine.001", "spine.001"],
        "spine2": ["DEF-spine.002", "spine.002"], "spine3": ["DEF-spine.003", "spine.003"],
        "neck": ["DEF-spine.004", "spine.004"], "head": ["DEF-spine.006", "spine.006", "DEF-spine.005", "spine.005"],
    } | _limbs({"hip": ["DEF-thigh.{S}", "thigh.{S}"], "knee": ["DEF-shin.{S}", "shin.{S}"],
                    "ankle": ["DEF-foot.{S}", "foot.{S}"], "foot": ["DEF-toe.{S}", "toe.{S}"],
                    "collar": ["DEF-shoulder.{S}", "shoulder.{S}"], "shoulder": ["DEF-upper_arm.{S}", "upper_arm.{S}"],
                    "elbow": ["DEF-forearm.{S}", "forearm.{S}"], "wrist": ["DEF-hand.{S}", "hand.{S}"]}),
}


KIT_JOINTS: tuple[str, ...] = ("root", "BP", "BT", "BLN", "BUN", "RS", "RE", "RW", "LS", "LE", "LW",
                               "RH", "RK", "RA", "RMrot", "RF", "LH", "LK", "LA", "LMrot", "LF")
"""KIT-ML's 21 joints in HumanML3D's order (legs 11-15 right, 16-20 left; arms 5-7 right, 8-10 left)."""


def normalize_name(name: str) -> str:
    """Case-folded bone name without a namespace prefix (`mixamorig1:LeftArm` -> `leftarm`)."""
    name = name.rsplit(":", 1)[-1].strip().lower()
    return name.replace("bip001", "bip01")


# A map found by the skeleton's shape is "unsure" when any joint's sureness (the evidence for its
# bone: proportions, the alternatives' scores, mirror symmetry, how left and right were told; see
# runtime/motion/rig_shape.py) is below this. Renamed real files (763 Bandai-Namco and CMU, their
# middle frames) all map right, 99% of them at 0.96 or more, one at 0.43 (feet on tiptoe, legs
# straight); with every limb segment cut in two (308 files) all at 0.93 or more. Left/right from
# the forward axis convention alone is 0.6, a bend point with a rival as good 0.5 or less. Below
# it the add-on asks before applying and the index reports the file.
UNSURE_BELOW = 0.8


@dataclass(frozen=True)
class RigMap:
    """How to read the 22 canonical joints off a rig's joints.

    canonical[k] = (1 - weight[k]) * joint[a[k]] + weight[k] * joint[b[k]]
    """

    convention: str
    a: np.ndarray  # (22,) int64 joint indices into the rig
    b: np.ndarray
    weight: np.ndarray  # (22,) float64
    bones: tuple[str, ...]  # per canonical joint, the rig bone it mostly follows
    sureness: tuple[float, ...] = ()  # per canonical joint, 0..1, for a map found by the skeleton's shape
    reasons: tuple[str, ...] = ()  # per canonical joint, why (skeleton shape only)
    summary: str = ""  # one line on how the map was found (skeleton shape only)
    doubts: tuple[str, ...] = ()  # per canonical joint, what lowers its sureness ("" when nothing much)

    def apply(self, positions: np.ndarray) -> np.ndarray:
        """Canonical positions (..., 22, 3) from rig joint positions (..., J, 3)."""
        w = self.weight[:, None]
        return positions[..., self.a, :] * (1.0 - w) + positions[..., self.b, :] * w

    @property
    def source_joints(self) -> np.ndarray:
        """The rig joints whose positions the mapping reads (sorted)."""
        return np.unique(np.concatenate([self.a, self.b]))

    def apply_subset(self, positions: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """Like `apply`, from positions (..., len(joints), 3) of only `joints` = `source_joints`."""
        a, b = np.searchsorted(joints, self.a), np.searchsorted(joints, self.b)
        w = self.weight[:, None]
        return positions[..., a, :] * (1.0 - w) + positions[..., b, :] * w

    def bone_of(self, joint: str) -> str:
        return self.bones[JOINTS.index(joint)]

    @property
    def unsure_joints(self) -> tuple[tuple[str, str, str], ...]:
        """(joint, bone, why unsure) for each joint whose sureness is below UNSURE_BELOW (a map by
        names, or set by hand, has none)."""
        return tuple((j, self.bones[k], (self.doubts[k] if k < len(self.doubts) else "") or "little evidence")
                     for k, j in enumerate(JOINTS) if k < len(self.sureness) and self.sureness[k] < UNSURE_BELOW)

    @property
    def unsure(self) -> bool:
        """The one verdict: some joint of a map found by shape may be on the wrong bone."""
        return bool(self.unsure_joints)

    @property
    def unsure_note(self) -> str:
        """One line for a report, "" when the map is sure: `mapped by the skeleton's shape, unsure of
        left_knee ('b009'), right_knee ('b016') and 2 more: 'b010' fits nearly as well; ...` (at most
        six joints and three reasons)."""
        rows = self.unsure_joints
        if not rows:
            return ""
        joints = ", ".join(f"{j} ('{bone}')" for j, bone, _ in rows[:6]) + (
            f" and {len(rows) - 6} more" if len(rows) > 6 else "")
        reasons = list(dict.fromkeys(part for _, _, why in rows for part in why.split("; ")))
        return f"mapped by the skeleton's shape, unsure of {joints}: {'; '.join(reasons[:3])}"


def load_mapping_file(path: str | os.PathLike) -> dict[str, list[Candidate]]:
    """A user's JSON mapping: {"left_hip": "thigh_L", "spine2": ["lerp", "Spine", "Chest", 0.5], ...}."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except OSError as e:
        raise BoneMapFileError(path, f"cannot read it ({e.strerror or e})") from None
    except (ValueError, RecursionError) as e:  # ValueError: bad JSON or text; RecursionError: nested too deep
        raise BoneMapFileError(path, f"not valid JSON ({type(e).__name__}: {e})") from None
    if not isinstance(raw, dict):
        raise BoneMapFileError(path, "it must hold a JSON object {\"left_hip\": \"bone name\", ...}")
    out: dict[str, list[Candidate]] = {}
    for joint, spec in raw.items():
        if joint not in JOINTS:
            raise BoneMapFileError(path, f"unknown canonical joint '{joint}' (known: {', '.join(JOINTS)})")
        if isinstance(spec, str):
            out[joint] = [spec]
        elif isinstance(spec, list) and len(spec) == 4 and spec[0] == "lerp" and \
                isinstance(spec[3], (int, float)) and not isinstance(spec[3], bool):
            out[joint] = [("lerp", str(spec[1]), str(spec[2]), float(spec[3]))]
        else:
            raise BoneMapFileError(path, f"the entry for '{joint}' must be a bone name or [\"lerp\", a, b, t]")
    return out


def _resolve(table: dict[str, list[Candidate]], index: dict[str, int]):
    a, b, w, bones, missing, distinct = [], [], [], [], [], 0
    for joint in JOINTS:
        found = None
        for cand in table.get(joint, []):
            if isinstance(cand, str):
                i = index.get(normalize_name(cand))
                if i is not None:
                    found = (i, i, 0.0, i)
                    break
            else:
                _, n1, n2, t = cand
                i1, i2 = index.get(normalize_name(n1)), index.get(normalize_name(n2))
                if i1 is not None and i2 is not None:
                    found = (i1, i2, float(t), i1 if t < 0.5 else i2)
                    break
        if found is None:
            missing.append(joint)
            a.append(0), b.append(0), w.append(0.0), bones.append(-1)
        else:
            distinct += 1
            a.append(found[0]), b.append(found[1]), w.append(found[2]), bones.append(found[3])
    return a, b, w, bones, missing, distinct


def map_rig(
    names: list[str] | tuple[str, ...],
    path: str = "<rig>",
    overrides: dict[str, list[Candidate]] | None = None,
    convention: str | None = None,
) -> RigMap:
    """Find the convention that maps `names` (a rig's joints) onto the canonical body.

    Args:
        names: joint or bone names of the rig.
        path: the file, for the error message.
        overrides: entries from a user's mapping file, tried before any table's.
        convention: use this table only.

    Raises:
        RigMappingError: no convention resolves every canonical joint.
    """
    if overrides:
        return _map_rig(tuple(names), path, overrides, convention)
    try:
        return _map_rig_cached(tuple(names), convention)
    except RigMappingError as e:  # re-raise naming this file, not the first one seen
        raise RigMappingError(path, e.missing, e.tried, list(names)) from None


@functools.lru_cache(maxsize=256)
def _map_rig_cached(names: tuple[str, ...], convention: str | None) -> RigMap:
    return _map_rig(names, "<rig>", None, convention)


def _map_rig(
    names: tuple[str, ...],
    path: str,
    overrides: dict[str, list[Candidate]] | None,
    convention: str | None,
) -> RigMap:
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        index.setdefault(normalize_name(n), i)
    tables = {convention: CONVENTIONS[convention]} if convention else CONVENTIONS
    best = None
    fewest_missing: tuple[int, str, list[str]] | None = None
    unresolved = set(JOINTS)  # joints that no table finds a bone for
    for conv, table in tables.items():
        merged = {j: (overrides or {}).get(j, []) + table.get(j, []) for j in JOINTS}
        a, b, w, bones, missing, _ = _resolve(merged, index)
        unresolved &= set(missing)
        if missing:
            if fewest_missing is None or len(missing) < fewest_missing[0]:
                fewest_missing = (len(missing), conv, missing)
            continue
        # prefer the table whose names are most specific to this rig: count its bones present
        named = {normalize_name(c) for cands in table.values() for c in cands if isinstance(c, str)}
        named |= {normalize_name(c[k]) for cands in table.values() for c in cands if not isinstance(c, str) for k in (1, 2)}
        score = (sum(n in index for n in named), -sum(x > 0 for x in w))
        if best is None or score > best[0]:
            best = (score, conv, a, b, w, bones)
    if best is None and overrides:
        a, b, w, bones, missing, _ = _resolve({j: overrides.get(j, []) for j in JOINTS}, index)
        if not missing:
            best = ((0, 0), "user", a, b, w, bones)
    if best is None:
        missing = fewest_missing[2] if fewest_missing else list(JOINTS)
        # name only joints no table finds: a bone another convention knows is not missing
        missing = [j for j in missing if j in unresolved] or missing
        raise RigMappingError(path, missing, list(tables), list(names))
    _, conv, a, b, w, bones = best
    return RigMap(
        convention=conv if not overrides else f"{conv}+user",
        a=np.array(a, np.int64), b=np.array(b, np.int64), weight=np.array(w, np.float64),
        bones=tuple(names[i] for i in bones),
    )


# A rig whose names leave more joints unresolved than this (in the closest table) is mapped by
# its skeleton's shape; fewer, and the error names the joints to set by hand.
SHAPE_FALLBACK_MIN_MISSING = 5


def map_skeleton(
    names: list[str] | tuple[str, ...],
    parents,
    heads,
    path: str = "<rig>",
    overrides: dict[str, list[Candidate]] | None = None,
    *,
    forward_hint=(0.0, -1.0, 0.0),
    ignore=None,
) -> RigMap:
    """Map a rig by its bone names (`map_rig`) or, when they match no convention, by its shape.

    Args:
        names, parents, heads: the rig's bones, parent indices (-1 root), head positions in a
            pose that shows the body's shape (or a function giving them, called only when the
            names do not tell the rig).
        overrides: the user's entries; they win over names and shape alike.
        forward_hint: the character's forward axis in `heads`' coordinates, for telling left
            from right when no toes do (Blender: -Y, the default; a BVH rest pose: +Z).
        ignore: (J,) True for bones the shape must leave out (BVH end sites).

    Raises:
        RigMappingError: neither names nor shape give all 22 joints; it names what is missing.
    """
    from .rig_shape import RigShapeError, map_shape

    try:
        return map_rig(names, path, overrides=overrides)
    except RigMappingError as e:
        if len(e.missing) < SHAPE_FALLBACK_MIN_MISSING:
            raise
        by_name = e
    heads = heads() if callable(heads) else heads
    try:
        shape = map_shape(parents, heads, forward_hint=forward_hint, ignore=ignore, names=list(names))
    except RigShapeError as e:
        raise RigMappingError(path, e.missing or by_name.missing, by_name.tried + [f"skeleton shape ({e.reason})"],
                              list(names)) from None
    index = {normalize_name(n): i for i, n in reversed(list(enumerate(names)))}
    a, b, w, bones, sure, why, doubt = [], [], [], [], [], [], []
    for joint in JOINTS:
        user = None
        for cand in (overrides or {}).get(joint, []):
            if isinstance(cand, str) and normalize_name(cand) in index:
                i = index[normalize_name(cand)]
                user = (i, i, 0.0, i)
            elif not isinstance(cand, str) and normalize_name(cand[1]) in index and normalize_name(cand[2]) in index:
                i1, i2, t = index[normalize_name(cand[1])], index[normalize_name(cand[2])], float(cand[3])
                user = (i1, i2, t, i1 if t < 0.5 else i2)
            if user:
                break
        entry = shape.entries[joint]
        d = shape.doubts.get(joint, "")
        if user is not None:
            found, s, r, d = user, 1.0, "your bone map", ""
        elif isinstance(entry, tuple):
            _, i1, i2, t = entry
            found, s, r = (i1, i2, float(t), i1 if t < 0.5 else i2), shape.sureness[joint], shape.reasons[joint]
        else:
            found, s, r = (entry, entry, 0.0, entry), shape.sureness[joint], shape.reasons[joint]
        a.append(found[0]), b.append(found[1]), w.append(found[2]), bones.append(names[found[3]])
        sure.append(float(s)), why.append(r), doubt.append(d)
    return RigMap(
        convention="shape+user" if overrides else "shape",
        a=np.array(a, np.int64), b=np.array(b, np.int64), weight=np.array(w, np.float64), bones=tuple(bones),
        sureness=tuple(sure), reasons=tuple(why), summary=shape.summary, doubts=tuple(doubt),
    )
