"""Small random-weight configurations of the video models, built from transformers'
own config classes: for tests, and for speed and memory measurements without weights.

``small_config(family, image_size)`` keeps every part of the model (Hiera vision
encoder, FPN neck, prompt encoder, mask decoder, memory attention with RoPE, memory
encoder, object pointers; EdgeTAM's perceiver resampler) but with few layers and
narrow widths (128 channels, memory 64: the library hard-codes a 64-channel
memory and only handles object pointers wider than it), so a 30-frame video runs
in seconds on a CPU. ``image_size`` must be a multiple of 64, at least 128 (the
vision encoder's total stride times the window sizes used here).
"""

from __future__ import annotations

from typing import Any

from streamseg.errors import EngineError

FAMILIES = ("sam2", "edgetam", "sam3")


def _check_size(image_size: int) -> int:
    if image_size % 64 or image_size < 128:
        raise EngineError(
            f"small video config: image_size {image_size}; give a multiple of 64, >= 128"
        )
    return image_size


def _hiera(size: int) -> dict[str, Any]:
    f = size // 4
    return {
        "model_type": "sam2_vision_model",
        "backbone_config": {
            "model_type": "sam2_hiera_det_model",
            "hidden_size": 16,
            "num_attention_heads": 1,
            "blocks_per_stage": [1, 1, 2, 1],
            "embed_dim_per_stage": [16, 32, 64, 128],
            "num_attention_heads_per_stage": [1, 1, 1, 1],
            "window_size_per_stage": [8, 4, 4, 4],
            "global_attention_blocks": [3],
            "image_size": [size, size],
            "window_positional_embedding_background_size": [4, 4],
        },
        "backbone_channel_list": [128, 64, 32, 16],
        "backbone_feature_sizes": [[f, f], [f // 2, f // 2], [f // 4, f // 4]],
        "fpn_hidden_size": 128,
    }


def _common(size: int) -> dict[str, Any]:
    f = size // 16
    return {
        "prompt_encoder_config": {"hidden_size": 128, "image_size": size, "patch_size": 16},
        "mask_decoder_config": {
            "hidden_size": 128,
            "mlp_dim": 64,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": 32,
        },
        "memory_attention_hidden_size": 128,
        "memory_attention_num_layers": 2,
        "memory_attention_rope_feat_sizes": [f, f],
        "memory_encoder_hidden_size": 128,
        "memory_encoder_output_channels": 64,  # the library hard-codes 64 (kv_in_dim)
        "mask_downsampler_embed_dim": 128,
        "memory_fuser_embed_dim": 128,
        "memory_fuser_intermediate_dim": 64,
        "max_object_pointers_in_encoder": 8,
        "num_maskmem": 5,
    }


def small_config(family: str, image_size: int = 256) -> Any:
    """A small config of ``family`` ("sam2", "edgetam", "sam3") at ``image_size`` px
    (SAM 3's ViT: a multiple of 112 px, 14 px patches in windows of 8)."""
    if family == "sam3":
        return _sam3(image_size)
    size = _check_size(image_size)
    if family == "sam2":
        from transformers import Sam2VideoConfig

        return Sam2VideoConfig(
            vision_config=_hiera(size),
            image_size=size,
            memory_attention_feed_forward_hidden_size=64,
            **_common(size),
        )
    if family == "edgetam":
        from transformers import EdgeTamVideoConfig

        return EdgeTamVideoConfig(
            vision_config=_hiera(size),
            image_size=size,
            memory_attention_mlp_hidden_size=64,
            memory_attention_rope_k_sizes=[4, 4],
            perceiver_resampler_num_latents=16,
            perceiver_resampler_num_latents_2d=16,
            perceiver_resampler_hidden_size=64,
            perceiver_resampler_mlp_intermediate_size=128,
            perceiver_resampler_attention_head_dim=64,
            **_common(size),
        )
    if family == "sam3":
        return _sam3(image_size)
    raise EngineError(f"small video config: unknown family {family!r}; choose one of {FAMILIES}")


def _sam3(size: int) -> Any:
    """SAM 3's tracker with a 2-layer ViT (14 px patches, windows of 8 patches)."""
    from transformers import Sam3TrackerVideoConfig

    if size % 112 or size < 224:
        raise EngineError(f"small sam3 config: image_size {size}; give a multiple of 112, >= 224")
    f = size // 14  # ViT tokens per side; the FPN gives 4x, 2x, 1x of it
    common = _common(size)
    common["prompt_encoder_config"]["patch_size"] = 14
    common["memory_attention_rope_feat_sizes"] = [f, f]
    vit = {
        "model_type": "sam3_vit_model",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": size,
        "patch_size": 14,
        "window_size": 8,
        "global_attn_indexes": [1],
        "pretrain_image_size": size,
    }
    # image_size is not a declared field of this config (it reaches the ViT through
    # the config's property setter), hence the ignore.
    return Sam3TrackerVideoConfig(  # type: ignore[call-arg]
        vision_config={
            "model_type": "sam3_vision_model",
            "backbone_config": vit,
            "fpn_hidden_size": 128,
            "backbone_feature_sizes": [[4 * f, 4 * f], [2 * f, 2 * f], [f, f]],
        },
        image_size=size,
        memory_attention_feed_forward_hidden_size=64,
        **common,
    )


# The video models whose real architecture is a transformers config class's default,
# so that random weights of the right size can be built without the Hub.
RANDOM_WEIGHT_MODELS = ("sam2.1-hiera-tiny", "edgetam")


def real_architecture(name: str) -> Any:
    """The full-size config of ``name`` (1024 px input), for random-weight speed
    measurements: Sam2VideoConfig's defaults are SAM 2.1 Hiera-tiny's, and EdgeTAM's
    are EdgeTamVideoConfig's with its RepViT-M1 vision model (from timm)."""
    import transformers

    if name == "sam2.1-hiera-tiny":
        return transformers.Sam2VideoConfig()
    if name == "edgetam":
        vision = {"model_type": "edgetam_vision_model"}
        config = transformers.EdgeTamVideoConfig(vision_config=vision)
        # The library's default backbone sub-config misspells "architecture", so timm
        # would build its default (a ResNet-50), which the neck refuses: RepViT-M1.
        backbone: Any = config.vision_config.backbone_config  # type: ignore[union-attr]
        backbone.architecture = "repvit_m1"
        return config
    raise EngineError(
        f"--random-weights builds {' or '.join(RANDOM_WEIGHT_MODELS)} (their architectures "
        f"are transformers' defaults) or sam-vit-b|l|h; {name} needs its weights"
    )
