"""One frame of a transformers video model, for all objects together.

The library's ``Sam2VideoModel.forward`` (and EdgeTAM's, SAM 3 tracker's) loops over
objects: memory attention and mask decoder run once per object with batch size 1.
Here the same computations run batched: the objects whose memories have the same
layout (token count, object pointers, spatial memory frames; in steady tracking all
of them) go through memory attention in one call, those with the same prompt layout
through the prompt encoder and mask decoder in one call, and the memory encoder
takes all objects of a frame at once. Each step reuses the library's own methods
for everything that is per object (gathering memories and object pointers, the
positional encodings, the mask-as-output path), so the numbers are the library's.

Two library details had to be worked around:
- ``_single_frame_forward`` picks the best of the multimask outputs with advanced
  indexing that is only right for batch size 1 (indices of shape (B,), (1,), (B, 1)
  broadcast to (B, B)); ``decode`` re-states that function with a per-row gather.
- the memory attention's output is reshaped with ``squeeze(1)``, again only right
  for batch size 1; ``condition`` reshapes it itself.

Tensor layouts follow the library: features are (HW, B, C) "sequence first".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NO_OBJ_SCORE = -1024.0  # the library's logit for "no object" pixels


class MemoryView:
    """What the library's per-object helpers read from an inference session, for one
    object: its output dict as ``output_dict_per_obj[0]``, and the session dtype."""

    def __init__(self, memory: dict[str, dict[int, dict[str, Any]]], dtype: Any) -> None:
        self.output_dict_per_obj = {0: memory}
        self.dtype = dtype
        self.num_frames = None


@dataclass
class Decoded:
    """The mask decoder's answer for B objects (row i: object i).

    low: (B, 1, h, w) low-resolution mask logits; high: (B, 1, S, S) at the model's
    input size; pointer: (B, 1, C) object pointers; score: (B, 1, 1) object-score logits.
    """

    low: Any
    high: Any
    pointer: Any
    score: Any


def memory_inputs(model: Any, memory: dict, frame_idx: int, dtype: Any, device: Any) -> tuple:
    """One object's memory for frame ``frame_idx``: (memory (S, 1, Cm), position
    encodings (S, 1, Cm), object-pointer tokens, spatial memory frames), gathered by
    the library's own helpers exactly as _prepare_memory_conditioned_features does."""
    import torch

    view = MemoryView(memory, dtype)
    previous = model._gather_memory_frame_outputs(view, 0, frame_idx, False)
    mems, pos = model._build_memory_attention_inputs(previous, device)
    spatial = len(mems)
    offsets, pointers, most = model._get_object_pointers(
        view, 0, frame_idx, None, device, False, True
    )
    n_pointer = 0
    if pointers:
        obj_ptr, obj_pos = model._process_object_pointers(
            offsets, pointers, most, 1, model.hidden_dim, device
        )
        mems.append(obj_ptr)
        pos.append(obj_pos)
        n_pointer = obj_ptr.shape[0]
    return torch.cat(mems, dim=0).to(dtype=dtype), torch.cat(pos, dim=0), n_pointer, spatial


def condition(
    model: Any, family: str, top: Any, top_pos: Any, memories: list[tuple], size: tuple
) -> Any:
    """Memory attention for B objects of one layout in one call.

    top, top_pos: (HW, 1, C) the frame's lowest-resolution features and encodings.
    memories: B results of memory_inputs with equal shapes. Returns (B, C, H, W).
    """
    import torch

    b = len(memories)
    memory = torch.cat([m[0] for m in memories], dim=1)
    memory_pos = torch.cat([m[1] for m in memories], dim=1)
    extra = {"num_spatial_memory_tokens": memories[0][3]} if family == "edgetam" else {}
    out = model.memory_attention(
        current_vision_features=top.expand(-1, b, -1),
        current_vision_position_embeddings=top_pos.expand(-1, b, -1),
        memory=memory,
        memory_posision_embeddings=memory_pos,
        num_object_pointer_tokens=memories[0][2],
        **extra,
    )
    # (1, B, HW, C) -> (B, C, H, W): the library's squeeze(1) only fits B == 1.
    return out.reshape(b, -1, out.shape[-1]).transpose(1, 2).reshape(b, -1, *size)


def no_memory(model: Any, top: Any, size: tuple) -> Any:
    """(1, C, H, W) features of a prompted frame: no memory, the learnt no-memory
    embedding added (the library's initial-conditioning-frame path)."""
    return (top + model.no_memory_embedding).permute(1, 2, 0).reshape(1, -1, *size)


