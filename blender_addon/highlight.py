"""Colouring an armature's bones by how strongly each body part matched the query.

Takes pose bones as arguments and never imports bpy. The colours a bone had before the first
highlight (palette and the three custom colours) are kept in an ID property on the pose bone, so
they survive saving the file and `reset` puts back exactly what the user had. Blender shows pose
bone colours in Pose Mode.
"""

from __future__ import annotations

from typing import Iterable

PREVIOUS_KEY = "motion_search_previous_color"
DEFAULT_RAMP = ((0.10, 0.35, 1.00), (1.00, 0.85, 0.10), (1.00, 0.12, 0.05))  # weak, medium, strong
MIN_STRENGTH = 0.02  # joints below this keep their own colours


def ramp(t: float, stops=DEFAULT_RAMP) -> tuple[float, float, float]:
    """The colour at strength t (0..1) on a ramp through `stops` (evenly spaced)."""
    t = min(max(float(t), 0.0), 1.0)
    pos = t * (len(stops) - 1)
    k = min(int(pos), len(stops) - 2)
    w = pos - k
    a, b = stops[k], stops[k + 1]
    return tuple(float(a[i] * (1.0 - w) + b[i] * w) for i in range(3))


def _lighter(c, amount: float) -> tuple[float, float, float]:
    return tuple(float(x + (1.0 - x) * amount) for x in c)


def bone_strengths(joint_strength: dict[str, float], joint_bone: dict[str, str]) -> dict[str, float]:
    """Strength per bone name from strength per canonical joint (a bone shared by joints takes the max)."""
    out: dict[str, float] = {}
    for joint, s in joint_strength.items():
        bone = joint_bone.get(joint)
        if bone and float(s) >= MIN_STRENGTH:
            out[bone] = max(out.get(bone, 0.0), min(float(s), 1.0))
    return out


def _save(pb) -> None:
    if PREVIOUS_KEY in pb.keys():
        return  # keep the user's own colours from before the first highlight
    c = pb.color
    pb[PREVIOUS_KEY] = {"palette": c.palette, "normal": list(c.custom.normal),
                        "select": list(c.custom.select), "active": list(c.custom.active)}


def _restore(pb) -> bool:
    if PREVIOUS_KEY not in pb.keys():
        return False
    prev = pb[PREVIOUS_KEY]
    c = pb.color
    c.custom.normal = tuple(prev["normal"])
    c.custom.select = tuple(prev["select"])
    c.custom.active = tuple(prev["active"])
    c.palette = str(prev["palette"])
    del pb[PREVIOUS_KEY]
    return True


def apply(pose_bones: Iterable, strengths: dict[str, float], stops=DEFAULT_RAMP) -> int:
    """Colour the bones named in `strengths` (0..1) on the ramp; others get their own colours back.

    Returns the number of bones coloured.
    """
    coloured = 0
    for pb in pose_bones:
        s = strengths.get(pb.name)
        if s is None:
            _restore(pb)
            continue
        _save(pb)
        base = ramp(s, stops)
        c = pb.color
        c.palette = 'CUSTOM'
        c.custom.normal = base
        c.custom.select = _lighter(base, 0.45)
        c.custom.active = _lighter(base, 0.75)
        coloured += 1
    return coloured


def reset(pose_bones: Iterable) -> int:
    """Give every highlighted bone its previous colours back; returns how many."""
    return sum(_restore(pb) for pb in pose_bones)


def is_highlighted(pose_bones: Iterable) -> bool:
    return any(PREVIOUS_KEY in pb.keys() for pb in pose_bones)
