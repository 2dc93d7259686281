"""ASF/AMC reader (Acclaim skeleton + motion: the CMU motion-capture database's own format).

Pure (no bpy, no printing) and strict, like `runtime.io.bvh`: anything malformed is one
`MotionFormatError` naming the file (the ASF or the AMC) and the line.

An ASF file describes bones, each a vector `direction * length` in the skeleton's global
rest frame, starting where its parent ends, with an `axis` frame in which its `dof` rotations
are measured. The AMC file lists, per frame, the frame number and then one line per bone:
`<bone> <value per dof>`. The `Animation` this module returns has

- a joint "root", at the root's position (animated by its TX TY TZ channels);
- one joint per bone, named after the bone and placed at the bone's *start* (the end of its
  parent bone): offset = parent's `direction * length` (zero for bones on the root);
- one end site `<bone>_end` per leaf bone, at that bone's end;

and the local transform of bone b is Translate(offset) @ C_b @ M_b @ C_b^T, where C_b is the
rotation of its `axis` line and M_b the AMC rotation. Both follow the Acclaim order rule: the
listed rotations are applied first to last about fixed axes, so `dof rx ry rz` (or
`axis a b c XYZ`) means Rz @ Ry @ Rx; the `Animation.axes` strings are therefore the dof
letters reversed ("ZYX"). The root's rotation channels follow the same rule (`order TX TY TZ
RX RY RZ` -> "ZYX"); its `position` is added to its translation and its `orientation`
(in the order of its `axis` token) is applied as a constant rotation before the animated one
(Translate(position + t) @ O @ M); both are zero in every CMU and VICON file.

Lengths stay in file units (CMU: `length 0.45`, i.e. 1/0.45 inch; `runtime.motion` tells the
unit from the leg length). Angles are converted to degrees when the ASF says `angle rad` or
the AMC says `:RADIANS`. The AMC format holds no frame rate: `fps` is 120, the CMU capture
rate; pass the real rate to `runtime.motion.load_motion(fps=...)` for other sources.
Translation and length dofs of bones (`tx`, `l`), which no known exporter writes, are refused.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import MotionFormatError
from .animation import Animation, euler_matrix

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_BONES = 2048
AMC_FPS = 120.0  # CMU's capture rate; the AMC format itself states none

_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
_BONE_DOFS = ("rx", "ry", "rz")
_UNSUPPORTED_DOFS = ("tx", "ty", "tz", "l")
_ANGLE_UNITS = {"deg": "deg", "degree": "deg", "degrees": "deg", "rad": "rad", "radian": "rad", "radians": "rad"}


@dataclass(frozen=True, eq=False)
class AsfBone:
    """One `begin ... end` block of an ASF file's `:bonedata`.

    Attributes:
        name: the bone's name.
        parent: its parent bone's name, "root" for bones on the root.
        direction: (3,) the bone's direction in the global rest frame.
        length: its length in file units.
        axis: (3,) the `axis` angles in degrees, about X, Y and Z.
        axis_order: the order they are applied in ("XYZ": X first, i.e. Rz @ Ry @ Rx).
        dof: the rotation channels in AMC value order, e.g. ("rx", "rz"); () for none.
        line: the line of its `begin` (for messages).
    """

    name: str
    parent: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]
    line: int


@dataclass(frozen=True, eq=False)
class AsfSkeleton:
    """An ASF file: the root and the bones, parents before children.

    Attributes:
        path: the ASF file.
        bones: every bone, in depth-first order of `:hierarchy` (parents before children).
        root_order: the root's AMC channels, upper case, e.g. ("TX", "TY", "TZ", "RX", "RY", "RZ").
        root_axis: the order of `root_orientation` ("XYZ").
        root_position: (3,) the root's preset position in file units.
        root_orientation: (3,) its preset orientation in degrees about X, Y, Z.
        length_unit: the `:units length` value (kept for information; lengths are not rescaled).
        angle_unit: "deg" or "rad", the unit of the ASF's angles and, unless the AMC says, the AMC's.
    """

    path: str
    bones: tuple[AsfBone, ...]
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    length_unit: float
    angle_unit: str

    def bone(self, name: str) -> AsfBone:
        for b in self.bones:
            if b.name == name:
                return b
        raise KeyError(name)


# --------------------------------------------------------------------------------------- files


def _read_text(path: str) -> str:
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise MotionFormatError(
                path, f"file is {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise MotionFormatError(path, f"cannot read file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if "\x00" in text:
        raise MotionFormatError(path, "binary data in a text format (NUL byte)")
    return text


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Read an ASF skeleton file.

    Raises:
        MotionFormatError: the file is missing, unreadable or malformed.
    """
    path = os.fspath(path)
    return parse_asf(_read_text(path), path)


