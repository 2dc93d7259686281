"""onnxruntime sessions on CUDA when it really works, otherwise on the CPU, saying which.

`onnxruntime-gpu` lists the CUDA provider even where there is no GPU or no CUDA libraries;
a session asked for CUDA then quietly runs on the CPU after logging a long error. So CUDA counts
as working only when a session reports it active, and the failed attempt is kept out of the log.
"""

from __future__ import annotations

import logging
import os
import sys

import onnxruntime as ort

log = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "cpu")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def make_session(model: str | bytes, device: str = "auto", threads: int = 0,
                 spinning: bool = True) -> tuple[ort.InferenceSession, str]:
    """A session for `model` on `device` ("auto", "cuda" or "cpu") and a sentence saying what runs.

    "cuda" that cannot start falls back to the CPU, with the reason in the sentence (search keeps
    working). The environment variable MOTION_SEARCH_DEVICE overrides `device`. `threads`: the CPU
    threads of one call (0: onnxruntime's choice, one per core); `spinning` False: its threads sleep
    as soon as a call ends instead of busy-waiting for the next (for a session that runs beside
    other work).
    """
    device = (os.environ.get("MOTION_SEARCH_DEVICE") or device or "auto").lower()
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not '{device}'")
    opts = _options(threads, spinning)
    if device == "cpu":
        return ort.InferenceSession(model, opts, providers=[CPU]), "CPU (chosen in preferences)"
    if CUDA not in ort.get_available_providers():
        note = "CPU (CUDA needs the onnxruntime-gpu package; this one is the CPU build)"
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
    note = f"CPU (CUDA could not start: {cuda_problem()})"
    if device == "cuda":
        log.warning("CUDA requested: %s", note)
    return sess, note


def cpu_session(model: str | bytes, threads: int = 0) -> ort.InferenceSession:
    """A session on the CPU whatever the device setting, whose threads sleep as soon as a call ends:
    search's kernels and the codebook (memory-bound products on codes in host memory, run between
    other work on the same cores; spinning pools competing for two busy cores slowed calls several
    times over)."""
    return ort.InferenceSession(model, _options(threads, spinning=False), providers=[CPU])


def _options(threads: int, spinning: bool) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


# What onnxruntime-gpu 1.2x loads, in order: the driver, then the CUDA 12 runtime, cuBLAS, cuDNN 9.
_CUDA_LIBRARIES = {
    "linux": [("libcuda.so.1", "no NVIDIA driver"),
              ("libcudart.so.12", "the CUDA 12 runtime is missing (pip install nvidia-cuda-runtime-cu12)"),
              ("libcublas.so.12", "cuBLAS 12 is missing (pip install nvidia-cublas-cu12)"),
              ("libcudnn.so.9", "cuDNN 9 is missing (pip install nvidia-cudnn-cu12)")],
    "win32": [("nvcuda.dll", "no NVIDIA driver"),
              ("cudart64_12.dll", "the CUDA 12 runtime is missing"),
              ("cublas64_12.dll", "cuBLAS 12 is missing"),
              ("cudnn64_9.dll", "cuDNN 9 is missing")],
}


def cuda_problem() -> str:
    """The first missing piece of CUDA, in a few words: what to install."""
    import ctypes

    if sys.platform == "darwin":
        return "CUDA does not run on macOS"
    for name, problem in _CUDA_LIBRARIES.get("win32" if sys.platform == "win32" else "linux"):
        try:
            ctypes.CDLL(name)
        except OSError:
            return problem
    return "no usable GPU (the driver and libraries are there)"
