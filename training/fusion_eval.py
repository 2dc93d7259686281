"""Fused search (runtime/search/fusion.py) measured on the hand-written free-form queries, the
Bandai-Namco label protocol, rare actions and hubs: the figures of docs/RESULTS.md's "Fused search"
section and docs/fusion.json.

    ./dev py training/fusion_eval.py models/default                    # the report (about 2 minutes)
    ./dev py training/fusion_eval.py models/default --sweep            # + the weight sweep on val
    ./dev py training/fusion_eval.py models/default --rare IDX         # rare actions over a whole-library index

`--rare` searches an index of the whole Bandai-Namco library (`python -m runtime index
.cache/data/bandai-namco-1/data .cache/data/bandai-namco-2/data --index IDX`) with the hand-written
sentences of training/freeform/rare_actions.tsv, fused and MaxSim alone (exact search), and
reports the rank of the first clip of the right content.

Every clip's description vector is made as an index makes it (runtime.index.descriptions: the
describer's summary, captions and stretch summaries through the bundle's sentence encoder), and
the scores are fused with the runtime's own `fuse`. The weight and the choice of texts were chosen
on the validation queries (`--sweep` prints that choice again: the best mean of R@1/5/10, ties to
the better R@1); the test queries are only reported. "pooled" is the other encoder the issue asks
about: the shipped (fine-tuned) text encoder's mean token, normalised, in place of the pretrained
MiniLM, with its own weight chosen on val the same way. The report also lists the test queries
the shipped ranking leaves outside its top 10 (to read, never to choose on) and other ways to fuse
the two scores, measured the same way and not used (`other_fusions`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import training  # noqa: F401,E402
from runtime.index import description_texts, description_vectors  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import FUSION_WEIGHT as WEIGHT  # noqa: E402
from runtime.search import DescriptionScorer, fuse, standardised  # noqa: E402
from training.freeform import freeform_metrics  # noqa: E402

WEIGHTS = tuple(np.round(np.arange(0.1, 2.01, 0.1), 2))
RARE = ("punch", "kick", "slash", "call", "respond", "dance", "guide", "bow", "bye", "byebye")  # < 10 clips a label
RARE_WORDS = {"punch": ("punch", "jab"), "kick": ("kick",), "sword/slash": ("sword", "slash"), "dance": ("danc",),
              "guide": ("way", "direction", "gesturing"), "bow": ("bow", "greet", "bends forward", "leans the upper")}
BACKGROUND = 400  # describer captions of training clips: the unrelated queries of the hub measure
TOP = 10


def _texts_of(clips) -> dict[str, list[str]]:
    from training.data import clip_motion

    out = {}
    for c in clips:
        try:
            out[c.key] = description_texts(clip_motion(c))
        except Exception:  # noqa: BLE001 - an unreadable clip has no descriptions (as in an index)
            out[c.key] = []
    return out


class _Encoders:
    """Unit sentence vectors by the pretrained sentence encoder ("minilm") or the shipped text
    encoder's mean token ("pooled"), cached by text."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.cache: dict[tuple[str, str], np.ndarray] = {}

    def __call__(self, kind: str, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if (kind, t) not in self.cache]
        if todo:
            if kind == "minilm":
                vecs = self.bundle.encode_sentences(todo)
            else:
                vecs = np.stack([q.tokens.mean(0) / np.linalg.norm(q.tokens.mean(0))
                                 for q in self.bundle.encode_queries(todo)])
            self.cache.update({(kind, t): v for t, v in zip(todo, vecs)})
        if not texts:
            return np.zeros((0, self.bundle.sentence_dim if kind == "minilm" else self.bundle.embed_dim), np.float32)
        return np.stack([self.cache[(kind, t)] for t in texts])

    def clip_vectors(self, kind: str, keys: list[str], texts: dict[str, list[str]], which: str = "all",
                     motion: np.ndarray | None = None) -> np.ndarray:
        """Each clip's description vector; with `motion` (its motion vectors: MiniLM, all texts), the
        index's own (runtime.index.description_vectors: plus the captions the bundle's reference lends)."""
        if motion is not None:
            if kind != "minilm" or which != "all":
                raise ValueError("the reference's captions go with the index's own vectors: MiniLM, all texts")
            return description_vectors(self.bundle, [texts.get(k, []) for k in keys], motion)
        rows = []
        for k in keys:
            t = texts.get(k, [])
            t = t[:1] if which == "summary" else t
            v = self(kind, t)
            rows.append(v.mean(0) if len(v) else np.zeros(v.shape[1], np.float32))
        return np.stack(rows)


