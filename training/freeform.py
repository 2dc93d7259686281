"""The hand-written free-form query set: sentences the way animators type them, with the clips
each one is about, for the validation and test splits (training/freeform/queries.tsv).

Written by hand before any tuning, never generated from the describer or the caption templates,
and never trained on: checkpoints are chosen on its `val` part, its `test` part is reported.
A relevant clip is named by its label (`bandai:<content>` or `bandai:<content>:<style>`) or its
CMU trial (`cmu:SS_TT`); every clip of the split that matches is relevant. An optional fourth column
names the kind of a sentence written to test one thing: `style` (how a motion is done: "an angry
run") or `speed` ("sprint at top speed"); those are reported as rows of their own, and the figures
comparable with earlier reports are those of the sentences without a kind (`KINDS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

QUERIES_FILE = Path(__file__).resolve().parent / "freeform" / "queries.tsv"


@dataclass(frozen=True)
class FreeQuery:
    split: str
    sentence: str
    relevant: tuple[str, ...]  # "bandai:wave-right-hand", "bandai:run:elderly", "cmu:13_39"
    line: int
    kind: str = ""  # "", "style" or "speed" (see KINDS)


KINDS = ("", "style", "speed")


def load_queries(split: str | None = None, path: Path = QUERIES_FILE) -> list[FreeQuery]:
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cols = raw.split("\t")
        if len(cols) not in (3, 4) or cols[0] not in ("val", "test") or not cols[2].strip():
            raise ValueError(f"{path}:{n}: expected 'val|test<TAB>relevant<TAB>sentence[<TAB>kind]'")
        kind = cols[3].strip() if len(cols) == 4 else ""
        if kind not in KINDS:
            raise ValueError(f"{path}:{n}: kind '{kind}' is not one of {', '.join(k for k in KINDS if k)}")
        specs = tuple(s.strip() for s in cols[1].split(";") if s.strip())
        for s in specs:
            if not (s.startswith("bandai:") and 2 <= len(s.split(":")) <= 3) and not (
                    s.startswith("cmu:") and len(s.split(":")) == 2):
                raise ValueError(f"{path}:{n}: '{s}' is not bandai:<content>[:<style>] or cmu:<trial>")
        if cols[0] == split or split is None:
            out.append(FreeQuery(cols[0], cols[2].strip(), specs, n, kind))
    return out


def matches(spec: str, clip) -> bool:
    """Whether a training.data.Clip is one that `spec` names."""
    kind, _, rest = spec.partition(":")
    if kind == "cmu":
        return clip.source == "cmu" and clip.group == f"cmu/{rest}"
    if clip.source != "bandai" or not clip.labels:
        return False
    content, _, style = rest.partition(":")
    return clip.labels[0] == content and (not style or clip.labels[1] == style)


def split_pool(split: str):
    """The clips a free-form query of `split` is searched among: the split's Bandai-Namco clips and
    one conversion of each of its CMU trials."""
    import training  # noqa: F401
    from training.data import bandai_clips, cmu_clips, one_per_group, split_clips

    clips = split_clips(bandai_clips() + cmu_clips(), split)
    return sorted([c for c in clips if c.source == "bandai"], key=lambda c: c.key) + \
        one_per_group([c for c in clips if c.source == "cmu"])


def relevance(queries: list[FreeQuery], clips, strict: bool = True) -> np.ndarray:
    """(Q, C) bool; raises ValueError (when strict) for a query naming no clip of the pool (a typo or
    a wrong split)."""
    rel = np.array([[any(matches(s, c) for s in q.relevant) for c in clips] for q in queries], bool)
    for q in queries if strict else ():
        for s in q.relevant:
            if not any(matches(s, c) for c in clips):
                raise ValueError(f"{QUERIES_FILE.name}:{q.line}: '{s}' names no {q.split} clip")
    return rel


def answerable(queries: list[FreeQuery], clips) -> list[FreeQuery]:
    """The queries with at least one relevant clip in `clips` (a pool cut down for a smoke run)."""
    return [q for q in queries if any(matches(s, c) for s in q.relevant for c in clips)]


def freeform_metrics(sim: np.ndarray, rel: np.ndarray) -> dict:
    """R@1/5/10 (a relevant clip among the top k), median rank of the first relevant clip, in percent
    / ranks, over the queries (rows of sim and rel)."""
    order = np.argsort(-sim, axis=1, kind="stable")
    hit = np.take_along_axis(rel, order, axis=1)
    first = hit.argmax(axis=1) + 1
    out = {f"R@{k}": float(100.0 * np.mean(first <= k)) for k in (1, 5, 10)}
    out["MedR"] = float(np.median(first))
    out["queries"] = int(len(first))
    return out
