"""The memory-attention video models (SAM 2.1, EdgeTAM, SAM 3's tracker) as an engine.

Built on Hugging Face transformers' own video models (Sam2VideoModel,
EdgeTamVideoModel, Sam3TrackerVideoModel) and their processors. The engine does
the prompt-free part: ``embed`` runs the vision encoder (Hiera / RepViT / ViT plus
the FPN neck) on a batch of frames, exactly as the library's ``get_image_features``
does for one frame, and hands back one ``VideoEmbedding`` per frame. Everything that
depends on prompts and on the past (memory attention, mask decoder, memory encoder)
lives in the tracker that ``create_tracker`` returns
(streamseg/engines/video_tracker.py).

The model table (names, Hub ids, revisions) is in streamseg/engines/hub.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamseg.engines.video_config import VideoSettings
from streamseg.errors import EngineError

log = logging.getLogger(__name__)


@dataclass
class VideoEmbedding:
    """One frame's vision features, as the library's get_image_features gives them.

    feats: one (HW_l, 1, C_l) tensor per feature level (high to low resolution; the two
        high-resolution levels already projected by the mask decoder's conv_s0/conv_s1).
    pos: the matching (HW_l, 1, C) position encodings. size: (height, width) of the frame.
    """

    feats: list[Any]
    pos: list[Any]
    size: tuple[int, int]

    def __post_init__(self) -> None:
        if len(self.feats) != len(self.pos) or not self.feats:
            raise ValueError(
                f"VideoEmbedding: {len(self.feats)} feature levels but {len(self.pos)} encodings"
            )
        for f in self.feats:
            if f.ndim != 3 or f.shape[1] != 1:
                raise ValueError(f"VideoEmbedding.feats: expected (HW, 1, C), got {tuple(f.shape)}")


def family_of(model_type: str) -> str:
    """The model family ("sam2", "edgetam", "sam3") of a transformers model_type."""
    families = {"sam2_video": "sam2", "edgetam_video": "edgetam", "sam3_tracker_video": "sam3"}
    if model_type == "sam3_video":  # SAM 3's full checkpoint holds the tracker's config
        return "sam3"
    if model_type not in families:
        raise EngineError(
            f"model type {model_type!r} is not a video model streamseg runs; "
            f"expected one of {', '.join(families)}"
        )
    return families[model_type]


def model_class(family: str) -> Any:
    """The transformers model class of a family."""
    import transformers

    names = {
        "sam2": "Sam2VideoModel",
        "edgetam": "EdgeTamVideoModel",
        "sam3": "Sam3TrackerVideoModel",
    }
    return getattr(transformers, names[family])


def default_processor(family: str, image_size: int) -> Any:
    """The library's processor for a model of ``image_size`` px, built without the Hub
    (its preprocessing is fixed: resize to a square, ImageNet mean and std)."""
    import transformers

    mask = image_size // 4
    image_proc = transformers.Sam2ImageProcessor(
        size={"height": image_size, "width": image_size},
        mask_size={"height": mask, "width": mask},
    )
    video_proc = transformers.Sam2VideoVideoProcessor(
        size={"height": image_size, "width": image_size}
    )
    cls = (
        transformers.Sam3TrackerVideoProcessor
        if family == "sam3"
        else transformers.Sam2VideoProcessor
    )
    return cls(image_processor=image_proc, video_processor=video_proc, target_size=image_size)


class VideoEngine:
    """A transformers video model, its processor, and the batched vision encoder.

    model: a Sam2VideoModel / EdgeTamVideoModel / Sam3TrackerVideoModel.
    processor: its processor (points, boxes, masks and frames are prepared by it, so
        the inputs are those of the library's own whole-video inference).
    device, dtype: "auto" or names as in streamseg.engines.sam_device.
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        settings: VideoSettings | None = None,
        *,
        name: str,
        device: str = "auto",
        dtype: str = "auto",
    ) -> None:
        import torch

        from streamseg.engines.sam_device import resolve_device, resolve_dtype

        self.settings = settings or VideoSettings()
        self.name = name
        self.family = family_of(model.config.model_type)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device) or torch.float32
        self.model = model.to(self.device, dtype=self.dtype).eval()
        self.processor = processor
        self.batch_size = self.settings.batch_size or (8 if self.device.type == "cuda" else 1)
        self.image_size = int(model.config.image_size)
        self.timer: Any = None

    @property
    def asynchronous(self) -> bool:
        """False: ``embed`` returns finished features (the default CUDA stream orders
        the tracker's work after it)."""
        return False

    def embed(self, images: Sequence[np.ndarray]) -> list[VideoEmbedding]:
        """Vision features of (H, W, 3) uint8 RGB frames, ``batch_size`` per call."""
        out: list[VideoEmbedding] = []
        while len(out) < len(images):
            out.extend(self._embed(images[len(out) : len(out) + self.batch_size]))
        return out

    def pixel_values(self, images: Sequence[np.ndarray]) -> Any:
        """(B, 3, S, S) model input of frames, as the library's video processor makes it."""
        clip = np.stack([np.ascontiguousarray(im) for im in images])
        processed = self.processor.video_processor(
            videos=[clip], device=str(self.device), return_tensors="pt"
        )
        return processed.pixel_values_videos[0].to(self.device, dtype=self.dtype)

    def _embed(self, images: Sequence[np.ndarray]) -> list[VideoEmbedding]:
        import torch

        for im in images:
            if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
                raise EngineError(
                    f"embed: expected (H, W, 3) uint8 frames, got {im.shape} {im.dtype}"
                )
        with torch.inference_mode():
            pixels = self.pixel_values(images)
            outputs = self.model.get_image_features(pixels, return_dict=True)
        feats, pos = outputs.fpn_hidden_states, outputs.fpn_position_encoding
        return [
            VideoEmbedding(
                feats=[f[:, i : i + 1] for f in feats],
                pos=[p[:, i : i + 1] for p in pos],
                size=(int(im.shape[0]), int(im.shape[1])),
            )
            for i, im in enumerate(images)
        ]

    def segment(self, embedding: Any, prompts: Any) -> Any:
        """Video engines segment through their tracker (create_tracker), not per frame."""
        raise EngineError(
            f"{self.name} is a video model: masks come from engine.create_tracker(), "
            "not from segment()"
        )

    def create_tracker(self, config: Any = None) -> Any:
        """A new streaming tracker on this engine (streamseg.engines.video_tracker).
        config: VideoSettings to use instead of the engine's; anything else (e.g. the
        SAM tracker's TrackerConfig, which does not apply to video models) is ignored."""
        from streamseg.engines.video_tracker import VideoTracker

        settings = config if isinstance(config, VideoSettings) else self.settings
        return VideoTracker(self, settings)


def build_random(
    family: str,
    *,
    image_size: int | None = None,
    settings: VideoSettings | None = None,
    name: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    config: Any = None,
) -> VideoEngine:
    """A seeded random-weight engine of ``family``: the small config at ``image_size``
    (video_configs.small_config), or ``config`` when given (e.g. the real architecture's)."""
    import torch

    from streamseg.engines.video_configs import small_config

    settings = settings or VideoSettings()
    cfg = config if config is not None else small_config(family, image_size or 256)
    torch.manual_seed(settings.seed)
    model = model_class(family)(cfg)
    processor = default_processor(family, int(cfg.image_size))
    return VideoEngine(
        model, processor, settings, name=name or f"{family}-random", device=device, dtype=dtype
    )
