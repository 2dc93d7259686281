"""Evaluate a model bundle with onnxruntime (the runtime's own encoders and MaxSim) on the test sets,
and check it against the figures its manifest records.

    ./dev py exporter/evaluate_bundle.py models/default            # print the figures
    ./dev py exporter/evaluate_bundle.py models/default --check    # compare with manifest.json (exit 1 if off)
    ./dev py exporter/evaluate_bundle.py models/default --check --subset   # the quick check on 64 clips per set
    ./dev py exporter/evaluate_bundle.py models/default --freeform val     # the hand-written free-form queries

The test sets and captions are the training code's (training/splits.json, fixed captions per
clip); the scoring is the runtime's: torch encodes nothing here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.model import Bundle  # noqa: E402
from training.bundle_eval import RAW, bundle_similarity, freeform_figures, grounding_figures  # noqa: E402

SUBSET = 64  # clips per test set in the quick check (the first by key)
PROTOCOLS = ("all", "diagonal", "batch32", "label")


def test_sets(window: int, hop: int, subset: int | None = None):
    """The held-out sets with raw (not z-scored) windows: the bundle normalises itself."""
    import training  # noqa: F401  (only for the split, captions and feature cache)
    from training.data import bandai_clips, cmu_clips, load_features, make_eval_set, one_per_group, split_clips

    clips = bandai_clips() + cmu_clips()
    sets = {"bandai_test": sorted([c for c in split_clips(clips, "test") if c.source == "bandai"], key=lambda c: c.key),
            "cmu_eval": one_per_group([c for c in split_clips(clips, "test") if c.source == "cmu"])}
    features = load_features([c for v in sets.values() for c in v], "all")
    out = []
    for name, members in sets.items():
        members = [c for c in members if c.key in features]
        if subset:
            members = members[:subset]
        out.append(make_eval_set(name, members, features, RAW, window, hop))
    return out


def set_figures(bundle: Bundle, subset: int | None = None, protocols=PROTOCOLS) -> dict:
    """{test set: {protocol: metrics, "clips": n}} for a loaded bundle."""
    from training.metrics import protocol_metrics

    figures = {}
    for es in test_sets(bundle.window, bundle.hop, subset):
        labels = es.label_keys if any(c.labels for c in es.clips) else None
        m = protocol_metrics(bundle_similarity(bundle, es), es.captions, labels)
        figures[es.name] = {p: m[p] for p in protocols if p in m} | {"clips": len(es.clips)}
    return figures


def evaluate_bundle(path: str | Path, protocols=PROTOCOLS, subset: bool = True) -> dict:
    """Figures of a bundle on the full test sets (and, with `subset`, on the quick-check subset)."""
    bundle = Bundle.load(path, device="cpu")
    out = set_figures(bundle, None, protocols)
    if subset:
        out["subset"] = set_figures(bundle, SUBSET, protocols) | {"clips_per_set": SUBSET}
    return out


def compare(expected: dict, actual: dict) -> list[str]:
    """Differences larger than one query's worth of recall (ties may flip across CPUs)."""
    problems = []
    for set_name, protos in actual.items():
        if not isinstance(protos, dict) or set_name not in expected:
            continue
        n = protos.get("clips") or 1
        for proto, figs in protos.items():
            if not isinstance(figs, dict):
                continue
            for key, value in figs.items():
                want = expected[set_name].get(proto, {}).get(key)
                if want is None:
                    problems.append(f"{set_name}/{proto}/{key}: not in the manifest")
                    continue
                tol = 1.0 if key.endswith("MedR") else 100.0 / n + 1e-6
                if abs(value - want) > tol:
                    problems.append(f"{set_name}/{proto}/{key}: {value:.2f} now, {want:.2f} in the manifest")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default="models/default")
    parser.add_argument("--check", action="store_true", help="compare with the figures in manifest.json")
    parser.add_argument("--subset", action="store_true", help=f"only the first {SUBSET} clips of each test set")
    parser.add_argument("--freeform", choices=("val", "test"), default=None,
                        help="only the hand-written free-form queries of this split")
    parser.add_argument("--grounding", choices=("val", "test"), default=None,
                        help="where the words of this split's free-form queries land, against the motion")
    args = parser.parse_args(argv)
    if args.grounding:
        for k, v in grounding_figures(Bundle.load(args.bundle, device="cpu"), args.grounding).items():
            print(f"{k}: {v}")
        return 0
    if args.freeform:
        f = freeform_figures(Bundle.load(args.bundle, device="cpu"), args.freeform)
        print(f"free-form {args.freeform} ({f['queries']} queries, {f['clips']} clips): R@1 {f['R@1']:.2f} "
              f"R@5 {f['R@5']:.2f} R@10 {f['R@10']:.2f} MedR {f['MedR']:.1f}")
        return 0
    manifest = json.loads((Path(args.bundle) / "manifest.json").read_text())
    actual = set_figures(Bundle.load(args.bundle, device="cpu"), SUBSET if args.subset else None)
    expected = manifest.get("evaluation", {})
    expected = expected.get("subset", {}) if args.subset else expected
    for set_name, figs in actual.items():
        if isinstance(figs, dict) and "all" in figs:
            a = figs["all"]
            print(f"{set_name} ({figs['clips']} clips): t2m R@1 {a['t2m_R@1']:.2f} R@5 {a['t2m_R@5']:.2f} "
                  f"R@10 {a['t2m_R@10']:.2f} MedR {a['t2m_MedR']:.1f}; m2t R@1 {a['m2t_R@1']:.2f}")
    if args.check:
        if not expected:
            print("the manifest holds no evaluation figures to check against")
            return 1
        problems = compare(expected, actual)
        for p in problems:
            print("MISMATCH", p)
        print("bundle matches its manifest" if not problems else f"{len(problems)} figures differ from the manifest")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
