"""MaxSim on stored codes (runtime.search.code_scores) against float MaxSim on the decoded patches."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.index import decode, encode
from runtime.search import CodeScorer, maxsim_packed


def _unit(rng, n, d=256):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("codec", ["int8", "int4"])
def test_kernel_matches_float_maxsim_on_decoded_codes(codec):
    rng = np.random.default_rng(0)
    lens = rng.integers(14, 200, 60)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    patches = _unit(rng, int(offsets[-1]))
    arrays = encode(patches, codec)
    decoded = decode(arrays, codec)
    query = _unit(rng, 7)
    want = maxsim_packed(query, decoded, offsets)
    got = CodeScorer(codec).maxsim(query, arrays["codes"], arrays["scales"], offsets)
    # only the query's own int8 rounding separates them: well under the gap between neighbours
    assert got.shape == want.shape and np.abs(got - want).max() < 2e-3
    assert np.corrcoef(got, want)[0, 1] > 0.999
    # and per patch: every patch-token cosine, not only the maxima
    sims = CodeScorer(codec).patch_scores(query, arrays["codes"], arrays["scales"])
    np.testing.assert_allclose(sims, decoded @ query.T, atol=2e-3)


def test_empty_and_unknown():
    assert CodeScorer("int8").maxsim(np.ones((2, 256), np.float32), np.zeros((0, 256), np.int8),
                                     np.zeros(0, np.float16), np.array([0])).shape == (0,)
    with pytest.raises(ValueError, match="no integer kernel for codec 'fp16'"):
        CodeScorer("fp16")