def motion_vectors(bundle: Bundle, eval_set) -> np.ndarray:
    """(clips, D) each clip's motion vector as an index makes it (runtime.index.clip_motion_vectors),
    from the windows bundle_similarity scores."""
    from runtime.index import clip_motion_vectors, pooled_vectors
    from runtime.motion import Windows

    windows = Windows(eval_set.angles, eval_set.frame_mask, np.zeros(len(eval_set.angles), np.int64),
                      eval_set.frame_mask.sum(1))
    return clip_motion_vectors(pooled_vectors(bundle.encode_windows(windows)), eval_set.window_clip,
                               len(eval_set.clips))


def _scores(enc: _Encoders, kind: str, captions: list[str], vectors: np.ndarray) -> np.ndarray:
    """(captions, clips) as search computes them: the vectors stored as an index stores them
    (float16), scored on their int8 copies (runtime.search.fusion.DescriptionScorer)."""
    stored = vectors.astype(np.float16).astype(np.float32)
    return DescriptionScorer(stored, np.abs(stored).sum(axis=1) > 0).scores(enc(kind, captions))


def _fused(maxsim: np.ndarray, desc: np.ndarray, weight: float) -> np.ndarray:
    return np.stack([fuse(m, d, weight) for m, d in zip(maxsim, desc)])


def _sel(m: dict) -> tuple[float, float]:
    return ((m["R@1"] + m["R@5"] + m["R@10"]) / 3, m["R@1"])


def _first_ranks(sim: np.ndarray, rel: np.ndarray) -> np.ndarray:
    order = np.argsort(-sim, axis=1, kind="stable")
    return np.take_along_axis(rel, order, axis=1).argmax(axis=1) + 1


def k_occurrence(sim: np.ndarray, top: int = TOP) -> dict:
    """How often each clip is in the top `top` over the queries (rows): the largest count, the
    number of clips in 5 times their share or more, the skewness of the counts (hubness), and the
    share of clips never retrieved."""
    n = sim.shape[1]
    top_ids = np.argpartition(-sim, top - 1, axis=1)[:, :top]
    counts = np.bincount(top_ids.ravel(), minlength=n)
    mean = counts.mean()
    skew = float(((counts - mean) ** 3).mean() / max(counts.std(), 1e-9) ** 3)
    return {"max": int(counts.max()), "hubs (>= 5x share)": int((counts >= 5 * mean).sum()), "skewness": round(skew, 2),
            "never in top 10 %": round(100.0 * float((counts == 0).mean()), 1), "queries": int(sim.shape[0])}


