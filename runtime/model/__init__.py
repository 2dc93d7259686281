"""The model bundle: the two ONNX encoders (text tokens, motion patches), the tokenizer and the
manifest, run with onnxruntime on CUDA when it really works, else on the CPU.

May import: runtime.motion (joint-angle windows), runtime.errors, runtime.hashing.
"""

from .bundle import FILES, FORMAT, FORMAT_VERSION, Bundle, Query, default_bundle_path
from .providers import DEVICES, cpu_session, make_session
