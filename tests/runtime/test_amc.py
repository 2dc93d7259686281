"""The ASF/AMC reader: every CMU AMC file in the data, BVH conversions of the same trials, bad input."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from runtime import shared_data
from runtime.errors import MotionFormatError
from runtime.io import AMC_FPS, read_amc, read_asf, read_bvh
from runtime.motion import JOINTS, J, forward_kinematics, leg_length, load_motion, map_rig

CMU_UNIT_M = 0.0254 / 0.45  # CMU ASF `length 0.45`: the file unit is 1/0.45 inch


def data_root() -> Path:
    """The cache folder holding the extracted cmu-asfamc/ and cmu-bvh/ (extracted on first use).
    A missing data folder fails the test: a broken setup is not a reason to skip."""
    try:
        return shared_data.extracted("cmu-asfamc").parent if shared_data.extracted("cmu-bvh") else None
    except shared_data.DataNotFound as e:
        pytest.fail(str(e), pytrace=False)


def _amc_params() -> list[str]:
    """AMC files (relative to cmu-asfamc/), for parametrizing."""
    try:
        root = data_root() / "cmu-asfamc"
    except BaseException:  # reported by the tests themselves through data_root()
        return ["<no data>"]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.amc")) or ["<no data>"]


def _frame_blocks(path: Path) -> int:
    """Frames in an AMC file, counted independently of the reader: lines holding only a number."""
    return len(re.findall(r"(?m)^[ \t]*\d+[ \t]*\r?$", path.read_text(encoding="latin-1")))


def _copy_trial(tmp_path: Path, subject: str, trial: str, *, asf_text: str | None = None) -> Path:
    """Copy a CMU trial and its ASF (or the given ASF text) to tmp_path; returns the AMC copy."""
    src = data_root() / "cmu-asfamc" / "cyun9601" / subject
    amc = tmp_path / f"{trial}.amc"
    shutil.copyfile(src / f"{trial}.amc", amc)
    asf = tmp_path / f"{subject}.asf"
    if asf_text is None:
        shutil.copyfile(src / f"{subject}.asf", asf)
    else:
        asf.write_bytes(asf_text.encode("latin-1"))
    return amc


def _asf_with_bone_length(asf: Path, bone: str, length: str) -> str:
    """The ASF's text with one bone's `length` replaced (line endings kept)."""
    out, in_bone, done = [], False, False
    for line in asf.read_bytes().decode("latin-1").splitlines(keepends=True):
        words = line.split()
        if words[:2] == ["name", bone]:
            in_bone = True
        elif in_bone and words[:1] == ["length"]:
            line = line.replace(words[1], length, 1)
            in_bone, done = False, True
        out.append(line)
    assert done, f"no bone {bone} in {asf}"
    return "".join(out)


def _rig_positions(anim) -> np.ndarray:
    """Canonical joints (F, 22, 3) in file units and axes, without resampling or normalising."""
    return map_rig(anim.names, anim.path).apply(forward_kinematics(anim))


# ------------------------------------------------------------------------------ every AMC file


def test_the_data_has_all_cmu_amc_files():
    files = sorted((data_root() / "cmu-asfamc").rglob("*.amc"))
    assert len(files) == 34, files  # the archive holds 34 (its README says 35) and 4 ASF
    assert sum(f.parent.name == "mocap6" for f in files) == 5
    assert len(sorted((data_root() / "cmu-asfamc").rglob("*.asf"))) == 4


@pytest.mark.parametrize("rel", _amc_params())
def test_every_amc_loads_or_names_its_missing_asf(rel):
    amc = data_root() / "cmu-asfamc" / rel
    assert amc.is_file(), f"no AMC files under {data_root() / 'cmu-asfamc'}"
    if amc.parent.name == "mocap6":  # AMC of subjects 13 and 14 without their ASF
        assert not list(amc.parent.glob("*.asf"))
        with pytest.raises(MotionFormatError) as err:
            read_amc(amc)
        msg = str(err.value)
        assert err.value.path == str(amc) and msg.startswith(str(amc))
        subject = amc.name.split("_")[0]
        assert f"{subject}.asf" in msg and "--asf" in msg, msg
        with pytest.raises(MotionFormatError):  # and the same through the pipeline
            load_motion(amc)
        return
    anim = read_amc(amc)
    asf = read_asf(amc.parent / f"{amc.name.split('_')[0]}.asf")
    assert anim.num_frames == _frame_blocks(amc)
    assert anim.fps == AMC_FPS == 120.0
    assert np.isfinite(anim.angles).all() and np.isfinite(anim.translations).all()
    # one joint per bone plus the root and an end site per leaf bone, parents first
    assert set(anim.names) >= {"root"} | {b.name for b in asf.bones}
    assert all(anim.parents[j] < j for j in range(anim.num_joints))
    ends = [n for n, e in zip(anim.names, anim.end_site) if e]
    assert sorted(ends) == sorted(f"{b.name}_end" for b in asf.bones if not any(c.parent == b.name for c in asf.bones))
    motion = load_motion(amc)
    assert motion.rig == "cmu_asf"
    assert motion.metres_per_unit == pytest.approx(CMU_UNIT_M)
    assert motion.first_source_frame == 0  # AMC files have no added rest pose
    assert 0.7 < leg_length(motion.positions) < 0.95
    assert motion.num_frames == int(np.floor((anim.num_frames - 1) * 20 / 120 + 1e-6)) + 1


def test_largest_amc_parses_fast():
    amc = data_root() / "cmu-asfamc" / "cyun9601" / "01" / "01_06.amc"
    asf = read_asf(amc.parent / "01.asf")
    read_amc(amc, asf=asf)  # warm the file cache
    start = time.perf_counter()
    anim = read_amc(amc, asf=asf)
    elapsed = time.perf_counter() - start
    assert anim.num_frames == 5133
    assert elapsed < 1.0, f"{elapsed:.2f} s for 5133 frames"  # about 0.2 s on a laptop-class CPU


# ------------------------------------------------------------------- against BVH conversions
#
# mb-fairmotion/01_01.bvh is the MotionBuilder-style conversion of trial 01_01 with subject 01's
# own bone vectors and an added rest frame 0, but without the `thorax` bone's length: its Neck
# and shoulders start where the ASF's thorax starts. With thorax's length set to 0 in a copy of
# the ASF, the two files describe the same joints, so they must agree to rounding (the BVH
# prints 5 decimals): a tolerance of 5 mm is generous. Swapping C and C^T, not reversing the dof
# order, or dropping the axis rotations each put joints 0.5 to 1.9 m away.


def test_01_01_matches_its_motionbuilder_bvh_exactly_without_thorax(tmp_path):
    src = data_root() / "cmu-asfamc" / "cyun9601" / "01"
    amc = _copy_trial(tmp_path, "01", "01_01", asf_text=_asf_with_bone_length(src / "01.asf", "thorax", "0"))
    bvh = data_root() / "cmu-bvh" / "mb-fairmotion" / "01_01.bvh"
    a, b = load_motion(amc), load_motion(bvh)
    assert (a.first_source_frame, b.first_source_frame) == (0, 1)  # the BVH's rest frame is dropped
    assert a.source_frames + 1 == b.source_frames
    assert a.num_frames == b.num_frames
    assert a.metres_per_unit == b.metres_per_unit == pytest.approx(CMU_UNIT_M)
    err = np.linalg.norm(a.positions - b.positions, axis=-1)
    assert err.max() < 0.005, f"max {err.max():.4f} m at joint {JOINTS[int(err.max(0).argmax())]}"
    # and at 120 fps, in file units, frame by frame
    pa, pb = _rig_positions(read_amc(amc)), _rig_positions(read_bvh(bvh))[1:]
    assert pa.shape == pb.shape
    assert np.abs(pa - pb).max() * CMU_UNIT_M < 0.001


def test_01_01_matches_its_motionbuilder_bvh_up_to_the_missing_thorax():
    amc = data_root() / "cmu-asfamc" / "cyun9601" / "01" / "01_01.amc"
    thorax = read_asf(amc.parent / "01.asf").bone("thorax").length * CMU_UNIT_M  # 0.117 m
    a = load_motion(amc)
    b = load_motion(data_root() / "cmu-bvh" / "mb-fairmotion" / "01_01.bvh")
    assert a.num_frames == b.num_frames
    err = np.linalg.norm(a.positions - b.positions, axis=-1)
    below = [J[n] for n in JOINTS if J[n] < J["neck"]]  # pelvis, hips, legs, feet, spine1..3
    above = [J[n] for n in JOINTS if J[n] >= J["neck"]]  # neck, collars, head, arms
    assert err[:, below].max() < 0.01
    # the upper body is displaced by the thorax bone the conversion left out, nothing more
    np.testing.assert_allclose(err[:, above], thorax, atol=0.01)


def test_02_01_matches_the_tmoco_conversion_on_subject_01s_skeleton(tmp_path):
    # mb-tmoco/02_01.bvh is trial 02_01 retargeted onto subject 01's bone vectors (again without
    # the thorax) with its root translation scaled by 1.063 and the legs re-solved. Playing the
    # AMC on that skeleton (asf=...) and comparing pelvis-relative joints leaves the converter's
    # leg adjustments: 8.5 cm worst, 2.5 cm on average, while a wrong convention gives 47 cm
    # worst and 6 cm or more on average. Bounds: 15 cm and 4 cm.
    src = data_root() / "cmu-asfamc" / "cyun9601"
    asf = tmp_path / "subject01-no-thorax.asf"
    asf.write_text(_asf_with_bone_length(src / "01" / "01.asf", "thorax", "0"), encoding="latin-1", newline="")
    a = read_amc(src / "02" / "02_01.amc", asf=asf)
    b = read_bvh(data_root() / "cmu-bvh" / "mb-tmoco" / "02_01.bvh")
    assert a.num_frames == b.num_frames == 343  # this conversion has no added frame
    pa, pb = _rig_positions(a), _rig_positions(b)
    root_scale = pb[:, J["pelvis"]] / pa[:, J["pelvis"]]
    np.testing.assert_allclose(root_scale, 1.0631, atol=0.001)
    err = np.linalg.norm((pa - pa[:, :1]) - (pb - pb[:, :1]), axis=-1) * CMU_UNIT_M
    assert err.max() < 0.15 and err.mean() < 0.04, (err.max(), err.mean())


DAZ_TRIALS = ["02_01", "02_02", "02_03", "02_04", "03_01", "03_02"]
LIMBS = [("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
         ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
         ("pelvis", "neck")]


@pytest.mark.parametrize("trial", DAZ_TRIALS)
def test_limb_directions_match_the_daz_conversions(trial):
    # daz-przestr retargets CMU trials onto a DAZ figure (other proportions and joint placement,
    # centimetres, an added frame 0), so only directions compare: thighs, shins, upper arms and
    # the trunk point the same way, 5 to 8.5 degrees apart on average; a wrong convention
    # gives 14.5 degrees or more. Bound: 12 degrees.
    subject = trial[:2]
    a = read_amc(data_root() / "cmu-asfamc" / "cyun9601" / subject / f"{trial}.amc")
    b = read_bvh(data_root() / "cmu-bvh" / "daz-przestr" / subject / f"{trial}.bvh")
    assert b.num_frames == a.num_frames + 1
    pa, pb = _rig_positions(a), _rig_positions(b)[1:]

    def directions(p):
        v = np.stack([p[:, J[c]] - p[:, J[par]] for par, c in LIMBS], axis=1)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    angle = np.degrees(np.arccos(np.clip(np.sum(directions(pa) * directions(pb), axis=-1), -1.0, 1.0)))
    assert angle.mean() < 12.0, np.round(angle.mean(axis=0), 1)


# ------------------------------------------------------------------------ conventions, by hand

SKELETON = """\
# a hand-made skeleton: comments, a colon in the documentation, limits over several lines
:version 1.10
:name TEST
:units
  mass 1.0
  length 1.0
  angle deg
