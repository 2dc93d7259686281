"""Skeletons for the shape-mapping tests (numpy only; the Blender tests build armatures from them).

`mpfb_skeleton`: a MakeHuman / MPFB "default"-like rig in Blender axes, every limb segment split in
two bones (upperarm01/02, lowerarm01/02, upperleg01/02, lowerleg01/02), a clavicle and a short
shoulder01 before the upper arm, a pelvis.L bone from the root to the hip, five toes and five
fingers branching, optional twist bones beside the limb bones. `split_limbs`: a real BVH
animation with chosen bones cut into collinear pieces that do not rotate of their own (the pose
is the same in every frame), optionally with twist bones beside them.
"""

from __future__ import annotations

import numpy as np

from runtime.io import Animation


def mpfb_skeleton(*, arms: str = "A", twist: bool = False, toes: bool = True):
    """(names, parents, heads) of a MakeHuman-like rig standing in Blender axes (metres, Z up,
    facing -Y, +X its left); `arms` "A" (hanging at 45 degrees, elbows a little bent) or "T"."""
    pose: dict[str, tuple[np.ndarray, str | None]] = {}

    def add(name, head, parent):
        pose[name] = (np.asarray(head, np.float64), parent)

    add("root", (0, 0.01, 0.98), None)
    prev = "root"
    for name, z, y in (("spine05", 1.02, 0.01), ("spine04", 1.10, 0.02), ("spine03", 1.19, 0.02),
                       ("spine02", 1.28, 0.01), ("spine01", 1.37, 0.0), ("neck01", 1.48, 0.0),
                       ("neck02", 1.52, -0.005), ("neck03", 1.56, -0.01), ("head", 1.60, -0.01)):
        add(name, (0, y, z), prev)
        prev = name
    add("jaw", (0, -0.03, 1.60), "head")
    add("tongue00", (0, -0.05, 1.59), "jaw")
    add("tongue01", (0, -0.07, 1.59), "tongue00")
    for s, x in (("L", 1.0), ("R", -1.0)):
        add(f"eye.{s}", (0.03 * x, -0.08, 1.68), "head")
        add(f"temporalis01.{s}", (0.06 * x, -0.02, 1.66), "head")
        add(f"temporalis02.{s}", (0.06 * x, -0.04, 1.62), f"temporalis01.{s}")
        add(f"breast.{s}", (0.09 * x, -0.08, 1.30), "spine02")
        add(f"clavicle.{s}", (0.02 * x, -0.04, 1.42), "spine01")
        add(f"shoulder01.{s}", (0.15 * x, 0.0, 1.44), f"clavicle.{s}")
        shoulder = np.array((0.18 * x, 0.01, 1.42))
        down = np.array((0.707 * x, 0.0, -0.707)) if arms == "A" else np.array((x, 0.0, -0.02))
        fore = down + np.array((0.0, -0.12, 0.0))
        fore /= np.linalg.norm(fore)
        elbow, wrist = shoulder + 0.28 * down, shoulder + 0.28 * down + 0.25 * fore
        add(f"upperarm01.{s}", shoulder, f"shoulder01.{s}")
        add(f"upperarm02.{s}", shoulder + 0.14 * down, f"upperarm01.{s}")
        add(f"lowerarm01.{s}", elbow, f"upperarm02.{s}")
        add(f"lowerarm02.{s}", elbow + 0.125 * fore, f"lowerarm01.{s}")
        add(f"wrist.{s}", wrist, f"lowerarm02.{s}")
        for k in range(1, 6):  # the thumb from the wrist, the other fingers from a metacarpal
            across = np.array((0.0, -0.02 * (k - 3), 0.0))
            prev, base = f"wrist.{s}", wrist + 0.02 * fore + (0, -0.03, 0)
            if k > 1:
                add(f"metacarpal{k - 1}.{s}", wrist + 0.01 * fore + across, f"wrist.{s}")
                prev, base = f"metacarpal{k - 1}.{s}", wrist + 0.09 * fore + across
            for b in range(1, 4):
                add(f"finger{k}-{b}.{s}", base + 0.03 * (b - 1) * fore, prev)
                prev = f"finger{k}-{b}.{s}"
        hip, knee = np.array((0.10 * x, 0, 0.93)), np.array((0.11 * x, -0.01, 0.51))
        ankle = np.array((0.11 * x, 0.03, 0.09))
        add(f"pelvis.{s}", (0, 0.01, 0.98), "root")
        add(f"upperleg01.{s}", hip, f"pelvis.{s}")
        add(f"upperleg02.{s}", (hip + knee) / 2, f"upperleg01.{s}")
        add(f"lowerleg01.{s}", knee, f"upperleg02.{s}")
        add(f"lowerleg02.{s}", (knee + ankle) / 2, f"lowerleg01.{s}")
        add(f"foot.{s}", ankle, f"lowerleg02.{s}")
        if twist:  # leaves beside the limb bones (a game rig's roll bones)
            add(f"upperarm_twist.{s}", shoulder + 0.07 * down, f"upperarm01.{s}")
            add(f"lowerarm_twist.{s}", elbow + 0.2 * fore, f"lowerarm02.{s}")
            add(f"upperleg_twist.{s}", hip + 0.3 * (knee - hip), f"upperleg01.{s}")
            add(f"lowerleg_twist.{s}", knee + 0.8 * (ankle - knee), f"lowerleg02.{s}")
        if toes:
            for k in range(1, 6):
                prev = f"foot.{s}"
                for b in range(1, 3 if k == 1 else 4):
                    add(f"toe{k}-{b}.{s}", (x * (0.08 + 0.015 * k), -0.10 - 0.02 * b, 0.02), prev)
                    prev = f"toe{k}-{b}.{s}"
    names = list(pose)
    parents = [names.index(pose[n][1]) if pose[n][1] else -1 for n in names]
    return names, parents, np.array([pose[n][0] for n in names])


