"""Export -> ONNX parity, the bundle's manifest and hashes, and clear errors for broken bundles."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from runtime.errors import BundleError
from runtime.model import Bundle


def test_bundle_has_its_files_and_manifest(tiny_bundle):
    names = {p.name for p in tiny_bundle.iterdir()}
    assert names == {"manifest.json", "text_encoder.onnx", "motion_encoder.onnx", "tokenizer.json"}
    m = json.loads((tiny_bundle / "manifest.json").read_text())
    assert m["format"] == "motion-search-bundle" and m["embed_dim"] == 256 and m["window"] == 224
    assert m["parity"]["max_abs_diff_fp32"]["text"] <= 1e-4 and m["parity"]["max_abs_diff_fp32"]["motion"] <= 1e-4
    assert m["text_encoder"]["variant"] == "int8" and len(m["channel_stats"]["mean"]) == 29
    assert {d["licence"] for d in m["training"]["data"]} >= {"CC BY-NC 4.0"}
    # variants are measured: int8 text is about a quarter of fp32 and close to it
    v = m["variants"]
    assert v["text:int8"]["bytes"] < 0.3 * v["text:fp32"]["bytes"]
    assert v["text:int8"]["mean_cosine_to_fp32"] > 0.98 and v["motion:fp16"]["min_cosine_to_fp32"] > 0.999
    assert set(m["files"]) == {"text_encoder.onnx", "motion_encoder.onnx", "tokenizer.json"}


def test_runtime_encodes_like_torch(tiny_run, tiny_bundle, bandai2):
    """The runtime (tokenizers + onnxruntime) against the training model (transformers + torch)."""
    import torch

    from runtime.motion import load_motion
    from training.evaluate import load_run

    model, tokenizer, cfg, stats = load_run(tiny_run)
    bundle = Bundle.load(tiny_bundle, device="cpu")
    text = "An elderly person waves the LEFT hand, slowly!"
    q = bundle.encode_query(text)
    tok = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        ref, mask = model.encode_text(tok["input_ids"], tok["attention_mask"])
    ref = ref[0, mask[0]].numpy()
    assert q.tokens.shape == ref.shape
    cos = np.sum(q.tokens * ref, axis=1)  # int8 text encoder against fp32 torch
    assert cos.min() > 0.97
    assert q.words == ["An", "elderly", "person", "waves", "the", "LEFT", "hand", ",", "slowly", "!"]
    motion = load_motion(bandai2 / "dataset-2_raise-up-left-hand_normal_003.bvh")
    windows, patches = bundle.encode_motion(motion)
    z = torch.from_numpy(stats.normalize(windows.angles, windows.mask))
    with torch.no_grad():
        t = int(np.ceil(windows.length.max() / 16) * 16)
        ref_p, ref_m = model.encode_motion(z[:, :t], torch.from_numpy(windows.mask[:, :t]))
    np.testing.assert_allclose(patches[0], ref_p[0, ref_m[0]].numpy(), atol=1e-4)


def test_broken_bundles_give_clear_errors(tiny_bundle, tmp_path):
    with pytest.raises(BundleError, match="not found"):
        Bundle.load(tmp_path / "nowhere")
    broken = tmp_path / "b1"
    shutil.copytree(tiny_bundle, broken)
    (broken / "motion_encoder.onnx").unlink()
    with pytest.raises(BundleError, match="missing motion_encoder.onnx"):
        Bundle.load(broken)
    altered = tmp_path / "b2"
    shutil.copytree(tiny_bundle, altered)
    with open(altered / "text_encoder.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(BundleError, match="do not match the manifest"):
        Bundle.load(altered)
    old = tmp_path / "b3"
    shutil.copytree(tiny_bundle, old)
    m = json.loads((old / "manifest.json").read_text())
    m["format_version"] = 99
    (old / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="re-export"):
        Bundle.load(old)


def test_export_refuses_a_model_that_onnx_does_not_reproduce(tiny_run, tmp_path):
    """The parity check is live: a tolerance nothing can meet fails the export loudly."""
    from exporter.to_onnx import export_bundle

    with pytest.raises(AssertionError, match="differs from torch"):
        export_bundle(tiny_run, tmp_path / "b", evaluate=False, tolerance=0.0, log=lambda *a: None)