def asf_candidates(amc_path: str | os.PathLike) -> list[str]:
    """Where the skeleton of an AMC file is looked for: `<trial>.asf`, then `<subject>.asf`
    (the file name up to its first underscore: 01_01.amc -> 01.asf), in the same folder."""
    amc_path = os.fspath(amc_path)
    folder, name = os.path.split(amc_path)
    stem = os.path.splitext(name)[0]
    subject = stem.split("_", 1)[0]
    names: list[str] = []
    for base in (stem, subject):
        for ext in (".asf", ".ASF"):
            if base and base + ext not in names:
                names.append(base + ext)
    return [os.path.join(folder, n) for n in names]


def find_asf(amc_path: str | os.PathLike) -> str:
    """The ASF file beside an AMC file (see `asf_candidates`).

    Raises:
        MotionFormatError: none of the candidates exists.
    """
    amc_path = os.fspath(amc_path)
    candidates = asf_candidates(amc_path)
    for c in candidates:
        if os.path.isfile(c):
            return c
    looked = ", ".join(dict.fromkeys(os.path.basename(c) for c in candidates if not c.endswith(".ASF")))
    folder = os.path.dirname(amc_path) or "."
    raise MotionFormatError(
        amc_path,
        f"no ASF skeleton for this AMC file: looked for {looked} in {folder}; "
        "pass the skeleton file with --asf (asf=...)",
    )


def read_amc(path: str | os.PathLike, *, asf: str | os.PathLike | AsfSkeleton | None = None) -> Animation:
    """Read an AMC motion file with its ASF skeleton.

    Args:
        path: the .amc file.
        asf: its skeleton: an .asf path or an `AsfSkeleton` (to read many trials of one
            subject with one parse); None looks beside the AMC file (see `asf_candidates`).

    Returns:
        The animation in file units, at 120 fps (`AMC_FPS`; AMC files state no rate).

    Raises:
        MotionFormatError: the skeleton is missing or malformed, or the motion is malformed,
            truncated, holds non-finite values or does not match the skeleton.
    """
    path = os.fspath(path)
    if isinstance(asf, AsfSkeleton):
        skeleton = asf
    else:
        skeleton = read_asf(os.fspath(asf) if asf is not None else find_asf(path))
    return parse_amc(_read_text(path), skeleton, path)


# ----------------------------------------------------------------------------------------- ASF


class _BoneBuilder:
    __slots__ = ("name", "direction", "length", "axis", "axis_order", "dof", "line", "last_key")

    def __init__(self, line: int):
        self.name: str | None = None
        self.direction: list[float] | None = None
        self.length: float | None = None
        self.axis = [0.0, 0.0, 0.0]
        self.axis_order = "XYZ"
        self.dof: tuple[str, ...] = ()
        self.line = line
        self.last_key = ""


def _asf_floats(tokens: list[str], n: int, path: str, lineno: int, what: str) -> list[float]:
    if len(tokens) != n:
        raise MotionFormatError(path, f"'{what}' needs {n} number{'s' if n > 1 else ''}, got {len(tokens)}", lineno)
    try:
        vals = [float(t) for t in tokens]
    except ValueError:
        raise MotionFormatError(
            path, f"'{what}' has a value that is not a number: '{' '.join(tokens)[:60]}'", lineno) from None
    if not all(math.isfinite(v) for v in vals):
        raise MotionFormatError(path, f"'{what}' has a non-finite value", lineno)
    return vals


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _axis_order(token: str, path: str, lineno: int) -> str:
    order = token.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise MotionFormatError(path, f"axis order '{token}' is not a permutation of XYZ", lineno)
    return order


