"""Which armature bone is which canonical joint: detection by `runtime.rigs`, plus the user's edits.

No bpy: callers pass bone names and the user's entries (joint -> bone name, "" = detect).
"""

from __future__ import annotations

from runtime.errors import RigMappingError
from runtime.rigs import CONVENTIONS, RigMap, map_rig, map_skeleton
from runtime.skeleton import JOINTS


class BoneMapError(Exception):
    """A rig that cannot be mapped; the message is a sentence for the user."""

    def __init__(self, message: str, missing: list[str] | None = None):
        super().__init__(message)
        self.missing = list(missing or [])


def joint_label(joint: str) -> str:
    """`left_shoulder` -> `Left Shoulder` (what the bone map section shows)."""
    return joint.replace("_", " ").title()


def resolve(armature: str, bones: list[str] | tuple[str, ...], user: dict[str, str] | None = None,
            parents=None, heads=None) -> RigMap:
    """The bone map of an armature: detected over every convention (or, when no names match, by
    the skeleton's shape), the user's entries first.

    Args:
        armature: the armature's name, for messages.
        bones: its bone names.
        user: canonical joint -> bone name for the joints the user set (empty names are ignored).
        parents, heads: parent index per bone (-1 root) and rest head positions in world axes
            (Z up, the character facing -Y when no toes tell); without them, names only.

    Raises:
        BoneMapError: a user entry names a bone the armature lacks, or joints stay unmapped.
    """
    user = {j: b.strip() for j, b in (user or {}).items() if b and b.strip()}
    unknown_joints = sorted(set(user) - set(JOINTS))
    if unknown_joints:
        raise BoneMapError(f"Unknown canonical joints in the bone map: {', '.join(unknown_joints)}")
    present = set(bones)
    absent = {j: b for j, b in user.items() if b not in present}
    if absent:
        listed = ", ".join(f"{joint_label(j)} -> '{b}'" for j, b in absent.items())
        raise BoneMapError(f"Armature '{armature}' has no bone named as set in the bone map: {listed}")
    overrides = {j: [b] for j, b in user.items()} or None
    try:
        if parents is None or heads is None:
            return map_rig(list(bones), armature, overrides=overrides)
        return map_skeleton(list(bones), parents, heads, armature, overrides=overrides)
    except RigMappingError as e:
        missing = [j for j in e.missing if j in JOINTS]
        names = ", ".join(joint_label(j) for j in missing) or ", ".join(e.missing)
        shape = next((t[len("skeleton shape ("):-1] for t in e.tried if t.startswith("skeleton shape (")), "")
        raise BoneMapError(
            f"Armature '{armature}' cannot be mapped to a human body: no bone found for {names} "
            f"(tried the {', '.join(CONVENTIONS)} naming conventions"
            + (f"; by its shape: {shape}" if shape else "") + "). "
            "Set these joints in the Motion Search sidebar, Bone Map section.",
            missing,
        ) from None


def detected_bones(rigmap: RigMap) -> dict[str, str]:
    """Canonical joint -> the bone it follows (for a joint between two bones, the nearer one)."""
    return {j: rigmap.bone_of(j) for j in JOINTS}


def exact_bones(rigmap: RigMap) -> dict[str, str]:
    """Canonical joint -> bone, for the joints that sit exactly on a bone's head."""
    return {j: rigmap.bone_of(j) for k, j in enumerate(JOINTS)
            if rigmap.weight[k] == 0.0 and rigmap.a[k] == rigmap.b[k]}


def hints(rigmap: RigMap, bones: list[str] | tuple[str, ...]) -> dict[str, str]:
    """What the bone map section shows beside an empty field: the bone, or `Spine ~ Chest` for a
    joint between two bones."""
    out = {}
    for k, j in enumerate(JOINTS):
        a, b = int(rigmap.a[k]), int(rigmap.b[k])
        out[j] = bones[a] if rigmap.weight[k] == 0.0 or a == b else f"{bones[a]} ~ {bones[b]}"
    return out


def describe(rigmap: RigMap, user: dict[str, str] | None = None) -> str:
    """One line for the UI: how the map was found (`user`: the joints the user set)."""
    conv = rigmap.convention
    if conv == "user":
        return "Bone map: set by hand"
    base, _, plus = conv.partition("+")
    if base == "shape":
        sure = min(rigmap.sureness) if rigmap.sureness else 0.0
        found = f"found by the skeleton's shape (sureness {sure:.0%} or more)"
    else:
        found = f"{base.replace('_', ' ')} names"
    if plus:
        count = len([b for b in (user or {}).values() if b])
        return f"Bone map: your bone map ({count} joint{'s' * (count != 1)}) + {found}"
    return f"Bone map: {found}"