def evaluate(bundle_path: str, sweep: bool = False, log=print) -> dict:
    from training.bundle_eval import bundle_similarity, freeform_scores
    from training.freeform import load_queries, split_pool
    from training.metrics import protocol_metrics

    bundle = Bundle.load(bundle_path, device="cpu")
    if bundle.sentence_session is None:
        raise SystemExit(f"{bundle_path}: the bundle has no sentence encoder (exporter/sentence_encoder.py)")
    enc = _Encoders(bundle)
    pools = {s: split_pool(s) for s in ("val", "test")}
    texts = _texts_of([c for p in pools.values() for c in p])
    out: dict = {"weight": WEIGHT}
    data = {}
    motion = {}
    vectors = {}  # each split's clips' description vectors as shipped (the other fusions start from them)
    for split in ("val", "test"):
        es, maxsim, rel = freeform_scores(bundle, split)
        keys = [c.key for c in es.clips]
        kinds = np.array([q.kind for q in load_queries(split)])
        motion[split] = motion_vectors(bundle, es)
        desc = {kind: _scores(enc, kind, es.captions, enc.clip_vectors(kind, keys, texts)) for kind in ("minilm", "pooled")}
        desc["summary"] = _scores(enc, "minilm", es.captions, enc.clip_vectors("minilm", keys, texts, "summary"))
        vectors[split] = enc.clip_vectors("minilm", keys, texts, motion=motion[split] if bundle.reference else None)
        if bundle.reference is not None:  # the shipped vectors: texts and the reference's captions
            desc["no reference"] = desc["minilm"]
            desc["minilm"] = _scores(enc, "minilm", es.captions, vectors[split])
        data[split] = (es, maxsim, rel, kinds, desc)
    if sweep and bundle.reference is not None:
        _sweep_reference(bundle, enc, data, motion, texts, log)
    # the weight of each variant, chosen on val
    weights = {}
    for variant in ("minilm", "pooled", "summary") + (("no reference",) if bundle.reference is not None else ()):
        _, maxsim, rel, _, desc = data["val"]
        table = {w: freeform_metrics(_fused(maxsim, desc[variant], w), rel) for w in WEIGHTS}
        weights[variant] = max(WEIGHTS, key=lambda w: _sel(table[w]))
        if sweep:
            log(f"val sweep ({variant}): " + ", ".join(f"{w}: {_sel(m)[0]:.1f}" for w, m in table.items()))
    weights["minilm"] = WEIGHT  # the shipped weight (chosen the same way; --sweep shows it)
    out["weights chosen on val"] = weights
    rows = {}
    for split, (es, maxsim, rel, kinds, desc) in data.items():
        scored = {"MaxSim only": maxsim, "description only (MiniLM)": desc["minilm"],
                  "fused (MiniLM, shipped)": _fused(maxsim, desc["minilm"], weights["minilm"]),
                  **({"fused (MiniLM, without the reference's captions)":
                      _fused(maxsim, desc["no reference"], weights["no reference"])} if "no reference" in desc else {}),
                  "fused (MiniLM, summary only)": _fused(maxsim, desc["summary"], weights["summary"]),
                  "description only (pooled text encoder)": desc["pooled"],
                  "fused (pooled text encoder)": _fused(maxsim, desc["pooled"], weights["pooled"])}
        for name, sim in scored.items():
            for part, keep in (("all", np.ones(len(kinds), bool)), ("original", kinds == ""),
                               ("style", kinds == "style"), ("speed", kinds == "speed")):
                if keep.any():
                    rows.setdefault(name, {})[f"{split} {part}"] = freeform_metrics(sim[keep], rel[keep])
        queries = load_queries(split)
        if split == "test":  # the queries whose right clip the shipped ranking leaves out of its top 10
            ranks = {name: _first_ranks(scored[name], rel) for name in
                     ("MaxSim only", "description only (MiniLM)", "fused (MiniLM, shipped)")}
            out["test misses"] = [{"query": q.sentence, "relevant": ";".join(q.relevant), "kind": q.kind,
                                   **{name: int(r[qi]) for name, r in ranks.items()}}
                                  for qi, q in enumerate(queries) if ranks["fused (MiniLM, shipped)"][qi] > TOP]
        # rare actions: the rank of the first right clip, per query naming one
        for label, words in RARE_WORDS.items():
            for qi, q in enumerate(queries):
                if any(w in q.sentence.lower() for w in words):
                    r0 = int(_first_ranks(maxsim[qi: qi + 1], rel[qi: qi + 1])[0])
                    r1 = int(_first_ranks(scored["fused (MiniLM, shipped)"][qi: qi + 1], rel[qi: qi + 1])[0])
                    out.setdefault("rare actions", []).append({"action": label, "split": split, "query": q.sentence,
                                                               "MaxSim rank": r0, "fused rank": r1,
                                                               "clips": len(es.clips)})
    out["free-form"] = rows
    # the Bandai-Namco label protocol on the test split (label captions, any clip of the same content and style)
    from exporter.evaluate_bundle import test_sets

    bandai = next(es for es in test_sets(bundle.window, bundle.hop) if es.name == "bandai_test")
    maxsim = bundle_similarity(bundle, bandai)
    btexts = _texts_of(bandai.clips)
    dv = _scores(enc, "minilm", bandai.captions, enc.clip_vectors("minilm", [c.key for c in bandai.clips], btexts,
                                                                  motion=motion_vectors(bundle, bandai)))
    out["label protocol (Bandai-Namco test)"] = {
        name: {k: protocol_metrics(sim, bandai.captions, bandai.label_keys)[k]
               for k in ("label", "all")}
        for name, sim in (("MaxSim only", maxsim), ("fused", _fused(maxsim, dv, WEIGHT)))}
    background = background_queries()
    out["other fusions (tried on val)"] = other_fusions(enc, data, vectors, background)
    # hubs: unrelated queries (describer captions of training clips) against the test pool
    es = data["test"][0]
    bg = replace(es, captions=background)
    maxsim = bundle_similarity(bundle, bg)
    dv = _scores(enc, "minilm", background, vectors["test"])
    out["hubs (k-occurrence, test pool)"] = {"MaxSim only": k_occurrence(maxsim),
                                             "fused": k_occurrence(_fused(maxsim, dv, WEIGHT))}
    top_clip = {name: es.clips[int(np.bincount(np.argpartition(-sim, TOP - 1, axis=1)[:, :TOP].ravel()).argmax())].key
                for name, sim in (("MaxSim only", maxsim), ("fused", _fused(maxsim, dv, WEIGHT)))}
    out["hubs (k-occurrence, test pool)"]["largest hub"] = top_clip
    return out


