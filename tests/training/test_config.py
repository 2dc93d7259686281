"""Config files and --key=value overrides: types checked, unknown keys refused."""

from __future__ import annotations

import json

import pytest

from training.config import Config, load_config


def test_overrides_and_files(tmp_path):
    f = tmp_path / "exp.json"
    f.write_text(json.dumps({"_comment": "x", "model": {"score": "global", "mlm_weight": 0}, "train": {"bf16": True}}))
    cfg = load_config(str(f), ["--train.max_steps=10", "--lr=0.001", "--data.sources=bandai"])
    assert cfg.model.score == "global" and cfg.model.mlm_weight == 0.0 and cfg.train.bf16 is True
    assert cfg.train.max_steps == 10 and cfg.train.lr == 0.001 and cfg.data.sources == ("bandai",)
    again = Config.from_json(json.loads(json.dumps(cfg.to_json())))
    assert again == cfg


@pytest.mark.parametrize("arg, error", [
    ("--train.max_step=10", KeyError), ("--nope=1", KeyError), ("--train.max_steps=ten", TypeError),
    ("--train.max_steps=1.5", TypeError), ("--train.bf16=maybe", TypeError), ("train.max_steps=1", ValueError),
])
def test_bad_overrides(arg, error):
    with pytest.raises(error):
        load_config(None, [arg])


def test_shipped_experiment_files_load():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.json"))
    assert {c.stem for c in configs} >= {"maxsim_mlm", "maxsim", "global", "paper_vit_b"}
    for c in configs:
        load_config(str(c), [])


def test_every_experiment_file_has_its_own_name_in_the_report():
    from pathlib import Path

    from training.evaluate import run_name

    configs = sorted(p for p in (Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.json")
                     if p.stem != "paper_vit_b")  # the paper's size of the default: the same kind of run
    names = {p.stem: run_name(load_config(str(p), [])) for p in configs}
    assert names["maxsim_mlm"] == "maxsim_mlm" and names["global"] == "global" and names["maxsim"] == "maxsim"
    assert names["no_describer"] == "no_describer" and names["no_grounding"] == "no_grounding"
    assert names["text_lr_low"] == "text_lr_low"
    assert len(set(names.values())) == len(names)
