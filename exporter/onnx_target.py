"""What every ONNX file this project writes must be readable by.

The oldest onnxruntime a user runs is the one beside Blender 5's numpy<2 (1.31.1): it reads IR
versions up to 13. A newer `onnx` package stamps hand-built graphs with its own IR version (14 with
onnx 1.20), which that onnxruntime refuses, so hand-built graphs are written at the IR of their opset."""
from __future__ import annotations

from onnx import ModelProto, checker, helper

OPSET = 18  # BitwiseAnd (the int4 first-stage kernels)
IR_VERSION = 8  # the IR version that introduced opset 18
OLDEST_RUNTIME_READS_IR = 13  # onnxruntime 1.31.1 (checked: 14 fails to load)


def model_from_graph(graph, producer: str) -> ModelProto:
    """A checked model of a hand-built `graph` at the project's opset and IR version."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    model.ir_version = IR_VERSION
    checker.check_model(model, full_check=True)
    return model