def background_queries(n: int = BACKGROUND) -> list[str]:
    """Unrelated queries: one describer caption each of `n` training clips (seeded; the hub measure's)."""
    from runtime.describe import describe
    from training.data import bandai_clips, clip_motion, cmu_clips, split_clips

    train = split_clips(bandai_clips() + cmu_clips(), "train")
    out = []
    for i in np.random.default_rng(0).choice(len(train), n, replace=False):
        try:
            caps = describe(clip_motion(train[int(i)])).captions(1, seed=int(i))
        except Exception:  # noqa: BLE001 - an unreadable clip gives no query
            continue
        if caps:
            out.append(caps[0].text)
    return out


def _confidence_weighted(maxsim: np.ndarray, desc: np.ndarray, weight: float, top: int) -> np.ndarray:
    """Fused with a weight per query: `weight` times how far the description's best `top` clips stand
    out (their mean standardised score) over how far MaxSim's do."""
    zm, zd = standardised(maxsim), standardised(desc)

    def lead(z):
        return np.maximum(-np.sort(-z, axis=1)[:, :top].mean(axis=1), 1e-6)

    return zm + weight * (lead(zd) / lead(zm))[:, None] * zd


def other_fusions(enc: _Encoders, data: dict, vectors: dict, background: list[str]) -> list[dict]:
    """Other ways to fuse the same two scores beside the shipped one, each with its weight chosen on
    val the same way (best mean of R@1/5/10, ties to R@1), test reported; search uses none of them.
    Per-query weights by how far each ranking's best clips stand out (a query the descriptions are
    sure of leans on them), and two corrections of the description's hubs (clips whose vector is
    near every motion sentence): the query less half the background queries' mean vector (centring),
    and each clip's score less half its mean over its 50 best background queries (CSLS)."""
    bg = enc("minilm", background)
    centred = {s: data[s][4]["minilm"] - 0.5 * (vectors[s] @ bg.mean(axis=0)) for s in data}
    csls = {s: data[s][4]["minilm"] - 0.5 * -np.sort(-(bg @ vectors[s].T), axis=0)[:50].mean(axis=0) for s in data}
    variants = {
        "shipped: z(MaxSim) + w z(description)": lambda s, w: _fused(data[s][1], data[s][4]["minilm"], w),
        "per-query weight, best clip": lambda s, w: _confidence_weighted(data[s][1], data[s][4]["minilm"], w, 1),
        "per-query weight, best 10 clips": lambda s, w: _confidence_weighted(data[s][1], data[s][4]["minilm"], w, 10),
        "description centred (the query less half the background's mean)":
            lambda s, w: _fused(data[s][1], centred[s], w),
        "description CSLS (less half each clip's mean of its 50 best background scores)":
            lambda s, w: _fused(data[s][1], csls[s], w),
    }
    rows = []
    for name, fused in variants.items():
        table = {w: freeform_metrics(fused("val", w), data["val"][2]) for w in WEIGHTS}
        w = max(WEIGHTS, key=lambda x: _sel(table[x]))
        test = freeform_metrics(fused("test", w), data["test"][2])
        rows.append({"variant": name, "weight": float(w), "val mean of R@1/5/10": round(_sel(table[w])[0], 2),
                     "val R@1": table[w]["R@1"], **{f"test {k}": test[k] for k in ("R@1", "R@5", "R@10")}})
    return rows


