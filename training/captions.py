"""Captions for labelled clips: many natural phrasings of (content, style), drawn anew each epoch.

The Bandai-Namco clips carry a content label (walk, wave-left-hand, bow, ...) and a style
label (active, elderly, ...). A caption is a subject, a verb phrase for the content and,
mostly, a phrase for the style, in one of several sentence shapes:

    "someone waves the left hand energetically", "An elderly person walks and turns left."
"""

from __future__ import annotations

import random
import re

SUBJECTS = ["a person", "someone", "a character", "a figure", "the person", "somebody", "a human", "the character"]

CONTENT: dict[str, list[str]] = {
    "walk": ["walks", "walks forward", "walks straight ahead", "is walking forward", "takes a few steps forward"],
    "walk-turn-left": ["walks and turns left", "walks forward and then turns to the left", "turns left while walking",
                       "walks, making a left turn", "walks and changes direction to the left"],
    "walk-turn-right": ["walks and turns right", "walks forward and then turns to the right",
                        "turns right while walking", "walks, making a right turn",
                        "walks and changes direction to the right"],
    "run": ["runs", "runs forward", "jogs forward", "is running", "runs ahead"],
    "dash": ["dashes forward", "sprints", "runs fast", "sprints forward", "dashes ahead at full speed"],
    "walk-back": ["walks backward", "walks backwards", "steps back several times", "moves backward on foot"],
    "walk-left": ["walks to the left", "walks toward the left", "walks leftward", "heads to the left on foot"],
    "walk-right": ["walks to the right", "walks toward the right", "walks rightward", "heads to the right on foot"],
    "wave-both-hands": ["waves both hands", "waves with both hands", "waves both arms", "waves hello with both hands",
                        "raises both hands and waves them"],
    "wave-left-hand": ["waves the left hand", "waves with the left hand", "waves hello with the left hand",
                       "raises the left hand and waves", "greets someone by waving the left hand"],
    "wave-right-hand": ["waves the right hand", "waves with the right hand", "waves hello with the right hand",
                        "raises the right hand and waves", "greets someone by waving the right hand"],
    "raise-up-both-hands": ["raises both hands", "raises both hands up", "lifts both arms up",
                            "puts both hands up in the air", "raises both arms above the head"],
    "raise-up-left-hand": ["raises the left hand", "raises the left hand up", "lifts the left arm up",
                           "puts the left hand up", "raises the left arm into the air"],
    "raise-up-right-hand": ["raises the right hand", "raises the right hand up", "lifts the right arm up",
                            "puts the right hand up", "raises the right arm into the air"],
    "bow": ["bows", "bows politely", "takes a bow", "bends forward in a bow", "bows the upper body"],
    "bye": ["waves goodbye", "says goodbye with a wave", "waves a hand to say goodbye", "waves farewell"],
    "byebye": ["waves bye-bye", "waves goodbye eagerly", "says bye-bye with a big wave", "keeps waving goodbye"],
    "guide": ["gestures to show the way", "guides someone with a hand gesture", "shows someone the way",
              "points the way with an arm"],
    "respond": ["raises a hand to respond", "responds by raising a hand", "answers with a raised hand",
                "puts a hand up to reply"],
    "call": ["calls out to someone", "cups the hands around the mouth and calls out", "shouts to someone far away",
             "calls out with hands at the mouth"],
    "punch": ["punches", "throws a punch", "punches forward", "strikes with a fist"],
    "kick": ["kicks", "kicks forward", "does a kick", "kicks with a leg"],
    "slash": ["slashes", "makes a slashing motion", "swings an arm as if slashing with a sword", "slashes with a blade"],
    "dance-long": ["dances", "performs a dance", "dances for a while", "does a long dance"],
    "dance-short": ["dances briefly", "does a short dance", "performs a short dance move", "dances a little"],
}

