"""Training data: clips with captions, their joint-angle features (cached), splits and batches.

Sources:
- Bandai-Namco 1 and 2 (`bandai_clips`): captions composed from content x style labels, drawn
  anew each time a clip is used (`training.captions`).
- CMU (`cmu_clips`): CMU's own trial descriptions; trials in cmu-eval-only-trials.txt never
  reach training or validation.
- Layouts users bring: HumanML3D (`humanml3d_clips`), KIT-ML (`kitml_clips`) and a folder of
  motion files with a captions CSV or JSONL (`folder_clips`).

Features are the 29 joint-angle channels per frame from `runtime` (the one implementation),
computed once per clip and cached in `<cache>/features/` keyed by the runtime's source code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runtime import shared_data
from runtime.errors import MotionSearchError
from runtime.motion import (KIT_JOINTS, MIRROR_PERM, MIRROR_SIGN, ChannelStats, clip_angles, load_motion, map_rig,
                            motion_from_positions, motion_windows, window_angles)

from .captions import bandai_labels, compose, mirror_caption

SPLITS_FILE = Path(__file__).resolve().parent / "splits.json"
PATCH = 16  # frames per patch column: batches are padded to a multiple of it


@dataclass(frozen=True)
class Clip:
    """A training or evaluation clip.

    Attributes:
        key: unique and stable ("bandai-2/dataset-2_walk_normal_001", "cmu/daz-przestr/02/02_01").
        path: motion file (.bvh/.amc) or joint-position array (.npy).
        source: "bandai", "cmu", "humanml3d", "kit", "folder".
        group: the recording it comes from; splits never separate a group.
        fps: the real frame rate when the file's is wrong or absent.
        labels: (content, style) for labelled data, else None.
        captions: fixed captions (descriptions, annotations); empty when composed from labels.
        layout: for .npy: "smpl22" (HumanML3D) or "kit21" (KIT-ML).
    """

    key: str
    path: str
    source: str
    group: str
    fps: float | None = None
    labels: tuple[str, str] | None = None
    captions: tuple[str, ...] = ()
    layout: str = ""

    def caption(self, rng: random.Random) -> str:
        if self.labels is not None:
            return compose(*self.labels, rng)
        return rng.choice(self.captions)

    def label_key(self) -> str:
        """What makes two clips the same for the label-relevance metric and false-negative masking."""
        return "|".join(self.labels) if self.labels else (self.captions[0].lower() if self.captions else self.key)


# --------------------------------------------------------------------------------------- sources


def bandai_clips() -> list[Clip]:
    out = []
    for n in (1, 2):
        for path in shared_data.bandai_files(n):
            out.append(Clip(key=f"bandai-{n}/{path.stem}", path=str(path), source="bandai", group=f"bandai-{n}/{path.stem}",
                            labels=bandai_labels(path.stem)))
    return out


CMU_PREFERENCE = ("mb-fairmotion", "mb-tmoco", "daz-przestr", "daz-acrnn", "max-koyama", "daz-scaled-beemsoft",
                  "iclone-retargeted-dragonforged", "cyun9601", "fairmotion", "mocap6")


def cmu_clips() -> list[Clip]:
    """Every CMU file with a description (conversions of one trial share its group)."""
    trials = shared_data.cmu_trials()
    out = []
    for path in shared_data.cmu_files():
        trial = shared_data.cmu_trial(path)
        desc = trials.get(trial, ("", 0))[0] if trial else ""
        if not desc:
            continue
        parts = path.parts
        archive = max(i for i, p in enumerate(parts) if p in ("cmu-bvh", "cmu-asfamc"))
        rel = Path(*parts[archive + 1:])
        out.append(Clip(key=f"cmu/{rel.with_suffix('')}", path=str(path), source="cmu", group=f"cmu/{trial}",
                        fps=shared_data.cmu_fps(path), captions=(desc,)))
    return out


def one_per_group(clips: list[Clip]) -> list[Clip]:
    """One clip per recording (CMU trials come in several conversions): the preferred conversion."""
    def rank(c: Clip) -> tuple[int, str]:
        parts = Path(c.path).parts
        return (min((CMU_PREFERENCE.index(p) for p in parts if p in CMU_PREFERENCE), default=99), c.key)
    best: dict[str, Clip] = {}
    for c in sorted(clips, key=rank):
        best.setdefault(c.group, c)
    return sorted(best.values(), key=lambda c: c.key)


def humanml3d_clips(root: str | os.PathLike, split: str | None = None) -> list[Clip]:
    """HumanML3D layout: new_joints/<id>.npy (frames, 22, 3) at 20 fps, texts/<id>.txt with lines
    `caption#tokens#from#to`, and split lists train.txt/val.txt/test.txt."""
    return _joints_and_texts(Path(root), split, "humanml3d", "smpl22", 20.0)


def kitml_clips(root: str | os.PathLike, split: str | None = None) -> list[Clip]:
    """KIT-ML in HumanML3D's layout: new_joints/<id>.npy (frames, 21, 3) at 12.5 fps."""
    return _joints_and_texts(Path(root), split, "kit", "kit21", 12.5)


