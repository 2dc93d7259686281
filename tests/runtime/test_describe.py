"""The describer (runtime/describe): events, summaries and captions from joint positions.

Two kinds of evidence: synthetic bodies built here with a known motion (so the truth is exact:
an arm raised by 120 degrees, a 90-degree turn, a 0.3 m jump, a 1.2 m/s walk), and a handful of
real Bandai-Namco and CMU clips whose file names say what they show.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pytest

from runtime import describe as describe_mod
from runtime import shared_data
from runtime.describe import describe, describe_positions
from runtime.errors import MotionFormatError
from runtime.motion import J, mirror_positions

FPS = 20.0

# -- a synthetic body ---------------------------------------------------------------------------------
UPPER_ARM, FOREARM = 0.28, 0.25
THIGH, SHIN = 0.41, 0.40          # leg length 0.81 m
ANKLE_Y = 0.07                    # ankle joint above the floor; the toe joint is on it
STANDING_HIP_Y = ANKLE_Y + THIGH + SHIN
PELVIS_ABOVE_HIPS = 0.03          # Bandai-Namco skeletons: 2-3 cm (SMPL / CMU: about 9-10 cm)
SIDES = (("left", 1.0), ("right", -1.0))


def rest_pose(pelvis_above_hips: float = PELVIS_ABOVE_HIPS) -> np.ndarray:
    """(22, 3) a standing adult (1.75 m), arms hanging a little away from the body, facing +Z,
    X = its left, pelvis over the origin, feet on the floor y = 0."""
    p = np.zeros((22, 3))

    def put(name: str, x: float, y: float, z: float = 0.0) -> None:
        p[J[name]] = (x, y, z)

    hip = STANDING_HIP_Y
    top = hip + pelvis_above_hips
    put("pelvis", 0.0, top)
    put("spine1", 0.0, top + 0.10)
    put("spine2", 0.0, top + 0.23)
    put("spine3", 0.0, top + 0.36)
    put("neck", 0.0, top + 0.55)
    put("head", 0.0, top + 0.66, 0.02)
    shoulder = top + 0.48
    for side, sx in SIDES:
        put(f"{side}_hip", sx * 0.09, hip)
        put(f"{side}_knee", sx * 0.09, hip - THIGH)
        put(f"{side}_ankle", sx * 0.09, ANKLE_Y)
        put(f"{side}_foot", sx * 0.10, 0.0, 0.12)
        put(f"{side}_collar", sx * 0.07, shoulder + 0.02)
        put(f"{side}_shoulder", sx * 0.18, shoulder)
        put(f"{side}_elbow", sx * 0.19, shoulder - UPPER_ARM)
        put(f"{side}_wrist", sx * 0.20, shoulder - UPPER_ARM - FOREARM)
    return p


def hold(pose: np.ndarray, seconds: float) -> np.ndarray:
    return np.repeat(pose[None], int(round(seconds * FPS)), axis=0)


def ease(n: int) -> np.ndarray:
    """n samples of a smooth 0 -> 1 ramp (zero speed at both ends), ending at exactly 1."""
    t = np.arange(1, n + 1) / n
    return t * t * (3.0 - 2.0 * t)


def rot_y(deg: float) -> np.ndarray:
    """Rotation about the vertical axis; positive turns +Z (forward) towards +X (the left)."""
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])


def rot_z(deg: float) -> np.ndarray:
    """Rotation about the forward axis; positive turns -Y (down) towards +X (the left)."""
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def with_arm(pose: np.ndarray, side: str, abduction_deg: float) -> np.ndarray:
    """The pose with one arm swung out sideways about its shoulder by `abduction_deg` (0 = hanging)."""
    out = pose.copy()
    sh = pose[J[f"{side}_shoulder"]]
    r = rot_z(abduction_deg if side == "left" else -abduction_deg)
    for joint in ("elbow", "wrist"):
        out[J[f"{side}_{joint}"]] = sh + r @ (pose[J[f"{side}_{joint}"]] - sh)
    return out


def arm_raise_clip(side: str, degrees: float = 120.0):
    """1 s still, raise over 1 s, 1.5 s held up, lower over 1 s, 1 s still: (positions, frames of
    (raise start, held from, held until, lowered by))."""
    rest = rest_pose()
    up = [with_arm(rest, side, degrees * a) for a in ease(20)]
    down = [with_arm(rest, side, degrees * (1.0 - a)) for a in ease(20)]
    clip = np.concatenate([hold(rest, 1.0), up, hold(up[-1], 1.5), down, hold(rest, 1.0)])
    return clip, (20, 40, 70, 90)


def turn_clip(degrees: float, seconds: float = 1.0) -> np.ndarray:
    """1 s still, a turn in place about the pelvis over `seconds`, 1 s still."""
    rest = rest_pose()
    turning = [rest @ rot_y(degrees * a).T for a in ease(int(round(seconds * FPS)))]
    return np.concatenate([hold(rest, 1.0), turning, hold(turning[-1], 1.0)])


def jump_clip(height: float = 0.3, flight_s: float = 0.4, pelvis_above_hips: float = PELVIS_ABOVE_HIPS):
    """1 s still, every joint lifted along a parabola peaking at `height` for `flight_s`, 1 s still."""
    rest = rest_pose(pelvis_above_hips)
    n = int(round(flight_s * FPS))
    t = np.arange(n + 1) / n
    lift = 4.0 * height * t * (1.0 - t)  # 0 at take-off and landing, `height` at the middle frame
    flight = np.repeat(rest[None], n + 1, axis=0)
    flight[:, :, 1] += lift[:, None]
    return np.concatenate([hold(rest, 1.0), flight[:-1], hold(rest, 1.0)]), (20, 20 + n)


def _knee(hip: np.ndarray, ankle: np.ndarray) -> np.ndarray:
    """Two-bone IK in the sagittal plane: the knee THIGH from the hip and SHIN from the ankle, bent forward (+Z)."""
    d = ankle - hip
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    assert (dist < THIGH + SHIN).all(), "the synthetic walk over-stretches a leg"
    along = (THIGH ** 2 - SHIN ** 2 + dist ** 2) / (2 * dist)
    off = np.sqrt(np.maximum(THIGH ** 2 - along ** 2, 0.0))
    u = d / dist
    perp = np.cross(u, np.array([1.0, 0.0, 0.0]))  # in the sagittal plane, perpendicular to the leg
    perp *= np.where(perp[..., 2:3] < 0, -1.0, 1.0)  # pointing forward
    return hip + u * along + perp * off


def walk_clip(speed: float = 1.2, seconds: float = 5.0, cycle_s: float = 1.0, stance: float = 0.6,
              lift: float = 0.10) -> np.ndarray:
    """Walking along the facing direction (+Z; backward for speed < 0) at `speed` m/s: each foot
    planted for `stance` of a `cycle_s` gait cycle (so both are down 2 * (stance - 0.5) of the
    time, the feet half a cycle apart) and swung one stride on in the rest, lifted up to `lift` m;
    knees a little bent (the hips 10 cm lower than standing), legs by two-bone IK."""
    rest = rest_pose()
    drop = 0.10
    n = int(round(seconds * FPS))
    t = np.arange(n) / FPS
    frames = np.repeat(rest[None], n, axis=0)
    frames[:, :, 2] += speed * t[:, None]
    frames[:, :, 1] -= drop
    for (side, sx), offset in zip(SIDES, (0.0, 0.5)):
        cycles = t / cycle_s + offset
        k, phase = np.floor(cycles), cycles % 1.0
        swing = np.clip((phase - stance) / (1.0 - stance), 0.0, 1.0)
        # planted where the pelvis is at mid-stance, then carried on by one stride
        foot_z = speed * cycle_s * (k - offset + stance / 2.0 + swing * swing * (3.0 - 2.0 * swing))
        foot_y = np.where(phase >= stance, lift * np.sin(np.pi * swing), 0.0)
        ankle = np.stack([np.full(n, sx * 0.09), ANKLE_Y + foot_y, foot_z], axis=-1)
        frames[:, J[f"{side}_ankle"]] = ankle
        frames[:, J[f"{side}_foot"]] = ankle + np.array([sx * 0.01, -ANKLE_Y, 0.12])
        frames[:, J[f"{side}_knee"]] = _knee(frames[:, J[f"{side}_hip"]], ankle)
    return frames


def events_of(clip: np.ndarray, fps: float = FPS, **kw):
    return describe_positions(clip, fps, **kw).events


def kinds(events) -> list[str]:
    return [e.kind for e in events]


# -- synthetic bodies: known motion, known answer --------------------------------------------------------
def test_builder_is_a_plausible_adult():
    """The synthetic body itself: leg 0.81 m, feet on the floor, head above the shoulders."""
    from runtime.motion import leg_length

    p = rest_pose()
    assert leg_length(p[None]) == pytest.approx(0.81)
    assert p[:, 1].min() == pytest.approx(0.0)
    assert p[J["head"], 1] > p[J["left_shoulder"], 1] > p[J["pelvis"], 1]
    np.testing.assert_allclose(mirror_positions(p), p, atol=1e-12)  # symmetric
    w = walk_clip()
    for side in ("left", "right"):  # IK kept the bones
        thigh = np.linalg.norm(w[:, J[f"{side}_hip"]] - w[:, J[f"{side}_knee"]], axis=-1)
        shin = np.linalg.norm(w[:, J[f"{side}_knee"]] - w[:, J[f"{side}_ankle"]], axis=-1)
        np.testing.assert_allclose(thigh, THIGH, atol=1e-9)
        np.testing.assert_allclose(shin, SHIN, atol=1e-9)
    down = w[:, [J["left_ankle"], J["right_ankle"]], 1] <= ANKLE_Y + 1e-9
    assert down.any(axis=1).all()  # a walk: always a foot on the floor ...
    assert 0.15 <= down.all(axis=1).mean() <= 0.3  # ... both for 20 % of the time


@pytest.mark.parametrize("side", ["left", "right"])
def test_arm_raised_120_degrees(side):
    clip, (rise, held, held_until, lowered) = arm_raise_clip(side, 120.0)
    other = "right" if side == "left" else "left"
    wrist, head = clip[held, J[f"{side}_wrist"]], clip[held, J["head"]]
    assert wrist[1] > clip[held, J[f"{side}_shoulder"], 1]  # the builder did what it says
    events = events_of(clip)
    raises = [e for e in events if e.kind == "raise_arm"]
    assert [(e.side) for e in raises] == [side], events
    assert not [e for e in events if e.side in (other, "both")], events
    ev = raises[0]
    assert ev.detail["level"] == ("head" if wrist[1] > head[1] else "shoulder")
    assert ev.detail["lowered"] is True
    assert set(ev.parts) == {f"shoulder_{side[0]}", f"elbow_{side[0]}"}
    # the event brackets the motion: it covers the time the arm is held up, inside raise .. lowered
    assert rise <= ev.start <= held, (ev.start, ev.end)
    assert held_until <= ev.end <= lowered, (ev.start, ev.end)
    assert set(kinds(events)) <= {"raise_arm", "stand_still"}, events


def test_arm_raised_only_to_60_degrees_is_no_raise():
    """Hand still well below the shoulder (elevation -0.5 arm lengths): not a raise."""
    clip, _ = arm_raise_clip("left", 60.0)
    assert "raise_arm" not in kinds(events_of(clip))


@pytest.mark.parametrize("degrees, side", [(90.0, "left"), (-90.0, "right")])
def test_quarter_turn_in_place(degrees, side):
    events = events_of(turn_clip(degrees, 1.0))
    turns = [e for e in events if e.kind == "turn"]
    assert len(turns) == 1, events
    ev = turns[0]
    assert ev.side == side
    assert abs(ev.detail["degrees"]) == pytest.approx(90.0, abs=10.0)
    assert np.sign(ev.detail["degrees"]) == np.sign(degrees)
    assert ev.detail["amount"] == "quarter"
    assert 20 - 5 <= ev.start and ev.end <= 40 + 5, (ev.start, ev.end)  # the turn is frames 20-40
    assert "locomotion" not in kinds(events)  # turning in place is not travelling


def test_half_turn_is_turning_around():
    turns = [e for e in events_of(turn_clip(180.0, 1.5)) if e.kind == "turn"]
    assert len(turns) == 1 and turns[0].side == "left"
    assert turns[0].detail["degrees"] == pytest.approx(180.0, abs=15.0)
    assert turns[0].detail["amount"] == "around"


@pytest.mark.parametrize("pelvis_above_hips", [0.03, 0.09], ids=["bandai-proportions", "smpl-proportions"])
def test_jump_height(pelvis_above_hips):
    """A 0.3 m jump (0.4 s of flight). The pelvis joint sits 2-3 cm above the hip joints in
    Bandai-Namco skeletons and about 9 cm above them in SMPL (and CMU) ones; either way the body
    rose 0.3 m."""
    clip, (take_off, landing) = jump_clip(0.3, 0.4, pelvis_above_hips)
    events = events_of(clip)
    jumps = [e for e in events if e.kind == "jump"]
    assert len(jumps) == 1, events
    ev = jumps[0]
    assert ev.detail["direction"] == "up" and ev.detail["count"] == 1
    assert ev.start <= take_off and ev.end >= landing
    assert not [e for e in events if e.kind in ("hop", "locomotion")], events
    assert ev.detail["height_m"] == pytest.approx(0.3, abs=0.05)


@pytest.mark.parametrize("speed, direction", [(1.2, "forward"), (-1.2, "backward")])
def test_walk(speed, direction):
    events = events_of(walk_clip(speed, seconds=5.0))
    travel = [e for e in events if e.kind == "locomotion"]
    assert len(travel) == 1, events
    ev = travel[0]
    assert ev.detail["gait"] == "walk"
    assert ev.detail["direction"] == direction
    assert ev.detail["path"] == "straight"
    assert ev.detail["speed_mps"] == pytest.approx(1.2, abs=0.1)
    assert ev.detail["steps_per_s"] == pytest.approx(2.0, abs=0.3)
    assert ev.end - ev.start >= 0.8 * 100  # most of the 5 s
    assert not [e for e in events if e.kind in ("turn", "jump", "hop", "stand_still", "crouch")], events
    assert f"walks {direction}" in describe_positions(walk_clip(speed), FPS).summary


def test_still_pose_is_standing_still():
    rng = np.random.default_rng(0)
    clip = hold(rest_pose(), 3.0)
    t = np.arange(len(clip)) / FPS
    clip = clip + (0.01 * np.sin(2 * np.pi * 0.3 * t))[:, None, None] * np.array([1.0, 0.0, 0.5])  # a slow sway
    clip = clip + rng.normal(0.0, 0.001, clip.shape)  # 1 mm capture noise
    d = describe_positions(clip, FPS)
    assert kinds(d.events) == ["stand_still"], d.events
    ev = d.events[0]
    assert ev.start <= 2 and ev.end >= len(clip) - 2
    assert d.summary == "A person stands still."


def test_too_short_clip_is_refused():
    clip = hold(rest_pose(), 3.0)
    n = describe_mod.MIN_FRAMES
    with pytest.raises(ValueError, match=rf"too few to describe: at least {n}"):
        describe_positions(clip[: n - 1], FPS)
    with pytest.raises(ValueError, match="too few"):
        describe_positions(clip, FPS, start=10, end=10 + n - 1)
    assert describe_positions(clip[:n], FPS).end == n  # exactly MIN_FRAMES is enough


def test_bad_input_is_refused():
    clip = hold(rest_pose(), 3.0)
    broken = clip.copy()
    broken[30, J["left_wrist"], 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        describe_positions(broken, FPS)
    broken[31, J["head"], 0] = np.inf
    with pytest.raises(ValueError, match="not finite"):
        describe_positions(broken, FPS)
    assert describe_positions(broken, FPS, start=35, end=60).events  # a clean range of a broken clip is fine
    with pytest.raises(ValueError, match=r"\(frames, 22, 3\)"):
        describe_positions(clip[:, :21], FPS)
    with pytest.raises(ValueError, match="outside"):
        describe_positions(clip, FPS, start=20, end=len(clip) + 1)
    with pytest.raises(ValueError, match="outside"):
        describe_positions(clip, FPS, start=40, end=30)


# -- real clips ------------------------------------------------------------------------------------------
def _data_or_fail() -> None:
    try:
        shared_data.data_dir()
    except shared_data.DataNotFound as e:  # a missing data folder is a broken setup, not a skip
        pytest.fail(str(e))


@lru_cache(maxsize=None)
def _bandai_index() -> dict[str, str]:
    return {p.stem: str(p) for p in shared_data.bandai_files()}


@lru_cache(maxsize=None)
def real(name: str):
    """A real clip as a Motion: a Bandai-Namco file stem, or a CMU path inside its archive."""
    from runtime.motion import load_motion

    _data_or_fail()
    if name.startswith("dataset-"):
        return load_motion(_bandai_index()[name])
    archive, _, inner = name.partition("/")
    path = str(shared_data.extracted(archive) / inner)
    return load_motion(path, fps=shared_data.cmu_fps(path))


def real_events(name: str):
    m = real(name)
    return describe_positions(m.positions, m.fps).events


def has(events, kind: str, side) -> bool:
    return any(e.kind == kind and e.side == side for e in events)


@pytest.mark.parametrize("style", ["normal_001", "active_001", "elderly_002"])
def test_real_wave_right_hand(style):
    events = real_events(f"dataset-2_wave-right-hand_{style}")
    assert has(events, "wave", "right"), events
    assert not [e for e in events if e.kind == "wave" and e.side in ("left", "both")], events
    assert "waves the right hand" in describe(real(f"dataset-2_wave-right-hand_{style}")).summary


@pytest.mark.parametrize("style", ["normal_001", "active_002", "exhausted_001"])
def test_real_raise_left_hand(style):
    events = real_events(f"dataset-2_raise-up-left-hand_{style}")
    assert has(events, "raise_arm", "left"), events
    assert not [e for e in events if e.kind == "raise_arm" and e.side in ("right", "both")], events


@pytest.mark.parametrize("style", ["normal_001", "active_001", "elderly_001"])
def test_real_walk_turn_left(style):
    events = real_events(f"dataset-2_walk-turn-left_{style}")
    assert has(events, "turn", "left"), events
    assert not has(events, "turn", "right"), events
    walk = [e for e in events if e.kind == "locomotion"]
    assert walk and walk[0].detail["gait"] == "walk" and walk[0].detail["direction"] == "forward", events


@pytest.mark.parametrize("style", ["normal_001", "active_001", "old_001"])
def test_real_walk_back(style):
    events = real_events(f"dataset-1_walk-back_{style}")
    travel = [e for e in events if e.kind == "locomotion"]
    assert travel and all(e.detail["direction"] == "backward" for e in travel), events
    assert all(e.detail["gait"] == "walk" for e in travel), events


@pytest.mark.parametrize("style", ["normal_001", "active_001", "tired_001"])
def test_real_bow(style):
    events = real_events(f"dataset-1_bow_{style}")
    bows = [e for e in events if e.kind == "bow"]
    assert bows, events
    assert bows[0].detail["degrees"] >= 30.0
    assert "locomotion" not in kinds(events)


# -- mirroring ---------------------------------------------------------------------------------------------
MIRROR_CLIPS = ["dataset-2_wave-right-hand_normal_001", "dataset-2_raise-up-left-hand_elderly_001",
                "dataset-2_walk-turn-left_normal_001", "dataset-1_bow_normal_001",
                "cmu-asfamc/cyun9601/02/02_05.amc",  # punch/strike: waves, raises, turns, bows, a punch
                "cmu-bvh/iclone-retargeted-dragonforged/006/006_10.bvh"]  # dribbling with left turns


def _key(e):
    """What must match between a mirrored clip's events and the mirrored events: kind, side,
    frames, body parts and the words the detail decides (direction, level, turn_side, ...)."""
    return (e.kind, e.side, e.start, e.end, tuple(e.parts),
            tuple(sorted((k, v) for k, v in e.detail.items() if isinstance(v, str))))


def _swap_sides(text: str) -> str:
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1) == "left" else "left", text)


@pytest.mark.parametrize("name", MIRROR_CLIPS)
def test_mirror_image_gives_mirrored_events(name):
    m = real(name)
    d = describe_positions(m.positions, m.fps)
    dm = describe_positions(mirror_positions(m.positions), m.fps)
    assert d.events, "a clip with nothing to mirror proves nothing"
    assert [_key(e) for e in dm.events] == [_key(e.mirrored()) for e in d.events]
    assert dm.summary == _swap_sides(d.summary)
    assert [c.text for c in dm.captions(4, seed=3)] == [_swap_sides(c.text) for c in d.captions(4, seed=3)]
    sided = [e for e in d.events if e.side in ("left", "right")]
    if sided:  # the test has teeth: mirroring really swapped something
        assert dm.summary != d.summary or not any(w in d.summary for w in ("left", "right"))


@pytest.mark.parametrize("name", ["dataset-2_walk-turn-left_normal_001", "cmu-asfamc/cyun9601/02/02_05.amc"])
def test_event_mirrored_keeps_the_numbers(name):
    """Event.mirrored() is the event of the mirror image: numbers that carry a side (signed
    degrees of a turn or of a walk's curve) change sign, the others stay."""
    m = real(name)
    d = describe_positions(m.positions, m.fps)
    dm = describe_positions(mirror_positions(m.positions), m.fps)
    for got, want in zip(dm.events, (e.mirrored() for e in d.events)):
        assert got.detail.keys() == want.detail.keys()
        for k, v in want.detail.items():
            if isinstance(v, float):
                assert got.detail[k] == pytest.approx(v, abs=1e-6), (got.kind, k, got.detail[k], v)


def test_mirrored_twice_is_the_event():
    for e in real_events("cmu-asfamc/cyun9601/02/02_05.amc"):
        assert e.mirrored().mirrored() == e


# -- captions ----------------------------------------------------------------------------------------------
FUNCTION_WORDS = {"a", "an", "the", "and", "or", "of", "to", "with", "it", "its", "them", "then", "while",
                  "first", "finally", "at", "in", "on", "as", "by", "after", "that", "before", "again"}
CAPTION_CLIPS = ["dataset-2_wave-right-hand_normal_001", "cmu-asfamc/cyun9601/02/02_05.amc",
                 "cmu-asfamc/cyun9601/02/02_06.amc"]


def _check_links(d, caps) -> None:
    for c in caps:
        assert c.text and c.text[0].isupper() and c.text.endswith("."), c.text
        assert c.links, c.text  # every caption names something
        for lk in c.links:
            assert c.text[lk.start:lk.end] == lk.word, (c.text, lk)
            assert lk.word.lower() not in FUNCTION_WORDS, (c.text, lk.word)
            assert lk.word.replace("-", "").isalnum(), (c.text, lk.word)  # no punctuation linked
            ev = d.actions[lk.event]
            assert (lk.parts, lk.first_frame, lk.last_frame) == (ev.parts, ev.start, ev.end)
            assert d.start <= lk.first_frame < lk.last_frame <= d.end, (lk, d.start, d.end)
            assert lk.parts
        starts = [lk.start for lk in c.links]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)


