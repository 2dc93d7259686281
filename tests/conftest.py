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