def _joints_and_texts(root: Path, split: str | None, source: str, layout: str, fps: float) -> list[Clip]:
    ids: list[str]
    if split is not None:
        listing = root / f"{split}.txt"
        if not listing.exists():
            raise FileNotFoundError(f"{listing}: split list not found")
        ids = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        ids = sorted(p.stem for p in (root / "new_joints").glob("*.npy"))
    out = []
    for cid in ids:
        joints, texts = root / "new_joints" / f"{cid}.npy", root / "texts" / f"{cid}.txt"
        if not joints.exists() or not texts.exists():
            continue  # HumanML3D's lists name clips that some copies lack
        caps = tuple(c for c in (line.split("#", 1)[0].strip() for line in texts.read_text().splitlines()) if c)
        if caps:
            out.append(Clip(key=f"{source}/{cid}", path=str(joints), source=source, group=f"{source}/{cid}",
                            fps=fps, captions=caps, layout=layout))
    return out


def folder_clips(root: str | os.PathLike, captions_file: str | os.PathLike | None = None) -> list[Clip]:
    """Motion files in a folder with captions in `captions.csv` (columns file, caption; several rows
    per file allowed) or `captions.jsonl` ({"file": ..., "caption": ... or "captions": [...]})."""
    root = Path(root)
    if captions_file is None:
        found = [p for p in (root / "captions.csv", root / "captions.jsonl") if p.exists()]
        if not found:
            raise FileNotFoundError(f"{root}: no captions.csv or captions.jsonl")
        captions_file = found[0]
    captions_file = Path(captions_file)
    caps: dict[str, list[str]] = {}
    if captions_file.suffix == ".csv":
        with open(captions_file, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                caps.setdefault(row["file"], []).append(row["caption"].strip())
    else:
        for n, line in enumerate(captions_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                texts = item["captions"] if "captions" in item else [item["caption"]]
                caps.setdefault(item["file"], []).extend(str(t).strip() for t in texts)
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{captions_file}:{n}: expected {{\"file\": ..., \"caption\": ...}} ({e})") from None
    out = []
    for name, texts in sorted(caps.items()):
        path = root / name
        if not path.exists():
            raise FileNotFoundError(f"{captions_file}: '{name}' has captions but no file {path}")
        texts = [t for t in texts if t]
        if texts:
            out.append(Clip(key=f"folder/{name}", path=str(path), source="folder", group=f"folder/{name}",
                            captions=tuple(texts)))
    return out


# -------------------------------------------------------------------------------------- features


def clip_motion(clip: Clip):
    """The canonical `runtime.motion.Motion` of a clip (files through the runtime's readers)."""
    if clip.path.endswith(".npy"):
        pos = np.load(clip.path, allow_pickle=False)
        if clip.layout == "kit21":
            if pos.ndim != 3 or pos.shape[1:] != (21, 3):
                raise MotionSearchError(f"{clip.path}: KIT-ML joints must be (frames, 21, 3), got {pos.shape}")
            pos = map_rig(KIT_JOINTS).apply(pos / 1000.0)  # KIT-ML stores millimetres
        return motion_from_positions(pos, clip.fps or 20.0, clip.path)
    return load_motion(clip.path, fps=clip.fps)


def _features_of(clip: Clip) -> tuple[str, np.ndarray | None, str]:
    try:
        return clip.key, clip_angles(clip_motion(clip).positions), ""
    except (MotionSearchError, OSError, ValueError) as e:
        return clip.key, None, str(e)


def features_version() -> str:
    """A hash of the runtime code that turns files into angles: a change invalidates the cache."""
    import runtime

    root = Path(runtime.__file__).parent
    h = hashlib.sha256()
    for name in ["motion/features.py", "motion/canonical.py", "motion/kinematics.py", "motion/rigs.py",
                 "motion/rig_shape.py", "motion/skeleton.py", "io/bvh.py", "io/amc.py", "io/animation.py"]:
        h.update((root / name).read_bytes())
    return h.hexdigest()[:12]


def load_features(clips: list[Clip], name: str, workers: int = 2, log=print) -> dict[str, np.ndarray]:
    """Per-frame channels (F, 29) for each clip, from `<cache>/features/<name>-<version>.npz`
    (computed for the clips it lacks, then saved). Clips that fail to load are reported once,
    remembered as failed, and left out."""
    path = shared_data.cache_dir() / "features" / f"{name}-{features_version()}.npz"
    have: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            keys, offsets, angles = z["keys"], z["offsets"], z["angles"]
            have = {str(k): angles[offsets[i]: offsets[i + 1]] for i, k in enumerate(keys)}
            if "failed_keys" in z:
                failed = dict(zip(map(str, z["failed_keys"]), map(str, z["failed_errors"])))
    missing = [c for c in clips if c.key not in have and c.key not in failed]
    if missing:
        log(f"computing joint angles for {len(missing)} clips ({name}) ...")
        with mp.get_context("fork").Pool(max(1, workers)) as pool:
            results = pool.map(_features_of, missing, chunksize=16)
        for key, angles, error in results:
            if angles is None:
                failed[key] = error
                log(f"  skipped {error}")
            else:
                have[key] = angles
        keys = sorted(have)
        offsets = np.cumsum([0] + [len(have[k]) for k in keys])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), offsets=offsets,
                 angles=np.concatenate([have[k] for k in keys]) if keys else np.zeros((0, 29), np.float32),
                 failed_keys=np.array(sorted(failed), dtype=str),
                 failed_errors=np.array([failed[k] for k in sorted(failed)], dtype=str))
        os.replace(tmp, path)
    return {c.key: have[c.key] for c in clips if c.key in have}


def describer_version() -> str:
    """The describer's code and what feeds it (the motion readers): a change invalidates the event cache."""
    from runtime import describe

    return hashlib.sha256((features_version() + describe.version()).encode()).hexdigest()[:12]


def _events_of(clip: Clip) -> tuple[str, list | None, str]:
    from runtime.describe import describe

    try:
        motion = clip_motion(clip)
        return clip.key, [e.to_json(motion.fps) for e in describe(motion).events], ""
    except (MotionSearchError, OSError, ValueError) as e:
        return clip.key, None, str(e)


def load_events(clips: list[Clip], name: str, workers: int = 2, log=print) -> dict[str, list]:
    """The describer's events (runtime.describe.Event) of each clip, cached in
    `<cache>/describer/<name>-<version>.json`; clips it cannot describe are left out."""
    from runtime.describe import Event

    path = shared_data.cache_dir() / "describer" / f"{name}-{describer_version()}.json"
    have: dict[str, list | None] = json.loads(path.read_text()) if path.exists() else {}
    missing = [c for c in clips if c.key not in have]
    if missing:
        log(f"describing {len(missing)} clips ({name}) ...")
        with mp.get_context("fork").Pool(max(1, workers)) as pool:
            for key, events, _ in pool.map(_events_of, missing, chunksize=16):
                have[key] = events
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(have))
        os.replace(tmp, path)
    return {c.key: [Event.from_json(e) for e in have[c.key]] for c in clips if have.get(c.key)}