def parse_asf(text: str, path: str = "<string>") -> AsfSkeleton:
    """Parse ASF text (see `read_asf`)."""
    lines = text.splitlines()
    section: str | None = None
    sections_seen: set[str] = set()
    length_unit, angle_unit = 1.0, "deg"
    root_order: tuple[str, ...] | None = None
    root_axis = "XYZ"
    root_position = [0.0, 0.0, 0.0]
    root_orientation = [0.0, 0.0, 0.0]
    builders: list[_BoneBuilder] = []
    bone: _BoneBuilder | None = None  # the open `begin ... end` block
    hierarchy_state = ""  # "", "open", "closed"
    hierarchy: list[tuple[int, list[str]]] = []
    hierarchy_line = 0

    def close_section(lineno: int) -> None:
        if bone is not None:
            raise MotionFormatError(path, f"bone block opened on line {bone.line} has no 'end'", lineno)
        if section == "hierarchy" and hierarchy_state == "open":
            raise MotionFormatError(path, f":hierarchy opened on line {hierarchy_line} has no 'end'", lineno)

    for i, raw in enumerate(lines):
        lineno = i + 1
        stripped = raw.split("#", 1)[0].strip()
        if not stripped:
            continue
        if section == "documentation" and not stripped.startswith(":"):
            continue
        tokens = stripped.replace(",", " ").replace("(", " ").replace(")", " ").split()
        if not tokens:
            continue
        head = tokens[0]
        continuation = stripped.startswith("(") or _is_number(head)  # more `limits` lines
        if head.startswith(":"):
            close_section(lineno)
            key = head[1:].lower()
            if key in ("units", "root", "bonedata", "hierarchy") and key in sections_seen:
                raise MotionFormatError(path, f"second :{key} section", lineno)
            sections_seen.add(key)
            section = key if key in ("units", "root", "bonedata", "hierarchy", "documentation") else "other"
            if key == "hierarchy":
                hierarchy_line = lineno
            continue
        if section is None:
            raise MotionFormatError(
                path, "not an ASF file (expected ':version', ':units', ':root' or another ':' keyword)", lineno)
        key = head.lower()
        args = tokens[1:]
        if section == "other":
            continue  # :version, :name and sections that do not shape the skeleton (:skin, ...)
        if section == "units":
            if key == "length":
                (length_unit,) = _asf_floats(args, 1, path, lineno, "length")
                if length_unit <= 0:
                    raise MotionFormatError(path, f"length unit {length_unit} is not positive", lineno)
            elif key == "angle":
                if len(args) != 1 or args[0].lower() not in _ANGLE_UNITS:
                    raise MotionFormatError(path, f"angle unit '{' '.join(args)}' is neither 'deg' nor 'rad'", lineno)
                angle_unit = _ANGLE_UNITS[args[0].lower()]
            # mass and unknown units do not affect motion
        elif section == "root":
            if key == "order":
                order = tuple(a.upper() for a in args)
                for c in order:
                    if c not in _ROOT_CHANNELS:
                        raise MotionFormatError(
                            path, f"unknown root channel '{c}' (expected {' '.join(_ROOT_CHANNELS)})", lineno)
                if len(set(order)) != len(order):
                    raise MotionFormatError(path, "root 'order' lists a channel twice", lineno)
                root_order = order
            elif key == "axis":
                if len(args) != 1:
                    raise MotionFormatError(path, "root 'axis' needs one token such as XYZ", lineno)
                root_axis = _axis_order(args[0], path, lineno)
            elif key == "position":
                root_position = _asf_floats(args, 3, path, lineno, "position")
            elif key == "orientation":
                root_orientation = _asf_floats(args, 3, path, lineno, "orientation")
            else:
                raise MotionFormatError(path, f"unexpected '{head}' in :root", lineno)
        elif section == "bonedata":
            if key == "begin":
                if bone is not None:
                    raise MotionFormatError(path, f"'begin' inside the bone block opened on line {bone.line}", lineno)
                if len(builders) >= MAX_BONES:
                    raise MotionFormatError(path, f"more than {MAX_BONES} bones", lineno)
                bone = _BoneBuilder(lineno)
                continue
            if bone is None:
                raise MotionFormatError(path, f"'{head}' outside a 'begin ... end' bone block", lineno)
            if key == "end":
                _finish_bone(bone, builders, path, lineno)
                bone = None
                continue
            if continuation:
                if bone.last_key != "limits":
                    raise MotionFormatError(path, "'(' values outside a 'limits' block", lineno)
                continue
            bone.last_key = key
            if key == "name":
                if len(args) != 1:
                    raise MotionFormatError(path, "'name' needs one word", lineno)
                bone.name = args[0]
            elif key == "direction":
                bone.direction = _asf_floats(args, 3, path, lineno, "direction")
            elif key == "length":
                (length,) = _asf_floats(args, 1, path, lineno, "length")
                if length < 0:
                    raise MotionFormatError(path, f"bone length {length} is negative", lineno)
                bone.length = length
            elif key == "axis":
                if len(args) not in (3, 4):
                    raise MotionFormatError(path, "'axis' needs three angles and an order such as XYZ", lineno)
                bone.axis = _asf_floats(args[:3], 3, path, lineno, "axis")
                bone.axis_order = _axis_order(args[3], path, lineno) if len(args) == 4 else "XYZ"
            elif key == "dof":
                dof = tuple(a.lower() for a in args)
                for d in dof:
                    if d in _UNSUPPORTED_DOFS:
                        raise MotionFormatError(path, f"dof '{d}' (bone translation or stretch) is not supported", lineno)
                    if d not in _BONE_DOFS:
                        raise MotionFormatError(path, f"unknown dof '{d}' (expected rx, ry, rz)", lineno)
                if len(set(dof)) != len(dof):
                    raise MotionFormatError(path, "'dof' lists a rotation twice", lineno)
                bone.dof = dof
            elif key in ("limits", "id", "bodymass", "cofmass"):
                pass  # joint limits and masses do not change the motion
            else:
                raise MotionFormatError(path, f"unexpected '{head}' in a bone block", lineno)
        elif section == "hierarchy":
            if key == "begin" and hierarchy_state == "":
                hierarchy_state = "open"
            elif key == "end" and hierarchy_state == "open":
                hierarchy_state = "closed"
            elif hierarchy_state != "open":
                raise MotionFormatError(path, f"'{head}' outside :hierarchy's 'begin ... end'", lineno)
            else:
                hierarchy.append((lineno, tokens))
    close_section(len(lines))
    if bone is not None or hierarchy_state == "open":  # pragma: no cover - close_section raised
        raise MotionFormatError(path, "file truncated", len(lines))
    if "bonedata" not in sections_seen:
        raise MotionFormatError(path, "no :bonedata section (not an ASF file, or truncated?)", len(lines) or None)
    if not builders:
        raise MotionFormatError(path, ":bonedata defines no bones", len(lines) or None)
    if "root" not in sections_seen or root_order is None:
        raise MotionFormatError(path, "no :root section with an 'order' line", len(lines) or None)
    if "hierarchy" not in sections_seen:
        raise MotionFormatError(path, "no :hierarchy section (file truncated?)", len(lines) or None)
    to_deg = 180.0 / math.pi if angle_unit == "rad" else 1.0
    bones = _order_bones(builders, hierarchy, path, hierarchy_line, to_deg)
    return AsfSkeleton(
        path=path,
        bones=bones,
        root_order=root_order,
        root_axis=root_axis,
        root_position=np.array(root_position, np.float64),
        root_orientation=np.array(root_orientation, np.float64) * to_deg,
        length_unit=length_unit,
        angle_unit=angle_unit,
    )


