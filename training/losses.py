"""Scores and losses in torch. The scores are the same functions as `runtime.search.maxsim` (numpy),
held together by a parity test.

Shapes: queries Q (Bq, L, D) with mask (Bq, L); documents Dm (Bd, N, D) with mask (Bd, N);
all vectors L2-normalised. Result (Bq, Bd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def maxsim_scores(q: torch.Tensor, q_mask: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor) -> torch.Tensor:
    """Late interaction: for each query token the best cosine over a document's valid patches,
    averaged over the query's valid tokens."""
    assert q.ndim == 3 and d.ndim == 3 and q.shape[-1] == d.shape[-1]
    sim = torch.einsum("ald,bnd->abln", q, d)  # (Bq, Bd, L, N)
    sim = sim.masked_fill(~d_mask[None, :, None, :], float("-inf"))
    best = sim.amax(dim=-1)  # (Bq, Bd, L)
    w = q_mask.to(best.dtype)[:, None, :]
    return (best.masked_fill(w == 0, 0.0) * w).sum(-1) / w.sum(-1).clamp_min(1.0)


def pooled(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Unit-length masked mean of token vectors (B, L, D) -> (B, D)."""
    w = mask.to(x.dtype).unsqueeze(-1)
    return F.normalize((x * w).sum(1) / w.sum(1).clamp_min(1.0), dim=-1)


def global_scores(q: torch.Tensor, q_mask: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor) -> torch.Tensor:
    """The global-embedding baseline: cosine of mean-pooled tokens and mean-pooled patches."""
    return pooled(q, q_mask) @ pooled(d, d_mask).T


SCORES = {"maxsim": maxsim_scores, "global": global_scores}


def info_nce(scores: torch.Tensor, logit_scale: torch.Tensor, not_negative: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE over a (B, B) text x motion score matrix whose diagonal pairs match.

    `not_negative[i, j]` marks off-diagonal pairs whose caption is true of the clip too (another
    take with the same label; a both-hands wave for "waves the left hand"): they are left out of
    the denominators instead of being pushed apart.
    """
    logits = scores * logit_scale.exp()
    if not_negative is not None:
        off = not_negative.clone().to(scores.device)
        off.fill_diagonal_(False)
        logits = logits.masked_fill(off, float("-inf"))
    target = torch.arange(scores.shape[0], device=scores.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def link_grounding_loss(q: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor,
                        targets: list[tuple[int, int, list[int]]], logit_scale: torch.Tensor) -> torch.Tensor:
    """Weak supervision from the describer's word links: for (pair, token, target patches), the
    token's similarity over all of its clip's patches, as a softmax, should put its mass on the
    patches of the event the word names (its body parts over its frames).

    Returns the mean of -log(sum of softmax over the target patches).
    """
    losses = []
    valid = d_mask.cpu()
    for b, t, patches in targets:
        patches = [p for p in patches if p < valid.shape[1] and valid[b, p]]  # padding is no evidence
        if not patches:
            continue
        # scale first, then mask: -inf times the scale would make the scale's gradient NaN
        sims = ((d[b] @ q[b, t]) * logit_scale.exp()).masked_fill(~d_mask[b], float("-inf"))
        logp = torch.log_softmax(sims, dim=0)
        losses.append(-torch.logsumexp(logp[patches], dim=0))
    return torch.stack(losses).mean() if losses else q.new_zeros(())
