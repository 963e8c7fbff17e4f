"""The image encoder's attention, a few (frame, head) pairs at a time, equals
segment_anything's own."""

from __future__ import annotations

import pytest
import torch
from segment_anything.modeling.image_encoder import Attention

from streamseg.engines import sam_attention
from streamseg.engines.sam_attention import BlockedAttention
from streamseg.engines.sam_models import build_sam


def pair(h: int, w: int, dim: int = 64, heads: int = 4) -> tuple[Attention, Attention]:
    """segment_anything's Attention with random relative positions, and a blocked copy."""
    torch.manual_seed(h * 1000 + w)
    theirs = Attention(dim, num_heads=heads, use_rel_pos=True, input_size=(h, w))
    torch.nn.init.normal_(theirs.rel_pos_h, std=0.5)
    torch.nn.init.normal_(theirs.rel_pos_w, std=0.5)
    ours = Attention(dim, num_heads=heads, use_rel_pos=True, input_size=(h, w))
    ours.load_state_dict(theirs.state_dict())
    ours.__class__ = BlockedAttention
    return theirs.eval(), ours.eval()


# 2 frames x 4 heads = 8 (frame, head) pairs of 4096 x 4096 scores: in one group, in
# groups of 3, 3, 2 (uneven), one pair at a time (SAM's case at 2**24), and below one.
@pytest.mark.parametrize("pairs", [8, 3, 1, 0.5])
def test_global_attention_in_groups_equals_sams(monkeypatch, pairs):
    theirs, ours = pair(64, 64)  # SAM's global blocks attend over the whole 64 x 64 grid
    monkeypatch.setattr(sam_attention, "MAX_SCORES", int(pairs * 4096**2))
    x = torch.randn(2, 64, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # as on CUDA, bf16
            torch.testing.assert_close(ours(x).float(), theirs(x).float(), atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("h, w", [(14, 14), (12, 20)])  # windows, and a non-square grid
def test_windowed_and_non_square_attention_equals_sams(monkeypatch, h, w):
    theirs, ours = pair(h, w)
    monkeypatch.setattr(sam_attention, "MAX_SCORES", 7 * (h * w) ** 2)  # groups of 7 of 200
    x = torch.randn(50, h, w, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_built_models_use_blocked_attention_with_the_same_weights():
    model = build_sam("tiny", seed=0)
    assert all(type(b.attn) is BlockedAttention for b in model.image_encoder.blocks)
    keys = set(model.state_dict())
    assert "image_encoder.blocks.0.attn.rel_pos_h" in keys  # checkpoints load as before
    plain = Attention(32, num_heads=2, use_rel_pos=True, input_size=(14, 14)).state_dict()
    assert set(model.image_encoder.blocks[0].attn.state_dict()) == set(plain)
