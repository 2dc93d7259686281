"""Motion ViT: a Vision Transformer over joint-angle motion images.

"Fine-grained Motion Retrieval via Joint-Angle Motion Images and Token-Patch Late Interaction"
(arXiv 2603.09930): the 29 joint-angle channels of a clip are mapped, one learned linear map per
body part, into 16-pixel bands; stacked, the 14 bands make a (14 x 16) x time pseudo-image, cut
into 16 x 16 patches: each patch token is one body part over 16 frames (0.8 s at 20 fps).
Blocks are timm's ViT blocks; the patch tokens are kept (late interaction scores them).

Differences from an image ViT, for motion:
- position = part embedding + time embedding (separable), so a clip shorter than the window uses
  a prefix of the time embeddings instead of a resampled grid;
- tokens are ordered time-major (column, part): a shorter clip is a prefix of the token list;
- padded time columns are masked out of attention and out of the output (`patch_mask`).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block

from runtime.motion import NUM_CHANNELS, NUM_PARTS, PART_OF_CHANNEL

__all__ = ["MotionViT", "MODELS", "create_motion_vit"]


class PartBandEmbed(nn.Module):
    """Per-part linear maps: each body part's channels (1-3) into a band of `band` image rows.

    Written as one masked (P*band x 29) matrix: row block p only sees part p's channels.
    """

    def __init__(self, band: int = 16):
        super().__init__()
        self.band = band
        self.weight = nn.Parameter(torch.empty(NUM_PARTS * band, NUM_CHANNELS))
        self.bias = nn.Parameter(torch.zeros(NUM_PARTS * band))
        mask = torch.zeros(NUM_PARTS * band, NUM_CHANNELS)
        for c, p in enumerate(PART_OF_CHANNEL.tolist()):
            mask[p * band: (p + 1) * band, c] = 1.0
        self.register_buffer("mask", mask, persistent=False)
        nn.init.normal_(self.weight, std=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 29) channels -> (B, 1, P*band, T) image."""
        y = F.linear(x, self.weight * self.mask, self.bias)
        return y.transpose(1, 2).unsqueeze(1)


class MotionViT(nn.Module):
    """ViT over motion images; patch tokens out.

    Args:
        patch_frames: frames per patch column (patch width).
        band: image rows per body part (patch height).
        max_frames: longest window, for the time embeddings.
        embed_dim, depth, num_heads, mlp_ratio: transformer size.
        drop_path_rate: stochastic depth.
        attention: "full" (every patch attends to every patch, as in an image ViT) or "part"
            (a patch attends only to its own body part's patches over time: a patch embedding then
            depends on that part alone, so a word's best patch is evidence in that part).
    """

    def __init__(self, patch_frames: int = 16, band: int = 16, max_frames: int = 224, embed_dim: int = 192,
                 depth: int = 6, num_heads: int = 3, mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 attention: str = "full", norm_layer=nn.LayerNorm):
        super().__init__()
        if attention not in ("full", "part"):
            raise ValueError(f"attention must be 'full' or 'part', not '{attention}'")
        self.patch_frames, self.band, self.max_frames = patch_frames, band, max_frames
        self.attention = attention
        self.num_features = self.embed_dim = embed_dim
        self.bands = PartBandEmbed(band)
        self.patch_embed = nn.Conv2d(1, embed_dim, kernel_size=(band, patch_frames), stride=(band, patch_frames))
        self.part_embed = nn.Parameter(torch.zeros(NUM_PARTS, embed_dim))
        self.time_embed = nn.Parameter(torch.zeros(max_frames // patch_frames, embed_dim))
        dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth)]
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=dpr[i], norm_layer=norm_layer)
            for i in range(depth)])
        self.norm = norm_layer(embed_dim)
        trunc_normal_(self.part_embed, std=0.02)
        trunc_normal_(self.time_embed, std=0.02)
        self.apply(_init_weights)

    def patch_mask(self, frame_mask: torch.Tensor) -> torch.Tensor:
        """(B, T) frame validity -> (B, T/patch_frames * P) token validity (time-major)."""
        b, t = frame_mask.shape
        cols = frame_mask.reshape(b, t // self.patch_frames, self.patch_frames).any(dim=-1)
        return cols.unsqueeze(-1).expand(b, cols.shape[1], NUM_PARTS).reshape(b, -1)

    def forward_features(self, angles: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unpooled, normed patch tokens.

        Args:
            angles: (B, T, 29) z-scored joint-angle channels, T a multiple of `patch_frames`,
                at most `max_frames`; zero on padding.
            frame_mask: (B, T) bool, True on real frames.

        Returns:
            tokens (B, N, embed_dim) with N = (T / patch_frames) * 14 in (column, part) order,
            and patch_mask (B, N) bool.
        """
        x = self.patch_embed(self.bands(angles))  # (B, D, P, C)
        b, d, p, c = x.shape
        x = x.permute(0, 3, 2, 1)  # (B, C, P, D)
        x = x + self.time_embed[:c].unsqueeze(1) + self.part_embed.unsqueeze(0)
        x = x.reshape(b, c * p, d)
        mask = self.patch_mask(frame_mask)
        attn_mask = mask[:, None, None, :]  # keys that may be attended to
        if self.attention == "part":  # a patch sees only its own body part, over time
            part = torch.arange(c * p, device=x.device) % p
            attn_mask = attn_mask & (part[:, None] == part[None, :])[None, None]
        for blk in self.blocks:
            x = blk(x, attn_mask=attn_mask)
        return self.norm(x), mask

    def forward_head(self, tokens: torch.Tensor, patch_mask: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Masked mean of the patch tokens: the clip's global vector (the baseline, the prefilter)."""
        w = patch_mask.to(tokens.dtype).unsqueeze(-1)
        return (tokens * w).sum(1) / w.sum(1).clamp_min(1.0)

    def forward(self, angles: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        tokens, mask = self.forward_features(angles, frame_mask)
        return self.forward_head(tokens, mask)


def _init_weights(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _create(drop_path_rate: float = 0.0, max_frames: int = 224, **arch) -> MotionViT:
    return MotionViT(drop_path_rate=drop_path_rate, max_frames=max_frames, **arch)


def motion_vit_tiny_p16(**kwargs) -> MotionViT:
    """ViT-Tiny-sized (192 wide, 6 deep): trains on a 2-core CPU in about an hour. The default."""
    return _create(**dict(embed_dim=192, depth=6, num_heads=3) | kwargs)


def motion_vit_small_p16(**kwargs) -> MotionViT:
    return _create(**dict(embed_dim=384, depth=12, num_heads=6) | kwargs)


def motion_vit_base_p16_224(**kwargs) -> MotionViT:
    """ViT-B/16 on 224 x 224 motion images: the paper's configuration (for a GPU)."""
    return _create(**dict(embed_dim=768, depth=12, num_heads=12) | kwargs)


def motion_vit_large_p16_224(**kwargs) -> MotionViT:
    """ViT-L/16: the paper's larger configuration."""
    return _create(**dict(embed_dim=1024, depth=24, num_heads=16) | kwargs)


MODELS = {f.__name__: f for f in (motion_vit_tiny_p16, motion_vit_small_p16, motion_vit_base_p16_224,
                                  motion_vit_large_p16_224)}


def create_motion_vit(name: str, **kwargs) -> MotionViT:
    if name not in MODELS:
        raise KeyError(f"unknown motion model '{name}' (known: {', '.join(MODELS)})")
    return MODELS[name](**kwargs)
