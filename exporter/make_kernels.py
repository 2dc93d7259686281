"""Write the runtime's integer MaxSim kernels: two tiny ONNX graphs that score a query against an
index's int8 / int4 patch codes without decoding them to float first.

    ./dev py exporter/make_kernels.py        # writes runtime/search/kernels/patch_scores_{int8,int4}.onnx

They are committed (the runtime has no `onnx` package to build them with; they are a few hundred
bytes) and a test rebuilds them and compares bytes. Each graph computes, for N patches and a query
of L tokens quantised to int8 with one scale per token:

    scores[n, t] = (codes[n] . q[t]) * patch_scale[n] * token_scale[t]      (float32, N x L)

int8 codes are used as they are stored, unsigned bytes offset by 128 (MatMulInteger u8 x s8 with
the offset as the codes' zero point: the CPU's fast VNNI path; s8 x s8 took 3.8x longer: bench/bench_kernels.py).
Without VNNI (AVX2 or AVX-512 alone: AMD Zen 1-3, Intel before Ice Lake), onnxruntime's u8 x s8
product adds pairs of byte products in 16 bits, which saturate (2 x 255 x 127 > 32,767), so each
int8 kernel has a twin, `*_unsigned.onnx`, that takes the query as unsigned bytes offset by 128 too
(u8 x u8: exact on every CPU); runtime/search/code_scores.py picks one per process. int4 codes hold two dimensions per
byte (dimension 2j in the low nibble, 2j+1 in the high one, both offset by 8): the graph splits the
nibbles with BitwiseAnd / BitShift and lets MatMulInteger's zero point (8) remove the offset, so the
even and odd dimensions of the query meet their nibbles and the two products are summed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from exporter.onnx_target import model_from_graph
from runtime.motion import NUM_PARTS

OUT = Path(__file__).resolve().parent.parent / "runtime" / "search" / "kernels"


def _scale_nodes(product: str) -> list:
    return [helper.make_node("Cast", [product], ["product_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["product_f", "patch_scale"], ["by_patch"]),
            helper.make_node("Mul", ["by_patch", "token_scale"], ["scores"])]


def _io(codes_type, codes_width: int | str, q_names: list[str], q_type=TensorProto.INT8) -> tuple[list, list]:
    inputs = [helper.make_tensor_value_info("codes", codes_type, ["N", codes_width])]
    inputs += [helper.make_tensor_value_info(n, q_type, [codes_width, "L"]) for n in q_names]
    inputs += [helper.make_tensor_value_info("patch_scale", TensorProto.FLOAT, ["N", 1]),
               helper.make_tensor_value_info("token_scale", TensorProto.FLOAT, [1, "L"])]
    return inputs, [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", "L"])]


def _query_operands(unsigned: bool) -> tuple[int, list[str]]:
    """The query's type and MatMulInteger's zero points: a signed query as it is, or an unsigned one
    (the signed bytes offset by 128, as the codes) with the same offset as its zero point."""
    return (TensorProto.UINT8, ["offset", "offset"]) if unsigned else (TensorProto.INT8, ["offset"])


def int8_kernel(dim: int | str = "D", unsigned: bool = False) -> onnx.ModelProto:
    """Any width: the 256-dim patch codes and the 16-dim sketches (runtime.index.sketch) alike."""
    q_type, zero_points = _query_operands(unsigned)
    inputs, outputs = _io(TensorProto.UINT8, dim, ["q"], q_type)
    consts = [numpy_helper.from_array(np.array(128, np.uint8), "offset")]
    nodes = [helper.make_node("MatMulInteger", ["codes", "q", *zero_points], ["product"])] + _scale_nodes("product")
    name = "patch_scores_int8_unsigned" if unsigned else "patch_scores_int8"
    return _model(helper.make_graph(nodes, name, inputs, outputs, initializer=consts))


def int4_kernel(dim: int = 256) -> onnx.ModelProto:
    inputs, outputs = _io(TensorProto.UINT8, dim // 2, ["q_even", "q_odd"])
    consts = [numpy_helper.from_array(np.array(15, np.uint8), "low_mask"),
              numpy_helper.from_array(np.array(4, np.uint8), "four"),
              numpy_helper.from_array(np.array(8, np.uint8), "offset")]
    nodes = [helper.make_node("BitwiseAnd", ["codes", "low_mask"], ["low"]),
             helper.make_node("BitShift", ["codes", "four"], ["high"], direction="RIGHT"),
             helper.make_node("MatMulInteger", ["low", "q_even", "offset"], ["even"]),
             helper.make_node("MatMulInteger", ["high", "q_odd", "offset"], ["odd"]),
             helper.make_node("Add", ["even", "odd"], ["product"])] + _scale_nodes("product")
    return _model(helper.make_graph(nodes, "patch_scores_int4", inputs, outputs, initializer=consts))


def first_stage_kernel(num_parts: int = NUM_PARTS, unsigned: bool = False) -> onnx.ModelProto:
    """Scores every window from its first-stage summaries (runtime.index.first_stage) in one pass:
    rows are window-major (window w, part p at row w * num_parts + p), stored as unsigned bytes offset
    by 128 with one scale per row; for each query token the best part, averaged over the tokens."""
    q_type, zero_points = _query_operands(unsigned)
    inputs = [helper.make_tensor_value_info("parts", TensorProto.UINT8, ["R", "G"]),
              helper.make_tensor_value_info("q", q_type, ["G", "L"]),
              helper.make_tensor_value_info("row_scale", TensorProto.FLOAT, ["R", 1]),
              helper.make_tensor_value_info("token_scale", TensorProto.FLOAT, [1, "L"])]
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["W"])]
    consts = [numpy_helper.from_array(np.array(128, np.uint8), "offset"),
              numpy_helper.from_array(np.array([-1, num_parts], np.int64), "windows_by_parts"),
              numpy_helper.from_array(np.array([1], np.int64), "axis_1")]
    nodes = [helper.make_node("MatMulInteger", ["parts", "q", *zero_points], ["product"]),
             helper.make_node("Cast", ["product"], ["product_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["product_f", "row_scale"], ["by_row"]),
             helper.make_node("Mul", ["by_row", "token_scale"], ["sims"]),
             helper.make_node("Shape", ["token_scale"], ["tokens"], start=1),
             helper.make_node("Concat", ["windows_by_parts", "tokens"], ["grid"], axis=0),
             helper.make_node("Reshape", ["sims", "grid"], ["by_window"]),
             helper.make_node("ReduceMax", ["by_window", "axis_1"], ["best_part"], keepdims=0),
             helper.make_node("ReduceMean", ["best_part", "axis_1"], ["scores"], keepdims=0)]
    name = "first_stage_int8_unsigned" if unsigned else "first_stage_int8"
    return _model(helper.make_graph(nodes, name, inputs, outputs, initializer=consts))


def description_kernel() -> onnx.ModelProto:
    """Scores every clip's description vector (runtime.search.fusion.DescriptionScorer) for a few query
    rows: the clips' int8 codes held transposed, signed (S x N), and the query as the left operand,
    7-bit unsigned bytes (a signed value in -63..63 offset by 64, the zero point). With the query on
    the left, one row against N columns is a matrix product rather than a matrix-vector one, and
    bytes of at most 127 make the u8 x s8 product exact without VNNI too (2 x 127 x 127 < 32,767):
    the description scores took 0.64 ms at 10k clips on a 2-core AMD EPYC, 1.06 ms with the patch
    kernel (docs/BENCHMARKS.md, bench/bench_fusion.py).

        scores[t, n] = ((q[t] - 64) . codes_t[:, n]) * token_scale[t] * clip_scale[n]
    """
    inputs = [helper.make_tensor_value_info("q", TensorProto.UINT8, ["L", "S"]),
              helper.make_tensor_value_info("codes_t", TensorProto.INT8, ["S", "N"]),
              helper.make_tensor_value_info("token_scale", TensorProto.FLOAT, ["L", 1]),
              helper.make_tensor_value_info("clip_scale", TensorProto.FLOAT, [1, "N"])]
    outputs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["L", "N"])]
    consts = [numpy_helper.from_array(np.array(64, np.uint8), "offset")]
    nodes = [helper.make_node("MatMulInteger", ["q", "codes_t", "offset"], ["product"]),
             helper.make_node("Cast", ["product"], ["product_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["product_f", "token_scale"], ["by_token"]),
             helper.make_node("Mul", ["by_token", "clip_scale"], ["scores"])]
    return _model(helper.make_graph(nodes, "description_scores_int8", inputs, outputs, initializer=consts))


def _model(graph) -> onnx.ModelProto:
    return model_from_graph(graph, "motion-search exporter/make_kernels.py")


def kernels() -> dict[str, bytes]:
    out = {f"patch_scores_{name}.onnx": make().SerializeToString()
           for name, make in (("int8", int8_kernel), ("int4", int4_kernel))}
    out["patch_scores_int8_unsigned.onnx"] = int8_kernel(unsigned=True).SerializeToString()
    out["first_stage_int8.onnx"] = first_stage_kernel().SerializeToString()
    out["first_stage_int8_unsigned.onnx"] = first_stage_kernel(unsigned=True).SerializeToString()
    out["description_scores_int8.onnx"] = description_kernel().SerializeToString()
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in kernels().items():
        (OUT / name).write_bytes(data)
        print(f"wrote {OUT / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
