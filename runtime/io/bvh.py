"""BVH reader: pure (no bpy, no printing), strict, and fast enough for whole libraries.

Handles what real files do: any channel order per joint, position channels on any joint,
CRLF line endings, tabs, names with spaces ("Bip01 L Thigh"), several roots, `End Site`,
`Frame Time` in seconds. Anything else is a `MotionFormatError` naming file and line.
Memory is bounded by the file's size, never by what its header claims.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import MotionFormatError
from .animation import Animation

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_JOINTS = 2048
MAX_DEPTH = 256
MAX_VALUE = 1e9  # no real angle (degrees) or translation (any unit) comes near this

_ROTATION = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POSITION = {"xposition": 0, "yposition": 1, "zposition": 2}


class _Joint:
    __slots__ = ("name", "parent", "offset", "channels", "end_site", "line")

    def __init__(self, name: str, parent: int, end_site: bool, line: int):
        self.name = name
        self.parent = parent
        self.offset: tuple[float, float, float] | None = None
        self.channels: list[str] = []
        self.end_site = end_site
        self.line = line


def read_bvh(path: str | os.PathLike) -> Animation:
    """Read a BVH file.

    Raises:
        MotionFormatError: the file is missing, malformed, truncated, or holds non-finite values.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise MotionFormatError(path, f"file is {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit")
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
    return parse_bvh(text, path)


def parse_bvh(text: str, path: str = "<string>") -> Animation:
    """Parse BVH text (see `read_bvh`)."""
    lines = text.splitlines()
    joints, motion_line = _parse_hierarchy(lines, path)
    num_frames, frame_time, data_line = _parse_motion_header(lines, motion_line, path)
    channels_per_joint = [len(j.channels) for j in joints]
    num_channels = sum(channels_per_joint)
    values = _parse_frames(lines, data_line, num_frames, num_channels, path)
    return _to_animation(path, joints, values, _frame_rate(frame_time), data_line + 1)


def _frame_rate(frame_time: float) -> float:
    """1 / frame time, snapped to a whole rate when the file printed a rounded frame time
    (0.0333333 -> 30, 0.008333 -> 120): otherwise durations drift by a frame."""
    fps = 1.0 / frame_time
    whole = round(fps)
    return float(whole) if whole and abs(fps - whole) < 1e-3 * fps else fps


def _parse_hierarchy(lines: list[str], path: str) -> tuple[list[_Joint], int]:
    joints: list[_Joint] = []
    stack: list[int] = []  # open joints
    pending: _Joint | None = None  # declared, waiting for its "{"
    seen_hierarchy = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        lineno = i + 1
        head, rest = (line.split(None, 1) + [""])[:2]
        key = head.upper()
        rest = rest.strip()
        if key == "HIERARCHY":
            seen_hierarchy = True
            continue
        if not seen_hierarchy:
            raise MotionFormatError(path, "not a BVH file (expected HIERARCHY)", lineno)
        if key == "MOTION":
            if stack or pending is not None:
                raise MotionFormatError(path, "MOTION before every joint's '}' was closed", lineno)
            if not joints:
                raise MotionFormatError(path, "no joints in HIERARCHY", lineno)
            return joints, i
        opens = rest.endswith("{")  # "JOINT Hips {" on one line
        if opens:
            rest = rest[:-1].rstrip()
        if key in ("ROOT", "JOINT") or (key == "END" and rest.upper().startswith("SITE")):
            if pending is not None:
                raise MotionFormatError(path, f"expected '{{' after joint '{pending.name}'", lineno)
            end_site = key == "END"
            if key == "ROOT" and stack:
                raise MotionFormatError(path, "ROOT inside another joint", lineno)
            if key != "ROOT" and not stack:
                raise MotionFormatError(path, f"{head} outside of any ROOT", lineno)
            if len(joints) >= MAX_JOINTS:
                raise MotionFormatError(path, f"more than {MAX_JOINTS} joints", lineno)
            if len(stack) >= MAX_DEPTH:
                raise MotionFormatError(path, f"joint hierarchy deeper than {MAX_DEPTH}", lineno)
            parent = stack[-1] if stack else -1
            if end_site:
                name = joints[parent].name + "_end"
            else:
                name = rest
                if not name:
                    raise MotionFormatError(path, f"{head} without a name", lineno)
            pending = _Joint(name, parent, end_site, lineno)
            if opens:
                stack.append(_add(joints, pending))
                pending = None
        elif line == "{":
            if pending is None:
                raise MotionFormatError(path, "'{' without a joint", lineno)
            stack.append(_add(joints, pending))
            pending = None
        elif line == "}":
            if not stack:
                raise MotionFormatError(path, "unbalanced '}'", lineno)
            j = joints[stack.pop()]
            if j.offset is None:
                raise MotionFormatError(path, f"joint '{j.name}' has no OFFSET", j.line)
        elif key == "OFFSET":
            j = _current(joints, stack, pending, path, lineno, head)
            j.offset = tuple(_floats(rest, 3, path, lineno, "OFFSET"))  # type: ignore[assignment]
        elif key == "CHANNELS":
            j = _current(joints, stack, pending, path, lineno, head)
            if j.end_site:
                raise MotionFormatError(path, "CHANNELS in an End Site", lineno)
            parts = rest.split()
            try:
                n = int(parts[0])
            except (ValueError, IndexError):
                raise MotionFormatError(path, "CHANNELS needs a count", lineno) from None
            names = [p.lower() for p in parts[1:]]
            if n != len(names) or not 0 <= n <= 9:
                raise MotionFormatError(path, f"CHANNELS says {n} but lists {len(names)}", lineno)
            for c in names:
                if c not in _ROTATION and c not in _POSITION:
                    raise MotionFormatError(path, f"unknown channel '{c}'", lineno)
            j.channels = names
        else:
            raise MotionFormatError(path, f"unexpected '{head}' in HIERARCHY", lineno)
    if not seen_hierarchy:
        raise MotionFormatError(path, "not a BVH file (expected HIERARCHY)", 1)
    raise MotionFormatError(path, "no MOTION section (file truncated?)", len(lines))


