"""Building SAM models: the official architectures, random weights, tiny test models.

Every model is built from segment_anything's own modules. Official checkpoints are
loaded with ``torch.load(..., weights_only=True)`` (no pickled code runs) into a
model built without segment_anything's own checkpoint loading. Models are built on
PyTorch's "meta" device first when weights follow, so the seconds spent filling
hundreds of millions of parameters with random numbers are not wasted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from streamseg.errors import EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamArch:
    """Sizes of one SAM architecture (see segment_anything/build_sam.py).

    img_size must stay 1024 (the coordinate mapping, the 64x64 embedding and the
    256x256 low-resolution logits all follow from it with patch_size 16).
    """

    encoder_dim: int
    encoder_depth: int
    encoder_heads: int
    global_attn: tuple[int, ...]
    prompt_dim: int = 256
    decoder_depth: int = 2
    decoder_mlp: int = 2048
    decoder_heads: int = 8
    iou_hidden: int = 256
    mask_in_chans: int = 16
    window_size: int = 14
    img_size: int = 1024
    patch_size: int = 16


ARCHS: dict[str, SamArch] = {
    "vit_b": SamArch(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamArch(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamArch(1280, 32, 16, (7, 15, 23, 31)),
    # For tests and CPU smoke runs: same wiring and the same 1024 input, a few percent
    # of vit_b's cost (one encoder block, a 64-wide prompt/decoder path).
    "tiny": SamArch(
        encoder_dim=32,
        encoder_depth=1,
        encoder_heads=2,
        global_attn=(),
        prompt_dim=64,
        decoder_depth=1,
        decoder_mlp=128,
        decoder_heads=2,
        iou_hidden=64,
        mask_in_chans=8,
    ),
}

# Width of image_encoder.pos_embed (1, 64, 64, C) in each official checkpoint.
_ARCH_BY_WIDTH = {a.encoder_dim: name for name, a in ARCHS.items() if name != "tiny"}


def build_sam(arch: str | SamArch, *, seed: int | None = 0, meta: bool = False) -> Any:
    """A ``segment_anything.modeling.Sam`` in eval mode, on the CPU, in float32, its
    encoder attention computed a few (frame, head) pairs at a time (sam_attention.py).

    arch: "vit_b", "vit_l", "vit_h", "tiny" or a SamArch. seed: seeds the random
    initialisation (None: the global RNG). meta: build on the "meta" device (no
    memory, no initialisation) for ``load_weights`` to fill.
    """
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    from streamseg.engines.sam_attention import use_blocked_attention

    a = ARCHS[arch] if isinstance(arch, str) else arch
    grid = a.img_size // a.patch_size

    def make() -> Any:
        return Sam(
            image_encoder=ImageEncoderViT(
                depth=a.encoder_depth,
                embed_dim=a.encoder_dim,
                img_size=a.img_size,
                mlp_ratio=4,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                num_heads=a.encoder_heads,
                patch_size=a.patch_size,
                qkv_bias=True,
                use_rel_pos=True,
                global_attn_indexes=a.global_attn,
                window_size=a.window_size,
                out_chans=a.prompt_dim,
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=a.prompt_dim,
                image_embedding_size=(grid, grid),
                input_image_size=(a.img_size, a.img_size),
                mask_in_chans=a.mask_in_chans,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=3,
                transformer=TwoWayTransformer(
                    depth=a.decoder_depth,
                    embedding_dim=a.prompt_dim,
                    mlp_dim=a.decoder_mlp,
                    num_heads=a.decoder_heads,
                ),
                transformer_dim=a.prompt_dim,
                iou_head_depth=3,
                iou_head_hidden_dim=a.iou_hidden,
            ),
            pixel_mean=[123.675, 116.28, 103.53],
            pixel_std=[58.395, 57.12, 57.375],
        )

    if meta:
        with torch.device("meta"):
            model = make()
    else:
        if seed is None:
            model = make()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = make()
    return use_blocked_attention(model).eval()


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """The tensors of a checkpoint file, read with ``weights_only=True`` onto the CPU."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise EngineError(f"no such checkpoint file: {path}; check --checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickle/zip errors of every kind
        # PyTorch's own advice here (weights_only=False) would run the file's code: not given.
        raise EngineError(
            f"cannot read checkpoint {path} ({type(error).__name__}: not a PyTorch file "
            "holding only tensors); it must be a SAM .pth state dict such as Meta's "
            "(streamseg weights download sam-vit-b)"
        ) from error
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # some training scripts wrap the state dict
    if not isinstance(state, dict) or "image_encoder.pos_embed" not in state:
        raise EngineError(f"{path} is not a SAM checkpoint (no image_encoder.pos_embed)")
    return state


def arch_of(state: dict[str, Any]) -> str:
    """ "vit_b", "vit_l" or "vit_h", from the width of the checkpoint's position embedding."""
    shape: tuple[int, ...] = tuple(getattr(state["image_encoder.pos_embed"], "shape", ()))
    if len(shape) != 4:
        raise EngineError(
            f"the checkpoint's image_encoder.pos_embed has shape {tuple(shape)}, not "
            "(1, 64, 64, width): it is not a SAM checkpoint"
        )
    width = int(shape[-1])
    if width not in _ARCH_BY_WIDTH:
        raise EngineError(
            f"unknown SAM encoder width {width}; expected one of "
            f"{', '.join(str(w) for w in sorted(_ARCH_BY_WIDTH))} (vit_b, vit_l, vit_h)"
        )
    return _ARCH_BY_WIDTH[width]


def load_weights(arch: str, state: dict[str, Any], source: str = "checkpoint") -> Any:
    """A ``Sam`` of ``arch`` holding the tensors of ``state`` (strict: every key must fit)."""
    import torch

    model = build_sam(arch, meta=True)
    expected = set(model.state_dict())
    missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or extra:
        found = arch_of(state) if "image_encoder.pos_embed" in state else "?"
        fix = (
            "it is damaged or not Meta's format"
            if found == arch
            else "pass --model sam-" + found.replace("_", "-")
        )
        raise EngineError(
            f"{source} does not fit SAM {arch}: {_some('missing', missing)}"
            f"{'; ' if missing and extra else ''}{_some('unexpected', extra)}; {fix}"
        )
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:  # the keys fit, a shape does not
        detail = next(
            (line.strip() for line in str(error).splitlines() if "size mismatch" in line),
            str(error).splitlines()[0],
        )
        raise EngineError(f"{source} does not fit SAM {arch}: {detail}") from error
    # pixel_mean/pixel_std are non-persistent buffers: not in any state dict.
    model.pixel_mean = torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1)
    model.pixel_std = torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise EngineError(f"{source} left SAM tensors unset: {', '.join(left[:5])}")
    return model.float().eval()


def _some(what: str, keys: list[str]) -> str:
    """ "3 missing tensors (a, b, ...)" for an error line; "" for none."""
    if not keys:
        return ""
    shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
    return f"{len(keys)} {what} tensor{'s' if len(keys) > 1 else ''} ({shown})"
