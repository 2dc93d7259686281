"""Sentences from events: many true, varied captions per clip, each content word linked to the
event it names (its body parts and frames), for training text and for users.

Every phrase is written for one event; sentences put phrases in time order ("first ... then ...",
"... and finally ...") or together ("... while ..."). Choices of subject, verb, body-part noun
and connective are drawn from a seeded generator, so one clip yields many different captions and
the same seed always yields the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .events import Event

FUNCTION_WORDS = frozenset(
    "a an the and or of to with it its them their his her at in on as then while first finally "
    "after that before same time also again by".split())
SUBJECTS = ("a person", "someone", "the person", "a figure", "the figure", "a character", "the character")
_COUNTS = {2: "twice", 3: "three times"}


@dataclass(frozen=True)
class Link:
    """A word of a caption and the event it names: `text[start:end]` is the word."""

    start: int
    end: int
    word: str
    event: int  # index into the events the caption was written from (Description.actions)
    parts: tuple[str, ...]
    first_frame: int
    last_frame: int  # exclusive

    def to_json(self) -> dict:
        return {"word": self.word, "chars": [self.start, self.end], "event": self.event, "parts": list(self.parts),
                "frames": [self.first_frame, self.last_frame]}


@dataclass(frozen=True)
class Caption:
    text: str
    links: tuple[Link, ...]

    def to_json(self) -> dict:
        return {"text": self.text, "links": [lk.to_json() for lk in self.links]}


def _side(ev: Event, singular: str, plural: str, rng) -> str:
    if ev.side == "both":
        return rng.choice(["both " + plural, "both " + plural, "the " + plural])
    return f"the {ev.side} {singular}"


def _count(n: int, rng) -> str:
    if n <= 1:
        return ""
    return " " + (_COUNTS.get(n) or rng.choice(["several times", "a few times", "repeatedly"]))


def phrase(ev: Event, rng) -> str:
    """A verb phrase (third person, present) that says what `ev` is."""
    d = ev.detail
    pick = rng.choice
    k = ev.kind
    if k == "raise_arm":
        arm = _side(ev, pick(["arm", "hand"]), pick(["arms", "hands"]), rng)
        verb = pick(["raises", "lifts", "puts up", "brings up"])
        levels = {"head": ["above the head", "over the head", "up high", "high above the head"],
                  "shoulder": ["to shoulder height", "up", "up to the shoulder"]}[d.get("level", "shoulder")]
        if verb.endswith(" up"):  # "puts up the hand up high" says "up" twice
            levels = [lv for lv in levels if "up" not in lv.split()] or ["to shoulder height"]
        out = f"{verb} {arm} {pick(levels)}" + _count(d.get("count", 1), rng)
        if d.get("lowered") and d.get("count", 1) == 1:
            it = "them" if ev.side == "both" else "it"
            out += pick([f" and lowers {it} again", f" and then lowers {it}", f" and brings {it} back down"])
        return out
    if k == "wave":
        if d.get("count", 1) > 1:
            who = "both hands" if ev.side == "both" else f"the {ev.side} hand"
            return pick([f"waves {who}", f"waves with {who}"]) + pick([" again and again", " several times", _count(d["count"], rng)])
        if ev.side == "both":
            return pick(["waves both hands", "waves with both hands", "waves both arms", "waves with both arms above the head"])
        hand = pick(["hand", "arm"])
        return pick([f"waves the {ev.side} {hand}", f"waves with the {ev.side} {hand}", f"waves hello with the {ev.side} hand",
                     f"waves goodbye with the {ev.side} hand"])
    if k == "punch":
        who = "both fists" if ev.side == "both" else f"the {ev.side} {pick(['fist', 'hand', 'arm'])}"
        return pick([f"punches with {who}", f"punches forward with {who}", f"throws a punch with {who}"]) + _count(d.get("count", 1), rng)
    if k == "kick":
        limb = "both legs" if ev.side == "both" else f"the {ev.side} {pick(['leg', 'foot'])}"
        where = pick(["out to the side", "sideways"]) if d.get("direction") == "sideways" else pick(["forward", "", "to the front"])
        return (pick([f"kicks {where} with {limb}", f"kicks with {limb}"]).replace("  ", " ") + _count(d.get("count", 1), rng))
    if k == "locomotion":
        return _travel(ev, rng)
    if k == "turn":
        side = ev.side
        deg = abs(d.get("degrees", 90.0))
        amount = d.get("amount")
        if amount == "full":
            return pick(["spins around", "turns a full circle", f"spins all the way around to the {side}"])
        if amount == "around":
            return pick(["turns around", f"turns around to the {side}", "turns back the other way", f"turns about {int(round(deg / 45.0) * 45)} degrees to the {side}"])
        if amount == "slight":
            return pick([f"turns slightly to the {side}", f"turns a little to the {side}"])
        return pick([f"turns {side}", f"turns to the {side}", f"makes a {side} turn", f"turns about {int(round(deg / 45.0) * 45)} degrees to the {side}"])
    if k == "bow":
        n = d.get("count", 1)
        if n > 1:
            return pick(["bows", "bows forward"]) + _count(n, rng)
        return pick(["bows", "bows forward", "bends at the waist to bow", "takes a bow", "bows, bending the upper body forward"])
    if k == "lean":
        direction = d.get("direction")
        torso = pick(["the upper body", "the torso", "the back"])
        if direction == "forward":
            if d.get("bend"):
                return pick(["bends forward at the waist", "bends over", f"bends {torso} forward"])
            return pick(["leans forward", f"leans {torso} forward", f"tilts {torso} forward"])
        if direction == "backward":
            return pick(["leans back", "leans backward", f"tilts {torso} back"])
        return pick([f"leans to the {direction}", f"tilts {torso} to the {direction}", f"bends sideways to the {direction}"])
    if k == "crouch":
        pose = d.get("pose")
        if pose == "kneel":
            out = pick(["kneels down", "goes down on one knee"]) if ev.side != "both" else pick(["kneels down", "kneels on both knees"])
            if ev.side in ("left", "right"):
                out = pick([out, f"kneels on the {ev.side} knee"])
        elif pose == "sit":
            out = pick(["sits down", "sits"])
        elif pose == "sit_floor":
            out = pick(["sits down on the floor", "sits on the ground"])
        else:
            out = pick(["crouches down", "squats", "squats down", "bends the knees and crouches", "crouches low"])
        if d.get("stands_up"):
            out += pick([" and stands back up", " and then gets up again", " and rises again"])
        return out
    if k in ("jump", "hop"):
        direction = d.get("direction", "up")
        if k == "hop":
            leg = pick([f"the {ev.side} foot", f"the {ev.side} leg", "one leg", "one foot"])
            out = pick([f"hops on {leg}", f"hops {_where(direction, rng)} on {leg}".replace("  ", " ")])
        else:
            out = pick(["jumps", "leaps"]) + " " + (pick(["up", "in place", "straight up", ""]) if direction == "up" else _where(direction, rng))
        return out.strip() + _count(d.get("count", 1), rng)
    if k == "stand_still":
        return pick(["stands still", "stands in place", "stays still", "stands without moving"])
    if k in ("bend_elbow", "bend_knee"):
        joint = "elbow" if k == "bend_elbow" else "knee"
        what = f"both {joint}s" if ev.side == "both" else f"the {ev.side} {joint}"
        out = pick([f"bends {what}", f"flexes {what}"])
        if d.get("straightens"):
            out += pick([" and straightens it again", " and then straightens it"]) if ev.side != "both" else " and straightens them again"
        return out
    raise ValueError(f"no words for event kind '{k}'")


def _where(direction: str, rng) -> str:
    pick = rng.choice
    if direction == "forward":
        return pick(["forward", "ahead", "straight ahead"])
    if direction == "backward":
        return pick(["backward", "backwards"])
    if direction in ("left", "right"):
        return pick([f"sideways to the {direction}", f"to the {direction}", f"to the {direction} side"])
    if direction.startswith(("forward-", "backward-")):
        way, side = direction.split("-")
        return pick([f"{way} and to the {side}", f"diagonally {way} to the {side}"])
    return ""


def _travel(ev: Event, rng) -> str:
    d = ev.detail
    pick = rng.choice
    verb = {"walk": ["walks", "walks", "steps", "moves"], "jog": ["jogs", "runs slowly", "jogs along"],
            "run": ["runs"], "sprint": ["sprints", "dashes", "runs fast"]}[d["gait"]]
    if d["gait"] == "walk" and d.get("direction", "").startswith("backward"):
        verb = ["walks", "steps", "backs up"] if d["direction"] == "backward" else ["walks", "steps"]
    v = pick(verb)
    where = "" if v == "backs up" else _where(d.get("direction", "forward"), rng)
    if d.get("path") == "circle":
        where = pick(["in a circle", "around in a circle", f"in a circle to the {d.get('turn_side')}"])
    out = f"{v} {where}".strip()
    tempo = d.get("tempo")
    if tempo == "slowly":
        out += pick([" slowly", " at a slow pace", ""])
    elif tempo == "quickly":
        out += pick([" quickly", " briskly", " fast"])
    if d.get("path") == "curve" and not d.get("turn_named"):
        out += pick([f", curving to the {d.get('turn_side')}", f" and curves to the {d.get('turn_side')}"])
    return out


_DOUBLE = {"run", "spin", "step", "squat", "hop", "get", "put", "sit", "jog"}


def gerund(phrase_text: str) -> str:
    """'raises the arm' -> 'raising the arm' (the first verb only; good enough for our phrases)."""
    verb, _, rest = phrase_text.partition(" ")
    if verb.endswith(("ches", "shes", "sses", "xes")) or verb in ("goes", "does"):
        base = verb[:-2]
    elif verb.endswith("s"):
        base = verb[:-1]
    else:
        base = verb
    if base in _DOUBLE:
        ing = base + base[-1] + "ing"
    elif base.endswith("e") and not base.endswith("ee"):
        ing = base[:-1] + "ing"
    else:
        ing = base + "ing"
    # the second verb of "X and lowers it" stays as it is: "raising the arm and lowering it"
    rest = rest.replace(" and lowers ", " and lowering ").replace(" and brings ", " and bringing ") \
        .replace(" and then lowers ", " and then lowering ").replace(" and stands ", " and standing ") \
        .replace(" and then gets ", " and then getting ").replace(" and rises ", " and rising ") \
        .replace(" and straightens ", " and straightening ").replace(" and then straightens ", " and then straightening ") \
        .replace(" and curves ", " and curving ")
    return f"{ing} {rest}".strip()


def _overlap(a: Event, b: Event) -> bool:
    return min(a.end, b.end) - max(a.start, b.start) > 0.5 * min(a.end - a.start, b.end - b.start)


def _in_context(events: list[Event], i: int, order: list[int]) -> Event:
    """events[i], marked when the same sentence names a turn that its curving path would repeat."""
    from dataclasses import replace

    ev = events[i]
    if ev.kind == "locomotion" and any(events[j].kind == "turn" and _overlap(ev, events[j]) for j in order):
        return replace(ev, detail=dict(ev.detail, turn_named=True))
    return ev


def compose(events: list[Event], order: list[int], rng, subject: str | None = None) -> Caption:
    """One sentence about events[i] for i in `order` (time order), with word links."""
    subject = subject or rng.choice(SUBJECTS)
    # group events that happen together (the later one joins as "while ...")
    groups: list[list[int]] = []
    for i in order:
        together = groups and _overlap(events[groups[-1][0]], events[i]) and len(groups[-1]) < 2
        if together and {events[groups[-1][0]].kind, events[i].kind} != {"locomotion", "turn"}:
            groups[-1].append(i)
        else:
            groups.append([i])
    pieces: list[tuple[str, int | None]] = [(subject[0].upper() + subject[1:] + " ", None)]
    seq = len(groups) > 1 and rng.random() < 0.5
    for g, members in enumerate(groups):
        if g > 0:
            last = g == len(groups) - 1
            if seq and g == 1 and len(groups) > 2:
                pieces.append((", then ", None))
            elif last and len(groups) > 2:
                pieces.append((rng.choice([", and finally ", ", and then ", ", then "]), None))
            else:
                pieces.append((rng.choice([" and then ", ", then ", " and ", ", after that "]), None))
        elif seq:
            pieces.append(("first ", None))
        main = members[0]
        pieces.append((phrase(_in_context(events, main, order), rng), main))
        for other in members[1:]:
            pieces.append((rng.choice([" while ", ", "]), None))
            pieces.append((gerund(phrase(_in_context(events, other, order), rng)), other))
    pieces.append((".", None))
    return _assemble(pieces, events)


def _assemble(pieces: list[tuple[str, int | None]], events: list[Event]) -> Caption:
    text = ""
    links: list[Link] = []
    for chunk, ev in pieces:
        base = len(text)
        text += chunk
        if ev is None:
            continue
        e = events[ev]
        pos = 0
        for word in chunk.replace(",", " ").split(" "):
            if not word:
                pos += 1
                continue
            at = chunk.index(word, pos)
            pos = at + len(word)
            if word.lower() not in FUNCTION_WORDS:
                links.append(Link(base + at, base + at + len(word), word, ev, e.parts, e.start, e.end))
    return Caption(text, tuple(links))


# -- which events a description names ------------------------------------------------------------------
_SALIENCE = {"locomotion": 9, "jump": 9, "hop": 9, "kick": 8, "punch": 8, "wave": 8, "bow": 8, "crouch": 7,
             "turn": 6, "raise_arm": 6, "lean": 4, "stand_still": 2, "bend_elbow": 1, "bend_knee": 1}


def redundant(events: list[Event]) -> set[int]:
    """Events another one already says: a raised arm during a wave of that arm, a lean during a
    bow or a run, a turn that a walk's curve already names."""
    out = set()
    for i, a in enumerate(events):
        for b in events:
            if a is b or not _overlap(a, b):
                continue
            if a.kind == "raise_arm" and b.kind in ("wave", "punch") and (b.side == a.side or b.side == "both"):
                out.add(i)
            if a.kind == "lean" and a.detail.get("direction") == "forward" and (
                    b.kind == "bow" or (b.kind == "locomotion" and b.detail.get("gait") != "walk")):
                out.add(i)
            if a.kind in ("bend_elbow", "bend_knee") and b.kind != "stand_still":
                out.add(i)
            if a.kind == "turn" and b.kind == "locomotion" and b.detail.get("path") == "circle":
                out.add(i)
    return out


