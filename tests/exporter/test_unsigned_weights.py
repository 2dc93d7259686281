"""int8 encoders with unsigned weights (exporter/unsigned_weights.py): the products of the bytes, exact
on every CPU, where the signed weights' u8 x s8 product saturates without VNNI."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from exporter.onnx_target import model_from_graph
from exporter.unsigned_weights import unsign_weights
from runtime.model import default_bundle_path


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _dynamic_quantized_matmul(x: np.ndarray, w_q: np.ndarray, w_scale: np.ndarray) -> np.ndarray:
    """What a dynamically quantised MatMul computes, in integers: x to unsigned bytes as
    DynamicQuantizeLinear does (range including 0, round half to even), times the signed weights."""
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = np.float32((hi - lo) / 255)
    zero = np.clip(np.rint(-lo / scale), 0, 255)
    q = np.clip(np.rint(x / scale) + zero, 0, 255).astype(np.int64)
    return ((q - zero.astype(np.int64)) @ w_q.astype(np.int64)) * (scale * w_scale)


def test_a_dynamically_quantised_matmul_gives_the_exact_products_once_its_weights_are_unsigned(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    w = rng.normal(size=(384, 96)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 384])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 96])],
                              initializer=[numpy_helper.from_array(w, "w")])
    onnx.save(model_from_graph(graph, "test"), tmp_path / "f.onnx")
    quantize_dynamic(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), per_channel=True,
                     weight_type=QuantType.QInt8)
    signed = onnx.load(tmp_path / "q.onnx")
    inits = {t.name: numpy_helper.to_array(t) for t in signed.graph.initializer}
    node = next(n for n in signed.graph.node if n.op_type == "MatMulInteger")
    w_q = inits[node.input[1]]
    scale_name = next(n for n in inits if n.endswith("_scale") and inits[n].shape == (96,))
    assert w_q.dtype == np.int8 and np.abs(w_q).max() == 127 and not inits[node.input[3]].any()

    unsigned = onnx.load(tmp_path / "q.onnx")
    assert unsign_weights(unsigned) == 1
    onnx.checker.check_model(unsigned)
    after = {t.name: t for t in unsigned.graph.initializer}
    assert after[node.input[1]].data_type == after[node.input[3]].data_type == TensorProto.UINT8
    assert unsign_weights(unsigned) == 0  # already unsigned: left as it is

    x = np.concatenate([rng.normal(size=(6, 384)), rng.uniform(-1, 1, (2, 384)) * 40]).astype(np.float32)
    x[0, :] = np.abs(x[0, :]) * 10  # bytes near 255 against weights near +-127: where u8 x s8 saturates
    for row in range(len(x)):
        want = _dynamic_quantized_matmul(x[None, row], w_q, inits[scale_name])
        np.testing.assert_allclose(_run(unsigned, x[None, row]), want, rtol=1e-5, atol=1e-4 * np.abs(want).max())


def test_the_shipped_encoders_have_no_signed_integer_weights():
    bundle = default_bundle_path()
    for name in ("text_encoder.onnx", "motion_encoder.onnx", "sentence_encoder.onnx"):
        model = onnx.load(bundle / name)
        inits = {t.name: t.data_type for t in model.graph.initializer}
        weights = [n.input[1] for n in model.graph.node if n.op_type == "MatMulInteger"]
        assert weights and all(inits[w] == TensorProto.UINT8 for w in weights), name


def test_weights_shared_with_another_operator_are_refused():
    w = numpy_helper.from_array(np.ones((4, 4), np.int8), "w")
    zero = numpy_helper.from_array(np.zeros(4, np.int8), "zw")
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["x", "w", "zx", "zw"], ["y"]),
                               helper.make_node("Cast", ["w"], ["w_float"], to=TensorProto.FLOAT)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4]),
                               helper.make_tensor_value_info("zx", TensorProto.UINT8, [])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 4]),
                               helper.make_tensor_value_info("w_float", TensorProto.FLOAT, [4, 4])],
                              initializer=[w, zero])
    with pytest.raises(ValueError, match="'w' is also used elsewhere"):
        unsign_weights(model_from_graph(graph, "test"))
