"""Train the text-motion retrieval model (MaxSim + MLM) on the real motion capture in ../shared/data.

    ./dev py training/train.py                                    # MaxSim + MLM, CPU default (~1 h, 2 cores)
    ./dev py training/train.py training/configs/maxsim.json       # MaxSim without the MLM regulariser
    ./dev py training/train.py training/configs/global.json       # the global-embedding baseline
    ./dev py training/train.py training/configs/paper_vit_b.json  # the paper's ViT-B/16 (GPU)
    ./dev py training/train.py --train.run_dir=runs/try --train.max_steps=200   # any key, type-checked
    ./dev py training/train.py runs/try/config.json --resume      # continue from the last checkpoint

A run directory holds config.json (everything needed to rebuild the model), stats.json (angle
z-score statistics of the training split), model_best.safetensors (chosen on the validation
split, never on test), last.safetensors + last_optim.safetensors + last.json (to resume),
log.jsonl and curves.png.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python training/train.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import training  # noqa: F401,E402  (makes timm/transformers importable beside the CPU torch)


def _log_from(path: Path, step: int):
    """The run's log, open for appending after `step`: what a resumed run does again (validation at
    `step`, and steps after it written before an interruption) is dropped, so each step shows once."""
    kept = []
    if step and path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a line torn by the interruption
                continue
            if r["step"] < step or (r["step"] == step and "val" not in r):
                kept.append(line)
    f = open(path, "w")
    f.writelines(line + "\n" for line in kept)
    return f


def main(argv: list[str] | None = None) -> Path:
    import numpy as np
    import torch
    from safetensors.torch import load_file, load_model, save_file, save_model

    from runtime.motion import ChannelStats, motion_windows
    from training.captions import caption_true_of
    from training.config import load_config
    from training.data import (TrainSet, bandai_clips, cmu_clips, load_events, load_features, make_eval_set,
                               one_per_group, split_clips)
    from training.evaluate import evaluate_sets, freeform_scores, freeform_set
    from training.losses import info_nce, link_grounding_loss
    from training.models.retrieval import RetrievalModel
    from training.models.text_encoder import load_tokenizer, mask_tokens
    from training.plots import plot_curves

    # ------------------------------------------------------------------------------------ config
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in argv
    argv = [a for a in argv if a != "--resume"]
    files = [a for a in argv if not a.startswith("--")]
    cfg = load_config(files[0] if files else None, [a for a in argv if a.startswith("--")])
    tc, dc, mc = cfg.train, cfg.data, cfg.model
    run_dir = Path(tc.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / "config.json")

    # ------------------------------------------------------------------------------------- setup
    random.seed(tc.seed)
    np.random.seed(tc.seed)
    torch.manual_seed(tc.seed)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    device = torch.device(tc.device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=tc.bf16)

    from tqdm import tqdm

    bar = tqdm(total=tc.max_steps, desc="training", unit="step", dynamic_ncols=True, disable=not sys.stderr.isatty())

    def log(msg: str) -> None:  # above the progress bar on a terminal; plain lines in logs
        (tqdm.write if not bar.disable else print)(msg)
        sys.stdout.flush()

    # -------------------------------------------------------------------------------------- data
    clips = (bandai_clips() if "bandai" in dc.sources else []) + (cmu_clips() if "cmu" in dc.sources else [])
    features = load_features(clips, "all", workers=dc.workers, log=log)
    train_clips = split_clips(clips, "train")
    if dc.max_clips:
        train_clips = random.Random(tc.seed).sample(train_clips, min(dc.max_clips, len(train_clips)))
    stats_path = run_dir / "stats.json"
    if resume and stats_path.exists():
        stats = ChannelStats.load(stats_path)
    else:
        stats = ChannelStats.fit([motion_windows(features[c.key], dc.window, dc.hop) for c in train_clips
                                  if c.key in features])
        stats.save(stats_path)
    events = load_events(train_clips, "all", workers=dc.workers, log=log) if dc.describer_share > 0 else {}
    train_set = TrainSet(train_clips, features, stats, dc.window, dc.mirror_prob, events, dc.describer_share)
    val_sets = [make_eval_set(f"{src}_val", one_per_group([c for c in split_clips(clips, "val") if c.source == src]),
                              features, stats, dc.window, dc.hop) for src in dc.sources]
    val_sets = [v for v in val_sets if v.clips]
    if dc.max_clips:
        val_sets = val_sets[:1]
    if dc.select_on not in ("freeform", "captions"):
        raise ValueError(f"data.select_on must be 'freeform' or 'captions', not '{dc.select_on}'")
    whole = not dc.max_clips and {"bandai", "cmu"} <= set(dc.sources)
    free_val = freeform_set("val", features, stats, dc.window, dc.hop, whole) if dc.select_on == "freeform" else None
    if free_val is not None and not free_val[0].captions:
        raise ValueError(f"no free-form val query has a relevant clip among the training sources {dc.sources}: "
                         "choose checkpoints on captions with --data.select_on=captions")
    log(f"train: {len(train_set.clips)} clips ({len(events)} described, share {dc.describer_share}); "
        + ", ".join(f"{v.name}: {len(v.clips)} clips" for v in val_sets)
        + (f"; free-form val: {len(free_val[1])} queries" if free_val else ""))

    # ------------------------------------------------------------------------------------- model
    model = RetrievalModel(mc, dc).to(device)
    tokenizer = load_tokenizer(mc.text_model_dir or None)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {mc.motion} + MiniLM, {n_params / 1e6:.1f} M parameters, score={mc.score}, mlm={mc.mlm_weight}")

    # ---------------------------------------------------------------------------------- optimizer
    groups = model.parameter_groups(tc.lr, tc.text_lr, tc.weight_decay)
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.98), eps=1e-6)

    # ------------------------------------------------------------------------------------ resume
    step, best = 0, -1.0
    if resume:
        state = json.loads((run_dir / "last.json").read_text())
        load_model(model, run_dir / "last.safetensors")
        optim_tensors = load_file(run_dir / "last_optim.safetensors")
        optimizer.load_state_dict(_optimizer_state(optimizer, optim_tensors, state["optim"]))
        step, best = state["step"], state["best"]
        log(f"resumed at step {step} (best validation score {best:.2f})")
    log_file = _log_from(run_dir / "log.jsonl", step)

    def get_lr(it: int) -> float:
        """Linear warm-up, then cosine decay to min_lr_ratio: a factor on each group's base lr."""
        if it < tc.warmup_steps:
            return (it + 1) / tc.warmup_steps
        progress = min(1.0, (it - tc.warmup_steps) / max(1, tc.max_steps - tc.warmup_steps))
        return tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def set_text_body_trainable(on: bool) -> None:
        for p in model.text.body.parameters():
            p.requires_grad_(on)

    def save(name: str, with_optimizer: bool) -> None:
        tmp = run_dir / f"{name}.tmp"
        save_model(model, str(tmp))  # safetensors; shares the tied MLM decoder/embedding weights
        os.replace(tmp, run_dir / f"{name}.safetensors")
        if with_optimizer:
            flat, meta = _flatten_optimizer(optimizer)
            save_file(flat, str(tmp))
            os.replace(tmp, run_dir / f"{name}_optim.safetensors")
            (run_dir / f"{name}.json.tmp").write_text(json.dumps({"step": step, "best": best, "optim": meta}))
            os.replace(run_dir / f"{name}.json.tmp", run_dir / f"{name}.json")

    def validate() -> dict:
        model.eval()
        with torch.no_grad(), autocast:
            results = evaluate_sets(model, tokenizer, val_sets, device)
            if free_val:
                results["freeform_val"] = freeform_scores(model, tokenizer, free_val, device)
        model.train()
        if free_val:  # selection: the hand-written free-form val queries, mean of R@1/5/10
            f = results["freeform_val"]
            results["select"] = float((f["R@1"] + f["R@5"] + f["R@10"]) / 3)
            return results
        scores = [results[v.name]["all"] for v in val_sets]
        # selection score: mean text->motion R@1/R@5/R@10 over the validation sets
        results["select"] = float(np.mean([(r["t2m_R@1"] + r["t2m_R@5"] + r["t2m_R@10"]) / 3 for r in scores]))
        return results

    def summary(res: dict) -> str:
        out = "; ".join(f"{v.name} t2m R@1 {res[v.name]['all']['t2m_R@1']:.1f} R@10 {res[v.name]['all']['t2m_R@10']:.1f}"
                        for v in val_sets)
        if "freeform_val" in res:
            f = res["freeform_val"]
            out += f"; free-form val R@1 {f['R@1']:.1f} R@5 {f['R@5']:.1f} R@10 {f['R@10']:.1f}"
        return out

    def validate_and_keep_best(best: float) -> float:
        """Validate at `step`, log it, save model_best when the selection score improves."""
        res = validate()
        improved = res["select"] > best
        if improved:
            save("model_best", with_optimizer=False)
        log(f"step {step}: validation {summary(res)}" + (" (best so far)" if improved else ""))
        log_file.write(json.dumps({"step": step, "val": {v.name: res[v.name]["all"] for v in val_sets}
                                   | ({"freeform_val": res["freeform_val"]} if "freeform_val" in res else {}),
                                   "select": res["select"]}) + "\n")
        log_file.flush()
        return max(best, res["select"])

    # -------------------------------------------------------------------------------------- loop
    rng = random.Random(tc.seed + step)
    gen = torch.Generator().manual_seed(tc.seed + step)
    batches = iter(())
    model.train()
    t0, seen = time.time(), 0
    bar.update(step)
    while step < tc.max_steps:
        # set the learning rate; keep the text body frozen while the fresh heads warm up
        factor = get_lr(step)
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"] * factor
        set_text_body_trainable(step >= tc.text_frozen_steps)

        # periodic validation, keeping the best checkpoint
        if step % tc.eval_every == 0 and step > 0:
            best = validate_and_keep_best(best)
        if step % tc.checkpoint_every == 0 and step > 0:
            save("last", with_optimizer=True)

        # one batch: forward, backward, clip, step
        try:
            batch = next(batches)
        except StopIteration:
            batches = train_set.batches(tc.batch_size, rng)
            batch = next(batches)
        tok = tokenizer(batch.captions, padding=True, truncation=True, max_length=mc.max_text_tokens,
                        return_tensors="pt", return_offsets_mapping=True)
        ids, am = tok["input_ids"].to(device), tok["attention_mask"].to(device)
        not_negative = torch.tensor([[caption_true_of(a, b) for b in batch.groups] for a in batch.groups])
        angles = torch.from_numpy(batch.angles).to(device)
        frame_mask = torch.from_numpy(batch.frame_mask).to(device)
        with autocast:
            q, q_mask = model.encode_text(ids, am)
            d, d_mask = model.encode_motion(angles, frame_mask)
            scores = model.score(q.float(), q_mask, d.float(), d_mask)
            loss_nce = info_nce(scores, model.logit_scale, not_negative)
            loss_mlm = torch.zeros((), device=device)
            if mc.mlm_weight > 0:
                masked, labels = mask_tokens(ids.cpu(), am.cpu(), model.text.special_ids, tokenizer.mask_token_id,
                                             model.text.mlm.config.vocab_size, mc.mlm_prob, gen)
                loss_mlm = model.text.mlm_loss(masked.to(device), am, labels.to(device))
            loss_ground = torch.zeros((), device=device)
            if mc.grounding_weight > 0:
                targets = grounding_token_targets(batch, tok["offset_mapping"].tolist())
                loss_ground = link_grounding_loss(q.float(), d.float(), d_mask, targets, model.logit_scale)
            loss = loss_nce + mc.mlm_weight * loss_mlm + mc.grounding_weight * loss_ground
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(0.0, math.log(100.0))

        # timing and logging (loss.item() is the one sync point)
        step += 1
        seen += len(batch.captions)
        bar.update(1)
        if step % tc.log_every == 0 or step == tc.max_steps:
            rate = seen / (time.time() - t0)
            record = {"step": step, "loss": loss.item(), "nce": loss_nce.item(), "mlm": loss_mlm.item(),
                      "grounding": loss_ground.item(),
                      "lr": factor * tc.lr, "grad_norm": float(grad_norm), "temp": float(model.logit_scale.detach().exp()),
                      "samples_per_s": rate, "frames": int(batch.frame_mask.shape[1])}
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
            bar.set_postfix(loss=f"{record['loss']:.3f}", refresh=False)
            eta = (tc.max_steps - step) * len(batch.captions) / max(rate, 1e-9)
            if bar.disable:
                log(f"step {step}/{tc.max_steps} loss {record['loss']:.3f} (nce {record['nce']:.3f} "
                    f"mlm {record['mlm']:.3f} grounding {record['grounding']:.3f}) lr {record['lr']:.2e} "
                    f"{rate:.1f} samples/s, eta {eta / 60:.0f} min")

    # ------------------------------------------------------------------------------------ finish
    best = validate_and_keep_best(best)
    save("last", with_optimizer=True)
    log_file.close()
    bar.close()
    plot_curves(run_dir / "log.jsonl", run_dir / "curves.png")
    log(f"done: best validation score {best:.2f}; model in {run_dir / 'model_best.safetensors'}")
    return run_dir