# ----------------------------------------------------------------------------------------- splits


def load_splits(path: Path = SPLITS_FILE) -> dict[str, dict[str, list[str]]]:
    return json.loads(path.read_text())


def split_clips(clips: list[Clip], split: str, splits: dict | None = None) -> list[Clip]:
    """The clips whose group belongs to `split` ("train", "val", "test") of their source."""
    splits = splits or load_splits()
    groups = {src: set(parts.get(split, [])) for src, parts in splits.items()}
    return [c for c in clips if c.group in groups.get(c.source, set())]


# ------------------------------------------------------------------------------------ train batches


@dataclass
class Batch:
    angles: np.ndarray  # (B, T, 29) z-scored, zero on padding; T a multiple of PATCH
    frame_mask: np.ndarray  # (B, T) bool
    captions: list[str]
    groups: list[str]  # same group = same meaning (false negatives are not pushed apart)
    described: list = field(default_factory=list)  # per item: the describer's Caption (word links) or None


@dataclass
class TrainSet:
    """Clips with features; draws windows, mirror augmentation and captions: the clip's own
    (labels, descriptions) or, for a share `describer_share` of draws, the describer's caption of
    the drawn window (with word links for grounding)."""

    clips: list[Clip]
    features: dict[str, np.ndarray]
    stats: ChannelStats
    window: int = 224
    mirror_prob: float = 0.5
    events: dict[str, list] = field(default_factory=dict)  # clip key -> runtime.describe Events
    describer_share: float = 0.0
    lengths: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.clips = [c for c in self.clips if c.key in self.features]
        self.lengths = np.array([min(len(self.features[c.key]), self.window) for c in self.clips])

    def sample(self, i: int, rng: random.Random) -> tuple[np.ndarray, str, str, object]:
        """(z-scored window, caption, group, the describer's Caption with links or None)."""
        from .described import window_caption

        clip = self.clips[i]
        angles = self.features[clip.key]
        start = rng.randrange(0, len(angles) - self.window + 1) if len(angles) > self.window else 0
        win = window_angles(angles, start, self.window)
        mirrored = rng.random() < self.mirror_prob
        described = None
        if self.describer_share > 0 and clip.key in self.events and rng.random() < self.describer_share:
            described = window_caption(self.events[clip.key], start, len(win), rng, mirrored)
        caption, group = (described.text if described else clip.caption(rng)), clip.label_key()
        if mirrored:
            win = win[:, MIRROR_PERM] * MIRROR_SIGN
            group = mirror_caption(group)
            if described is None:
                caption = mirror_caption(caption)
        return self.stats.normalize(win), caption, group, described

    def batches(self, batch_size: int, rng: random.Random):
        """One epoch of batches; clips of similar length share a batch (less padding), the order of
        batches is random."""
        order = list(range(len(self.clips)))
        rng.shuffle(order)
        chunk = batch_size * 16
        batches = []
        for s in range(0, len(order), chunk):
            part = sorted(order[s: s + chunk], key=lambda i: self.lengths[i])
            batches += [part[k: k + batch_size] for k in range(0, len(part), batch_size)]
        batches = [b for b in batches if len(b) == batch_size] or batches
        rng.shuffle(batches)
        for idx in batches:
            yield self.collate([self.sample(i, rng) for i in idx])

    @staticmethod
    def collate(items: list[tuple]) -> Batch:
        longest = max(len(it[0]) for it in items)
        t = int(np.ceil(longest / PATCH) * PATCH)
        angles = np.zeros((len(items), t, items[0][0].shape[1]), np.float32)
        mask = np.zeros((len(items), t), bool)
        for k, it in enumerate(items):
            angles[k, : len(it[0])] = it[0]
            mask[k, : len(it[0])] = True
        return Batch(angles, mask, [it[1] for it in items], [it[2] for it in items],
                     [it[3] if len(it) > 3 else None for it in items])