def _finish_bone(bone: _BoneBuilder, builders: list[_BoneBuilder], path: str, lineno: int) -> None:
    for what, value in (("name", bone.name), ("direction", bone.direction), ("length", bone.length)):
        if value is None:
            raise MotionFormatError(path, f"bone block without '{what}'", bone.line)
    if bone.name == "root":
        raise MotionFormatError(path, "a bone is named 'root', the name of the skeleton's root", bone.line)
    if any(b.name == bone.name for b in builders):
        raise MotionFormatError(path, f"bone '{bone.name}' is defined twice", bone.line)
    builders.append(bone)


def _order_bones(
    builders: list[_BoneBuilder], hierarchy: list[tuple[int, list[str]]], path: str, hierarchy_line: int, to_deg: float
) -> tuple[AsfBone, ...]:
    by_name = {b.name: b for b in builders}
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    for lineno, tokens in hierarchy:
        parent = tokens[0]
        if parent != "root" and parent not in by_name:
            raise MotionFormatError(path, f":hierarchy names bone '{parent}', which :bonedata does not define", lineno)
        for child in tokens[1:]:
            if child not in by_name:
                raise MotionFormatError(path, f":hierarchy names bone '{child}', which :bonedata does not define", lineno)
            if child in parent_of:
                raise MotionFormatError(
                    path, f"bone '{child}' gets a second parent ('{parent}' after '{parent_of[child]}')", lineno)
            parent_of[child] = parent
            children.setdefault(parent, []).append(child)
    out: list[AsfBone] = []
    stack = list(reversed(children.get("root", [])))
    while stack:  # depth first, children in the order :hierarchy lists them
        name = stack.pop()
        b = by_name[name]
        out.append(AsfBone(
            name=name,
            parent=parent_of[name],
            direction=np.array(b.direction, np.float64),
            length=float(b.length),
            axis=np.array(b.axis, np.float64) * to_deg,
            axis_order=b.axis_order,
            dof=b.dof,
            line=b.line,
        ))
        stack.extend(reversed(children.get(name, [])))
    if len(out) != len(builders):
        placed = {b.name for b in out}
        lost = next(b for b in builders if b.name not in placed)
        raise MotionFormatError(
            path, f"bone '{lost.name}' is not attached to the root in :hierarchy (missing or circular parent)", lost.line)
    return tuple(out)