def decode(
    model: Any,
    pix: Any,
    high_res: list[Any],
    points: Any,
    labels: Any,
    multimask: bool,
) -> Decoded:
    """Prompt encoder + mask decoder for B objects: _single_frame_forward's body with
    a per-row choice of the best mask. pix: (B, C, H, W); high_res: the two
    high-resolution levels, (1, C_l, H_l, W_l) each; points (B, 1, K, 2) in model
    pixels and labels (B, 1, K) int32, or None (tracking: no prompt)."""
    import torch
    import torch.nn.functional as F

    b = pix.shape[0]
    dense_pe = model.get_image_wide_positional_embeddings().repeat(b, 1, 1, 1)
    if points is None:
        points = torch.zeros(b, 1, 1, 2, dtype=pix.dtype, device=pix.device)
        labels = -torch.ones(b, 1, 1, dtype=torch.int32, device=pix.device)
    sparse, dense = model.prompt_encoder(
        input_points=points, input_labels=labels, input_boxes=None, input_masks=None
    )
    low_multi, iou, tokens, score = model.mask_decoder(
        image_embeddings=pix,
        image_positional_embeddings=dense_pe,
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
        high_resolution_features=[h.expand(b, -1, -1, -1) for h in high_res],
        attention_similarity=None,
        target_embedding=None,
    )
    appearing = score > 0
    low_multi = torch.where(appearing[:, None, None], low_multi, NO_OBJ_SCORE)
    side = model.image_size
    high_multi = (
        F.interpolate(
            low_multi.squeeze(1).float(), size=(side, side), mode="bilinear", align_corners=False
        )
        .unsqueeze(1)
        .to(low_multi.dtype)
    )
    token = tokens[:, :, 0]
    if multimask:
        best = torch.argmax(iou, dim=-1)  # (B, 1)
        pick = best[:, :, None, None, None]
        low = torch.take_along_dim(low_multi, pick, dim=2)[:, :, 0]
        high = torch.take_along_dim(high_multi, pick, dim=2)[:, :, 0]
        if tokens.size(2) > 1:
            token = torch.take_along_dim(tokens, best[:, :, None, None], dim=2)[:, :, 0]
    else:
        low, high = low_multi[:, :, 0], high_multi[:, :, 0]
    pointer = model.object_pointer_proj(token)
    weight = appearing.to(pointer.dtype)
    pointer = weight * pointer + (1 - weight) * model.no_object_pointer
    return Decoded(low=low, high=high, pointer=pointer, score=score)


def mask_as_output(model: Any, top: Any, high_res: list[Any], mask: Any, size: tuple) -> Decoded:
    """A user's mask taken as the answer (the library's _use_mask_as_output), one object.
    mask: (1, 1, S, S) float in {0, 1} as the processor makes it."""
    pix = top.permute(1, 2, 0).reshape(1, -1, *size)
    out = model._use_mask_as_output(pix, high_res, mask)
    return Decoded(
        low=out.pred_masks,
        high=out.high_res_masks,
        pointer=out.object_pointer,
        score=out.object_score_logits,
    )


def encode_memory(
    model: Any, family: str, top: Any, high: Any, score: Any, from_prompt: bool
) -> list[tuple[Any, Any]]:
    """The memory encoder for B objects in one call; one (features, encodings) pair per
    object, each a contiguous copy (so a kept memory never pins the batch's storage).

    top: (HW, 1, C); high: (B, 1, S, S) mask logits; score: (B, 1, 1);
    from_prompt: binarize the masks (they come from a user's prompt on this frame).
    """
    b = high.shape[0]
    if family == "edgetam":
        # EdgeTAM's perceiver resampler only runs at batch size 1 (its _forward_2d views
        # an expanded tensor), so its memories are encoded one object at a time, as the
        # library's own forward does.
        out = []
        for i in range(b):
            feats, pos = model._encode_new_memory(
                current_vision_feats=top,
                pred_masks_high_res=high[i : i + 1],
                object_score_logits=score[i : i + 1],
                is_mask_from_pts=from_prompt,
            )
            out.append((feats, pos))
        return out
    feats, pos = model._encode_new_memory(
        current_vision_feats=top.expand(-1, b, -1),
        pred_masks_high_res=high,
        object_score_logits=score,
        is_mask_from_pts=from_prompt,
    )
    # (HW, B, C), sequence first.
    return [(feats[:, i : i + 1].clone(), pos[:, i : i + 1].clone()) for i in range(b)]