# The canonical joint -> MPFB bone a MakeHuman user expects (the middle toe for the foot joint).
MPFB_BONES = {"pelvis": "root", "spine3": "spine01", "neck": "neck01", "head": "head"} | {
    f"{side}_{joint}": f"{bone}.{s}" for side, s in (("left", "L"), ("right", "R")) for joint, bone in (
        ("hip", "upperleg01"), ("knee", "lowerleg01"), ("ankle", "foot"), ("foot", "toe3-1"), ("collar", "clavicle"),
        ("shoulder", "upperarm01"), ("elbow", "lowerarm01"), ("wrist", "wrist"))}


def toy_skeleton(*, arm=(0.28, 0.25), leg=(0.41, 0.42), toes: bool = True):
    """(names, parents, heads) of a plain standing T-pose (Blender axes) with the given arm and leg
    bone lengths (a leg can have any number of bones), eyes on the head, and toes or none."""
    pose = {"pelvis": ((0, 0, 0.95), None), "spine1": ((0, 0.01, 1.06), "pelvis"),
            "spine2": ((0, 0.01, 1.18), "spine1"), "spine3": ((0, 0, 1.31), "spine2"),
            "neck": ((0, 0, 1.50), "spine3"), "head": ((0, -0.01, 1.62), "neck"),
            "eye.L": ((0.03, -0.08, 1.70), "head"), "eye.R": ((-0.03, -0.08, 1.70), "head")}
    for s, x in (("L", 1.0), ("R", -1.0)):
        z, prev = 0.91, f"hip.{s}"
        pose[prev] = ((0.09 * x, 0, z), "pelvis")
        for k, length in enumerate(leg):
            z -= length
            pose[f"leg{k}.{s}"] = ((0.10 * x, 0, z), prev)
            prev = f"leg{k}.{s}"
        if toes:
            pose[f"toe.{s}"] = ((0.10 * x, -0.14, z - 0.06), prev)
        pose[f"collar.{s}"] = ((0.03 * x, 0, 1.44), "spine3")
        pose[f"shoulder.{s}"] = ((0.17 * x, 0, 1.45), f"collar.{s}")
        reach, prev = 0.17, f"shoulder.{s}"
        for k, length in enumerate(arm):
            reach += length
            pose[f"arm{k}.{s}"] = ((reach * x, 0, 1.45), prev)
            prev = f"arm{k}.{s}"
    names = list(pose)
    parents = [names.index(pose[n][1]) if pose[n][1] else -1 for n in names]
    return names, parents, np.array([pose[n][0] for n in names], np.float64)


