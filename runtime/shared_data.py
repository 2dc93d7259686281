"""The project's real motion data (../shared/data): where it is, and extracting it into a cache.

The archives are read-only and never committed; each is extracted once into
`<cache>/data/<archive name>/` (atomically: a half-extracted folder is never taken for a whole
one). Locations come from the environment, so a user points them at their own copies:

    MOTION_SEARCH_DATA   the folder with the archives      (default: ../shared/data beside the repo)
    MOTION_SEARCH_CACHE  where extracted files and indexes go (default: .cache/ in the repo)
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

ARCHIVES = {
    "bandai-namco-1": "bandai-namco-1.tar.xz",
    "bandai-namco-2": "bandai-namco-2.tar.xz",
    "cmu-bvh": "cmu-bvh.tar.xz",
    "cmu-asfamc": "cmu-asfamc.tar.xz",
}


class DataNotFound(FileNotFoundError):
    """The shared data folder or one of its files is missing."""


def data_dir() -> Path:
    d = Path(os.environ.get("MOTION_SEARCH_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not d.is_dir():
        raise DataNotFound(
            f"motion data folder {d} not found: set MOTION_SEARCH_DATA to the folder holding "
            "bandai-namco-*.tar.xz, cmu-*.tar.xz and cmu-trials.csv")
    return d


def cache_dir() -> Path:
    d = Path(os.environ.get("MOTION_SEARCH_CACHE") or REPO_ROOT / ".cache")
    d.mkdir(parents=True, exist_ok=True)
    return d


def extracted(name: str) -> Path:
    """The folder holding archive `name` extracted (extracting it on first use)."""
    if name not in ARCHIVES:
        raise KeyError(f"unknown archive '{name}' (known: {', '.join(ARCHIVES)})")
    target = cache_dir() / "data" / name
    if (target / ".complete").exists():
        return target
    archive = data_dir() / ARCHIVES[name]
    if not archive.exists():
        raise DataNotFound(f"{archive} not found")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(tmp, filter="data")
        inner = tmp / name if (tmp / name).is_dir() else tmp
        (inner / ".complete").write_text(ARCHIVES[name] + "\n")
        if target.exists():  # a stale, incomplete extraction
            shutil.rmtree(target)
        os.replace(inner, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def bandai_files(dataset: int | None = None) -> list[Path]:
    """Bandai-Namco BVH files (dataset 1, 2, or both)."""
    out: list[Path] = []
    for n in (1, 2) if dataset is None else (dataset,):
        out.extend(sorted((extracted(f"bandai-namco-{n}") / "data").glob("*.bvh")))
    return out


_TRIAL = re.compile(r"(?:scaled_)?(\d{1,3})_(\d{1,3})(?:_scaled)?$")


def cmu_trial(path: str | os.PathLike) -> str | None:
    """The CMU trial id "SS_TT" of a file name (`02_01.bvh`, `scaled_131_01.bvh`, `001_08.bvh`), or None."""
    m = _TRIAL.search(Path(path).stem)
    return f"{int(m.group(1)):02d}_{int(m.group(2)):02d}" if m else None


@lru_cache(maxsize=1)
def cmu_trials() -> dict[str, tuple[str, float]]:
    """CMU's own one-line description and capture rate for each trial: {"02_01": ("walk", 120.0)}."""
    out: dict[str, tuple[str, float]] = {}
    with open(data_dir() / "cmu-trials.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["trial"]] = (row["description"].strip(), float(row["fps"]))
    return out


@lru_cache(maxsize=1)
def cmu_eval_only() -> frozenset[str]:
    """Trials reserved for evaluation: never trained on."""
    text = (data_dir() / "cmu-eval-only-trials.txt").read_text(encoding="utf-8")
    return frozenset(t.strip() for t in text.split() if t.strip())


def cmu_files() -> list[Path]:
    """CMU clips: every BVH conversion and every AMC (those without a skeleton fail on load)."""
    return sorted(extracted("cmu-bvh").rglob("*.bvh")) + sorted(extracted("cmu-asfamc").rglob("*.amc"))


def cmu_fps(path: str | os.PathLike) -> float | None:
    """The real capture rate of a CMU file, from cmu-trials.csv (the BVH conversions all claim 120).

    None outside the CMU archives, and for the iClone retargets: their publisher re-sampled
    them to 60 fps and the files say so.
    """
    parts = Path(path).parts
    if not any(p in ("cmu-bvh", "cmu-asfamc") for p in parts) or any(p.startswith("iclone-") for p in parts):
        return None
    trial = cmu_trial(path)
    entry = cmu_trials().get(trial) if trial else None
    return entry[1] if entry else None


def default_library() -> list[tuple[Path, float | None]]:
    """The demo library: all Bandai-Namco and CMU clips, each with its real frame rate if known."""
    clips: list[tuple[Path, float | None]] = [(p, None) for p in bandai_files()]
    clips += [(p, cmu_fps(p)) for p in cmu_files()]
    return clips
