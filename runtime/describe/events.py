"""Motion events detected from the kinematics: what moves, which body part, when, how much.

Every detector reads `Body` signals and compares them with thresholds given in body units (leg
or arm lengths) or physical ones (m/s, degrees), named at the top of this file so that the tests
and docs/DESCRIBER.md can state them. Detectors are symmetric in left and right: the mirror
image of a clip gives the mirror image of its events (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .body import Body, derivative, smooth

SIDES = ("left", "right")

# -- thresholds ------------------------------------------------------------------------------------
MOVING_SPEED = 0.35          # m/s of the pelvis (1 s average): the body travels
MIN_TRAVEL_S = 1.0           # a stretch of travel shorter than this is a shuffle, not a walk
MIN_TRAVEL_M = 0.5           # ... and so is one that covers less ground
DIAGONAL_DEG = 20.0          # heading of travel vs facing: forward below, diagonal above
SIDEWAYS_DEG = 60.0          # sideways between this and 180 - this, backward beyond
CONTACT_LIFT = 0.06          # a foot less than this (leg lengths) above the floor is on it
RUN_DOUBLE_SUPPORT = 0.08    # walking keeps both feet down for more of the time than this; running doesn't
RUN_SPEED, MIN_RUN_SPEED = 2.6, 1.0  # m/s: always a run above; never one below
RUN_CADENCE = 2.3            # steps/s: a quick, short-strided jog (with some double support)
JOG_SPEED, SPRINT_SPEED = 2.4, 4.2   # m/s; walk/run told by flight, jog < run < sprint by speed
SLOW_WALK, BRISK_WALK = 0.8, 1.7     # m/s
TURN_RATE = 25.0             # deg/s of heading (0.5 s average) that counts as turning
MIN_TURN = 45.0              # degrees: a smaller heading change is not called a turn
TURN_AROUND, FULL_CIRCLE = 135.0, 300.0
HAND_UP = -0.25              # wrist height above the shoulder, arm lengths: the arm is up
HAND_UP_PEAK = -0.15         # ... and it must come up to about shoulder height
MIN_RAISE_S = 0.5            # held up at least this long (a brisk arm swing is not a raise)
HAND_DOWN = -0.5             # below this again: the arm was lowered
WAVE_AMPLITUDE = 0.04        # metres peak-to-peak of the hand's side-to-side swing about the elbow
WAVE_HALF_CYCLES = 4         # swings (half cycles) that make a wave
WAVE_MAX_HALF_S = 0.9        # a slower swing is not a wave
PUNCH_REACH = 0.6            # hand ahead of the shoulder at the end of the stroke, arm lengths
PUNCH_GAIN = 0.35            # ... having come forward by this much (arm lengths)
PUNCH_STROKE_S = 0.4         # ... within this time
PUNCH_SPEED = 1.0            # m/s: the mean forward speed of the hand over the stroke
PUNCH_ELBOW = 40.0           # degrees the elbow straightens during the stroke (an arm swing keeps it)
KICK_LIFT = 0.35             # foot above the floor, leg lengths
KICK_REACH = 0.30            # foot ahead of (or beside) the pelvis, leg lengths
KICK_SPEED = 2.0             # m/s of the ankle
LEAN_DEG, BEND_DEG = 15.0, 30.0      # trunk from vertical: a lean; a bend at the waist
BOW_DEG = 20.0               # a bow bends the trunk forward at least this far, standing,
BOW_MAX_S = 5.0              # ... and comes back up within this
LOW_PELVIS = 0.75            # pelvis below this share of its standing height: crouching
FLOOR_SIT = 0.35             # ... below this: sitting on the floor
KNEEL_KNEE = 0.12            # knee within this many leg lengths of the floor: kneeling
JUMP_RISE = 0.06             # pelvis above its standing height in flight, leg lengths
MIN_FLIGHT_S = 0.1           # both feet off the floor at least this long
HOP_HELD = 0.15              # the free foot of a hop stays this high (leg lengths)
STILL_ACTIVITY = 0.3         # m/s of the fastest joint (relative to the pelvis) plus the pelvis: still
MIN_STILL_S = 1.0
HINGE_BENT, HINGE_STRAIGHT = 90.0, 30.0   # degrees of elbow/knee flexion
REPEAT_GAP_S = 2.0           # events of one kind closer than this are one repeated action


@dataclass(frozen=True)
class Event:
    """Something the body does over frames [start, end) of the described range.

    kind: locomotion, turn, raise_arm, wave, punch, kick, lean, bow, crouch, jump, hop,
        stand_still, bend_elbow, bend_knee.
    side: "left", "right", "both" or None.
    parts: the motion-image body parts (runtime.motion.features.PART_NAMES) the event moves.
    detail: what was measured and the words it decides (direction, gait, level, count, ...).
    """

    kind: str
    side: str | None
    start: int
    end: int
    parts: tuple[str, ...]
    detail: dict = field(default_factory=dict)

    def shifted(self, offset: int) -> "Event":
        return replace(self, start=self.start + offset, end=self.end + offset)

    def mirrored(self) -> "Event":
        swap = {"left": "right", "right": "left"}
        detail = {k: (_mirror_words(v) if isinstance(v, str) else v) for k, v in self.detail.items()}
        for signed in ("degrees", "turned_deg"):
            if signed in detail and (self.kind == "turn" or signed == "turned_deg"):
                detail[signed] = -detail[signed]
        parts = tuple(_mirror_part(p) for p in self.parts)
        if set(parts) == set(self.parts):  # a symmetric event keeps its order
            parts = self.parts
        return replace(self, side=swap.get(self.side, self.side), parts=parts, detail=detail)

    @classmethod
    def from_json(cls, d: dict) -> "Event":
        """The event `to_json` wrote (measured amounts rounded to 3 decimals)."""
        return cls(d["kind"], d["side"], int(d["start"]), int(d["end"]), tuple(d["parts"]), dict(d["detail"]))

    def to_json(self, fps: float = 20.0) -> dict:
        return {"kind": self.kind, "side": self.side, "start": self.start, "end": self.end,
                "start_s": round(self.start / fps, 2), "end_s": round(self.end / fps, 2),
                "parts": list(self.parts),
                "detail": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.detail.items()}}


def _mirror_words(text: str) -> str:
    """'forward-left' -> 'forward-right' and so on."""
    return "-".join({"left": "right", "right": "left"}.get(w, w) for w in text.split("-"))


def _mirror_part(p: str) -> str:
    return p[:-2] + {"_l": "_r", "_r": "_l"}[p[-2:]] if p.endswith(("_l", "_r")) else p


def _s(side: str) -> str:
    return "l" if side == "left" else "r"


def spans(mask: np.ndarray, min_len: int = 1, merge_gap: int = 0) -> list[tuple[int, int]]:
    """[start, end) runs of True, runs closer than `merge_gap` frames merged, shorter than `min_len` dropped."""
    m = np.asarray(mask, bool)
    if not m.any():
        return []
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    runs = list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))
    merged = [list(runs[0])]
    for s, e in runs[1:]:
        if s - merged[-1][1] <= merge_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged if e - s >= min_len]


# -- detectors -------------------------------------------------------------------------------------
def locomotion(b: Body) -> list[Event]:
    """Walking, jogging, running, sprinting; forward, backward, sideways, diagonally, in a circle."""
    out = []
    v = b.root_velocity
    angle = np.rad2deg(np.arctan2(v[:, 0], v[:, 2]))  # + = towards the body's left
    moving = b.speed > MOVING_SPEED
    shortest = min(b.frames(MIN_TRAVEL_S) - 1, len(b))  # a short clip may travel all through
    for s, e in spans(moving, shortest, b.frames(0.5)):
        # split where the direction of travel changes for at least a second
        cat = [_direction(float(a)) for a in angle[s:e]]
        pieces = _stable_runs(cat, shortest)
        for ps, pe, direction in pieces:
            ps, pe = s + ps, s + pe
            path = b.joint("pelvis")[ps:pe][:, [0, 2]]
            travel = float(np.linalg.norm(np.diff(path, axis=0), axis=-1).sum()) if pe - ps > 1 else 0.0
            if travel < MIN_TRAVEL_M:
                continue
            speed = float(np.median(b.speed[ps:pe]))
            airborne = float(b.airborne[ps:pe].mean())
            planted = b.foot_lift("left")[ps:pe] < CONTACT_LIFT * b.leg
            double = float((planted & (b.foot_lift("right")[ps:pe] < CONTACT_LIFT * b.leg)).mean())
            cadence = _cadence(b, ps, pe)
            running = speed > RUN_SPEED or (speed > MIN_RUN_SPEED and (
                double < RUN_DOUBLE_SUPPORT or (cadence > RUN_CADENCE and double < 0.3)))
            if not running:
                gait = "walk"
            elif speed < JOG_SPEED:
                gait = "jog"
            elif speed < SPRINT_SPEED:
                gait = "run"
            else:
                gait = "sprint"
            turned = float(b.heading[pe - 1] - b.heading[ps])
            path_kind = "circle" if abs(turned) >= FULL_CIRCLE else ("curve" if abs(turned) >= 60.0 else "straight")
            tempo = ""
            if gait == "walk":
                tempo = "slowly" if speed < SLOW_WALK else ("quickly" if speed > BRISK_WALK else "")
            detail = {"gait": gait, "direction": direction, "speed_mps": speed, "distance_m": travel,
                      "airborne": airborne, "double_support": double, "path": path_kind, "turned_deg": turned, "tempo": tempo,
                      "steps_per_s": cadence}
            if path_kind != "straight":
                detail["turn_side"] = "left" if turned > 0 else "right"
            out.append(Event("locomotion", None, ps, pe,
                             ("pelvis_translation", "hip_l", "hip_r", "knee_l", "knee_r"), detail))
    return out


def _direction(angle: float) -> str:
    a = abs(angle)
    side = "left" if angle > 0 else "right"
    if a < DIAGONAL_DEG:
        return "forward"
    if a < SIDEWAYS_DEG:
        return f"forward-{side}"
    if a <= 180.0 - SIDEWAYS_DEG:
        return side
    if a <= 180.0 - DIAGONAL_DEG:
        return f"backward-{side}"
    return "backward"


def _stable_runs(labels: np.ndarray, min_len: int) -> list[tuple[int, int, str]]:
    """Runs of equal labels; a run shorter than `min_len` joins the longer neighbour."""
    runs: list[list] = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][2] == lab:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, lab])
    changed = True
    while changed and len(runs) > 1:
        changed = False
        k = min(range(len(runs)), key=lambda r: runs[r][1] - runs[r][0])
        if runs[k][1] - runs[k][0] < min_len:
            if k == 0:
                runs[1][0] = runs[0][0]
            elif k == len(runs) - 1 or runs[k - 1][1] - runs[k - 1][0] >= runs[k + 1][1] - runs[k + 1][0]:
                runs[k - 1][1] = runs[k][1]
            else:
                runs[k + 1][0] = runs[k][0]
            del runs[k]
            changed = True
            merged = [runs[0]]
            for r in runs[1:]:
                if r[2] == merged[-1][2]:
                    merged[-1][1] = r[1]
                else:
                    merged.append(r)
            runs = merged
    return [(s, e, lab) for s, e, lab in runs]


def _cadence(b: Body, s: int, e: int) -> float:
    """Foot strikes per second over [s, e)."""
    thr = CONTACT_LIFT * b.leg
    strikes = 0
    for side in SIDES:
        down = b.foot_lift(side)[s:e] < thr
        strikes += int(np.sum(down[1:] & ~down[:-1]))
    return strikes / max((e - s) / b.fps, 1e-9)


def turns(b: Body) -> list[Event]:
    """Changes of facing of at least MIN_TURN degrees: left or right, and about how far."""
    out = []
    rate = derivative(b.heading, b.fps)
    for sign, side in ((1.0, "left"), (-1.0, "right")):
        for s, e in spans(sign * rate > TURN_RATE, b.frames(0.2), b.frames(0.4)):
            deg = float(b.heading[min(e, len(b) - 1)] - b.heading[s])
            if sign * deg >= MIN_TURN:
                out.append(Event("turn", side, s, e, ("pelvis_rotation", "hip_l", "hip_r"),
                                 {"degrees": deg, "amount": _turn_amount(abs(deg))}))
    return out


def _turn_amount(deg: float) -> str:
    if deg >= FULL_CIRCLE:
        return "full"
    if deg >= TURN_AROUND:
        return "around"
    return "quarter" if deg >= 60.0 else "slight"


def arms(b: Body) -> list[Event]:
    """Raising an arm (to shoulder height, or above the head) and lowering it again; both arms at once."""
    raised = {}
    for side in SIDES:
        el = smooth(b.hand_elevation(side), b.frames(0.2))
        found = []
        for s, e in spans(el > HAND_UP, b.frames(MIN_RAISE_S), b.frames(0.3)):
            peak = int(s + np.argmax(el[s:e]))
            if el[peak] < HAND_UP_PEAK:
                continue
            wrist_y = b.joint(f"{side}_wrist")[peak, 1]
            level = "head" if wrist_y > b.joint("head")[peak, 1] else "shoulder"
            lowered = bool(e < len(b) and (el[e:] < HAND_DOWN).any())
            found.append((s, e, {"level": level, "peak_elevation": float(el[peak]), "lowered": lowered,
                                 "rise_s": float((peak - s) / b.fps)}))
        raised[side] = found
    return _pair_sides("raise_arm", raised, lambda side: (f"shoulder_{_s(side)}", f"elbow_{_s(side)}"))


def _pair_sides(kind: str, found: dict, parts_of) -> list[Event]:
    """One event per side, or one "both" event where the two sides overlap for most of their time."""
    out = []
    used_r = set()
    for ls, le, ld in found["left"]:
        match = None
        for k, (rs, re_, rd) in enumerate(found["right"]):
            overlap = min(le, re_) - max(ls, rs)
            if k not in used_r and overlap > 0.5 * min(le - ls, re_ - rs):
                match = k
                break
        if match is None:
            out.append(Event(kind, "left", ls, le, parts_of("left"), ld))
        else:
            rs, re_, rd = found["right"][match]
            used_r.add(match)
            detail = dict(ld)
            for key, val in rd.items():  # the two sides' words agree only where both do
                if isinstance(val, str) and val != detail.get(key):
                    detail[key] = "shoulder" if key == "level" else val
                elif isinstance(val, (int, float)) and not isinstance(val, bool):
                    detail[key] = (detail.get(key, val) + val) / 2 if isinstance(val, float) else max(detail.get(key, val), val)
                elif isinstance(val, bool):
                    detail[key] = bool(detail.get(key)) and val
            out.append(Event(kind, "both", min(ls, rs), max(le, re_), parts_of("left") + parts_of("right"), detail))
    for k, (rs, re_, rd) in enumerate(found["right"]):
        if k not in used_r:
            out.append(Event(kind, "right", rs, re_, parts_of("right"), rd))
    return out


def waves(b: Body) -> list[Event]:
    """A raised hand swinging side to side about the elbow, several times."""
    found = {}
    for side in SIDES:
        el = smooth(b.hand_elevation(side), b.frames(0.2))
        rel = b.hand_in_body(side, "elbow")
        up = (el > HAND_DOWN) & (rel[:, 1] > 0.0)  # hand above the elbow, arm not hanging
        swing = rel[:, 0] - smooth(rel[:, 0], b.frames(1.0))
        swing = smooth(swing, 3)
        ext = _extrema(swing, WAVE_AMPLITUDE)
        events = []
        run: list[int] = []
        for i in ext:
            if up[i] and (not run or (i - run[-1]) <= WAVE_MAX_HALF_S * b.fps):
                run.append(i)
            else:
                if len(run) > WAVE_HALF_CYCLES:
                    events.append(run)
                run = [i] if up[i] else []
        if len(run) > WAVE_HALF_CYCLES:
            events.append(run)
        found[side] = [(r[0], r[-1] + 1, {"swings": len(r) - 1,
                                          "hz": float((len(r) - 1) / 2 / max((r[-1] - r[0]) / b.fps, 1e-9))})
                       for r in events]
    return _pair_sides("wave", found, lambda side: (f"elbow_{_s(side)}", f"shoulder_{_s(side)}"))


def _extrema(x: np.ndarray, amplitude: float) -> list[int]:
    """Alternating maxima and minima of x, each at least `amplitude` from the one before (hysteresis)."""
    out: list[int] = []
    hi = lo = 0
    looking = 0  # 1: for a maximum, -1: for a minimum, 0: either
    for i in range(1, len(x)):
        if x[i] > x[hi]:
            hi = i
        if x[i] < x[lo]:
            lo = i
        if looking >= 0 and x[hi] - x[i] >= amplitude:
            out.append(hi)
            looking, lo = -1, i
        elif looking <= 0 and x[i] - x[lo] >= amplitude:
            out.append(lo)
            looking, hi = 1, i
    return out


def punches(b: Body) -> list[Event]:
    """Quick strokes of a hand straight ahead at about shoulder height, ending with the arm out."""
    found = {}
    back = b.frames(PUNCH_STROKE_S) - 1
    for side in SIDES:
        arm = b.arm_length(side)
        rel = b.hand_in_body(side, "shoulder") / arm
        reach = rel[:, 2]
        elbow = b.hinge(f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
        hits = []
        for k in range(1, len(b) - 1):
            if not (reach[k] >= PUNCH_REACH and reach[k] >= reach[k - 1] and reach[k] > reach[k + 1]):
                continue
            j = max(k - back, 0) + int(np.argmin(reach[max(k - back, 0):k + 1]))
            gain, rise = reach[k] - reach[j], abs(rel[k, 1] - rel[j, 1])
            speed = gain * arm / max((k - j) / b.fps, 1e-9)
            straightened = elbow[j:k + 1].max() - elbow[k]
            if (gain >= PUNCH_GAIN and gain > 1.5 * rise and abs(rel[k, 1]) < 0.45 and speed >= PUNCH_SPEED
                    and straightened >= PUNCH_ELBOW):
                hits.append((j, k + 1))
        found[side] = [(s, e, {"count": n}) for s, e, n in _group(hits, b.frames(REPEAT_GAP_S))]
    return _pair_sides("punch", found, lambda side: (f"elbow_{_s(side)}", f"shoulder_{_s(side)}"))


def kicks(b: Body) -> list[Event]:
    """A fast swing of one foot up and ahead (or out to the side) while the other stands."""
    found = {}
    pelvis = b.joint("pelvis")
    for side in SIDES:
        other = "right" if side == "left" else "left"
        rel = b.in_body(b.joint(f"{side}_ankle") - pelvis) / b.leg
        outward = rel[:, 0] * (1.0 if side == "left" else -1.0)
        lift = b.foot_lift(side) / b.leg
        speed = np.linalg.norm(derivative(b.joint(f"{side}_ankle"), b.fps), axis=-1)
        standing = b.foot_lift(other) < 0.1 * b.leg
        up = (lift > KICK_LIFT) & ((rel[:, 2] > KICK_REACH) | (outward > KICK_REACH + 0.2)) & standing
        hits = []
        for s, e in spans(up, 1, 2):
            lo, hi = max(s - 4, 0), min(e + 1, len(b))
            if speed[lo:hi].max() >= KICK_SPEED:
                k = s + int(np.argmax(lift[s:e]))
                hits.append((s, e, "sideways" if outward[k] > rel[k, 2] else "forward"))
        grouped = _group([(s, e) for s, e, _ in hits], b.frames(REPEAT_GAP_S))
        found[side] = [(s, e, {"count": n, "direction": next(d for hs, _, d in hits if hs >= s)})
                       for s, e, n in grouped]
    return _pair_sides("kick", found, lambda side: (f"hip_{_s(side)}", f"knee_{_s(side)}"))


def _group(hits: list[tuple[int, int]], gap: int) -> list[tuple[int, int, int]]:
    """Hits closer than `gap` frames as (start, end, count)."""
    out: list[list[int]] = []
    for s, e in sorted(hits):
        if out and s - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], e)
            out[-1][2] += 1
        else:
            out.append([s, e, 1])
    return [tuple(g) for g in out]


def torso(b: Body, travel: list[Event]) -> list[Event]:
    """Leaning (forward, back, sideways), bending forward at the waist, and bows."""
    out = []
    side_tilt, fwd_tilt = b.trunk_tilt[:, 0], b.trunk_tilt[:, 1]
    moving = np.zeros(len(b), bool)
    for ev in travel:
        moving[ev.start:ev.end] = True
    for s, e in spans(fwd_tilt > LEAN_DEG, b.frames(0.3), b.frames(0.3)):
        peak = float(fwd_tilt[s:e].max())
        back_up = e < len(b) and (e - s) / b.fps <= BOW_MAX_S
        if peak >= BOW_DEG and back_up and not moving[s:e].mean() > 0.5:
            out.append(Event("bow", None, s, e, ("lumbar", "neck", "pelvis_rotation"), {"degrees": peak}))
        elif (e - s) >= b.frames(0.5):
            out.append(Event("lean", None, s, e, ("lumbar", "pelvis_rotation"),
                             {"direction": "forward", "degrees": peak, "bend": peak >= BEND_DEG}))
    for s, e in spans(fwd_tilt < -LEAN_DEG, b.frames(0.5), b.frames(0.3)):
        out.append(Event("lean", None, s, e, ("lumbar", "pelvis_rotation"),
                         {"direction": "backward", "degrees": float(-fwd_tilt[s:e].min()), "bend": False}))
    for sign, side in ((1.0, "left"), (-1.0, "right")):
        for s, e in spans(sign * side_tilt > LEAN_DEG, b.frames(0.5), b.frames(0.3)):
            out.append(Event("lean", side, s, e, ("lumbar",),
                             {"direction": side, "degrees": float((sign * side_tilt[s:e]).max()), "bend": False}))
    return out


def low_pelvis(b: Body) -> list[Event]:
    """Crouching or squatting, kneeling, sitting (on the floor, or on something behind)."""
    out = []
    ratio = smooth(b.pelvis_height, b.frames(0.2)) / b.standing_pelvis
    for s, e in spans(ratio < LOW_PELVIS, b.frames(0.4), b.frames(0.3)):
        low = float(ratio[s:e].min())
        knees = [float(np.median(b.joint(f"{side}_knee")[s:e, 1])) / b.leg for side in SIDES]
        behind = b.in_body(b.joint("pelvis") - (b.joint("left_ankle") + b.joint("right_ankle")) / 2)[s:e, 2] / b.leg
        if low < FLOOR_SIT and min(knees) > KNEEL_KNEE:
            pose, side = "sit_floor", None
        elif min(knees) < KNEEL_KNEE:
            kneeling = [side for side, k in zip(SIDES, knees) if k < KNEEL_KNEE]
            pose, side = "kneel", (kneeling[0] if len(kneeling) == 1 else "both")
        elif float(np.median(behind)) < -0.4:
            pose, side = "sit", None
        else:
            pose, side = "crouch", None
        out.append(Event("crouch", side, s, e, ("pelvis_translation", "knee_l", "knee_r", "hip_l", "hip_r"),
                         {"pose": pose, "pelvis_ratio": low, "stands_up": bool(e < len(b))}))
    return out


def jumps(b: Body, travel: list[Event]) -> list[Event]:
    """Flights with both feet off the floor and the pelvis above its standing height; hops when
    one foot stays up through the whole series."""
    running = np.zeros(len(b), bool)
    for ev in travel:
        if ev.detail["gait"] != "walk":
            running[ev.start:ev.end] = True
    hits = []
    for s, e in spans(b.airborne, b.frames(MIN_FLIGHT_S) - 0, 1):
        if b.pelvis_height[s:e].max() > b.standing_pelvis + JUMP_RISE * b.leg and not running[s:e].mean() > 0.5:
            hits.append((s, e))
    out = []
    for s, e, n in _group(hits, b.frames(1.5)):
        lo, hi = max(s - b.frames(0.3), 0), min(e + b.frames(0.3), len(b))
        held = [side for side in SIDES if b.foot_lift(side)[lo:hi].min() > HOP_HELD * b.leg]
        d = b.in_body(b.joint("pelvis")[hi - 1] - b.joint("pelvis")[lo], at=lo)
        direction = "up" if np.hypot(d[0], d[2]) < 0.3 else _direction(float(np.rad2deg(np.arctan2(d[0], d[2]))))
        height = float(b.pelvis_height[s:e].max() - b.standing_pelvis)
        if len(held) == 1:
            other = "right" if held[0] == "left" else "left"
            out.append(Event("hop", other, lo, hi, ("pelvis_translation", f"knee_{_s(other)}", f"ankle_{_s(other)}"),
                             {"count": n, "direction": direction, "height_m": height}))
        else:
            out.append(Event("jump", None, lo, hi, ("pelvis_translation", "knee_l", "knee_r", "ankle_l", "ankle_r"),
                             {"count": n, "direction": direction, "height_m": height}))
    return out


def stillness(b: Body) -> list[Event]:
    return [Event("stand_still", None, s, e, ("pelvis_translation",), {"seconds": (e - s) / b.fps})
            for s, e in spans(b.activity < STILL_ACTIVITY, b.frames(MIN_STILL_S), 2)]


def hinges(b: Body, covered: list[Event]) -> list[Event]:
    """An elbow bending from straight to more than HINGE_BENT (and straightening again), outside
    events that already say what the arm does; knees likewise, outside travel and crouches."""
    out = []
    for joint, (a, m, c), kinds, part in (
        ("elbow", ("shoulder", "elbow", "wrist"), ("wave", "punch"), "elbow"),
        ("knee", ("hip", "knee", "ankle"), ("locomotion", "crouch", "jump", "hop", "kick"), "knee"),
    ):
        found = {}
        for side in SIDES:
            ang = smooth(b.hinge(f"{side}_{a}", f"{side}_{m}", f"{side}_{c}"), b.frames(0.2))
            busy = np.zeros(len(b), bool)
            for ev in covered:
                if ev.kind in kinds and ev.side in (side, "both", None):
                    busy[max(ev.start - 5, 0):ev.end + 5] = True
            hits = []
            for s, e in spans(ang > HINGE_BENT, b.frames(0.3), b.frames(0.2)):
                before = ang[max(s - b.frames(1.5), 0):s + 1]
                if before.size and before.min() < HINGE_STRAIGHT and not busy[s:e].any():
                    hits.append((s, e, {"degrees": float(ang[s:e].max()),
                                        "straightens": bool(e < len(b) and (ang[e:] < HINGE_STRAIGHT).any())}))
            found[side] = hits
        out += _pair_sides(f"bend_{joint}", found, lambda side, part=part: (f"{part}_{_s(side)}",))
    return out


def detect(b: Body) -> list[Event]:
    """Every event of a clip, ordered by start (ties by kind, then side)."""
    if len(b) < 2:
        return []
    travel = locomotion(b)
    events = travel + turns(b) + arms(b) + waves(b) + punches(b) + kicks(b) + torso(b, travel) \
        + low_pelvis(b) + jumps(b, travel)
    events += hinges(b, events)
    if not travel:
        events += stillness(b)
    return sorted(events, key=lambda ev: (ev.start, ev.kind, ev.side or ""))
