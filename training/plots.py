"""Training curves as a PNG: loss terms over steps and the validation recall."""

from __future__ import annotations

import json
from pathlib import Path


def plot_curves(log_path: str | Path, png: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = [], []
    for line in Path(log_path).read_text().splitlines():
        rec = json.loads(line)
        (val if "val" in rec else train).append(rec)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), dpi=100)
    if train:
        steps = [r["step"] for r in train]
        a.plot(steps, [r["loss"] for r in train], label="total", lw=1)
        a.plot(steps, [r["nce"] for r in train], label="InfoNCE", lw=1)
        if any(r["mlm"] for r in train):
            a.plot(steps, [r["mlm"] for r in train], label="MLM", lw=1)
        if any(r.get("grounding") for r in train):
            a.plot(steps, [r.get("grounding", 0.0) for r in train], label="grounding", lw=1)
    a.set_xlabel("step")
    a.set_title("training loss")
    a.legend()
    a.grid(alpha=0.3)
    for name in sorted({k for r in val for k in r["val"]}):
        pts = [(r["step"], r["val"][name]) for r in val if name in r["val"]]
        keys = ("R@1", "R@10") if name.startswith("freeform") else ("t2m_R@1", "t2m_R@10")
        for key, style in zip(keys, ("-", "--")):
            b.plot([s for s, _ in pts], [m[key] for _, m in pts], style, marker="o", ms=3, label=f"{name} {key}")
    b.set_xlabel("step")
    b.set_ylabel("%")
    b.set_title("validation text-to-motion recall (All protocol)")
    b.legend(fontsize=8)
    b.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
