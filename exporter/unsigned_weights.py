"""int8 encoders whose integer products are exact on every x86 CPU: weights as unsigned bytes.

    ./dev py exporter/unsigned_weights.py models/default     # rewrite a bundle's int8 encoders in place

onnxruntime's dynamic quantisation (exporter/to_onnx.py `quantize`) stores a MatMul's weights as
signed bytes with zero point 0 and quantises the activations to unsigned bytes: MatMulInteger
u8 x s8. With VNNI (Intel since Ice Lake / Alder Lake, AMD since Zen 4) that product is exact.
Without it (AVX2 or AVX-512 alone: AMD Zen 1-3, Intel Skylake to Comet Lake) onnxruntime adds
pairs of byte products in 16 bits first, which saturate (2 x 255 x 127 > 32,767): on such a CPU
the shipped encoders gave other vectors: 17 of the bundle's recorded test figures moved, by up to
12.5 points (exporter/evaluate_bundle.py --check --subset, the signed bundle of commit e976e84, on an
AMD EPYC with AVX2 alone).

The same weights as unsigned bytes offset by 128, with 128 as their zero point, make the product
u8 x u8, which onnxruntime computes without saturating on every CPU; the integers it yields are
the same as the exact u8 x s8 product's, so the encoders' outputs on a VNNI CPU do not change
(the bundle's figures reproduce). The files do, and with them the bundle's `model_id` and the
sentence encoder's `id`: an index built before is encoded again at its next update, as after any
model change (on a CPU without VNNI its vectors were off).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def unsign_weights(model: onnx.ModelProto) -> int:
    """Rewrite, in place, every MatMulInteger's signed constant weights and their zero points as
    unsigned bytes offset by 128; returns how many weights it rewrote. A weight used by anything
    else than MatMulInteger's second input is refused (its meaning would change)."""
    inits = {t.name: t for t in model.graph.initializer}
    uses: dict[str, set[tuple[str, int]]] = {}
    for node in model.graph.node:
        for k, name in enumerate(node.input):
            uses.setdefault(name, set()).add((node.op_type, k))
    done: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or node.input[1] not in inits:
            continue
        weight = node.input[1]
        zero_point = node.input[3] if len(node.input) > 3 and node.input[3] else None
        if weight in done or inits[weight].data_type == onnx.TensorProto.UINT8:
            continue
        if zero_point is None or zero_point not in inits:
            raise ValueError(f"MatMulInteger '{node.name}': signed weights without a constant zero point")
        for name, slot in ((weight, 1), (zero_point, 3)):
            if uses[name] != {("MatMulInteger", slot)}:
                raise ValueError(f"'{name}' is also used elsewhere ({sorted(uses[name])}): cannot rewrite it")
            tensor = inits[name]
            if tensor.data_type != onnx.TensorProto.INT8:
                raise ValueError(f"'{name}' is {onnx.TensorProto.DataType.Name(tensor.data_type)}, not INT8")
            values = numpy_helper.to_array(tensor).astype(np.int16) + 128
            tensor.CopyFrom(numpy_helper.from_array(values.astype(np.uint8), name))
            done.add(name)
    return sum(1 for name in done if uses[name] == {("MatMulInteger", 1)})


def unsign_file(path: Path) -> int:
    """unsign_weights on an ONNX file, rewritten in place; returns how many weights it rewrote."""
    model = onnx.load(str(path))
    count = unsign_weights(model)
    if count:
        onnx.checker.check_model(model)
        onnx.save_model(model, str(path))
    return count


def unsign_bundle(bundle: Path, log=print) -> dict:
    """Rewrite a bundle's int8 encoders (text, motion, sentence) and its manifest (file hashes,
    `model_id`, the sentence encoder's `id`); returns the manifest."""
    from exporter.sentence_encoder import sentence_id
    from exporter.to_onnx import write_manifest
    from runtime.hashing import file_sha256

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    for key in ("text_encoder", "motion_encoder", "sentence_encoder"):
        entry = manifest.get(key)
        if entry and entry.get("variant") == "int8":
            count = unsign_file(bundle / entry["file"])
            log(f"{entry['file']}: {count} weight matrices as unsigned bytes")
    sentence = manifest.get("sentence_encoder")
    if sentence:
        sentence["id"] = sentence_id(file_sha256(bundle / sentence["file"]))
    before = manifest["model_id"]
    write_manifest(bundle, manifest)
    log(f"{bundle}: model id {before} -> {manifest['model_id']}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path, help="bundle folder (manifest.json and its encoders)")
    unsign_bundle(parser.parse_args(argv).bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
