"""Evaluate trained runs on the held-out sets and write docs/RESULTS.md and docs/results.json.

    ./dev py training/evaluate.py runs/maxsim_mlm runs/maxsim runs/global [runs/no_describer ...]
    bash training/ablations.sh 500     # trains the same-budget comparison, then runs this

Test sets: the Bandai-Namco test split (takes never trained or validated on) and the CMU
eval-only trials with CMU's own descriptions. Protocols: see `training.metrics`. A clip longer
than the window is scored by its best window. Free-form: the hand-written queries
(training/freeform.py), val (what checkpoints were chosen on) and test. Grounding
(training/bundle_eval.py): where each word of the free-form test queries lands, against how the
body parts actually move; and the older check, on held-out Bandai wave-* and raise-up-* clips,
whether the patch that "left"/"right" (and "hand") match best lies in that side's shoulder or
elbow band. Text drift (training/text_drift.py): how far each run moved the pretrained MiniLM.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import training  # noqa: F401,E402
from runtime.motion import NUM_PARTS, PART_NAMES  # noqa: E402
from training.metrics import protocol_metrics  # noqa: E402

MODEL_NAMES = ("maxsim_mlm", "maxsim", "global")  # the paper's comparison
ABLATION_NAMES = ("no_describer", "no_grounding", "text_lr_low")  # the default without one of its parts


def run_name(cfg) -> str:
    """The model's name in the report: maxsim_mlm, maxsim, global, no_describer, no_grounding, or
    text_lr_low (the default with the text body learning slower than TrainConfig.text_lr)."""
    from training.config import TrainConfig

    if cfg.model.score == "global":
        return "global"
    if cfg.model.mlm_weight <= 0:
        return "maxsim"
    if cfg.data.describer_share <= 0:
        return "no_describer"
    if cfg.model.grounding_weight <= 0:
        return "no_grounding"
    return "text_lr_low" if cfg.train.text_lr < TrainConfig.text_lr else "maxsim_mlm"


@torch.no_grad()
def encode_texts(model, tokenizer, captions: list[str], device, batch: int = 128, max_tokens: int = 32):
    """Unit token embeddings (n, L, D) and masks (n, L), padded to the longest caption."""
    outs, masks, ids_all = [], [], []
    for s in range(0, len(captions), batch):
        tok = tokenizer(captions[s: s + batch], padding="max_length", truncation=True, max_length=max_tokens,
                        return_tensors="pt")
        q, m = model.encode_text(tok["input_ids"].to(device), tok["attention_mask"].to(device))
        outs.append(q.float().cpu()), masks.append(m.cpu()), ids_all.append(tok["input_ids"])
    return torch.cat(outs), torch.cat(masks), torch.cat(ids_all)


@torch.no_grad()
def encode_windows(model, angles: np.ndarray, frame_mask: np.ndarray, device, batch: int = 64):
    """Unit patch embeddings (W, N, D) and masks (W, N) of evaluation windows."""
    outs, masks = [], []
    for s in range(0, len(angles), batch):
        a = torch.from_numpy(angles[s: s + batch]).to(device)
        m = torch.from_numpy(frame_mask[s: s + batch]).to(device)
        d, dm = model.encode_motion(a, m)
        outs.append(d.float().cpu()), masks.append(dm.cpu())
    return torch.cat(outs), torch.cat(masks)


@torch.no_grad()
def window_scores(model, q, q_mask, d, d_mask, chunk: int = 256) -> np.ndarray:
    out = torch.empty(q.shape[0], d.shape[0])
    for s in range(0, q.shape[0], chunk):
        for t in range(0, d.shape[0], chunk):
            out[s: s + chunk, t: t + chunk] = model.score(q[s: s + chunk], q_mask[s: s + chunk], d[t: t + chunk],
                                                          d_mask[t: t + chunk])
    return out.numpy()


def clip_scores(win: np.ndarray, window_clip: np.ndarray, n_clips: int) -> np.ndarray:
    """Texts x clips: each clip's best window."""
    out = np.full((win.shape[0], n_clips), -np.inf, np.float32)
    np.maximum.at(out.T, window_clip, win.T)
    return out