_REPEATABLE = ("raise_arm", "bow", "crouch", "turn", "jump", "hop", "kick", "punch", "wave", "locomotion")
_SAME_WORDS = ("level", "direction", "pose", "gait", "amount", "tempo", "path")


def merged_repeats(events: list[Event]) -> list[Event]:
    """Repeats of one action (same kind, side and words, with no other action of that kind in
    between) merged into one event with a count; locomotion merges without a count."""
    from dataclasses import replace

    out: list[Event] = []
    for ev in events:
        prev = next((p for p in reversed(out) if p.kind == ev.kind), None)
        same = prev is not None and prev.side == ev.side and \
            all(prev.detail.get(k) == ev.detail.get(k) for k in _SAME_WORDS)
        if same and ev.kind in _REPEATABLE:
            i = out.index(prev)
            detail = dict(prev.detail)
            if ev.kind != "locomotion":
                detail["count"] = prev.detail.get("count", 1) + ev.detail.get("count", 1)
            out[i] = replace(prev, end=max(prev.end, ev.end), detail=detail)
        else:
            out.append(ev)
    return out


def chosen(events: list[Event], limit: int = 4) -> list[int]:
    """The most telling non-redundant events (at most `limit`), in time order."""
    skip = redundant(events)
    idx = [i for i in range(len(events)) if i not in skip]
    if any(events[i].kind != "stand_still" for i in idx):
        idx = [i for i in idx if events[i].kind != "stand_still"]
    idx.sort(key=lambda i: (-_SALIENCE.get(events[i].kind, 0), events[i].start))
    return sorted(idx[:limit], key=lambda i: events[i].start)


