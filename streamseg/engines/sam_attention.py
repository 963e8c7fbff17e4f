"""SAM's image-encoder attention, a few (frame, head) pairs at a time.

segment_anything's ``Attention`` makes the score matrix of every frame and head at
once, (B * heads, N, N), then a second one with the relative-position terms added,
then its softmax. In the global-attention blocks (4 of vit_b's 12, 4 of vit_h's 32)
N is all 64 x 64 = 4096 patches, so for vit_b on the CPU each of those is 0.8 GB per
frame and host memory peaks near 4 GB for one frame; on a GPU, vit_h at batch 8
needs tens of GB for them alone.

The (frame, head) pairs are independent, so ``BlockedAttention`` runs the very same
computation (segment_anything's own ``add_decomposed_rel_pos`` included) on groups
of them with at most ``MAX_SCORES`` scores each: one head of one frame at a time in
the global blocks, hundreds of windows at a time in the windowed ones (14 x 14 = 196
tokens). The results are those of the original up to float rounding.
``use_blocked_attention(model)`` switches a built ``Sam`` over; the weights, the
state dict keys and the module tree do not change.

Imports torch and segment_anything: import this module only where a model is built.
"""

from __future__ import annotations

from typing import Any

import torch
from segment_anything.modeling.image_encoder import Attention, add_decomposed_rel_pos

# Scores per group: 2**24 float32 values are 64 MiB, one head of one frame in a
# global block (4096 x 4096).
MAX_SCORES = 1 << 24


class BlockedAttention(Attention):
    """``Attention.forward`` (segment_anything/modeling/image_encoder.py) on groups of
    (frame, head) pairs; see the module docstring."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.num_heads, h * w, -1).unbind(0)
        group = max(1, MAX_SCORES // (h * w) ** 2)
        out = []
        for i in range(0, q.shape[0], group):
            qg, kg, vg = q[i : i + group], k[i : i + group], v[i : i + group]
            attn = (qg * self.scale) @ kg.transpose(-2, -1)
            if self.use_rel_pos:
                attn = add_decomposed_rel_pos(
                    attn, qg, self.rel_pos_h, self.rel_pos_w, (h, w), (h, w)
                )
            out.append(attn.softmax(dim=-1) @ vg)
        y = torch.cat(out) if len(out) > 1 else out[0]
        y = y.view(b, self.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return self.proj(y)


def use_blocked_attention(model: Any) -> Any:
    """Make every attention of ``model``'s image encoder a BlockedAttention (the same
    module with another ``forward``: parameters and state dict keys are unchanged)."""
    for block in model.image_encoder.blocks:
        if type(block.attn) is Attention:
            block.attn.__class__ = BlockedAttention
    return model