# ----------------------------------------------------------------------------------------- AMC


def parse_amc(text: str, skeleton: AsfSkeleton, path: str = "<string>") -> Animation:
    """Parse AMC text against its skeleton (see `read_amc`)."""
    lines = text.splitlines()
    # value slots: 0 = root, 1.. = bones (ASF order)
    names = ["root"] + [b.name for b in skeleton.bones]
    counts = [len(skeleton.root_order)] + [len(b.dof) for b in skeleton.bones]
    required = [c > 0 for c in counts]
    n_required = sum(required)
    index = {n: k for k, n in enumerate(names)}
    folded: dict[str, int] = {}
    for k, n in enumerate(names):  # bone names are case-insensitive where unambiguous
        folded[n.lower()] = -1 if n.lower() in folded else k
    values: list[list[str]] = [[] for _ in names]
    seen = [-1] * len(names)
    frame = -1
    frame_number = 0
    frame_line = 0
    first_frame_line = 0
    n_seen = 0
    angle_unit = skeleton.angle_unit

    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s or s[0] == "#":
            continue
        if "#" in s:
            s = s.split("#", 1)[0].rstrip()
            if not s:
                continue
        if s.isdecimal():  # a frame number opens a frame
            if frame >= 0 and n_seen != n_required:
                _raise_missing(path, names, required, seen, frame, frame_number, frame_line, False)
            number = int(s)
            if frame >= 0 and number != frame_number + 1:
                raise MotionFormatError(
                    path, f"frame number {number} follows {frame_number} (frames must be consecutive)", i + 1)
            frame += 1
            frame_number, frame_line, n_seen = number, i + 1, 0
            if frame == 0:
                first_frame_line = i + 1
            continue
        if s[0] == ":":
            if frame >= 0:
                raise MotionFormatError(path, f"keyword '{s.split()[0]}' after the first frame", i + 1)
            key = s.split()[0].upper()
            if key == ":DEGREES":
                angle_unit = "deg"
            elif key == ":RADIANS":
                angle_unit = "rad"
            elif key != ":FULLY-SPECIFIED":
                raise MotionFormatError(
                    path, f"unknown AMC keyword '{s.split()[0]}' (expected :FULLY-SPECIFIED, :DEGREES or :RADIANS)", i + 1)
            continue
        parts = s.split()
        k = index.get(parts[0])
        if k is None:
            k = folded.get(parts[0].lower(), -1)
            if k < 0:
                if frame < 0:
                    raise MotionFormatError(path, f"not an AMC file: '{s[:40]}' before the first frame number", i + 1)
                hint = " (file truncated?)" if _is_last_line(lines, i) else ""
                where = os.path.basename(skeleton.path)
                raise MotionFormatError(
                    path, f"frame {frame_number}: unknown bone '{parts[0][:40]}' (not in {where}){hint}", i + 1)
        if frame < 0:
            raise MotionFormatError(path, f"values of '{parts[0]}' before the first frame number", i + 1)
        if seen[k] == frame:
            raise MotionFormatError(path, f"frame {frame_number}: bone '{names[k]}' appears twice", i + 1)
        seen[k] = frame
        if len(parts) - 1 != counts[k]:
            hint = " (file truncated?)" if _is_last_line(lines, i) else ""
            raise MotionFormatError(
                path, f"frame {frame_number}: bone '{names[k]}' needs {counts[k]} value{'s' if counts[k] != 1 else ''}, "
                f"got {len(parts) - 1}{hint}", i + 1)
        values[k].extend(parts[1:])
        n_seen += required[k]

    if frame < 0:
        raise MotionFormatError(
            path, "no frames (an AMC file lists a frame number, then one line per bone)", len(lines) or None)
    if n_seen != n_required:
        _raise_missing(path, names, required, seen, frame, frame_number, frame_line, True)

    num_frames = frame + 1
    columns: list[np.ndarray] = []
    for k, c in enumerate(counts):
        if c == 0:
            columns.append(np.zeros((num_frames, 0)))
            continue
        try:
            arr = np.array(values[k], dtype=np.float64)
        except ValueError:
            arr = None
        if arr is None or arr.size != num_frames * c or not np.isfinite(arr).all():
            _locate_bad_value(lines, path)
        columns.append(arr.reshape(num_frames, c))
        values[k] = []  # free as we go
    to_deg = 180.0 / math.pi if angle_unit == "rad" else 1.0
    return _to_animation(path, skeleton, columns, num_frames, to_deg, first_frame_line)


