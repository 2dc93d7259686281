"""How far fine-tuning moved the text encoder from the pretrained MiniLM, on sentences outside
every training text (training/freeform/outside_sentences.txt).

    ./dev py training/text_drift.py runs/maxsim_mlm_described [runs/... ...] [--json out.json]

Two figures per run, from mean-pooled last hidden states (what all-MiniLM-L6-v2 itself uses as a
sentence embedding), before the retrieval projection:
- cosine: mean cosine between a sentence's fine-tuned and pretrained vectors (1 = unchanged);
- geometry: Pearson correlation of the two models' sentence-to-sentence cosine matrices, i.e.
  whether sentences that were alike still are (robust to a rotation of the whole space).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import training  # noqa: F401,E402

OUTSIDE_FILE = Path(__file__).resolve().parent / "freeform" / "outside_sentences.txt"


def outside_sentences(path: Path = OUTSIDE_FILE) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]


def sentence_means(body, tokenizer, sentences: list[str]):
    import torch

    from training.losses import pooled

    with torch.no_grad():
        tok = tokenizer(sentences, padding=True, truncation=True, max_length=64, return_tensors="pt")
        h = body(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
        return pooled(h, tok["attention_mask"])


def drift(body, frozen_body, tokenizer, sentences: list[str]) -> dict:
    import numpy as np

    a = sentence_means(body, tokenizer, sentences)
    b = sentence_means(frozen_body, tokenizer, sentences)
    cos = float((a * b).sum(-1).mean())
    iu = np.triu_indices(len(sentences), 1)
    ga, gb = (a @ a.T).numpy()[iu], (b @ b.T).numpy()[iu]
    return {"cosine": cos, "geometry": float(np.corrcoef(ga, gb)[0, 1]), "sentences": len(sentences)}


def run_drift(model, cfg, tokenizer, sentences: list[str] | None = None) -> dict:
    """Drift of a loaded run's text body from the model it was fine-tuned from."""
    from transformers import BertModel

    from training.models.text_encoder import default_text_model_dir

    start = cfg.model.text_model_dir or default_text_model_dir()  # what the run was fine-tuned from
    frozen = BertModel.from_pretrained(start, local_files_only=True).eval()
    return drift(model.text.body, frozen, tokenizer, sentences or outside_sentences())


def main(argv: list[str] | None = None) -> int:
    from training.evaluate import load_run

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)
    sentences = outside_sentences()
    out = {}
    for run in args.runs:
        model, tokenizer, cfg, _ = load_run(run)
        out[Path(run).name] = run_drift(model, cfg, tokenizer, sentences)
        f = out[Path(run).name]
        print(f"{Path(run).name}: cosine to the pretrained MiniLM {f['cosine']:.3f}, geometry kept {f['geometry']:.3f} "
              f"({f['sentences']} outside sentences)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
