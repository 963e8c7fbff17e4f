"""The image encoder's attention in blocks of query rows equals segment_anything's own."""

from __future__ import annotations

import pytest
import torch
from segment_anything.modeling.image_encoder import Attention

from streamseg.engines import sam_attention
from streamseg.engines.sam_attention import RowBlockAttention
from streamseg.engines.sam_models import build_sam


def pair(grid: int, dim: int = 64, heads: int = 4) -> tuple[Attention, Attention]:
    """segment_anything's Attention with random relative positions, and a row-block copy."""
    torch.manual_seed(grid)
    theirs = Attention(dim, num_heads=heads, use_rel_pos=True, input_size=(grid, grid))
    torch.nn.init.normal_(theirs.rel_pos_h, std=0.5)
    torch.nn.init.normal_(theirs.rel_pos_w, std=0.5)
    ours = Attention(dim, num_heads=heads, use_rel_pos=True, input_size=(grid, grid))
    ours.load_state_dict(theirs.state_dict())
    ours.__class__ = RowBlockAttention
    return theirs.eval(), ours.eval()


@pytest.mark.parametrize("max_scores", [1 << 24, 1 << 20, 1])  # 1 block, 8 rows, 1 row
def test_global_attention_in_row_blocks_equals_sams(monkeypatch, max_scores):
    theirs, ours = pair(64)  # SAM's global blocks attend over the whole 64 x 64 grid
    monkeypatch.setattr(sam_attention, "MAX_SCORES", max_scores)
    x = torch.randn(2, 64, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # as on CUDA, bf16
            torch.testing.assert_close(ours(x).float(), theirs(x).float(), atol=2e-2, rtol=2e-2)


def test_windowed_attention_is_unchanged():
    theirs, ours = pair(14)  # 14 x 14 windows, many per frame
    x = torch.randn(50, 14, 14, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_built_models_use_row_blocks_with_the_same_weights():
    model = build_sam("tiny", seed=0)
    assert all(type(b.attn) is RowBlockAttention for b in model.image_encoder.blocks)
    keys = set(model.state_dict())
    assert "image_encoder.blocks.0.attn.rel_pos_h" in keys  # checkpoints load as before
    assert not any("row" in k.lower() for k in keys)