# style -> (adverbial phrases, subject phrases); None means "no style words" (plain captions)
STYLE: dict[str, tuple[list[str | None], list[str]]] = {
    "normal": ([None, None, "normally", "in a normal way", "casually"], []),
    "active": (["energetically", "actively", "with a lot of energy", "vigorously"], ["an energetic person"]),
    "elderly": (["like an elderly person", "slowly like an old person", "in an elderly way"],
                ["an elderly person", "an old person"]),
    "old": (["like an old person", "slowly like an elderly person", "in an elderly way"],
            ["an old person", "an elderly person"]),
    "exhausted": (["tiredly", "wearily", "as if exhausted", "in an exhausted way"], ["an exhausted person"]),
    "tired": (["tiredly", "wearily", "as if tired", "sluggishly"], ["a tired person"]),
    "feminine": (["in a feminine way", "gracefully", "with a feminine style"], []),
    "masculine": (["in a masculine way", "in a manly style", "with a masculine attitude"], []),
    "masculinity": (["in a masculine way", "in a manly style", "with a masculine attitude"], []),
    "youthful": (["youthfully", "in a youthful way", "with youthful energy", "in a lively, young way"],
                 ["a young person"]),
    "happy": (["happily", "cheerfully", "in a happy mood"], ["a happy person"]),
    "sad": (["sadly", "gloomily", "in a sad way"], ["a sad person"]),
    "angry": (["angrily", "furiously", "in an angry way"], ["an angry person"]),
    "proud": (["proudly", "with confidence", "in a proud manner"], ["a proud person"]),
    "not-confident": (["timidly", "hesitantly", "without confidence", "shyly"], ["a timid person"]),
    "childish": (["childishly", "like a child", "in a childish way"], ["a childlike person"]),
    "musical": (["theatrically", "like in a musical", "in a musical style"], []),
    "giant": (["like a giant", "heavily like a giant", "in a heavy, lumbering way"], ["a giant"]),
    "chimpira": (["like a thug", "with a swagger", "in a thuggish way"], ["a thug"]),
}


def compose(content: str, style: str, rng: random.Random) -> str:
    """One caption for a (content, style) clip."""
    verb = rng.choice(CONTENT[content])
    adverbs, subjects = STYLE[style]
    adverb = rng.choice(adverbs)
    if subjects and rng.random() < 0.35:
        text = f"{rng.choice(subjects)} {verb}"
    elif adverb is None:
        text = f"{rng.choice(SUBJECTS)} {verb}"
    else:
        text = f"{rng.choice(SUBJECTS)} {verb} {adverb}"
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.4:
        text += "."
    return text


def canonical(content: str, style: str) -> str:
    """The plainest caption for a label (used where one fixed text per label is wanted)."""
    adverbs, _ = STYLE[style]
    adverb = next((a for a in adverbs if a), None) if style != "normal" else None
    return f"a person {CONTENT[content][0]}" + (f" {adverb}" if adverb else "")


_SIDE = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")
_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def mirror_caption(text: str) -> str:
    """The caption of the left/right mirror image: "left" and "right" swapped."""
    return _SIDE.sub(lambda m: _SWAP[m.group(1)], text)


# A both-hands clip also shows the one-hand action: "waves the left hand" is true of it.
SUBSUMES: dict[str, tuple[str, ...]] = {
    "wave-both-hands": ("wave-left-hand", "wave-right-hand"),
    "raise-up-both-hands": ("raise-up-left-hand", "raise-up-right-hand"),
}


def caption_true_of(caption_group: str, clip_group: str) -> bool:
    """Whether a caption written for `caption_group` ("content|style", or a description) is also
    a true description of a clip of `clip_group`. Such pairs are not negatives in training."""
    if caption_group == clip_group:
        return True
    a, b = caption_group.split("|"), clip_group.split("|")
    if len(a) != 2 or len(b) != 2 or a[1] != b[1]:
        return False
    return a[0] in SUBSUMES.get(b[0], ())


def bandai_labels(stem: str) -> tuple[str, str]:
    """(content, style) from a Bandai file name `dataset-N_<content>_<style>_<take>`."""
    parts = stem.split("_")
    if len(parts) != 4 or parts[1] not in CONTENT or parts[2] not in STYLE:
        raise ValueError(f"'{stem}' is not a Bandai-Namco clip name with known labels")
    return parts[1], parts[2]