def grounding_token_targets(batch, offsets: list[list[tuple[int, int]]]) -> list[tuple[int, int, list[int]]]:
    """(pair, token position, target patches) for the words the describer linked to an event."""
    import numpy as np

    from training.data import PATCH
    from training.described import link_targets

    out = []
    for b, described in enumerate(batch.described):
        if described is None:
            continue
        columns = int(np.ceil(batch.frame_mask[b].sum() / PATCH))
        out += [(b, t, patches) for t, patches in link_targets(described, offsets[b], columns, PATCH)]
    return out


def _flatten_optimizer(optimizer):
    """AdamW state as flat tensors (safetensors, no pickle) plus the small scalars as JSON."""
    flat, meta = {}, {"param_groups": [], "state": {}}
    sd = optimizer.state_dict()
    for g in sd["param_groups"]:
        meta["param_groups"].append({k: v for k, v in g.items()})
    for pid, st in sd["state"].items():
        meta["state"][str(pid)] = {}
        for k, v in st.items():
            if hasattr(v, "shape") and v.ndim > 0:
                flat[f"{pid}.{k}"] = v.contiguous().cpu()
            else:
                meta["state"][str(pid)][k] = float(v)
    return flat, meta


def _optimizer_state(optimizer, flat: dict, meta: dict) -> dict:
    import torch

    state = {}
    for pid, scalars in meta["state"].items():
        entry = {k: torch.tensor(v) for k, v in scalars.items()}
        for key, value in flat.items():
            p, name = key.split(".", 1)
            if p == pid:
                entry[name] = value
        state[int(pid)] = entry
    return {"state": state, "param_groups": meta["param_groups"]}


if __name__ == "__main__":
    main()