def summary(events: list[Event]) -> str:
    """One plain sentence for a clip (the index and the add-on show it)."""
    if not events:
        return "A person stands with no clear action."
    rng = _FirstChoice()
    return compose(events, chosen(events), rng, subject="a person").text


class _FirstChoice:
    """A stand-in generator that always takes the first (plainest) wording: summaries stay stable."""

    def choice(self, options):
        return options[0]

    def random(self) -> float:
        return 1.0


def captions(events: list[Event], n: int, seed: int = 0) -> list[Caption]:
    """Up to `n` different captions, each about a random subset of the events, reproducible by seed."""
    rng = np.random.default_rng(seed)
    pool = chosen(events, limit=len(events))
    if not pool:
        return [_assemble([("A person stands with no clear action.", None)], events)]
    out: dict[str, Caption] = {}
    for _ in range(n * 6):
        if len(out) >= n:
            break
        size = int(rng.integers(1, min(len(pool), 4) + 1))
        pick = sorted(rng.choice(pool, size=size, replace=False).tolist(), key=lambda i: events[i].start)
        cap = compose(events, pick, _Rng(rng))
        out.setdefault(cap.text, cap)
    return list(out.values())


class _Rng:
    """numpy's Generator with `random.choice`-like picking of list items."""

    def __init__(self, gen):
        self.gen = gen

    def choice(self, options):
        return options[int(self.gen.integers(len(options)))]

    def random(self) -> float:
        return float(self.gen.random())