:documentation
  free text: begin end dof rx
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position {position}
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 2
     axis 0 0 {axis} XYZ
     dof rx ry rz
     limits (-180.0 180.0)
            (-180.0 180.0)
            (-180.0 180.0)
  end
  begin
     id 2
\tname b
\tdirection 0 1 0
\tlength 1
\taxis 0 0 0 XYZ
\tdof rx rz   # two dofs: Rz @ Rx
\tlimits (-180.0 180.0)
\t       (-180.0 180.0)
  end
  begin
     id 3
     name c
     direction 0 0 1
     length 3
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root a c
    a b
  end
"""

MOTION = """\
#!OML:ASF test.asf
:FULLY-SPECIFIED
{unit}
1
root 1 2 3 0 0 0
a 0 0 0
b 0 0
2
root 0 0 0 0 0 {q}
a {q} 0 0
b {q} {q}
c
"""


def _write_pair(tmp_path: Path, *, position="0 0 0", axis="90", unit=":DEGREES", q="90", angle="deg", crlf=False):
    asf = SKELETON.format(position=position, axis=axis).replace("angle deg", f"angle {angle}")
    amc = MOTION.format(unit=unit, q=q)
    if crlf:
        asf, amc = asf.replace("\n", "\r\n"), amc.replace("\n", "\r\n")
    (tmp_path / "07.asf").write_bytes(asf.encode())
    (tmp_path / "07_01.amc").write_bytes(amc.encode())
    return tmp_path / "07_01.amc"


def _positions(anim) -> dict[str, np.ndarray]:
    p = forward_kinematics(anim)
    return {n: p[:, i] for i, n in enumerate(anim.names)}


# Frame 2 by hand: the root turns Rz(90). Bone a's axis is C = Rz(90) and its motion Rx(90), so
# its local rotation C Rx(90) C^T is Ry(90): its vector (2, 0, 0) -> (0, 0, -2) -> (under Rz(90))
# (0, 0, -2). Bone b's `dof rx rz` at (90, 90) is Rz(90) @ Rx(90): (0, 1, 0) -> (0, 0, 1), then
# Ry(90) -> (1, 0, 0), then Rz(90) -> (0, 1, 0). Bone c (no dof) just follows the root.
EXPECTED = {
    "root": [(1, 2, 3), (0, 0, 0)],
    "a": [(1, 2, 3), (0, 0, 0)],
    "b": [(3, 2, 3), (0, 0, -2)],
    "b_end": [(3, 3, 3), (0, 1, -2)],
    "c": [(1, 2, 3), (0, 0, 0)],
    "c_end": [(1, 2, 6), (0, 0, 3)],
}


@pytest.mark.parametrize("crlf", [False, True])
def test_conventions_on_a_hand_made_skeleton(tmp_path, crlf):
    anim = read_amc(_write_pair(tmp_path, crlf=crlf))  # finds 07.asf beside 07_01.amc
    assert anim.names == ("root", "a", "b", "b_end", "c", "c_end")
    assert anim.axes == ("ZYX", "ZYX", "ZX", "", "", "")
    assert list(anim.end_site) == [False, False, False, True, False, True]
    assert anim.line_of_frame0 == 4
    pos = _positions(anim)
    for name, frames in EXPECTED.items():
        np.testing.assert_allclose(pos[name], np.array(frames, float), atol=1e-5, err_msg=name)


def test_radians_root_position_and_a_shared_skeleton(tmp_path):
    q = f"{np.pi / 2:.9f}"
    # the ASF in radians: its axis angle and, without an AMC keyword, the AMC values
    anim = read_amc(_write_pair(tmp_path, axis=q, unit="", q=q, angle="rad"))
    for name, frames in EXPECTED.items():
        np.testing.assert_allclose(_positions(anim)[name], np.array(frames, float), atol=1e-5, err_msg=name)
    # an AMC in :RADIANS against a skeleton in degrees
    anim = read_amc(_write_pair(tmp_path, unit=":RADIANS", q=q))
    np.testing.assert_allclose(_positions(anim)["b_end"], np.array(EXPECTED["b_end"], float), atol=1e-5)
    # the root's preset position offsets its translation
    amc = _write_pair(tmp_path, position="10 0 0")
    np.testing.assert_allclose(_positions(read_amc(amc))["b_end"][0], (13, 3, 3), atol=1e-5)
    # a parsed skeleton can be reused, and an ASF elsewhere named with asf=
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.move(tmp_path / "07.asf", other / "skeleton.asf")
    with pytest.raises(MotionFormatError, match="07.asf"):
        read_amc(amc)
    skeleton = read_asf(other / "skeleton.asf")
    for asf in (skeleton, other / "skeleton.asf", str(other / "skeleton.asf")):
        np.testing.assert_allclose(_positions(read_amc(amc, asf=asf))["b_end"][0], (13, 3, 3), atol=1e-5)


# -------------------------------------------------------------------------------- bad input


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("latin-1").splitlines(keepends=True)


def _frame_line(lines: list[str], number: int) -> int:
    """Index (0-based) of the line holding frame `number`."""
    return next(i for i, ln in enumerate(lines) if ln.strip() == str(number))


def _expect_error(path: Path, reason: str, line: int | None, *, asf: Path | None = None) -> MotionFormatError:
    with pytest.raises(MotionFormatError) as err:
        read_amc(path, asf=asf)
    e = err.value
    assert re.search(reason, e.reason), e
    assert e.line == line, e
    assert str(e).startswith(f"{e.path}:{line}: " if line else f"{e.path}: ")
    assert "\n" not in str(e)
    return e


@pytest.fixture
def trial(tmp_path) -> Path:
    """A copy of trial 02_03 (173 frames) and its ASF under tmp_path."""
    return _copy_trial(tmp_path, "02", "02_03")


def test_the_copied_trial_reads(trial):
    assert read_amc(trial).num_frames == 173


def test_truncated_amc(trial):
    lines = _lines(trial)
    last = _frame_line(lines, 173)
    # cut after any line of the last frame but its last: the frame lacks bones
    for keep in range(last + 1, len(lines) - 1, 5):
        trial.write_text("".join(lines[:keep]), encoding="latin-1", newline="")
        e = _expect_error(trial, r"frame 173 has no values for bones? .*file truncated", last + 1)
        assert e.path == str(trial)
    # cut in the middle of a line
    k = last + 3
    cut = lines[k].split()[0] + " " + lines[k].split()[1]
    if len(lines[k].split()) > 2:
        trial.write_text("".join(lines[:k]) + cut, encoding="latin-1", newline="")
        _expect_error(trial, r"needs \d values, got 1 \(file truncated\?\)", k + 1)
    # cut in the middle of a bone name
    trial.write_text("".join(lines[:k]) + lines[k][:2], encoding="latin-1", newline="")
    _expect_error(trial, r"unknown bone .*file truncated", k + 1)
    # nothing left after the header
    trial.write_text("".join(lines[:_frame_line(lines, 1)]), encoding="latin-1", newline="")
    _expect_error(trial, "no frames", 3)


@pytest.mark.parametrize("bad, reason", [
    ("x1.5", r"frame 50: bone 'lfemur': 'x1.5' is not a number"),
    ("nan", r"frame 50: bone 'lfemur': non-finite value 'nan'"),
    ("-inf", r"non-finite value '-inf'"),
    ("1e999", r"non-finite value '1e999'"),
])
def test_bad_values(trial, bad, reason):
    lines = _lines(trial)
    k = next(i for i in range(_frame_line(lines, 50), len(lines)) if lines[i].startswith("lfemur "))
    parts = lines[k].split()
    parts[2] = bad
    lines[k] = " ".join(parts) + "\r\n"
    trial.write_text("".join(lines), encoding="latin-1", newline="")
    _expect_error(trial, reason, k + 1)


def _edit_frame(trial: Path, number: int, edit) -> int:
    """Apply edit(lines, index of the frame's first bone line) and write back; returns that index."""
    lines = _lines(trial)
    k = _frame_line(lines, number) + 1
    edit(lines, k)
    trial.write_text("".join(lines), encoding="latin-1", newline="")
    return k


def test_unknown_bone(trial):
    k = _edit_frame(trial, 20, lambda lines, k: lines.insert(k + 2, "ltail 1 2 3\r\n"))
    _expect_error(trial, r"frame 20: unknown bone 'ltail' \(not in 02\.asf\)", k + 3)


def test_frame_missing_a_bone(trial):
    lines = _lines(trial)
    k = next(i for i in range(_frame_line(lines, 20), len(lines)) if lines[i].startswith("rtibia "))
    del lines[k]
    trial.write_text("".join(lines), encoding="latin-1", newline="")
    _expect_error(trial, r"^frame 20 has no values for bone 'rtibia'$", _frame_line(lines, 20) + 1)


def test_duplicate_bone_and_wrong_count(trial):
    lines = _lines(trial)
    k = _edit_frame(trial, 7, lambda lines, k: lines.insert(k + 1, lines[k]))
    _expect_error(trial, r"frame 7: bone 'root' appears twice", k + 2)
    trial.write_text("".join(lines), encoding="latin-1", newline="")
    k = _edit_frame(trial, 9, lambda lines, k: lines.__setitem__(k, lines[k].rstrip() + " 4.5\r\n"))
    _expect_error(trial, r"frame 9: bone 'root' needs 6 values, got 7", k + 1)


def test_frames_out_of_order_and_late_keywords(trial):
    lines = _lines(trial)
    k = _frame_line(lines, 30)
    lines[k] = "31\r\n"
    trial.write_text("".join(lines), encoding="latin-1", newline="")
    _expect_error(trial, r"frame number 31 follows 29", k + 1)
    lines[k] = ":DEGREES\r\n30\r\n"
    trial.write_text("".join(lines), encoding="latin-1", newline="")
    _expect_error(trial, r"keyword ':DEGREES' after the first frame", k + 1)


def test_not_an_amc_file(tmp_path, trial):
    bvh = tmp_path / "02_03.amc"
    shutil.copyfile(data_root() / "cmu-bvh" / "daz-przestr" / "02" / "02_03.bvh", bvh)
    _expect_error(bvh, r"not an AMC file: 'HIERARCHY'", 1)
    bvh.write_bytes(b"1\r\nroot \x00\x00\r\n")
    _expect_error(bvh, "NUL byte", None)
    bvh.write_text(":SAMPLES-PER-SECOND 60\n1\n", encoding="latin-1")
    _expect_error(bvh, "unknown AMC keyword ':SAMPLES-PER-SECOND'", 1)


def _asf_error(trial: Path, edit, reason: str) -> MotionFormatError:
    asf = trial.parent / "02.asf"
    lines = _lines(data_root() / "cmu-asfamc" / "cyun9601" / "02" / "02.asf")  # edit the original
    edit(lines)
    asf.write_text("".join(lines), encoding="latin-1", newline="")
    with pytest.raises(MotionFormatError) as err:
        read_amc(trial)
    e = err.value
    assert e.path == str(asf), e  # the error names the ASF, not the AMC
    assert re.search(reason, e.reason), e
    return e


def _index(lines: list[str], text: str) -> int:
    return next(i for i, ln in enumerate(lines) if ln.strip() == text)


def test_asf_without_bonedata(trial):
    e = _asf_error(trial, lambda lines: lines.pop(_index(lines, ":bonedata")), r"unexpected 'begin' in :root")
    assert e.line is not None
    # and without any bone blocks at all
    def drop_bones(lines):
        start, end = _index(lines, ":bonedata"), _index(lines, ":hierarchy")
        del lines[start:end]
    _asf_error(trial, drop_bones, r"no :bonedata section")


@pytest.mark.parametrize("edit, reason", [
    (lambda lines: lines.__setitem__(_index(lines, "name ltibia"), "     name lshin\r\n"),
     r":hierarchy names bone 'ltibia', which :bonedata does not define"),
    (lambda lines: lines.__setitem__(_index(lines, "lfemur ltibia"), "    ltibia lfemur\r\n"),
     r"bone 'lfemur' gets a second parent|not attached to the root"),
    (lambda lines: lines.__setitem__(_index(lines, "dof rx"), "    dof rx tx\r\n"),
     r"dof 'tx' \(bone translation or stretch\) is not supported"),
    (lambda lines: lines.__setitem__(_index(lines, "length 0.45"), "  length x0.45\r\n"),
     r"'length' has a value that is not a number"),
    (lambda lines: lines.__setitem__(_index(lines, "angle deg"), "  angle grad\r\n"), r"neither 'deg' nor 'rad'"),
    (lambda lines: lines.__setitem__(_index(lines, "axis XYZ"), "   axis XYQ\r\n"), r"not a permutation of XYZ"),
    (lambda lines: lines.__delitem__(slice(_index(lines, ":hierarchy"), None)), r"no :hierarchy section"),
    (lambda lines: lines.__delitem__(slice(len(lines) - 1, None)), r":hierarchy opened on line \d+ has no 'end'"),
    (lambda lines: lines.__delitem__(slice(_index(lines, ":hierarchy") - 1, None)),
     r"bone block opened on line \d+ has no 'end'"),
])
def test_malformed_asf(trial, edit, reason):
    e = _asf_error(trial, edit, reason)
    assert e.line is not None and str(e).startswith(f"{e.path}:{e.line}: ")


def test_missing_or_unreadable_asf(trial, tmp_path):
    (tmp_path / "02.asf").unlink()
    e = _expect_error(trial, r"no ASF skeleton for this AMC file: looked for 02_03\.asf, 02\.asf in .*--asf", None)
    assert e.path == str(trial)
    with pytest.raises(MotionFormatError, match=r"nowhere\.asf: cannot read file"):
        read_amc(trial, asf=tmp_path / "nowhere.asf")
    with pytest.raises(MotionFormatError, match=r"cannot read file"):
        read_amc(tmp_path / "missing_01.amc", asf=data_root() / "cmu-asfamc" / "cyun9601" / "02" / "02.asf")