def _add(joints: list[_Joint], j: _Joint) -> int:
    if not j.end_site and any(o.name == j.name for o in joints):
        j.name = f"{j.name}.{sum(o.name.startswith(j.name) for o in joints)}"
    joints.append(j)
    return len(joints) - 1


def _current(joints, stack, pending, path, lineno, what) -> _Joint:
    if pending is not None:
        raise MotionFormatError(path, f"{what} before '{{' of joint '{pending.name}'", lineno)
    if not stack:
        raise MotionFormatError(path, f"{what} outside of a joint", lineno)
    return joints[stack[-1]]


def _floats(text: str, n: int, path: str, lineno: int, what: str) -> list[float]:
    parts = text.split()
    if len(parts) != n:
        raise MotionFormatError(path, f"{what} needs {n} numbers, got {len(parts)}", lineno)
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise MotionFormatError(path, f"{what} has a value that is not a number: '{text}'", lineno) from None
    if not all(math.isfinite(v) and abs(v) <= MAX_VALUE for v in vals):
        raise MotionFormatError(path, f"{what} has a non-finite or out-of-range value", lineno)
    return vals


def _parse_motion_header(lines: list[str], motion_line: int, path: str) -> tuple[int, float, int]:
    i = motion_line + 1
    fields: dict[str, str] = {}
    while i < len(lines) and len(fields) < 2:
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            break
        fields[key.strip().lower()] = value.strip()
    if "frames" not in fields:
        raise MotionFormatError(path, "missing 'Frames:' after MOTION", motion_line + 2)
    if "frame time" not in fields:
        raise MotionFormatError(path, "missing 'Frame Time:' after MOTION", motion_line + 3)
    try:
        num_frames = int(fields["frames"])
    except ValueError:
        raise MotionFormatError(path, f"'Frames: {fields['frames']}' is not a whole number", motion_line + 2) from None
    try:
        frame_time = float(fields["frame time"])
    except ValueError:
        raise MotionFormatError(path, f"'Frame Time: {fields['frame time']}' is not a number", motion_line + 3) from None
    if num_frames <= 0:
        raise MotionFormatError(path, f"'Frames: {num_frames}': the file has no motion", motion_line + 2)
    if not (math.isfinite(frame_time) and 1e-5 <= frame_time <= 10.0):
        raise MotionFormatError(path, f"'Frame Time: {frame_time}' is not a usable frame time in seconds", motion_line + 3)
    return num_frames, frame_time, i


def _parse_frames(lines: list[str], start: int, num_frames: int, num_channels: int, path: str) -> np.ndarray:
    data = [ln for ln in lines[start:] if ln.strip()]
    if len(data) < num_frames:
        raise MotionFormatError(
            path, f"'Frames: {num_frames}' but only {len(data)} frame lines follow (file truncated?)", start + 1)
    if len(data) > num_frames:
        raise MotionFormatError(
            path, f"'Frames: {num_frames}' but {len(data)} frame lines follow", start + 1 + num_frames)
    if num_channels == 0:
        return np.zeros((num_frames, 0), np.float32)
    tokens = " ".join(data).split()
    values = None
    if len(tokens) == num_frames * num_channels:
        try:
            values = np.array(tokens, dtype=np.float64)  # strict: "1x" is an error, not 1
        except ValueError:
            values = None
    if values is None or not (np.abs(values) <= MAX_VALUE).all():  # also catches NaN
        _locate_bad_frame(data, lines, start, num_channels, path)
    return values.reshape(num_frames, num_channels).astype(np.float32)


