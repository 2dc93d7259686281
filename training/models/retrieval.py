"""The text-motion retrieval model: Motion ViT patches and MiniLM tokens in one 256-d space,
scored by MaxSim (or the global-pooling baseline, by config)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import DataConfig, ModelConfig
from ..losses import SCORES
from .motion_vit import create_motion_vit
from .text_encoder import TextEncoder


class RetrievalModel(nn.Module):
    def __init__(self, model: ModelConfig, data: DataConfig):
        super().__init__()
        if model.score not in SCORES:
            raise ValueError(f"model.score must be one of {', '.join(SCORES)}, not '{model.score}'")
        self.score_name = model.score
        self.motion = create_motion_vit(model.motion, drop_path_rate=model.drop_path, max_frames=data.window,
                                        attention=model.attention)
        self.motion_proj = nn.Linear(self.motion.num_features, model.embed_dim)
        self.text = TextEncoder(model.text_model_dir or None, model.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_motion(self, angles: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 29), (B, T) -> unit patch embeddings (B, N, D) and patch mask (B, N)."""
        tokens, mask = self.motion.forward_features(angles, frame_mask)
        return F.normalize(self.motion_proj(tokens), dim=-1), mask

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) ids, mask -> unit token embeddings (B, L, D) and token mask (B, L)."""
        return self.text(input_ids, attention_mask)

    def score(self, q, q_mask, d, d_mask) -> torch.Tensor:
        return SCORES[self.score_name](q, q_mask, d, d_mask)

    def parameter_groups(self, lr: float, text_lr: float, weight_decay: float) -> list[dict]:
        """The pretrained text body learns slowly; everything new learns fast. No decay on norms,
        biases, embeddings and the temperature."""
        groups = {(True, True): [], (True, False): [], (False, True): [], (False, False): []}
        for name, p in self.named_parameters():
            pretrained = name.startswith("text.mlm.bert.")
            decay = p.ndim >= 2 and "embed" not in name and "embeddings" not in name
            groups[(pretrained, decay)].append(p)
        return [
            {"params": groups[(True, True)], "lr": text_lr, "base_lr": text_lr, "weight_decay": weight_decay},
            {"params": groups[(True, False)], "lr": text_lr, "base_lr": text_lr, "weight_decay": 0.0},
            {"params": groups[(False, True)], "lr": lr, "base_lr": lr, "weight_decay": weight_decay},
            {"params": groups[(False, False)], "lr": lr, "base_lr": lr, "weight_decay": 0.0},
        ]