# ------------------------------------------------------------------------------------- evaluation


@dataclass
class EvalSet:
    """A held-out set: one fixed caption per clip and the clip's windows.

    `window_clip[k]` is the clip of window k; a clip's score for a text is the best of its windows.
    """

    name: str
    clips: list[Clip]
    captions: list[str]
    angles: np.ndarray  # (W, window, 29) z-scored
    frame_mask: np.ndarray  # (W, window)
    window_clip: np.ndarray  # (W,)

    @property
    def label_keys(self) -> list[str]:
        return [c.label_key() for c in self.clips]


def eval_caption(clip: Clip) -> str:
    """The fixed test caption of a clip: a phrasing drawn with the clip's own seed (so clips with
    the same labels usually read differently, as captions by different people would)."""
    rng = random.Random(zlib.crc32(clip.key.encode()))
    return clip.caption(rng)


def make_eval_set(name: str, clips: list[Clip], features: dict[str, np.ndarray], stats: ChannelStats,
                  window: int = 224, hop: int = 112) -> EvalSet:
    clips = [c for c in clips if c.key in features]
    angles, masks, owner = [], [], []
    for k, c in enumerate(clips):
        w = motion_windows(features[c.key], window, hop)
        angles.append(stats.normalize(w.angles, w.mask))
        masks.append(w.mask)
        owner += [k] * len(w.start)
    return EvalSet(name, clips, [eval_caption(c) for c in clips], np.concatenate(angles), np.concatenate(masks),
                   np.array(owner))