@pytest.mark.parametrize("name", CAPTION_CLIPS)
def test_captions_reproducible_varied_and_linked(name):
    m = real(name)
    d = describe_positions(m.positions, m.fps)
    a = d.captions(6, seed=0)
    assert [c.text for c in a] == [c.text for c in d.captions(6, seed=0)]
    assert [c.links for c in a] == [c.links for c in d.captions(6, seed=0)]
    assert [c.text for c in a] != [c.text for c in d.captions(6, seed=1)]
    assert len({c.text for c in a}) == len(a)  # different captions
    if len(d.actions) >= 3:
        assert len(a) >= 4, [c.text for c in a]
    _check_links(d, a + d.captions(6, seed=1))


def test_captions_of_a_frame_range_link_inside_it():
    m = real("cmu-asfamc/cyun9601/02/02_06.amc")
    d = describe_positions(m.positions, m.fps, 100, 260)
    caps = d.captions(8, seed=5)
    assert len(caps) >= 3
    _check_links(d, caps)


def test_right_hand_wave_caption_links_right_to_right_parts():
    m = real("dataset-2_wave-right-hand_normal_001")
    d = describe_positions(m.positions, m.fps)
    waves = [i for i, ev in enumerate(d.actions) if ev.kind == "wave"]
    assert waves, d.events
    linked = [(c.text, lk) for c in d.captions(10, seed=0) for lk in c.links
              if lk.event in waves and lk.word == "right"]
    assert linked, [c.text for c in d.captions(10, seed=0)]
    for text, lk in linked:
        sided = [p for p in lk.parts if p.endswith(("_l", "_r"))]
        assert sided and all(p.endswith("_r") for p in sided), (text, lk.parts)
        assert "wave" in text[max(0, lk.start - 30):lk.start]  # "waves (with) the right ..."


