"""onnxruntime sessions on CUDA when it really works, otherwise on the CPU, saying which.

`onnxruntime-gpu` lists the CUDA provider even where there is no GPU or no CUDA libraries;
a session asked for CUDA then quietly runs on the CPU after logging a long error. So CUDA counts
as working only when a session reports it active, and the failed attempt is kept out of the log.
"""

from __future__ import annotations

import logging
import os

import onnxruntime as ort

log = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "cpu")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def make_session(model: str | bytes, device: str = "auto", threads: int = 0) -> tuple[ort.InferenceSession, str]:
    """A session for `model` on `device` ("auto", "cuda" or "cpu") and a sentence saying what runs.

    "cuda" that cannot start falls back to the CPU, with the reason in the sentence (search keeps
    working). The environment variable MOTION_SEARCH_DEVICE overrides `device`.
    """
    device = (os.environ.get("MOTION_SEARCH_DEVICE") or device or "auto").lower()
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not '{device}'")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    if device == "cpu":
        return ort.InferenceSession(model, opts, providers=[CPU]), "CPU (chosen in preferences)"
    if CUDA not in ort.get_available_providers():
        note = "CPU (this onnxruntime has no CUDA provider; install onnxruntime-gpu for GPU inference)"
        if device == "cuda":
            log.warning("CUDA requested: %s", note)
        return ort.InferenceSession(model, opts, providers=[CPU]), note
    ort.set_default_logger_severity(4)  # the failed CUDA load on a machine without CUDA is expected
    try:
        sess = ort.InferenceSession(model, opts, providers=[CUDA, CPU])
    finally:
        ort.set_default_logger_severity(2)
    if sess.get_providers()[0] == CUDA:
        return sess, "CUDA GPU"
    note = "CPU (the CUDA provider could not start: no GPU, or CUDA/cuDNN libraries missing)"
    if device == "cuda":
        log.warning("CUDA requested: %s", note)
    return sess, note