def _sweep_reference(bundle: Bundle, enc: _Encoders, data: dict, motion: dict, texts: dict, log) -> None:
    """Print, on val only, the best settings of the reference (neighbours, weight of its captions) and
    the fusion weight that goes with each: what exporter/make_reference.py and fusion.WEIGHT were set from."""
    shipped = bundle.reference
    es, maxsim, rel, _, _ = data["val"]
    keys = [c.key for c in es.clips]
    rows = []
    try:
        for neighbours in (1, 3, 5, 10):
            for lent in (0.5, 1.0, 2.0):
                bundle.reference = replace(shipped, neighbours=neighbours, weight=lent)
                vectors = enc.clip_vectors("minilm", keys, texts, motion=motion["val"])
                desc = _scores(enc, "minilm", es.captions, vectors)
                for w in WEIGHTS:
                    rows.append((_sel(freeform_metrics(_fused(maxsim, desc, w), rel)), neighbours, lent, w))
    finally:
        bundle.reference = shipped
    rows.sort(key=lambda r: r[0], reverse=True)
    log("val sweep (reference: neighbours, weight of its captions, fusion weight -> mean of R@1/5/10, R@1): "
        + ", ".join(f"{n}, {a}, {w} -> {m[0]:.1f}, {m[1]:.1f}" for m, n, a, w in rows[:10]))


RARE_FILE = Path(__file__).resolve().parent / "freeform" / "rare_actions.tsv"


def rare_actions(bundle_path: str, index_path: str) -> list[dict]:
    """Per sentence of rare_actions.tsv: the rank of the first clip of its content, fused and MaxSim
    alone, over every clip of the index (a Bandai clip's content is the label in its file name)."""
    from runtime.index import LibraryIndex
    from runtime.search import Searcher

    bundle = Bundle.load(bundle_path, device="cpu")
    index = LibraryIndex.open(index_path, bundle)
    content = [c.label.split("_")[1] if c.label.startswith("dataset-") else "" for c in index.clips]
    out = []
    for line in RARE_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        want, sentence = line.split("\t")
        row = {"action": want, "query": sentence, "clips of it": content.count(want), "library": len(index.clips)}
        for name, fusion in (("MaxSim rank", False), ("fused rank", True)):
            searcher = Searcher(index, bundle, fusion=fusion)
            if fusion and not searcher.fused:
                raise SystemExit(f"{index_path}: no description vectors from this bundle's sentence encoder")
            hits = searcher.search(sentence, k=len(index.clips), exact=True)
            ranks = [i + 1 for i, h in enumerate(hits) if content[int(index.windows[h.window, 0])] == want]
            row[name] = ranks[0] if ranks else None
        out.append(row)
    return out


