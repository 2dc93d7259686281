"""Model shapes over the registry, padding invariance, and score parity with the numpy runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from runtime.motion import NUM_PARTS
from runtime.search import maxsim_packed, maxsim_padded
from training.losses import global_scores, info_nce, maxsim_scores
from training.models.motion_vit import MODELS, create_motion_vit
from training.models.text_encoder import mask_tokens


@pytest.mark.parametrize("name", sorted(MODELS))
def test_registry_forward_shapes(name):
    torch.manual_seed(0)
    model = create_motion_vit(name).eval()
    angles = torch.randn(2, 48, 29)
    mask = torch.ones(2, 48, dtype=torch.bool)
    mask[1, 20:] = False  # second clip: 20 frames -> 2 patch columns
    with torch.no_grad():
        tokens, pmask = model.forward_features(angles * mask[..., None], mask)
        pooled = model.forward_head(tokens, pmask)
    assert tokens.shape == (2, 3 * NUM_PARTS, model.num_features)
    assert pmask[0].all() and pmask[1, : 2 * NUM_PARTS].all() and not pmask[1, 2 * NUM_PARTS:].any()
    assert pooled.shape == (2, model.num_features) and torch.isfinite(pooled).all()


def test_padding_does_not_change_the_real_patches():
    torch.manual_seed(0)
    model = create_motion_vit("motion_vit_tiny_p16").eval()
    x = torch.randn(1, 32, 29)
    short = model.forward_features(x, torch.ones(1, 32, dtype=torch.bool))[0]
    padded_x = torch.cat([x, torch.zeros(1, 64, 29)], 1)
    padded_mask = torch.cat([torch.ones(1, 32, dtype=torch.bool), torch.zeros(1, 64, dtype=torch.bool)], 1)
    long, pmask = model.forward_features(padded_x, padded_mask)
    assert pmask.sum() == short.shape[1]
    torch.testing.assert_close(long[:, : short.shape[1]], short, atol=1e-5, rtol=1e-5)


def test_a_patch_only_sees_its_own_part_before_attention():
    model = create_motion_vit("motion_vit_tiny_p16").eval()
    x = torch.zeros(1, 16, 29)
    base = model.patch_embed(model.bands(x))
    x[0, :, 27] = 3.0  # elbow_flexion_l, part 12
    moved = model.patch_embed(model.bands(x))
    changed = (moved - base).abs().amax(dim=1)[0]  # (parts, columns)
    assert changed[12, 0] > 0 and torch.count_nonzero(changed) == 1


def test_maxsim_torch_and_numpy_agree():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(3, 7, 16)).astype(np.float32)
    d = rng.normal(size=(4, 11, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    qm = np.ones((3, 7), bool)
    qm[1, 4:] = False
    dm = np.ones((4, 11), bool)
    dm[2, 5:] = False
    ref = maxsim_scores(torch.from_numpy(q), torch.from_numpy(qm), torch.from_numpy(d), torch.from_numpy(dm)).numpy()
    np.testing.assert_allclose(maxsim_padded(q, qm, d, dm), ref, atol=1e-6)
    # packed layout: only valid patches, back to back
    lengths = dm.sum(1)
    packed = np.concatenate([d[k, : lengths[k]] for k in range(4)])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for i in range(3):
        np.testing.assert_allclose(maxsim_packed(q[i, qm[i]], packed, offsets), ref[i], atol=1e-6)
    # by hand for one pair
    best = (q[0] @ d[0].T).max(axis=1).mean()
    assert ref[0, 0] == pytest.approx(best, abs=1e-6)
    g = global_scores(torch.from_numpy(q), torch.from_numpy(qm), torch.from_numpy(d), torch.from_numpy(dm))
    assert g.shape == (3, 4) and (g.abs() <= 1 + 1e-6).all()


def test_info_nce_ignores_same_group_negatives():
    scores = torch.tensor([[0.9, 0.8, 0.1], [0.8, 0.9, 0.1], [0.1, 0.1, 0.9]])
    scale = torch.tensor(np.log(10.0))
    plain = info_nce(scores, scale)
    same = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    grouped = info_nce(scores, scale, same)
    assert grouped < plain  # the 0.8 pairs are no longer penalised as negatives
    ce = torch.nn.functional.cross_entropy
    # by hand: rows (and columns) 0 and 1 keep only [9, 1]; row 2 is [1, 1, 9]
    pair = ce(torch.tensor([[9.0, 1.0]]), torch.tensor([0])).item()
    third = ce(torch.tensor([[1.0, 1.0, 9.0]]), torch.tensor([2])).item()
    assert grouped.item() == pytest.approx((2 * pair + third) / 3, rel=1e-5)


def test_mlm_masking_touches_only_real_tokens():
    ids = torch.tensor([[101, 2000, 2001, 2002, 102, 0, 0], [101, 2003, 102, 0, 0, 0, 0]])
    am = (ids != 0).long()
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        masked, labels = mask_tokens(ids, am, [0, 101, 102], 103, 30522, 0.15, g)
        chosen = labels != -100
        assert not chosen[ids == 101].any() and not chosen[ids == 102].any() and not chosen[ids == 0].any()
        assert chosen.any(dim=1).all()  # every caption predicts at least one token
        assert (labels[chosen] == ids[chosen]).all()
        assert (masked[~chosen] == ids[~chosen]).all()