def similarity(model, tokenizer, eval_set, device) -> np.ndarray:
    q, qm, _ = encode_texts(model, tokenizer, eval_set.captions, device)
    d, dm = encode_windows(model, eval_set.angles, eval_set.frame_mask, device)
    return clip_scores(window_scores(model, q, qm, d, dm), eval_set.window_clip, len(eval_set.clips))


def freeform_set(split: str, features: dict, stats, window: int, hop: int, whole: bool = True):
    """(EvalSet whose captions are the hand-written free-form queries of `split`, relevance (Q, C))
    over the split's pool of clips (training.freeform). `whole=False` (a smoke run on part of the
    data) keeps only the queries that have a relevant clip among the clips with features."""
    from dataclasses import replace

    from training.data import make_eval_set
    from training.freeform import answerable, load_queries, relevance, split_pool

    pool = [c for c in split_pool(split) if c.key in features]
    queries = load_queries(split) if whole else answerable(load_queries(split), pool)
    es = make_eval_set(f"freeform_{split}", pool, features, stats, window, hop)
    return replace(es, captions=[q.sentence for q in queries]), relevance(queries, es.clips, strict=whole)


def freeform_scores(model, tokenizer, free, device) -> dict:
    from training.freeform import freeform_metrics

    es, rel = free
    return freeform_metrics(similarity(model, tokenizer, es, device), rel)


def evaluate_sets(model, tokenizer, sets, device) -> dict:
    out = {}
    for s in sets:
        labels = s.label_keys if any(c.labels for c in s.clips) else None
        out[s.name] = protocol_metrics(similarity(model, tokenizer, s, device), s.captions, labels)
    return out


# ------------------------------------------------------------------------------ interpretability

SIDE_PARTS = {"left": {PART_NAMES.index("shoulder_l"), PART_NAMES.index("elbow_l")},
              "right": {PART_NAMES.index("shoulder_r"), PART_NAMES.index("elbow_r")}}


@torch.no_grad()
def side_hits(model, tokenizer, eval_set, device) -> dict:
    """For captions of one-hand wave/raise clips: does the best patch of "left"/"right" (and of
    "hand") lie in that side's shoulder or elbow band?"""
    keep = [k for k, c in enumerate(eval_set.clips)
            if c.labels and c.labels[0].split("-")[0] in ("wave", "raise") and "both" not in c.labels[0]]
    side_tok = {tokenizer.convert_tokens_to_ids(w): w for w in ("left", "right")}
    hand_tok = tokenizer.convert_tokens_to_ids("hand")
    hits = {"side": [0, 0], "hand": [0, 0]}
    rows = []
    for k in keep:
        clip = eval_set.clips[k]
        side = "left" if "left" in clip.labels[0] else "right"
        q, qm, ids = encode_texts(model, tokenizer, [eval_set.captions[k]], device)
        wins = np.flatnonzero(eval_set.window_clip == k)
        d, dm = encode_windows(model, eval_set.angles[wins], eval_set.frame_mask[wins], device)
        sims = torch.einsum("ld,wnd->wln", q[0], d).masked_fill(~dm[:, None, :], float("-inf"))
        best = sims.reshape(-1, sims.shape[-1]) if len(wins) == 1 else sims.amax(0)
        patch = best.argmax(-1)  # per query token
        for pos, tid in enumerate(ids[0].tolist()):
            part = int(patch[pos]) % NUM_PARTS
            if tid in side_tok and qm[0, pos]:
                ok = part in SIDE_PARTS[side_tok[tid]]
                hits["side"][0] += ok
                hits["side"][1] += 1
                rows.append((clip.key, side_tok[tid], PART_NAMES[part], ok))
            elif tid == hand_tok and qm[0, pos]:
                ok = part in SIDE_PARTS[side]
                hits["hand"][0] += ok
                hits["hand"][1] += 1
    rate = lambda h: 100.0 * h[0] / h[1] if h[1] else float("nan")  # noqa: E731
    return {"left_right_hit_rate": rate(hits["side"]), "hand_hit_rate": rate(hits["hand"]),
            "left_right_words": hits["side"][1], "hand_words": hits["hand"][1], "clips": len(keep), "rows": rows}


# ------------------------------------------------------------------------------------- the report