def _is_last_line(lines: list[str], i: int) -> bool:
    return not any(ln.strip() and not ln.strip().startswith("#") for ln in lines[i + 1:])


def _raise_missing(path, names, required, seen, frame, frame_number, frame_line, at_end) -> None:
    missing = [names[k] for k in range(len(names)) if required[k] and seen[k] != frame]
    shown = ", ".join(f"'{m}'" for m in missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
    hint = " (file truncated?)" if at_end else ""
    bones = "bones" if len(missing) > 1 else "bone"
    raise MotionFormatError(path, f"frame {frame_number} has no values for {bones} {shown}{hint}", frame_line)


def _locate_bad_value(lines: list[str], path: str) -> None:
    """Slow path, only on error: find the first value that is not a finite number."""
    frame_number = None
    for i, raw in enumerate(lines):
        s = raw.split("#", 1)[0].strip()
        if not s or s[0] == ":":
            continue
        if s.isdecimal():
            frame_number = int(s)
            continue
        parts = s.split()
        for p in parts[1:]:
            try:
                v = float(p)
            except ValueError:
                hint = " (file truncated?)" if _is_last_line(lines, i) else ""
                raise MotionFormatError(
                    path, f"frame {frame_number}: bone '{parts[0]}': '{p[:40]}' is not a number{hint}", i + 1) from None
            if not math.isfinite(v):
                raise MotionFormatError(
                    path, f"frame {frame_number}: bone '{parts[0]}': non-finite value '{p[:40]}'", i + 1)
    raise MotionFormatError(path, "frame values are not all numbers")


def _euler(order_applied: str, angles_xyz: np.ndarray) -> np.ndarray:
    """The rotation applying rotations about the axes of `order_applied` first to last (fixed
    axes), by `angles_xyz` (degrees) about X, Y and Z: "XYZ" -> Rz @ Ry @ Rx."""
    product_order = order_applied[::-1]
    return euler_matrix(product_order, np.array([angles_xyz["XYZ".index(a)] for a in product_order], np.float64))


def _to_animation(
    path: str, skeleton: AsfSkeleton, columns: list[np.ndarray], num_frames: int, to_deg: float, frame0_line: int
) -> Animation:
    bones = skeleton.bones
    has_child = {b.parent for b in bones}
    joint_names: list[str] = ["root"]
    parents: list[int] = [-1]
    offsets: list[np.ndarray] = [skeleton.root_position.copy()]
    axes: list[str] = []
    pre: list[np.ndarray] = [_euler(skeleton.root_axis, skeleton.root_orientation)]
    post: list[np.ndarray] = [np.eye(3)]
    end_site: list[bool] = [False]
    slot_of_joint: list[int] = [0]  # columns[] slot per joint, -1 for end sites
    joint_of_bone: dict[str, int] = {"root": 0}
    vector_of_bone = {b.name: b.direction * b.length for b in bones}
    # root channels
    root_rot = [c for c in skeleton.root_order if c[0] == "R"]
    axes.append("".join(c[1] for c in reversed(root_rot)))
    for slot, b in enumerate(bones, start=1):
        j = len(joint_names)
        joint_of_bone[b.name] = j
        joint_names.append(b.name)
        p = joint_of_bone[b.parent]
        parents.append(p)
        offsets.append(np.zeros(3) if b.parent == "root" else vector_of_bone[b.parent])
        axes.append("".join(d[1].upper() for d in reversed(b.dof)))
        c = _euler(b.axis_order, b.axis)
        pre.append(c)
        post.append(c.T.copy())
        end_site.append(False)
        slot_of_joint.append(slot)
        if b.name not in has_child:
            joint_names.append(b.name + "_end")
            parents.append(j)
            offsets.append(vector_of_bone[b.name])
            axes.append("")
            pre.append(np.eye(3))
            post.append(np.eye(3))
            end_site.append(True)
            slot_of_joint.append(-1)

    num_joints = len(joint_names)
    angles = np.zeros((num_frames, num_joints, 3), np.float32)
    for j, slot in enumerate(slot_of_joint):
        if slot < 0 or not axes[j]:
            continue
        if slot == 0:
            dof_cols = [skeleton.root_order.index(c) for c in root_rot]
        else:
            dof_cols = list(range(len(bones[slot - 1].dof)))
        # axes are the dofs reversed: angle m belongs to dof column dof_cols[-1 - m]
        for m in range(len(dof_cols)):
            angles[:, j, m] = columns[slot][:, dof_cols[-1 - m]] * to_deg
    trans_cols = [skeleton.root_order.index(c) if c in skeleton.root_order else None for c in ("TX", "TY", "TZ")]
    if any(c is not None for c in trans_cols):
        translation_joints = np.array([0], np.int32)
        translations = np.empty((num_frames, 1, 3), np.float32)
        for a, c in enumerate(trans_cols):
            base = skeleton.root_position[a]
            translations[:, 0, a] = base + columns[0][:, c] if c is not None else base
    else:
        translation_joints = np.zeros(0, np.int32)
        translations = np.zeros((num_frames, 0, 3), np.float32)
    return Animation(
        path=path,
        names=tuple(joint_names),
        parents=np.array(parents, np.int32),
        offsets=np.array(offsets, np.float64),
        axes=tuple(axes),
        angles=angles,
        translation_joints=translation_joints,
        translations=translations,
        fps=AMC_FPS,
        end_site=np.array(end_site, bool),
        pre=np.array(pre, np.float64),
        post=np.array(post, np.float64),
        line_of_frame0=frame0_line,
    )

