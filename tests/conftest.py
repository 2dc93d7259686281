"""Shared fixtures: the real motion data from ../shared/data, extracted once into the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime import shared_data


def _extracted(name: str) -> Path:
    try:
        return shared_data.extracted(name)
    except shared_data.DataNotFound as e:  # a missing data folder is a broken setup, not a skip
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def bandai1() -> Path:
    return _extracted("bandai-namco-1") / "data"


@pytest.fixture(scope="session")
def bandai2() -> Path:
    return _extracted("bandai-namco-2") / "data"


@pytest.fixture(scope="session")
def cmu_bvh() -> Path:
    return _extracted("cmu-bvh")


@pytest.fixture(scope="session")
def cmu_amc() -> Path:
    return _extracted("cmu-asfamc")


TINY_TRAINING = ["--data.max_clips=24", "--data.sources=bandai", "--train.batch_size=8", "--train.warmup_steps=5",
                 "--train.text_frozen_steps=10", "--train.eval_every=20", "--train.checkpoint_every=20",
                 "--train.log_every=5", "--train.lr=1e-3", "--train.text_lr=1e-4", "--model.drop_path=0"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A real (tiny) training run: 40 steps on 24 Bandai clips. Good for plumbing, not for quality."""
    from training.train import main as train_main

    run_dir = tmp_path_factory.mktemp("tiny_run")
    train_main([*TINY_TRAINING, f"--train.run_dir={run_dir}", "--train.max_steps=40"])
    return run_dir


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported (int8 text encoder, fp32 motion encoder) without test-set evaluation."""
    from exporter.to_onnx import export_bundle

    out = tmp_path_factory.mktemp("tiny_bundle")
    export_bundle(tiny_run, out, "int8", "fp32", evaluate=False, log=lambda *a: None)
    return out


@pytest.fixture
def openblas_two_threads():
    """(get, set) of numpy's OpenBLAS thread count, set to 2 (tests of the search's hold on it);
    skipped where numpy has another BLAS (never on Linux, whose wheels bring OpenBLAS)."""
    import sys

    from runtime.search.blas_threads import openblas_threads

    blas = openblas_threads()
    if blas is None:
        assert not sys.platform.startswith("linux"), "numpy's OpenBLAS not found in this process"
        pytest.skip("no OpenBLAS in this process (this platform's numpy uses another BLAS)")
    blas[1](2)
    return blas