def load_run(run_dir: str | Path, device="cpu"):
    """A trained run's model (best validation checkpoint), tokenizer, config and stats."""
    from safetensors.torch import load_model

    from runtime.motion import ChannelStats
    from training.config import Config
    from training.models.retrieval import RetrievalModel
    from training.models.text_encoder import load_tokenizer

    run_dir = Path(run_dir)
    cfg = Config.from_json(json.loads((run_dir / "config.json").read_text()))
    model = RetrievalModel(cfg.model, cfg.data)
    load_model(model, run_dir / "model_best.safetensors")
    model.to(device).eval()
    return model, load_tokenizer(cfg.model.text_model_dir or None), cfg, ChannelStats.load(run_dir / "stats.json")


def test_sets(stats, window: int, hop: int, log=print):
    from training.data import bandai_clips, cmu_clips, load_features, make_eval_set, one_per_group, split_clips

    clips = bandai_clips() + cmu_clips()
    features = load_features(clips, "all", log=log)
    bandai = [c for c in split_clips(clips, "test") if c.source == "bandai"]
    cmu = one_per_group([c for c in split_clips(clips, "test") if c.source == "cmu"])
    return [make_eval_set("bandai_test", bandai, features, stats, window, hop),
            make_eval_set("cmu_eval", cmu, features, stats, window, hop)]


EVALUATION_VERSION = 2  # bump when what evaluate_run measures changes: cached evaluations are redone


def evaluate_run(run: str | Path, fresh: bool = False) -> dict:
    """Every figure of one run: {"results": {section: figures}, "details": {section: sizes},
    "interp": the left/right check, "run": config and record}. Kept in the run's evaluation.json,
    reused while the run's best checkpoint, the query files and this module's measurements stay
    the same."""
    from runtime.hashing import file_sha256
    from training.bundle_eval import freeform_scores, grounding_figures
    from training.freeform import QUERIES_FILE, freeform_metrics
    from training.text_drift import OUTSIDE_FILE, run_drift
    from training.torch_bundle import torch_bundle

    run = Path(run)
    if not (run / "model_best.safetensors").is_file() or not (run / "config.json").is_file():
        raise FileNotFoundError(f"{run}: not a finished training run (needs config.json and model_best.safetensors)")
    best = (run / "model_best.safetensors").stat()
    key = {"version": EVALUATION_VERSION, "checkpoint_bytes": best.st_size, "checkpoint_mtime_ns": best.st_mtime_ns,
           "queries": file_sha256(QUERIES_FILE), "outside_sentences": file_sha256(OUTSIDE_FILE)}
    cache = run / "evaluation.json"
    if not fresh and cache.exists():
        try:
            kept = json.loads(cache.read_text())
        except json.JSONDecodeError:
            kept = {}  # a damaged cache is measured again
        if kept.get("key") == key:
            return kept
    model, tokenizer, cfg, stats = load_run(run)
    results: dict = {}
    details: dict = {}
    sets = test_sets(stats, cfg.data.window, cfg.data.hop)
    with torch.no_grad():
        metrics = evaluate_sets(model, tokenizer, sets, "cpu")
    for s in sets:
        m = metrics[s.name]
        flat = dict(m["all"])
        for proto in ("diagonal", "batch32", "label"):
            flat |= {f"{proto}/{k}": v for k, v in m.get(proto, {}).items()}
        results[s.name] = flat
        details[s.name] = {"clips": len(s.clips), "captions": len(set(s.captions))}
    interp = side_hits(model, tokenizer, sets[0], "cpu")
    bundle, scored = torch_bundle(model, cfg, stats, run), {}
    whole = not cfg.data.max_clips  # a smoke run's feature cache may not hold every clip
    for split in ("val", "test"):
        scored[split] = es, sim, rel = freeform_scores(bundle, split, whole)
        results[f"freeform_{split}"] = freeform_metrics(sim, rel)
        details[f"freeform_{split}"] = {"clips": len(es.clips), "captions": len(es.captions)}
    results["grounding"] = grounding_figures(bundle, "test", whole, scored["test"]) | {
        "bandai left/right words on the named side %": round(interp["left_right_hit_rate"], 1),
        "bandai left/right words": interp["left_right_words"]}
    results["text_drift"] = run_drift(model, cfg, tokenizer)
    out = {"key": key, "results": results, "details": details, "interp": interp,
           "run": {"run": str(run), "config": cfg.to_json(), "record": run_record(run)}}
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(cache)
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (each with config.json and model_best.safetensors)")
    parser.add_argument("--out", default="docs", help="where RESULTS.md and results.json go")
    parser.add_argument("--fresh", action="store_true", help="measure again even where evaluation.json is current")
    args = parser.parse_args(argv)
    results: dict = {}
    details: dict = {}
    interp: dict = {}
    for run in args.runs:
        from training.config import Config

        ev = evaluate_run(run, args.fresh)
        name = run_name(Config.from_json(ev["run"]["config"]))
        if name in interp:
            raise ValueError(f"{run}: a second {name} run; give one run of each kind")
        for section, figures in ev["results"].items():
            results.setdefault(section, {})[name] = figures
        for section, info in ev["details"].items():
            details.setdefault(section, info)
        interp[name] = ev["interp"]
        details.setdefault("runs", {})[name] = ev["run"]
        print(f"{name}: " + ", ".join(f"{s}: R@1 {r[name].get('t2m_R@1', r[name].get('R@1')):.2f}"
                                      for s, r in results.items() if s not in ("grounding", "text_drift")))
    main_name = "maxsim_mlm" if "maxsim_mlm" in interp else next(iter(interp), None)
    results["interpretability"] = {"left_right_hit_rate": interp[main_name]["left_right_hit_rate"],
                                   "hand_hit_rate": interp[main_name]["hand_hit_rate"],
                                   "model": main_name} if main_name else {}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "RESULTS.md").write_text(render_report(results, details, interp, args.runs))
    print(f"wrote {out / 'RESULTS.md'} and {out / 'results.json'}")