def split_limbs(anim: Animation, bones: set[str], pieces: int = 2, twist: bool = False) -> Animation:
    """`anim` with each bone named in `bones` (from that joint to its one child joint) cut into
    `pieces` collinear bones; the inserted joints do not rotate, so every frame's pose is the
    original one. `twist`: a twist bone beside each cut bone (a leaf under its first piece, with
    an end site), as game rigs have. Joint names are kept (the caller renames)."""
    kids: dict[int, list[int]] = {}
    for j, p in enumerate(anim.parents):
        kids.setdefault(int(p), []).append(j)
    slot = {int(j): k for k, j in enumerate(anim.translation_joints)}
    rows = []  # (name, new parent, offset, axes, source joint or None, end site, translation (F, 3) or None)

    def trans(j, share=1.0):
        return None if j not in slot else anim.translations[:, slot[j]].astype(np.float64) * share

    def emit(j, parent, offset, translation):
        here = len(rows)
        rows.append((anim.names[j], parent, offset, anim.axes[j], j, bool(anim.end_site[j]), translation))
        for c in kids.get(j, []):
            if anim.names[j] not in bones or anim.end_site[c]:
                emit(c, here, anim.offsets[c], trans(c))
                continue
            prev = here
            for k in range(1, pieces):
                rows.append((f"{anim.names[j]}_{k + 1}", prev, anim.offsets[c] / pieces, anim.axes[j], None, False,
                             trans(c, 1.0 / pieces)))
                prev = len(rows) - 1
            emit(c, prev, anim.offsets[c] / pieces, trans(c, 1.0 / pieces))
            if twist:
                rows.append((f"{anim.names[j]}_twist", here, anim.offsets[c] * 0.3, anim.axes[j], None, False, None))
                rows.append((f"{anim.names[j]}_twist_end", len(rows) - 1, anim.offsets[c] * 0.2, "", None, True,
                             None))

    for root in kids.get(-1, []):
        emit(root, -1, anim.offsets[root], trans(root))
    angles = np.zeros((anim.num_frames, len(rows), 3), np.float32)
    for k, row in enumerate(rows):
        if row[4] is not None:
            angles[:, k] = anim.angles[:, row[4]]
    moving = [k for k, row in enumerate(rows) if row[6] is not None]
    return Animation(
        path=anim.path, names=tuple(r[0] for r in rows), parents=np.array([r[1] for r in rows], np.int32),
        offsets=np.array([r[2] for r in rows], np.float64), axes=tuple(r[3] for r in rows), angles=angles,
        translation_joints=np.array(moving, np.int32),
        translations=np.stack([rows[k][6] for k in moving], axis=1).astype(np.float32) if moving
        else np.zeros((anim.num_frames, 0, 3), np.float32),
        fps=anim.fps, end_site=np.array([r[5] for r in rows], bool))


def renamed(anim: Animation, seed: int = 0) -> tuple[Animation, dict[str, str]]:
    """`anim` with meaningless joint names (b000, b001, ... in a shuffled order; end sites
    `<parent>_end`), and the map old name -> new name."""
    order = np.random.default_rng(seed).permutation(len(anim.names))
    new = {}
    for k, name in enumerate(anim.names):
        if not anim.end_site[k]:
            new[name] = f"b{int(order[k]):03d}"
    names = tuple(new[n] if n in new else f"{new[anim.names[anim.parents[k]]]}_end" for k, n in enumerate(anim.names))
    return Animation(path=anim.path, names=names, parents=anim.parents, offsets=anim.offsets, axes=anim.axes,
                     angles=anim.angles, translation_joints=anim.translation_joints, translations=anim.translations,
                     fps=anim.fps, end_site=anim.end_site), new