def test_captions_never_turn_both_ways_at_once():
    """A caption may say "turns left, then turns right", but not that the body turns left and
    right at the same time ("turns right, turning ... to the left"), nor link the words of a left
    and a right turn to overlapping frames. CMU 02_05 turns left and right in quick alternation:
    merging the repeats of one side must not swallow the turns to the other side between them."""
    m = real("cmu-asfamc/cyun9601/02/02_05.amc")
    d = describe_positions(m.positions, m.fps)
    for seed in range(4):
        for c in d.captions(6, seed):
            turns = {lk.event for lk in c.links if d.actions[lk.event].kind == "turn"}
            for i in turns:
                for j in turns:
                    a, b = d.actions[i], d.actions[j]
                    if a.side == "left" and b.side == "right":
                        overlap = min(a.end, b.end) - max(a.start, b.start)
                        assert overlap <= 0, (c.text, (a.start, a.end, a.detail.get("count")),
                                              (b.start, b.end, b.detail.get("count")))


def test_caption_of_nothing():
    d = describe_positions(hold(rest_pose(), 0.6), FPS)  # too short to stand still for a second
    assert d.events == []
    assert d.summary == "A person stands with no clear action."
    caps = d.captions(3, seed=0)
    assert [c.text for c in caps] == ["A person stands with no clear action."] and caps[0].links == ()


