"""Which armature bone is which canonical joint: detection by `runtime.motion.rigs`, plus the user's edits.

No bpy: callers pass bone names and the user's entries (joint -> bone name, "" = detect).
"""

from __future__ import annotations

from runtime.errors import BoneMapFileError, RigMappingError
from runtime.motion import CONVENTIONS, JOINTS, RigMap, map_rig, map_skeleton


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
    if conv == "user" or len([b for b in (user or {}).values() if b]) == len(JOINTS):
        return "Bone map: set by hand"
    base, _, plus = conv.partition("+")
    if base == "shape" and rigmap.unsure:
        n = len(rigmap.unsure_joints)
        found = (f"found by the skeleton's shape, unsure of {n} joint{'s' * (n != 1)}: "
                 f"check {'them' if n != 1 else 'it'} below")
    elif base == "shape":
        sure = min(rigmap.sureness) if rigmap.sureness else 0.0
        found = f"found by the skeleton's shape (sureness {sure:.0%} or more)"
    else:
        found = f"{base.replace('_', ' ')} names"
    if plus:
        count = len([b for b in (user or {}).values() if b])
        return f"Bone map: your bone map ({count} joint{'s' * (count != 1)}) + {found}"
    return f"Bone map: {found}"


# ---------------------------------------------------------------------------------------------
# an unsure map (found by shape with too little evidence for some joints): shown, confirmed or fixed

def unsure_rows(rigmap: RigMap) -> list[tuple[str, str, str]]:
    """(joint label, bone, why unsure) for each joint the map is unsure of (none for a sure map)."""
    return [(joint_label(j), bone, why) for j, bone, why in rigmap.unsure_joints]


def confirmation_key(rigmap: RigMap) -> str:
    """What confirming an unsure map records: its unsure joints and their bones, so a confirmation
    lapses when the map (the rig or the user's entries) changes. "" for a sure map."""
    return ";".join(f"{j}={bone}" for j, bone, _ in rigmap.unsure_joints)


def needs_confirmation(rigmap: RigMap, confirmed: str = "") -> bool:
    """An unsure map the user has not confirmed as it is now."""
    return rigmap.unsure and confirmed != confirmation_key(rigmap)


def unsure_list(rigmap: RigMap, most: int = 3) -> str:
    """The unsure joints and their bones, for a message: `Left Elbow ('b12'), ... and 5 more`."""
    rows = unsure_rows(rigmap)
    cut = len(rows) > most + 1  # "and 1 more" would be no shorter than the name
    shown = ", ".join(f"{label} ('{bone}')" for label, bone, _ in (rows[:most] if cut else rows))
    return shown + (f" and {len(rows) - most} more" if cut else "")


def unsure_message(armature: str, rigmap: RigMap) -> str:
    """Why Apply stops on an unsure map, and what to do (a line for the status bar)."""
    return (f"Not applied: the bone map of '{armature}', found by the skeleton's shape, may be wrong for "
            f"{unsure_list(rigmap)}. Check them in the Bone Map section (Select Unsure Bones), then press Confirm "
            "Bone Map or pick the right bones there")


# ---------------------------------------------------------------------------------------------
# bone map files: the CLI's `--rig-map` JSON, {"left_hip": "MyThigh_L", "spine2": ["lerp", a, b, t]}

def read_file(path: str, what: str = "Bone map file") -> dict[str, list]:
    """A bone map file checked by `runtime.motion.rigs.load_mapping_file` (joint -> candidates).

    Raises:
        BoneMapError: unreadable, not a JSON object, an unknown joint, a malformed entry or no
            joints at all; the message names the file (`what` 'path': the problem).
    """
    from runtime.motion import load_mapping_file

    if not path:
        raise BoneMapError(f"{what}: no file given")
    try:
        mapping = load_mapping_file(path)
    except BoneMapFileError as e:
        raise BoneMapError(f"{what} '{path}': {e.reason}") from None
    except (TypeError, ValueError) as e:  # ["lerp", a, b, "half"]
        raise BoneMapError(f"{what} '{path}': a [\"lerp\", bone, bone, t] entry needs a number t ({e})") from None
    if not mapping:
        raise BoneMapError(f"{what} '{path}': holds no joints (write {{\"left_hip\": \"MyThigh_L\", ...}})")
    return mapping


def entries_for(path: str, mapping: dict[str, list], bones) -> tuple[dict[str, str], list[str]]:
    """The armature's bone map entries from a file's mapping: (joint -> bone, joints left to detection).

    A name matches a bone exactly, else the one bone equal to it as the runtime compares names
    (case and a `namespace:` prefix ignored). A joint the file puts between two bones
    (["lerp", ...]) is left to detection: the sidebar holds one bone per joint.

    Raises:
        BoneMapError: names of bones the armature lacks (all of them, with their joints).
    """
    from runtime.motion import normalize_name

    present = list(bones)
    loose: dict[str, list[str]] = {}
    for b in present:
        loose.setdefault(normalize_name(b), []).append(b)
    out, between, absent = {}, [], []
    for joint in JOINTS:
        for cand in mapping.get(joint, []):
            if not isinstance(cand, str):
                between.append(joint)
                continue
            same = loose.get(normalize_name(cand), []) if cand.strip() else []
            if cand in present:
                out[joint] = cand
            elif len(same) == 1:
                out[joint] = same[0]
            else:
                absent.append(f"{joint} -> '{cand}'")
    if absent:
        raise BoneMapError(f"Bone map file '{path}' names bones the armature lacks: {', '.join(absent)}")
    return out, between


def effective_entries(rigmap: RigMap, bones, user: dict[str, str] | None = None) -> dict[str, object]:
    """What Save Bone Map writes: every joint of the armature's map, in the file format.

    A joint on a bone of its own is the bone's name (the user's entry, else the detected bone);
    a joint between two bones is ["lerp", a, b, t], so that the file alone maps the whole body.
    """
    user = {j: b for j, b in (user or {}).items() if b}
    out: dict[str, object] = {}
    for k, j in enumerate(JOINTS):
        a, b, t = int(rigmap.a[k]), int(rigmap.b[k]), float(rigmap.weight[k])
        if j in user:
            out[j] = user[j]
        elif t == 0.0 or a == b:
            out[j] = bones[a]
        elif t == 1.0:
            out[j] = bones[b]
        else:
            out[j] = ["lerp", bones[a], bones[b], round(t, 6)]
    return out
