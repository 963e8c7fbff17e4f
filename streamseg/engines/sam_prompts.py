"""SAM's geometry and prompts: coordinates, padded token batches, mask prompts.

Coordinates follow segment_anything's ResizeLongestSide exactly: the frame is
resized to ``input_size`` (long side 1024, each side rounded) and x, y are scaled by
``input_w / W`` and ``input_h / H`` separately, so a click lands on the same pixel
of SAM's input as in SamPredictor for every aspect ratio.

For one decoder call over N objects, each object's sparse tokens are laid out as
SamPredictor would lay them out alone: its points, then either its box as two
corner points (labels 2 and 3, as SAM's ONNX export encodes boxes) or one padding
point (label -1) when it has no box. Objects with fewer tokens are padded to the
longest with more label -1 points, and those extra pads are masked out of attention
(``valid``), so every object's answer equals its own single-object call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamseg.engines.base import ObjectPrompt
from streamseg.errors import EngineError

IMG_SIZE = 1024  # SAM's square input
LOW_RES = 256  # side of SAM's low-resolution mask logits


def input_size(height: int, width: int, long_side: int = IMG_SIZE) -> tuple[int, int]:
    """(h, w) of a (height, width) frame resized so its long side is ``long_side``.

    Same rounding as ResizeLongestSide.get_preprocess_shape.
    """
    scale = long_side * 1.0 / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def to_input(xy: np.ndarray, original: tuple[int, int], long_side: int = IMG_SIZE) -> np.ndarray:
    """(..., 2) float32 x, y in frame pixels -> the same points in SAM's input pixels.

    original: (H, W) of the frame.
    """
    h, w = original
    new_h, new_w = input_size(h, w, long_side)
    out = np.asarray(xy, np.float64).copy()
    out[..., 0] *= new_w / w
    out[..., 1] *= new_h / h
    return out.astype(np.float32)


@dataclass
class PackedPrompts:
    """N objects' prompts as padded arrays (host side, numpy).

    coords: (N, K, 2) float32 in SAM input pixels; labels: (N, K) int64 in
    {-1, 0, 1, 2, 3}; valid: (N, K) bool, False for the extra padding of objects
    shorter than K (SAM's own single pad point is valid: SamPredictor has it too);
    counts: (N,) int tokens per object; ambiguous: (N,) bool, one point and nothing
    else, so SAM's three-way multimask output is used.
    """

    coords: np.ndarray
    labels: np.ndarray
    valid: np.ndarray
    counts: np.ndarray
    ambiguous: np.ndarray

    @property
    def uniform(self) -> bool:
        """Every object has the same token count: no attention masking is needed."""
        return bool(len(self.counts) == 0 or (self.counts == self.counts[0]).all())


def object_tokens(prompt: ObjectPrompt, original: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One object's sparse tokens as SamPredictor.predict would build them.

    Returns (K, 2) float32 input-pixel coords and (K,) int64 labels: points (labels
    0/1), then the box corners (2, 3), or SAM's pad point (-1) when there is no box
    but there are points. Neither points nor box: zero tokens (a mask-only prompt).
    """
    points = np.asarray(prompt.points, np.float32).reshape(-1, 2)
    labels = np.asarray(prompt.labels).reshape(-1).astype(np.int64)
    if len(points) != len(labels):
        raise EngineError(f"prompt has {len(points)} points but {len(labels)} labels")
    if len(labels) and not np.isin(labels, (0, 1)).all():
        raise EngineError(f"point labels must be 0 or 1, got {sorted(set(labels.tolist()))}")
    coords = [to_input(points, original)]
    kinds = [labels]
    if prompt.box is not None:
        box = np.asarray(prompt.box, np.float32).reshape(2, 2)
        coords.append(to_input(box, original))
        kinds.append(np.array([2, 3], np.int64))
    elif len(points):
        coords.append(np.zeros((1, 2), np.float32))
        kinds.append(np.array([-1], np.int64))
    return np.concatenate(coords).astype(np.float32), np.concatenate(kinds)


def pack(
    tokens: Sequence[tuple[np.ndarray, np.ndarray]], ambiguous: Sequence[bool]
) -> PackedPrompts:
    """Pad per-object token lists (from ``object_tokens``) into one batch."""
    n = len(tokens)
    counts = np.array([len(lab) for _, lab in tokens], np.int64)
    k = int(counts.max()) if n else 0
    coords = np.zeros((n, k, 2), np.float32)
    labels = np.full((n, k), -1, np.int64)
    valid = np.zeros((n, k), bool)
    for i, (xy, lab) in enumerate(tokens):
        coords[i, : len(lab)] = xy
        labels[i, : len(lab)] = lab
        valid[i, : len(lab)] = True
    return PackedPrompts(coords, labels, valid, counts, np.asarray(ambiguous, bool).reshape(n))


def sparse_embeddings(prompt_encoder: Any, coords: Any, labels: Any) -> Any:
    """(N, K, C) sparse prompt embeddings, as PromptEncoder._embed_points computes them
    (pixel-centre shift, random-Fourier position encoding, a learned vector per
    label; label -1 gets only ``not_a_point_embed``), extended to labels 2 and 3 (box
    corners) as in SAM's ONNX model.

    coords: (N, K, 2) float32 tensor in input pixels; labels: (N, K) int64 tensor.
    """
    import torch

    pe = prompt_encoder.pe_layer.forward_with_coords(coords + 0.5, prompt_encoder.input_image_size)
    table = torch.cat(
        [prompt_encoder.not_a_point_embed.weight]
        + [e.weight for e in prompt_encoder.point_embeddings]
    )  # (5, C): rows for labels -1, 0, 1, 2, 3
    keep = (labels != -1).unsqueeze(-1).to(pe.dtype)
    return pe * keep + table[labels + 1]


def mask_to_lowres(mask: Any, original: tuple[int, int]) -> Any:
    """A (H, W) soft mask (float tensor in [0, 1], on the device) -> (1, 256, 256)
    float32 in SAM's low-resolution frame (resized like the image, padded with 0)."""
    import torch.nn.functional as F

    h, w = original
    new_h, new_w = input_size(h, w)
    x = mask.float().reshape(1, 1, h, w)
    x = F.interpolate(x, (new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    x = F.pad(x, (0, IMG_SIZE - new_w, 0, IMG_SIZE - new_h))
    x = F.interpolate(x, (LOW_RES, LOW_RES), mode="bilinear", align_corners=False, antialias=True)
    return x.reshape(1, LOW_RES, LOW_RES).clamp_(0.0, 1.0)


def lowres_logits(mask: Any, original: tuple[int, int], scale: float) -> Any:
    """A (H, W) soft mask -> (1, 256, 256) logits for SAM's mask prompt: ``scale``
    inside, ``-scale`` outside, linear across soft edges."""
    return (mask_to_lowres(mask, original) * 2.0 - 1.0) * scale


def postprocess(logits: Any, original: tuple[int, int]) -> Any:
    """(N, 1, 256, 256) low-res logits -> (N, H, W) bool masks, as
    Sam.postprocess_masks (upscale to 1024, crop the padding, resize to the frame)."""
    import torch.nn.functional as F

    h, w = original
    new_h, new_w = input_size(h, w)
    x = F.interpolate(logits.float(), (IMG_SIZE, IMG_SIZE), mode="bilinear", align_corners=False)
    x = x[..., :new_h, :new_w]
    x = F.interpolate(x, (h, w), mode="bilinear", align_corners=False)
    return x[:, 0] > 0.0


# -- the mask decoder with padding masked out of attention ---------------------------


def _attend(attn: Any, q: Any, k: Any, v: Any, key_bias: Any = None) -> Any:
    """segment_anything's Attention.forward, plus an additive key bias (0 or -inf)."""
    import math

    import torch

    q = attn._separate_heads(attn.q_proj(q), attn.num_heads)
    k = attn._separate_heads(attn.k_proj(k), attn.num_heads)
    v = attn._separate_heads(attn.v_proj(v), attn.num_heads)
    a = q @ k.permute(0, 1, 3, 2)
    a = a / math.sqrt(q.shape[-1])
    if key_bias is not None:
        a = a + key_bias
    a = torch.softmax(a, dim=-1)
    return attn.out_proj(attn._recombine_heads(a @ v))


def _two_way(transformer: Any, image: Any, image_pe: Any, tokens: Any, key_bias: Any) -> Any:
    """TwoWayTransformer.forward with ``key_bias`` on every attention whose keys are
    the tokens (token self-attention and image-to-token attention)."""
    image = image.flatten(2).permute(0, 2, 1)
    image_pe = image_pe.flatten(2).permute(0, 2, 1)
    queries, keys = tokens, image
    for layer in transformer.layers:
        if layer.skip_first_layer_pe:
            queries = _attend(layer.self_attn, queries, queries, queries, key_bias)
        else:
            q = queries + tokens
            queries = queries + _attend(layer.self_attn, q, q, queries, key_bias)
        queries = layer.norm1(queries)
        q, k = queries + tokens, keys + image_pe
        queries = layer.norm2(queries + layer.cross_attn_token_to_image(q=q, k=k, v=keys))
        queries = layer.norm3(queries + layer.mlp(queries))
        q, k = queries + tokens, keys + image_pe
        keys = layer.norm4(keys + _attend(layer.cross_attn_image_to_token, k, q, queries, key_bias))
    q, k = queries + tokens, keys + image_pe
    queries = queries + transformer.final_attn_token_to_image(q=q, k=k, v=keys)
    return transformer.norm_final_attn(queries), keys


def decode(
    decoder: Any, image: Any, image_pe: Any, sparse: Any, dense: Any, valid: Any = None
) -> tuple[Any, Any]:
    """All four mask tokens' outputs for N objects on one image.

    image: (1, C, 64, 64); image_pe: (1, C, 64, 64); sparse: (N, K, C); dense:
    (N, C, 64, 64); valid: (N, K) bool tensor or None (nothing to mask: SAM's own
    MaskDecoder.predict_masks runs). Returns (N, 4, 256, 256) logits (token 0 is the
    single-mask output, 1-3 the multimask ones) and (N, 4) predicted IoU.
    """
    import torch

    if valid is None:
        return decoder.predict_masks(
            image_embeddings=image,
            image_pe=image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
        )
    n = sparse.shape[0]
    out_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat([out_tokens.unsqueeze(0).expand(n, -1, -1), sparse], dim=1)
    keep = torch.cat([valid.new_ones((n, out_tokens.shape[0])), valid], dim=1)
    key_bias = torch.zeros(keep.shape, dtype=torch.float32, device=keep.device)
    key_bias = key_bias.masked_fill(~keep, float("-inf"))[:, None, None, :]
    src = torch.repeat_interleave(image, n, dim=0) + dense
    pos = torch.repeat_interleave(image_pe, n, dim=0)
    b, c, h, w = src.shape
    hs, src = _two_way(decoder.transformer, src, pos, tokens, key_bias)
    iou_out = hs[:, 0, :]
    mask_out = hs[:, 1 : 1 + decoder.num_mask_tokens, :]
    up = decoder.output_upscaling(src.transpose(1, 2).reshape(b, c, h, w))
    hyper = torch.stack(
        [mlp(mask_out[:, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], dim=1
    )
    b, c, h, w = up.shape
    masks = (hyper @ up.view(b, c, h * w)).view(b, -1, h, w)
    return masks, decoder.iou_prediction_head(iou_out)