# -- a frame range of a long take ------------------------------------------------------------------------
def test_frame_range_of_a_long_take():
    m = real("cmu-asfamc/cyun9601/01/01_01.amc")  # playground: forward jumps, turn around (23 s)
    assert m.num_frames > 400
    s, e = 150, 320
    d = describe(m, s, e)
    assert (d.start, d.end, d.fps) == (s, e, m.fps)
    assert d.events
    for ev in d.events:
        assert s <= ev.start < ev.end <= e, ev
    # the same as describing the cut-out frames, counted from the take's frame 0
    alone = describe_positions(m.positions[s:e], m.fps)
    assert [(x.kind, x.side, x.start + s, x.end + s) for x in alone.events] == \
        [(x.kind, x.side, x.start, x.end) for x in d.events]
    # and the whole take has more to say than a part of it
    assert len(describe(m).events) > len(d.events)


def test_describe_motion_errors_name_the_file():
    m = real("dataset-1_bow_normal_001")
    with pytest.raises(MotionFormatError, match="too few") as err:
        describe(m, 0, describe_mod.MIN_FRAMES - 1)
    assert err.value.path == m.source and "dataset-1_bow_normal_001" in str(err.value)
    with pytest.raises(MotionFormatError, match="outside"):
        describe(m, 0, m.num_frames + 5)