def run_record(run_dir: str | Path) -> dict:
    """Budget and checkpoint choice of a finished run, from its log.jsonl."""
    steps, vals, speeds = 0, [], []
    for line in (Path(run_dir) / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        steps = max(steps, rec.get("step", 0))
        if "select" in rec:
            vals.append((rec["select"], rec["step"]))
        if "samples_per_s" in rec:
            speeds.append(rec["samples_per_s"])
    best = max(vals, key=lambda v: v[0]) if vals else (float("nan"), 0)  # the first best, as train.py keeps
    return {"steps": steps, "best_select": best[0], "best_step": best[1],
            "samples_per_s": float(np.median(speeds)) if speeds else float("nan")}


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def render_report(results: dict, details: dict, interp: dict, runs: list[str]) -> str:
    lines = ["# Results", "",
             "Produced by `./dev py training/evaluate.py " + " ".join(runs) + "` (numbers in percent; MedR is a rank).",
             "Every model is evaluated from its best checkpoint, chosen on the validation split (never on test).", ""]
    recs = details.get("runs", {})
    order = list(recs) or [m for m in MODEL_NAMES + ABLATION_NAMES if m in results.get("bandai_test", {})]
    if recs:
        lines += ["## Runs", "",
                  "| model | run | score | MLM weight | describer share | grounding weight | steps (planned) x batch "
                  "| best selection score (step) | selected on | samples/s |",
                  "|---|---|---|---:|---:|---:|---|---|---|---:|"]
        for m, info in recs.items():
            c, r = info["config"], info.get("record", {})
            lines.append(f"| {m} | `{info['run']}` | {c['model']['score']} | {c['model']['mlm_weight']} | "
                         f"{c['data'].get('describer_share', 0.0)} | {c['model'].get('grounding_weight', 0.0)} | "
                         f"{r.get('steps', '?')} ({c['train']['max_steps']}) x {c['train']['batch_size']} | "
                         f"{_fmt(r.get('best_select', float('nan')))} ({r.get('best_step', '?')}) | "
                         f"{c['data'].get('select_on', 'captions')} | {_fmt(r.get('samples_per_s', float('nan')), 1)} |")
        for m, info in recs.items():
            planned, done = info["config"]["train"]["max_steps"], info.get("record", {}).get("steps", 0)
            if done < planned:
                lines += ["", f"**{m} stopped at step {done} of {planned}** (its learning-rate schedule did not "
                          f"finish): its figures come from a smaller budget than a finished run's and are not "
                          f"a same-budget comparison."]
        budgets = {(i["config"]["train"]["max_steps"], i["config"]["train"]["batch_size"]) for i in recs.values()}
        if len(budgets) > 1:
            lines += ["", "**The runs had different budgets**: differences between them are not only the method's."]
        missing = [m for m in MODEL_NAMES + ABLATION_NAMES if m not in recs]
        if missing:
            lines += ["", "Not in this report (no finished run was given): " + ", ".join(missing) + "."]
        lines.append("")
    lines += _freeform_section(results, details, order)
    lines += _grounding_section(results, order)
    for set_name in ("bandai_test", "cmu_eval"):
        if set_name not in results:
            continue
        info = details[set_name]
        lines += [f"## {set_name} ({info['clips']} clips, {info['captions']} distinct captions)", ""]
        for proto, title in (("", "All protocol (whole gallery; identical captions count)"),
                             ("diagonal/", "diagonal only (TMR): only the clip the caption was written for"),
                             ("batch32/", "batches of 32"), ("label/", "label relevance: same content and style")):
            rows = {m: r for m, r in results[set_name].items() if f"{proto}t2m_R@1" in r}
            if not rows:
                continue
            lines += [f"### {title}", "",
                      "| model | t2m R@1 | R@2 | R@3 | R@5 | R@10 | MedR | m2t R@1 | R@2 | R@3 | R@5 | R@10 | MedR |",
                      "|---|" + "---:|" * 12]
            for m in order:
                if m in rows:
                    r = rows[m]
                    cells = [f"{r[f'{proto}{d}_R@{k}']:.2f}" for d in ("t2m",) for k in (1, 2, 3, 5, 10)]
                    cells += [f"{r[f'{proto}t2m_MedR']:.1f}"]
                    cells += [f"{r[f'{proto}m2t_R@{k}']:.2f}" for k in (1, 2, 3, 5, 10)] + [f"{r[f'{proto}m2t_MedR']:.1f}"]
                    lines.append(f"| {m} | " + " | ".join(cells) + " |")
            lines.append("")
        r1 = {m: r["t2m_R@1"] for m, r in results[set_name].items()}
        lines += _ratios(r1, "t2m R@1 (All)")
    if interp:
        lines += ["## The earlier check: which body part do \"left\", \"right\" and \"hand\" match?", "",
                  "Held-out Bandai wave-/raise-up- one-hand clips, their test captions; a hit when the word's "
                  "best-matching patch lies in that side's shoulder or elbow band (goal: at least 90% for left/right).", "",
                  "| model | clips | left/right words | left/right hit rate | \"hand\" words | \"hand\" hit rate |",
                  "|---|---:|---:|---:|---:|---:|"]
        for m, r in interp.items():
            lines.append(f"| {m} | {r['clips']} | {r['left_right_words']} | {r['left_right_hit_rate']:.1f} | "
                         f"{r['hand_words']} | {r['hand_hit_rate']:.1f} |")
        lines.append("")
    if results.get("text_drift"):
        lines += ["## Text drift: how far fine-tuning moved the pretrained MiniLM", "",
                  "Sentences outside every training text (training/freeform/outside_sentences.txt); cosine between "
                  "each sentence's fine-tuned and pretrained mean vectors, and the correlation of the two models' "
                  "sentence-to-sentence similarities (geometry kept; 1 = unchanged).", "",
                  "| model | text learning rate | frozen steps | cosine | geometry kept |", "|---|---:|---:|---:|---:|"]
        for m in order:
            if m in results["text_drift"]:
                d, c = results["text_drift"][m], recs.get(m, {}).get("config", {}).get("train", {})
                lines.append(f"| {m} | {c.get('text_lr', '-')} | {c.get('text_frozen_steps', '-')} | "
                             f"{d['cosine']:.3f} | {d['geometry']:.3f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _ratios(r1: dict, what: str) -> list[str]:
    """The paper's comparison and the ablations, as ratios and differences of one figure."""
    out = []
    for a, b, title in (("maxsim_mlm", "global", "MaxSim + MLM vs global baseline"),
                        ("maxsim", "global", "MaxSim without MLM vs global baseline"),
                        ("maxsim_mlm", "maxsim", "MaxSim with vs without MLM")):
        if a in r1 and b in r1 and r1[b] > 0:
            goal = " (goal: at least 1.3x)" if (a, b) == ("maxsim_mlm", "global") else ""
            out += [f"{title}, {what}: {r1[a]:.2f} vs {r1[b]:.2f} = {r1[a] / r1[b]:.2f}x{goal}.", ""]
    for b, title in (("no_describer", "With vs without describer captions"),
                     ("no_grounding", "With vs without word-link grounding")):
        if "maxsim_mlm" in r1 and b in r1:
            out += [f"{title}, {what}: {r1['maxsim_mlm']:.2f} vs {r1[b]:.2f} "
                    f"({r1['maxsim_mlm'] - r1[b]:+.2f} points).", ""]
    return out


def _freeform_section(results: dict, details: dict, order: list[str]) -> list[str]:
    if "freeform_test" not in results:
        return []
    val, test = details.get("freeform_val", {}), details.get("freeform_test", {})
    lines = ["## Free-form sentences (training/freeform/queries.tsv, written by hand, never trained on)", "",
             f"Each query is searched among all clips of its split (val: {val.get('clips', '?')} clips, "
             f"{val.get('captions', '?')} queries; test: {test.get('clips', '?')} clips, {test.get('captions', '?')} "
             "queries); a hit is any clip the query names. Checkpoints were chosen on val; test is reported.", "",
             "| model | val R@1 | val R@5 | val R@10 | val MedR | test R@1 | test R@5 | test R@10 | test MedR |",
             "|---|" + "---:|" * 8]
    for m in order:
        if m in results["freeform_test"]:
            v, t = results.get("freeform_val", {}).get(m, {}), results["freeform_test"][m]
            lines.append(f"| {m} | " + " | ".join(
                [_fmt(v.get(k)) for k in ("R@1", "R@5", "R@10")] + [_fmt(v.get("MedR"), 1)]
                + [_fmt(t.get(k)) for k in ("R@1", "R@5", "R@10")] + [_fmt(t.get("MedR"), 1)]) + " |")
    lines.append("")
    return lines + _ratios({m: r["R@1"] for m, r in results["freeform_test"].items()}, "free-form test R@1")


GROUNDING_COLUMNS = (("arm", "arm"), ("leg", "leg"), ("torso", "torso"), ("travel", "travel"), ("turn", "turn"),
                     ("side", "left/right of a limb"), ("direction", "left/right as a direction"))


def _grounding_section(results: dict, order: list[str]) -> list[str]:
    g = results.get("grounding", {})
    if not g:
        return []
    lines = ["## Grounding: do the words land where the body moves?", "",
             "Free-form test queries, each explained against the relevant clip the model ranks first. A word that "
             "names a body part or an action with a known body part is a hit when its best patch's part is among the "
             "3 fastest-moving parts over that patch's frames (angular speed: the norm of the rates of the part's "
             "joint-angle channels, computed from the motion alone: training/bundle_eval.py). \"left\"/\"right\" "
             "followed by a limb (\"the left hand\") is a side of a limb; otherwise (\"turns left\") a direction. "
             "Goals: at least 80% per class; queries naming two kinds of action or body part land on different "
             "parts at least 90% of the time. Words per class in brackets. The last two columns: a limb's "
             "\"left\"/\"right\" on a part of the named side, in the free-form queries and in the earlier Bandai "
             "wave/raise check.", "",
             "| model | " + " | ".join(title for _, title in GROUNDING_COLUMNS)
             + " | two kinds on different parts | left/right on the named side | Bandai left/right on the named side |",
             "|---|" + "---:|" * (len(GROUNDING_COLUMNS) + 3)]
    for m in order:
        if m not in g:
            continue
        r = g[m]
        cells = [f"{_fmt(r.get(f'{k} words on a moving part %'), 1)} ({r.get(f'{k} words', 0)})" for k, _ in GROUNDING_COLUMNS]
        cells.append(f"{_fmt(r.get('two-kind queries on different parts %'), 1)} ({r.get('two-kind queries', 0)})")
        cells.append(_fmt(r.get("left/right words on the named side %"), 1))
        cells.append(f"{_fmt(r.get('bandai left/right words on the named side %'), 1)} "
                     f"({r.get('bandai left/right words', 0)})")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + [""]


if __name__ == "__main__":
    main()
