"""A tiny end-to-end training run on a handful of real clips: the loss goes down, checkpoints are
safetensors + JSON, resume continues, and the evaluation report has the promised shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.evaluate import main as evaluate_main
from training.train import main as train_main


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


def _losses(run_dir):
    recs = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r for r in recs if "loss" in r]


def test_loss_goes_down(run):
    recs = _losses(run)
    assert [r["step"] for r in recs] == [5, 10, 15, 20, 25, 30, 35, 40]
    first, last = np.mean([r["nce"] for r in recs[:2]]), np.mean([r["nce"] for r in recs[-2:]])
    assert last < 0.7 * first, (first, last)
    assert all(np.isfinite(r["loss"]) and r["mlm"] > 0 for r in recs)


def test_run_directory_holds_safetensors_and_json(run):
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "stats.json", "model_best.safetensors", "last.safetensors", "last_optim.safetensors",
            "last.json", "log.jsonl", "curves.png"} <= names
    assert not any(n.endswith((".pt", ".pkl", ".bin")) for n in names)
    assert json.loads((run / "last.json").read_text())["step"] == 40


def test_resume_continues_from_the_last_checkpoint(run, tmp_path):
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(run, copy)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["train"]["run_dir"] = str(copy)
    cfg["train"]["max_steps"] = 50
    (copy / "config.json").write_text(json.dumps(cfg))
    with open(copy / "log.jsonl", "a") as f:  # a step logged after the last checkpoint, then a crash
        f.write(json.dumps({"step": 45, "loss": 99.0}) + "\n")
        f.write('{"step": 46, "lo')  # and the line being written when it stopped
    train_main([str(copy / "config.json"), "--resume"])
    assert json.loads((copy / "last.json").read_text())["step"] == 50
    steps = [r["step"] for r in _losses(copy)]
    assert steps[-2:] == [45, 50] and steps.count(40) == 1 and steps.count(45) == 1  # appended, not restarted
    assert 99.0 not in [r["loss"] for r in _losses(copy)]  # the step run again replaces the lost one
    records = [json.loads(line) for line in (copy / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val" in r].count(40) == 1  # validated again at 40, logged once


def test_evaluation_report(run, tmp_path):
    evaluate_main([str(run), "--out", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) == {"bandai_test", "cmu_eval", "interpretability", "freeform_val", "freeform_test",
                            "grounding", "text_drift"}
    m = results["bandai_test"]["maxsim_mlm"]
    for d in ("t2m", "m2t"):
        for k in ("R@1", "R@2", "R@3", "R@5", "R@10", "MedR"):
            assert f"{d}_{k}" in m and f"label/{d}_{k}" in m and f"batch32/{d}_{k}" in m
    assert 0 <= m["t2m_R@1"] <= m["t2m_R@10"] <= 100
    assert 0 <= results["interpretability"]["left_right_hit_rate"] <= 100
    free = results["freeform_test"]["maxsim_mlm"]
    assert free["queries"] >= 90 and 0 <= free["R@1"] <= free["R@10"] <= 100  # every test query has its clips
    grounding = results["grounding"]["maxsim_mlm"]
    assert grounding["arm words"] >= 20 and grounding["two-kind queries"] >= 5
    assert all(0 <= v <= 100 for k, v in grounding.items() if k.endswith("%") and v is not None)
    assert 0 < results["text_drift"]["maxsim_mlm"]["cosine"] <= 1.0 + 1e-6
    report = (tmp_path / "RESULTS.md").read_text()
    assert "bandai_test" in report and "left/right hit rate" in report
    assert "## Free-form sentences" in report and "## Grounding" in report and "## Text drift" in report
    assert "## Runs" in report
    assert "Not in this report (no finished run was given): maxsim, global, no_describer, no_grounding, text_lr_low." in report
    kept = json.loads((run / "evaluation.json").read_text())
    assert kept["run"]["config"]["model"]["score"] == "maxsim" and kept["results"]["freeform_test"] == free
    (tmp_path / "RESULTS.md").unlink()
    evaluate_main([str(run), "--out", str(tmp_path)])  # the second report reads the kept figures
    assert (tmp_path / "RESULTS.md").read_text() == report
