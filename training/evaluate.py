"""Evaluate trained runs on the held-out sets and write docs/RESULTS.md and docs/results.json.

    ./dev py training/evaluate.py runs/maxsim_mlm runs/maxsim runs/global

Test sets: the Bandai-Namco test split (takes never trained or validated on) and the CMU
eval-only trials with CMU's own descriptions. Protocols: see `training.metrics`. A clip longer
than the window is scored by its best window. The interpretability check asks, on held-out
Bandai wave-* and raise-up-* clips, whether the motion patch that the words "left"/"right"
(and "hand") match best lies in that side's shoulder or elbow band.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import training  # noqa: F401,E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from runtime.features import NUM_PARTS, PART_NAMES  # noqa: E402

from training.metrics import protocol_metrics  # noqa: E402

MODEL_NAMES = ("maxsim_mlm", "maxsim", "global")


def run_name(cfg) -> str:
    """The model's name in the report: maxsim_mlm, maxsim or global."""
    if cfg.model.score == "global":
        return "global"
    return "maxsim_mlm" if cfg.model.mlm_weight > 0 else "maxsim"


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

    from runtime.features import ChannelStats
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


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (each with config.json and model_best.safetensors)")
    parser.add_argument("--out", default="docs", help="where RESULTS.md and results.json go")
    args = parser.parse_args(argv)
    results: dict = {}
    details: dict = {}
    interp: dict = {}
    for run in args.runs:
        model, tokenizer, cfg, stats = load_run(run)
        name = run_name(cfg)
        sets = test_sets(stats, cfg.data.window, cfg.data.hop)
        with torch.no_grad():
            metrics = evaluate_sets(model, tokenizer, sets, "cpu")
        for s in sets:
            m = metrics[s.name]
            flat = dict(m["all"])
            for proto in ("diagonal", "batch32", "label"):
                flat |= {f"{proto}/{k}": v for k, v in m.get(proto, {}).items()}
            results.setdefault(s.name, {})[name] = flat
            details.setdefault(s.name, {"clips": len(s.clips), "captions": len(set(s.captions))})
        if cfg.model.score == "maxsim":
            interp[name] = side_hits(model, tokenizer, sets[0], "cpu")
        details.setdefault("runs", {})[name] = {"run": str(run), "config": cfg.to_json(), "record": run_record(run)}
        print(f"{name}: " + ", ".join(f"{s}: t2m R@1 {results[s][name]['t2m_R@1']:.2f}" for s in results))
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


def render_report(results: dict, details: dict, interp: dict, runs: list[str]) -> str:
    lines = ["# Results", "",
             "Produced by `./dev py training/evaluate.py " + " ".join(runs) + "` (numbers in percent; MedR is a rank).",
             "Every model is evaluated from its best checkpoint, chosen on the validation split (never on test).", ""]
    recs = details.get("runs", {})
    if recs:
        lines += ["## Runs", "",
                  "| model | run | score | MLM weight | steps (planned) x batch | best validation (step) | samples/s |",
                  "|---|---|---|---:|---|---|---:|"]
        for m, info in recs.items():
            c, r = info["config"], info.get("record", {})
            lines.append(f"| {m} | `{info['run']}` | {c['model']['score']} | {c['model']['mlm_weight']} | "
                         f"{r.get('steps', '?')} ({c['train']['max_steps']}) x {c['train']['batch_size']} | "
                         f"{r.get('best_select', float('nan')):.2f} ({r.get('best_step', '?')}) | "
                         f"{r.get('samples_per_s', float('nan')):.1f} |")
        for m, info in recs.items():
            planned, done = info["config"]["train"]["max_steps"], info.get("record", {}).get("steps", 0)
            if done < planned:
                lines += ["", f"**{m} stopped at step {done} of {planned}** (its learning-rate schedule did not "
                          f"finish): its figures come from a smaller budget than a finished run's and are not "
                          f"a same-budget comparison."]
        missing = [m for m in MODEL_NAMES if m not in recs]
        if missing:
            lines += ["", "Not in this report (no finished run was given): " + ", ".join(missing) + "."]
        lines.append("")
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
            for m in MODEL_NAMES:
                if m in rows:
                    r = rows[m]
                    cells = [f"{r[f'{proto}{d}_R@{k}']:.2f}" for d in ("t2m",) for k in (1, 2, 3, 5, 10)]
                    cells += [f"{r[f'{proto}t2m_MedR']:.1f}"]
                    cells += [f"{r[f'{proto}m2t_R@{k}']:.2f}" for k in (1, 2, 3, 5, 10)] + [f"{r[f'{proto}m2t_MedR']:.1f}"]
                    lines.append(f"| {m} | " + " | ".join(cells) + " |")
            lines.append("")
        r1 = {m: r["t2m_R@1"] for m, r in results[set_name].items()}
        for a, b, what in (("maxsim_mlm", "global", "MaxSim + MLM vs global baseline"),
                           ("maxsim", "global", "MaxSim without MLM vs global baseline"),
                           ("maxsim_mlm", "maxsim", "MaxSim with vs without MLM")):
            if a in r1 and b in r1 and r1[b] > 0:
                goal = " (goal: at least 1.3x)" if (a, b) == ("maxsim_mlm", "global") else ""
                lines += [f"{what}, t2m R@1 (All): {r1[a]:.2f} vs {r1[b]:.2f} = {r1[a] / r1[b]:.2f}x{goal}.", ""]
    if interp:
        lines += ["## Interpretability: which body part do \"left\", \"right\" and \"hand\" match?", "",
                  "Held-out Bandai wave-/raise-up- one-hand clips, their test captions; a hit when the word's "
                  "best-matching patch lies in that side's shoulder or elbow band (goal: at least 90% for left/right).", "",
                  "| model | clips | left/right words | left/right hit rate | \"hand\" words | \"hand\" hit rate |",
                  "|---|---:|---:|---:|---:|---:|"]
        for m, r in interp.items():
            lines.append(f"| {m} | {r['clips']} | {r['left_right_words']} | {r['left_right_hit_rate']:.1f} | "
                         f"{r['hand_words']} | {r['hand_hit_rate']:.1f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