def report(res: dict) -> str:
    lines = [f"Weight of the description score: {res['weight']} (chosen on val; other variants' own weights: "
             + ", ".join(f"{k} {v}" for k, v in res["weights chosen on val"].items()) + ")", "",
             "| ranking | split | queries | R@1 | R@5 | R@10 | MedR |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, parts in res["free-form"].items():
        for part, m in parts.items():
            lines.append(f"| {name} | {part} | {m['queries']} | {m['R@1']:.2f} | {m['R@5']:.2f} | {m['R@10']:.2f} | "
                         f"{m['MedR']:.1f} |")
    lines += ["", "| rare action | split | query | MaxSim rank | fused rank | clips |", "|---|---|---|---:|---:|---:|"]
    for r in res.get("rare actions", []):
        lines.append(f"| {r['action']} | {r['split']} | {r['query']} | {r['MaxSim rank']} | {r['fused rank']} | "
                     f"{r['clips']} |")
    lines += ["", "| Bandai-Namco test | label R@1 | label R@5 | All R@1 |", "|---|---:|---:|---:|"]
    for name, m in res["label protocol (Bandai-Namco test)"].items():
        lines.append(f"| {name} | {m['label']['t2m_R@1']:.2f} | {m['label']['t2m_R@5']:.2f} | {m['all']['t2m_R@1']:.2f} |")
    lines += ["", "| test query outside the fused top 10 | right clips | MaxSim rank | description rank | "
              "fused rank |", "|---|---|---:|---:|---:|"]
    for r in res.get("test misses", []):
        lines.append(f"| {r['query']} | {r['relevant']} | {r['MaxSim only']} | {r['description only (MiniLM)']} | "
                     f"{r['fused (MiniLM, shipped)']} |")
    lines += ["", "| fusion (weight chosen on val) | weight | val mean of R@1/5/10 | val R@1 | test R@1 | test R@5 | "
              "test R@10 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in res.get("other fusions (tried on val)", []):
        lines.append(f"| {r['variant']} | {r['weight']} | {r['val mean of R@1/5/10']:.2f} | {r['val R@1']:.2f} | "
                     f"{r['test R@1']:.2f} | {r['test R@5']:.2f} | {r['test R@10']:.2f} |")
    h = res["hubs (k-occurrence, test pool)"]
    lines += ["", "| hubs (test pool, unrelated queries) | largest k-occurrence | hubs (>= 5x share) | skewness | "
              "never in top 10 % | largest hub |", "|---|---:|---:|---:|---:|---|"]
    for name in ("MaxSim only", "fused"):
        m = h[name]
        lines.append(f"| {name} | {m['max']} | {m['hubs (>= 5x share)']} | {m['skewness']} | {m['never in top 10 %']} | "
                     f"{h['largest hub'][name]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", default="models/default")
    parser.add_argument("--sweep", action="store_true", help="print the weight sweep on val")
    parser.add_argument("--json", default="docs/fusion.json", help="where to write the figures")
    parser.add_argument("--rare", default=None, metavar="INDEX",
                        help="only the rare actions, over this index of the whole Bandai-Namco library")
    args = parser.parse_args(argv)
    if args.rare:
        rows = rare_actions(args.bundle, args.rare)
        print("| rare action | clips of it | query | MaxSim rank | fused rank |\n|---|---:|---|---:|---:|")
        for r in rows:
            print(f"| {r['action']} | {r['clips of it']} | {r['query']} | {r['MaxSim rank']} | {r['fused rank']} |")
        path = Path(args.json)
        res = json.loads(path.read_text()) if path.is_file() else {}
        res["rare actions over the whole Bandai-Namco library"] = rows
        path.write_text(json.dumps(res, indent=1) + "\n")
        return
    res = evaluate(args.bundle, args.sweep)
    path = Path(args.json)
    rare = "rare actions over the whole Bandai-Namco library"  # `--rare`'s rows, kept (that run needs an index)
    if path.is_file() and rare in (old := json.loads(path.read_text())):
        res[rare] = old[rare]
    path.write_text(json.dumps(res, indent=1) + "\n")
    print(report(res))


if __name__ == "__main__":
    main()
