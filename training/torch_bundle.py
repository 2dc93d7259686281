"""A trained run behind the runtime's `Bundle`: torch computes the two encoders, everything else
(tokenizer, windows, normalisation, word splitting, MaxSim, explanations) is the runtime's own.

So every run is measured on free-form queries and word grounding by exactly the code that measures
an exported bundle (training/bundle_eval.py), without exporting each run first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from runtime.model import Bundle


class TorchSession:
    """The part of an onnxruntime InferenceSession that Bundle uses: run() and get_providers()."""

    def __init__(self, fn, inputs: tuple[str, ...], device):
        self.fn, self.inputs, self.device = fn, inputs, device

    @torch.no_grad()
    def run(self, _output_names, feeds: dict) -> list[np.ndarray]:
        outs = self.fn(*[torch.from_numpy(np.ascontiguousarray(feeds[n])).to(self.device) for n in self.inputs])
        return [o.float().cpu().numpy() if o.is_floating_point() else o.cpu().numpy() for o in outs]

    def get_providers(self) -> list[str]:
        return [f"torch ({self.device})"]


def torch_bundle(model, cfg, stats, run_dir: str | Path = "", device="cpu") -> Bundle:
    """A Bundle over a loaded RetrievalModel (eval mode), its config and channel stats."""
    from tokenizers import Tokenizer

    from training.models.text_encoder import default_text_model_dir

    tokenizer = Tokenizer.from_file(str(Path(cfg.model.text_model_dir or default_text_model_dir()) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=cfg.model.max_text_tokens)
    tokenizer.no_padding()
    manifest = {"embed_dim": cfg.model.embed_dim, "window": cfg.data.window, "hop": cfg.data.hop, "fps": 20.0,
                "patch_frames": model.motion.patch_frames, "max_text_tokens": cfg.model.max_text_tokens,
                "score": cfg.model.score, "channel_stats": stats.to_json(), "model_id": f"torch:{run_dir}"}
    model.eval()
    text = TorchSession(model.encode_text, ("input_ids", "attention_mask"), device)
    motion = TorchSession(model.encode_motion, ("angles", "frame_mask"), device)
    return Bundle(Path(run_dir), manifest, text, motion, tokenizer, "torch")
