"""Writes training/splits.json: the train/val/test split, committed so results stay comparable.

    ./dev py -m training.make_splits        # only needed if the data sets change

Bandai-Namco: split by take (one file = one recording), stratified by (dataset, content, style):
about 80/10/10. CMU: the trials in cmu-eval-only-trials.txt are the test set and nothing else;
of the other trials 90% train, 10% validation. A trial's conversions (several rigs) share a side.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict

from runtime import shared_data

from .data import SPLITS_FILE, bandai_clips, cmu_clips


def make_splits(seed: int = 7) -> dict[str, dict[str, list[str]]]:
    rng = random.Random(seed)
    bandai: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    by_label = defaultdict(list)
    for c in bandai_clips():
        by_label[(c.key.split("/")[0], *c.labels)].append(c.group)
    singles = []
    for label in sorted(by_label):
        groups = sorted(set(by_label[label]))
        rng.shuffle(groups)
        if len(groups) < 5:  # too few takes to stratify (Bandai-1): pooled below
            singles += groups
            continue
        n_test = n_val = max(1, round(0.1 * len(groups)))
        bandai["test"] += groups[:n_test]
        bandai["val"] += groups[n_test: n_test + n_val]
        bandai["train"] += groups[n_test + n_val:]
    rng.shuffle(singles)
    n = max(1, round(0.1 * len(singles)))
    bandai["test"] += singles[:n]
    bandai["val"] += singles[n: 2 * n]
    bandai["train"] += singles[2 * n:]

    eval_only = shared_data.cmu_eval_only()
    trials = sorted({c.group for c in cmu_clips()})
    test = [t for t in trials if t.split("/", 1)[1] in eval_only]
    rest = [t for t in trials if t.split("/", 1)[1] not in eval_only]
    rng.shuffle(rest)
    n_val = max(1, round(0.1 * len(rest)))
    cmu = {"train": sorted(rest[n_val:]), "val": sorted(rest[:n_val]), "test": test}
    return {"bandai": {k: sorted(v) for k, v in bandai.items()}, "cmu": cmu}


def main() -> None:
    splits = make_splits()
    SPLITS_FILE.write_text(json.dumps(splits, indent=1) + "\n")
    for src, parts in splits.items():
        print(src, {k: len(v) for k, v in parts.items()})


if __name__ == "__main__":
    main()
