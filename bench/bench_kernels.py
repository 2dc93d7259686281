"""The kernel choices behind search, timed side by side on random codes of real sizes.

    ./dev py bench/bench_kernels.py

- int8 MaxSim products: signed x signed bytes (index v4) against unsigned (offset 128, a zero
  point) x signed (v5), and unsigned x unsigned (the query offset too: the `_unsigned` kernels, taken
  where u8 x s8 saturates, CPUs without VNNI; whether it does here is printed), onnxruntime's
  MatMulInteger, 343k patches of 256 (the default library).
- Sketch MaxSim (16 directions): the integer kernel against numpy float32, 480k patches (the
  sketches of ~4,000 windows, what a 10k-clip search scores).
- Fresh memory against a reused buffer: a float32 copy of 847k x 16 sketch bytes (what a 100k-clip
  query converts) through `astype` (a new array each query) and `np.copyto` into a buffer touched
  before (runtime.index.scratch).
- Thread pools: three sessions called in turn as one query calls them (text encoder, first stage,
  then the kernel once per chunk), with and without busy-waiting.
Each figure is the median of 9 runs after one warm-up; the load average is printed.
"""

from __future__ import annotations

import os
import statistics
import time

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.search import CodeScorer, signed_products_exact, sketch_maxsim  # noqa: E402


def _session(codes_type, width, zero_point: bool, spin: bool, q_type=TensorProto.INT8) -> ort.InferenceSession:
    inputs = [helper.make_tensor_value_info("codes", codes_type, ["N", width]),
              helper.make_tensor_value_info("q", q_type, [width, "L"])]
    consts = [numpy_helper.from_array(np.array(128, np.uint8), "zp")] if zero_point else []
    zero_points = (["zp", "zp"] if q_type == TensorProto.UINT8 else ["zp"]) if zero_point else []
    nodes = [helper.make_node("MatMulInteger", ["codes", "q"] + zero_points, ["p"]),
             helper.make_node("Cast", ["p"], ["out"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, "k", inputs, [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", "L"])],
                              initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    if not spin:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _ms(f, n: int = 9) -> float:
    f()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(1e3 * (time.perf_counter() - t))
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, onnxruntime {ort.__version__}\n")
    signed = rng.integers(-127, 128, (343_000, 256), dtype=np.int8)
    unsigned = signed.view(np.uint8) ^ np.uint8(128)
    q = rng.integers(-127, 128, (256, 6), dtype=np.int8)
    s8 = _session(TensorProto.INT8, 256, False, False)
    u8 = _session(TensorProto.UINT8, 256, True, False)
    u8u8 = _session(TensorProto.UINT8, 256, True, False, TensorProto.UINT8)
    q_unsigned = q.view(np.uint8) ^ np.uint8(128)
    print(f"int8 MaxSim products, 343k x 256, 6 tokens: s8 x s8 {_ms(lambda: s8.run(None, {'codes': signed, 'q': q})):.1f} ms, "
          f"u8 x s8 with zero point {_ms(lambda: u8.run(None, {'codes': unsigned, 'q': q})):.1f} ms, "
          f"u8 x u8 {_ms(lambda: u8u8.run(None, {'codes': unsigned, 'q': q_unsigned})):.1f} ms "
          f"(u8 x s8 {'exact' if signed_products_exact() else 'saturates'} on this CPU)")

    sketches = rng.integers(1, 255, (480_000, 16), dtype=np.uint8)
    scales = rng.random(480_000).astype(np.float16)
    offsets = np.arange(0, 480_001, 120)  # windows of 120 patches
    qs = rng.normal(size=(8, 16)).astype(np.float32)
    kernel = CodeScorer("int8")
    print(f"sketch MaxSim, 480k x 16, 8 tokens, 4,000 windows: integer kernel "
          f"{_ms(lambda: kernel.maxsim(qs, sketches, scales, offsets)):.1f} ms, numpy float32 (sketch_maxsim) "
          f"{_ms(lambda: sketch_maxsim(qs, sketches, scales, offsets)):.1f} ms")

    many = rng.integers(1, 255, (847_000, 16), dtype=np.uint8)
    reused = np.empty(many.shape, np.float32)
    print(f"float32 copy of 847k x 16 bytes: astype (fresh memory) {_ms(lambda: many.astype(np.float32)):.1f} ms, "
          f"copyto a reused buffer {_ms(lambda: np.copyto(reused, many, casting='unsafe')):.1f} ms")

    def query(sessions):  # a query's calls: the text encoder's and the first stage's, then 13 chunks
        for sess in sessions[:2]:
            sess.run(None, {"codes": unsigned[:26_000], "q": q})
        for c in range(13):
            sessions[2].run(None, {"codes": unsigned[c * 26_000: (c + 1) * 26_000], "q": q})
    spinning = [_session(TensorProto.UINT8, 256, True, True) for _ in range(3)]
    quiet = [_session(TensorProto.UINT8, 256, True, False) for _ in range(3)]
    print(f"three sessions, 15 calls of 26k x 256: thread pools spinning {_ms(lambda: query(spinning)):.1f} ms, "
          f"not spinning {_ms(lambda: query(quiet)):.1f} ms")
    print(f"\nload {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
