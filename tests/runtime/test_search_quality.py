"""Search quality with the shipped model (models/default) on held-out real clips: a caption finds
the clip it was written for, and explanations point at the limb the words name."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from runtime.index import LibraryIndex
from runtime.model import Bundle, default_bundle_path
from runtime.search import Searcher, explain
from training.data import bandai_clips, eval_caption, split_clips


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """Index of 100 Bandai-Namco test-split clips (never trained on), every content and style."""
    bundle = Bundle.load(default_bundle_path(), device="cpu")  # a missing bundle fails here, loudly
    clips = sorted(split_clips(bandai_clips(), "test"), key=lambda c: c.key)[::3][:100]
    lib = tmp_path_factory.mktemp("heldout")
    for c in clips:
        shutil.copy(c.path, lib / f"{c.key.split('/')[1]}.bvh")
    index = LibraryIndex.create(tmp_path_factory.mktemp("idx") / "index", bundle)
    report = index.update([lib], bundle)
    assert report.added == len(clips) and not report.failed
    return bundle, index, {c.key.split("/")[1]: c for c in clips}


def test_a_caption_finds_its_clip(held_out):
    bundle, index, clips = held_out
    searcher = Searcher(index, bundle)
    top1 = top5 = label_top1 = 0
    for label, clip in clips.items():
        hits = searcher.search(eval_caption(clip), k=5)
        names = [h.label for h in hits]
        top1 += names[0] == label
        top5 += label in names
        label_top1 += clips[names[0]].labels == clip.labels
    n = len(clips)
    # held-out figures for this model: see docs/RESULTS.md (R@5 with label relevance ~99%)
    assert label_top1 / n >= 0.6, label_top1 / n
    assert top5 / n >= 0.5, top5 / n
    assert top1 / n >= 0.15, top1 / n


def test_explanations_point_at_the_named_arm(held_out):
    bundle, index, clips = held_out
    searcher = Searcher(index, bundle)
    parts = Counter()
    for side in ("left", "right"):
        for label, clip in clips.items():
            if clip.labels[0] not in (f"raise-up-{side}-hand", f"wave-{side}-hand"):
                continue
            text = f"raise the {side} hand" if clip.labels[0].startswith("raise") else f"wave the {side} hand"
            hit = next(h for h in searcher.search(text, k=len(clips)) if h.label == label)
            e = explain(bundle, text, hit, index)
            word = next(w for w in e.words if w.word == side)
            parts[word.part in (f"shoulder_{side[0]}", f"elbow_{side[0]}")] += 1
            hand = next(w for w in e.words if w.word == "hand")
            parts[hand.part in (f"shoulder_{side[0]}", f"elbow_{side[0]}")] += 1
    assert sum(parts.values()) >= 20
    assert parts[True] / sum(parts.values()) >= 0.9, parts


def test_shipped_bundle_matches_its_manifest(capsys):
    """The committed bundle, re-evaluated with onnxruntime on the quick-check subset, reproduces the
    figures recorded in its manifest when it was exported."""
    from exporter.evaluate_bundle import main

    rc = main([str(default_bundle_path()), "--check", "--subset"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "bundle matches its manifest" in out and "bandai_test (64 clips)" in out
