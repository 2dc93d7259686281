"""Every ONNX file the product ships loads in the oldest onnxruntime users run (Blender 5's)."""
from pathlib import Path

import onnx
import pytest

from exporter.onnx_target import OLDEST_RUNTIME_READS_IR, OPSET

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "models" / "default").glob("*.onnx"), *(ROOT / "runtime" / "search" / "kernels").glob("*.onnx")])


def test_the_bundle_and_kernels_are_all_checked():
    assert {p.name for p in SHIPPED} >= {"motion_encoder.onnx", "text_encoder.onnx", "sentence_encoder.onnx",
                                         "codebook.onnx", "reference.onnx", "patch_scores_int8.onnx",
                                         "first_stage_int8.onnx", "patch_scores_int8_unsigned.onnx",
                                         "first_stage_int8_unsigned.onnx"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_onnx_is_readable_by_the_oldest_runtime(path):
    model = onnx.load(path, load_external_data=False)
    assert model.ir_version <= OLDEST_RUNTIME_READS_IR, f"{path.name}: IR {model.ir_version}"
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) <= OPSET
