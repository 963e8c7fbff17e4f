"""SAM's image-encoder attention, a block of query rows at a time.

segment_anything's ``Attention`` makes the whole (B * heads, N, N) score matrix at
once, then a second one with the relative-position terms added, then its softmax.
In the global-attention blocks (4 of vit_b's 12, 4 of vit_h's 32) N is all 64 x 64
= 4096 patches, so for vit_b on the CPU each of those is 0.8 GB per frame, and
host memory peaks near 4 GB for one frame; on a GPU, vit_h at batch 8 needs tens of
GB for them alone.

Each query's softmax only needs its own row of scores, so ``RowBlockAttention``
computes the same result (up to float rounding) for a block of whole image rows of
queries at a time, with at most ``MAX_SCORES`` scores alive. The windowed blocks
(14 x 14 = 196 tokens per window) fit in one block and run exactly as before.
``use_row_blocks(model)`` switches a built ``Sam`` over; nothing else changes (the
weights, the state dict keys, the module tree).

Imports torch and segment_anything: import this module only where a model is built.
"""

from __future__ import annotations

from typing import Any

import torch
from segment_anything.modeling.image_encoder import Attention, get_rel_pos

# Scores per block: 2**24 float32 values are 64 MiB.
MAX_SCORES = 1 << 24


class RowBlockAttention(Attention):  # type: ignore[misc]
    """``Attention.forward`` (segment_anything/modeling/image_encoder.py), in blocks
    of query rows; see the module docstring."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).reshape(b, h * w, 3, heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * heads, h * w, -1).unbind(0)
        if self.use_rel_pos:
            rel_h = get_rel_pos(h, h, self.rel_pos_h)  # (query rows, key rows, C)
            rel_w = get_rel_pos(w, w, self.rel_pos_w)  # (query cols, key cols, C)
        rows = max(1, MAX_SCORES // (b * heads * w * h * w))  # image rows of queries
        out = []
        for top in range(0, h, rows):
            bottom = min(h, top + rows)
            qb = q[:, top * w : bottom * w]
            attn = (qb * self.scale) @ k.transpose(-2, -1)
            if self.use_rel_pos:
                r_q = qb.reshape(b * heads, bottom - top, w, -1)
                bias_h = torch.einsum("bhwc,hkc->bhwk", r_q, rel_h[top:bottom])
                bias_w = torch.einsum("bhwc,wkc->bhwk", r_q, rel_w)
                attn = attn.view(b * heads, bottom - top, w, h, w)
                attn = attn + bias_h[..., :, None] + bias_w[..., None, :]
                attn = attn.view(b * heads, (bottom - top) * w, h * w)
            out.append(attn.softmax(dim=-1) @ v)
        y = torch.cat(out, dim=1) if len(out) > 1 else out[0]
        y = y.view(b, heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return self.proj(y)


def use_row_blocks(model: Any) -> Any:
    """Make every attention of ``model``'s image encoder a RowBlockAttention (the same
    module with another ``forward``: parameters and state dict keys are unchanged)."""
    for block in model.image_encoder.blocks:
        if type(block.attn) is Attention:
            block.attn.__class__ = RowBlockAttention
    return model