def _locate_bad_frame(data: list[str], lines: list[str], start: int, num_channels: int, path: str) -> None:
    """Slow path, only on error: find the first bad line and say what is wrong with it."""
    lineno = start
    k = 0
    for i in range(start, len(lines)):
        if not lines[i].strip():
            continue
        lineno = i + 1
        parts = lines[i].split()
        k += 1
        if len(parts) != num_channels:
            raise MotionFormatError(path, f"frame {k} has {len(parts)} values, the hierarchy needs {num_channels}", lineno)
        for p in parts:
            try:
                v = float(p)
            except ValueError:
                raise MotionFormatError(path, f"frame {k}: '{p[:40]}' is not a number", lineno) from None
            if not math.isfinite(v):
                raise MotionFormatError(path, f"frame {k}: non-finite value '{p}'", lineno)
            if abs(v) > MAX_VALUE:
                raise MotionFormatError(path, f"frame {k}: value {p} is out of range (corrupt?)", lineno)
    raise MotionFormatError(path, "frame data does not match the hierarchy", lineno)


def _to_animation(path: str, joints: list[_Joint], values: np.ndarray, fps: float, frame0_line: int) -> Animation:
    num_frames = values.shape[0]
    num_joints = len(joints)
    angles = np.zeros((num_frames, num_joints, 3), np.float32)
    axes: list[str] = []
    trans_joints: list[int] = []
    trans_cols: list[list[int | None]] = []
    offsets = np.array([j.offset for j in joints], np.float64)
    col = 0
    for ji, j in enumerate(joints):
        order = ""
        pos: list[int | None] = [None, None, None]
        for c in j.channels:
            if c in _ROTATION:
                if len(order) == 3:
                    raise MotionFormatError(path, f"joint '{j.name}' has more than 3 rotation channels", j.line)
                angles[:, ji, len(order)] = values[:, col]
                order += _ROTATION[c]
            else:
                pos[_POSITION[c]] = col
            col += 1
        axes.append(order)
        if any(p is not None for p in pos):
            trans_joints.append(ji)
            trans_cols.append(pos)
    translations = np.empty((num_frames, len(trans_joints), 3), np.float32)
    for k, (ji, pos) in enumerate(zip(trans_joints, trans_cols)):
        for a in range(3):
            translations[:, k, a] = values[:, pos[a]] if pos[a] is not None else offsets[ji, a]
    return Animation(
        path=path,
        names=tuple(j.name for j in joints),
        parents=np.array([j.parent for j in joints], np.int32),
        offsets=offsets,
        axes=tuple(axes),
        angles=angles,
        translation_joints=np.array(trans_joints, np.int32),
        translations=translations,
        fps=float(fps),
        end_site=np.array([j.end_site for j in joints], bool),
        line_of_frame0=frame0_line,
    )


_AXIS_CHANNEL = {"X": "Xrotation", "Y": "Yrotation", "Z": "Zrotation"}


def format_bvh(anim: Animation, decimals: int = 6) -> str:
    """BVH text of an animation with BVH-style joints (no `pre`/`post` rotations): every joint
    with animated translation gets Xposition Yposition Zposition before its rotations in `axes`
    order; end sites (`end_site`) are `End Site` blocks. `parse_bvh` reads it back exactly (to
    `decimals`)."""
    if anim.pre is not None or anim.post is not None:
        raise ValueError(f"{anim.path}: an ASF skeleton's bone axes have no BVH equivalent")
    children: dict[int, list[int]] = {}
    for j, p in enumerate(anim.parents):
        children.setdefault(int(p), []).append(j)
    trans_slot = {int(j): k for k, j in enumerate(anim.translation_joints)}
    columns: list[np.ndarray] = []
    lines = ["HIERARCHY"]

    def joint(j: int, depth: int) -> None:
        pad = "  " * depth
        off = " ".join(f"{v:.{decimals}f}" for v in anim.offsets[j])
        if anim.end_site[j]:
            lines.extend([f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET {off}", f"{pad}}}"])
            return
        lines.append(f"{pad}{'ROOT' if anim.parents[j] < 0 else 'JOINT'} {anim.names[j]}")
        lines.extend([f"{pad}{{", f"{pad}  OFFSET {off}"])
        channels = []
        if j in trans_slot:
            channels += ["Xposition", "Yposition", "Zposition"]
            columns.extend(anim.translations[:, trans_slot[j], a] for a in range(3))
        channels += [_AXIS_CHANNEL[a] for a in anim.axes[j]]
        columns.extend(anim.angles[:, j, a] for a in range(len(anim.axes[j])))
        lines.append(f"{pad}  CHANNELS {len(channels)}" + "".join(f" {c}" for c in channels))
        for c in children.get(j, []):
            joint(c, depth + 1)
        lines.append(f"{pad}}}")

    for root in children.get(-1, []):
        joint(root, 0)
    lines += ["MOTION", f"Frames: {anim.num_frames}", f"Frame Time: {1.0 / anim.fps:.8f}"]
    values = np.stack(columns, axis=1) if columns else np.zeros((anim.num_frames, 0))
    lines += [" ".join(f"{v:.{decimals}f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def write_bvh(anim: Animation, path: str | os.PathLike, decimals: int = 6) -> None:
    """Write `format_bvh(anim)` to `path` (through a temporary file: a failed write leaves no half file).

    Raises:
        MotionFormatError: naming `path`, when it cannot be written.
    """
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(format_bvh(anim, decimals))
        os.replace(tmp, path)
    except OSError as e:
        raise MotionFormatError(path, f"cannot write file: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
