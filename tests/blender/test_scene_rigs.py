"""FBX and GLB files of other rigs: real BVH clips (a Bandai-Namco and a CMU rig) imported into
Blender, their bones renamed to Mixamo (`mixamorig:` prefix), Unreal mannequin or meaningless names
("Bone", "Bone.001", ...), written by Blender's own exporters, read back by a background Blender
(runtime.io.blender_files) and compared with the BVH within 1% of leg length."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import bpy
import numpy as np
import pytest

from runtime.hashing import content_hash
from runtime.io import convert_files, find_converter, read_bvh
from runtime.motion import CONVENTIONS, JOINTS, clip_motion, leg_length, load_motion, map_rig

from .conftest import CMU_MB, WALK, make_active

# rig: (data fixture, file, first frame kept, frames kept). The CMU file claims 120 fps for a 60 fps
# capture; Blender's scene (and so the exported file) takes the claim, and the BVH is read with the
# same rate below: the comparison is at matching times whatever the capture's real rate.
RIGS = {"bandai": ("bandai2", WALK, 20, 60), "cmu": ("cmu_bvh", CMU_MB, 60, 120)}
NAMINGS = ("mixamo", "unreal", "numbered")
CONVENTION = {"mixamo": "mixamo", "unreal": "unreal", "numbered": "shape"}
CASES = [(rig, naming, "fbx") for rig in RIGS for naming in NAMINGS] + [
    ("cmu", "mixamo", "glb"), ("bandai", "numbered", "glb")]


def crop_bvh(src: Path, dst: Path, first: int, count: int) -> None:
    """Frames first .. first + count - 1 of a BVH file, hierarchy and frame time as they are."""
    lines = src.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("Frames:"))
    frames = [ln for ln in lines[at + 2:] if ln.strip()][first:first + count]
    assert len(frames) == count
    dst.write_text("\n".join(lines[:at] + [f"Frames: {count}", lines[at + 1]] + frames) + "\n")


def new_names(bvh: Path, naming: str) -> dict[str, str]:
    """Bone renames of a BVH file's joints (Blender's bones; end sites are tails, not bones): each
    canonical joint's bone gets the convention's name for that joint; the other bones keep a
    unique name (Mixamo: with the prefix). "numbered": every bone is Bone, Bone.001, ... in a
    shuffled order (not the chain order)."""
    anim = read_bvh(str(bvh))
    bvh_names = [n for n, end in zip(anim.names, anim.end_site) if not end]
    if naming == "numbered":
        order = np.random.default_rng(7).permutation(len(bvh_names))
        return {bvh_names[i]: ("Bone" if k == 0 else f"Bone.{k:03d}") for k, i in enumerate(order)}
    rig = map_rig(bvh_names)
    table = CONVENTIONS[naming]
    prefix = "mixamorig:" if naming == "mixamo" else ""
    out = {}
    for k, joint in enumerate(JOINTS):
        if rig.weight[k] == 0.0:  # a bone of its own (not a point between two bones)
            out[bvh_names[rig.a[k]]] = prefix + next(c for c in table[joint] if isinstance(c, str))
    for name in bvh_names:
        out.setdefault(name, prefix + name)
    assert len(set(out.values())) == len(out)
    return out


def _quiet(op, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        assert op(**kw) == {'FINISHED'}


def _export(bvh: Path, naming: str, fmts: list[str], out: Path) -> dict[str, Path]:
    bpy.ops.wm.read_homefile(use_empty=True)
    _quiet(bpy.ops.import_anim.bvh, filepath=str(bvh), update_scene_fps=True, update_scene_duration=True)
    arm = bpy.context.active_object
    arm.name = "Armature"
    arm.animation_data.action.name = "Take"
    renames = new_names(bvh, naming)
    bones = arm.data.bones
    for k, old in enumerate(renames):  # two steps: a new name may be another bone's old one
        bones[old].name = f"tmp_{k}"
    for k, new in enumerate(renames.values()):
        bones[f"tmp_{k}"].name = new
    assert sorted(b.name for b in bones) == sorted(renames.values())
    keyed = {fc.data_path.split('"')[1] for fc in _fcurves(arm.animation_data.action) if fc.data_path.startswith("pose")}
    assert keyed <= set(renames.values())  # the action follows the renames
    make_active(arm)
    files = {}
    for fmt in fmts:
        files[fmt] = out / f"{bvh.stem}_{naming}.{fmt}"
        if fmt == "fbx":
            _quiet(bpy.ops.export_scene.fbx, filepath=str(files[fmt]), use_selection=True, bake_anim=True,
                   bake_anim_use_all_actions=True, bake_anim_use_nla_strips=False, bake_anim_simplify_factor=0.0,
                   add_leaf_bones=False)
        else:
            _quiet(bpy.ops.export_scene.gltf, filepath=str(files[fmt]), export_format='GLB', use_selection=True)
    return files


def _fcurves(action):
    layers = getattr(action, "layers", None)
    if layers:
        return [fc for layer in layers for strip in layer.strips for bag in strip.channelbags for fc in bag.fcurves]
    return list(action.fcurves)


@pytest.fixture(scope="module")
def converted(addon, request, tmp_path_factory):
    """{(rig, naming, fmt): (the cropped BVH, the file's Converted)}: every case exported, then all
    files read back by one background Blender."""
    out = tmp_path_factory.mktemp("rigs")
    files = {}
    for rig, (data, name, first, count) in RIGS.items():
        bvh = out / f"{rig}.bvh"
        crop_bvh(request.getfixturevalue(data) / name, bvh, first, count)
        for naming in NAMINGS:
            fmts = [f for r, n, f in CASES if (r, n) == (rig, naming)]
            for fmt, path in _export(bvh, naming, fmts, out).items():
                files[(rig, naming, fmt)] = (bvh, path)
    bpy.ops.wm.read_homefile(use_empty=True)
    converter = find_converter()
    assert converter is not None and converter.is_python
    results = convert_files([(str(p), content_hash(p)) for _, p in files.values()], converter,
                                          out / "cache")
    return {case: (bvh, path, results[str(path)]) for case, (bvh, path) in files.items()}


@pytest.mark.parametrize("rig,naming,fmt", CASES)
def test_renamed_rig_matches_the_bvh(converted, rig, naming, fmt):
    bvh, path, result = converted[(rig, naming, fmt)]
    assert result.error == "", result.error
    [clip] = result.clips
    got = clip_motion(clip, f"{path}#{clip.name}")
    want = load_motion(bvh)
    assert want.first_source_frame == 0  # the crop starts inside the motion: nothing to drop
    # FBX: the scene's rate, from the BVH's claim; glTF: its keys' own (Blender's importer puts them
    # on its 24 fps timeline, 0.2 or 0.8 frames apart, and the worker samples at the keys)
    assert got.source_fps == want.source_fps
    assert got.rig == CONVENTION[naming]
    assert got.num_frames == want.num_frames
    error = np.linalg.norm(got.positions - want.positions, axis=-1).max(axis=0)
    leg = leg_length(want.positions)
    worst = int(np.argmax(error))
    assert error[worst] < 0.01 * leg, f"{path.name}: {JOINTS[worst]} off by {error[worst] * 1000:.1f} mm (leg {leg:.3f} m)"
