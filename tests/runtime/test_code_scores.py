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


def test_the_description_kernel_multiplies_bytes_exactly_on_this_cpu():
    """The description scores' kernel takes the query as 7-bit bytes (at most 127) on the left of a
    u8 x s8 product: pairs of byte products fit in 16 bits (2 x 127 x 127 < 32,767), so it is exact
    without VNNI too, at the extremes (every byte 127 or 1 against -127 and 127) and on random bytes."""
    import runtime.search.code_scores as cs

    rng = np.random.default_rng(5)
    q = rng.integers(1, 128, (6, 384)).astype(np.uint8)
    q[0], q[1] = 127, 1
    codes_t = rng.integers(-127, 128, (384, 500)).astype(np.int8)
    codes_t[:, 0], codes_t[:, 1] = 127, -127
    got = cs.kernel_session("description_scores_int8.onnx", 1).run(
        None, {"q": q, "codes_t": codes_t, "token_scale": np.ones((6, 1), np.float32),
               "clip_scale": np.ones((1, 500), np.float32)})[0]
    np.testing.assert_array_equal(got, (q.astype(np.int64) - 64) @ codes_t.astype(np.int64))


def test_the_int8_kernels_in_use_multiply_bytes_exactly_on_this_cpu(monkeypatch):
    """Without VNNI, onnxruntime's u8 x s8 product saturates pairs of byte products in 16 bits (scores
    off); code_scores tries it once and takes the u8 x u8 twins where it
    does. Whichever this CPU gets, and the unsigned twins on every CPU, give the products of the bytes
    in integers, also at the extremes; the probe says of the signed kernel what it does."""
    import runtime.search.code_scores as cs

    rng = np.random.default_rng(3)
    codes = rng.integers(1, 256, (300, 256)).astype(np.uint8)
    codes[:8] = 255
    q = rng.integers(-127, 128, (256, 9)).astype(np.int8)
    q[:, 0], q[:, 1] = 127, -127
    exact = (codes.astype(np.int64) - 128) @ q.astype(np.int64)
    ones = {"patch_scale": np.ones((len(codes), 1), np.float32), "token_scale": np.ones((1, q.shape[1]), np.float32)}

    def products(session, unsigned):
        return session.run(None, {"codes": codes, "q": cs.query_bytes(q, unsigned), **ones})[0]

    signed = cs.kernel_session("patch_scores_int8.onnx", 1)
    assert cs.signed_products_exact() == np.array_equal(products(signed, False), exact)
    for forced in (None, False):  # this CPU's choice, then the unsigned twins wherever the tests run
        if forced is not None:
            monkeypatch.setattr(cs, "signed_products_exact", lambda: forced)
        session, unsigned = cs.int8_kernel("patch_scores_int8", 1)
        assert unsigned == (not cs.signed_products_exact())
        np.testing.assert_array_equal(products(session, unsigned), exact)
        query = _unit(rng, 5)  # and through CodeScorer, on real codes
        arrays = encode(_unit(rng, 50), "int8")
        np.testing.assert_allclose(CodeScorer("int8").patch_scores(query, arrays["codes"], arrays["scales"]),
                                   decode(arrays, "int8") @ query.T, atol=2e-3)
        first, unsigned = cs.int8_kernel("first_stage_int8", 1)  # 14 parts a window: each token's best, averaged
        parts = codes[:294, :32]
        got = first.run(None, {"parts": parts, "q": cs.query_bytes(q[:32], unsigned),
                               "row_scale": np.ones((len(parts), 1), np.float32),
                               "token_scale": np.ones((1, q.shape[1]), np.float32)})[0]
        sims = ((parts.astype(np.int64) - 128) @ q[:32].astype(np.int64)).reshape(-1, 14, q.shape[1])
        np.testing.assert_allclose(got, sims.max(axis=1).mean(axis=1), rtol=1e-6)
