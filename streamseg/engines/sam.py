"""The Segment Anything engine: batched image encoder, one decoder call per frame.

``embed`` stacks frames into one batch and runs SAM's image encoder on it. The
preprocessing (resize the long side to 1024, normalise, pad) is tensor work on the
device; on CUDA the uint8 frames go through pinned host memory with non-blocking
copies, everything runs under bf16 autocast (fp16 where bf16 is unsupported), and
the whole batch is queued on a side stream: ``embed`` returns at once with handles
whose features are finished when their CUDA event fires, so the mask decoder of one
batch can run while the encoder works on the next (``session.embedded_frames``
hands the encoder batch k+1 before batch k is decoded). On the CPU everything is
synchronous and float32 unless a dtype is asked for.

``segment`` decodes all objects of a frame in ONE prompt-encoder + mask-decoder
call (sam_prompts.py says how prompts of different lengths share it), picks one of
SAM's outputs per object, upsamples the chosen logits to the frame on the device
and copies only the final bool masks to the host.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamseg.engines import sam_prompts as sp
from streamseg.engines.base import ObjectPrompt, Segmentation
from streamseg.engines.sam_config import SamConfig
from streamseg.engines.sam_device import PinnedPool, SamEmbedding, resolve_device, resolve_dtype
from streamseg.engines.sam_locate import locate_prototype, prototypes
from streamseg.errors import EngineError

__all__ = [
    "SamConfig",
    "SamEmbedding",
    "SamEngine",
    "resolve_device",
    "resolve_dtype",
]

log = logging.getLogger(__name__)


class SamEngine:
    """Segment Anything behind the Engine protocol (see the module docstring).

    model: a segment_anything ``Sam`` (sam_models.py builds them). name: e.g.
    "sam-vit-b". device, dtype: as ModelConfig ("auto", "cpu", "cuda:0"...; "auto",
    "float32", "bfloat16", "float16"). batch_size: frames per encoder call (0: 8 on
    CUDA, 1 on the CPU, where batching saves nothing). ``observer`` (set by the
    session when one watches, see streamseg/observe.py): SAM reports its own stages
    "preprocess", "encode" and "decode-masks" to it.

    CUDA memory: when the default batch does not fit (vit_h at 8 frames on a 24 GB
    card), ``embed`` halves it, says so on stderr and goes on; a batch size asked for
    explicitly is not changed behind the user's back: it fails with a one-line error.
    """

    def __init__(
        self,
        model: Any,
        config: SamConfig | None = None,
        *,
        name: str = "sam",
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 0,
    ) -> None:
        import torch

        self.config = config or SamConfig()
        self.name = name
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        if self.dtype is not None and self.device.type == "cpu":
            log.info("SAM on the CPU with %s autocast (float32 is the default there)", self.dtype)
        self.model = model.to(self.device).eval()
        if batch_size < 0:
            raise EngineError(f"--batch-size {batch_size}: give 1 or more (0: the default)")
        self.batch_size = batch_size or (8 if self.device.type == "cuda" else 1)
        self._batch_fixed = batch_size > 0
        self.observer: Any = None  # reports stages to streamseg bench (observe.py)
        self._pe: Any = None
        cuda = self.device.type == "cuda"
        self._stream = torch.cuda.Stream(self.device) if cuda and self.config.side_stream else None
        self._pinned = PinnedPool() if cuda else None
        encoder = self.model.image_encoder
        if encoder.img_size != sp.IMG_SIZE:
            raise EngineError(f"SAM image encoder takes {encoder.img_size}px; expected 1024")

    @property
    def asynchronous(self) -> bool:
        """True when ``embed`` returns before the encoder has finished (CUDA side stream)."""
        return self._stream is not None

    # -- embed ------------------------------------------------------------------------

    def embed(self, images: Sequence[np.ndarray]) -> list[SamEmbedding]:
        """Encode (H, W, 3) uint8 RGB frames, ``batch_size`` per encoder call; one
        SamEmbedding each."""

        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise EngineError(
                    f"SAM engine: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}"
                )
        out: list[SamEmbedding] = []
        while len(out) < len(images):
            chunk = images[len(out) : len(out) + self.batch_size]
            try:
                out += self._embed(chunk)
                continue
            except RuntimeError as error:  # torch.cuda.OutOfMemoryError is one
                if not self._out_of_memory(error):
                    raise
            # Out of the except block: the failed call's activations are freed by now.
            self._shrink_batch(len(chunk))
        return out

    def _out_of_memory(self, error: RuntimeError) -> bool:
        import torch

        if isinstance(error, torch.cuda.OutOfMemoryError):
            return True
        text = str(error)  # cuBLAS/cuDNN workspaces fail with a plain RuntimeError
        return self.device.type == "cuda" and ("out of memory" in text or "ALLOC_FAILED" in text)

    def _shrink_batch(self, tried: int) -> None:
        """After CUDA ran out of memory encoding ``tried`` frames: halve the default
        batch and say so, or raise EngineError naming the fix."""
        import torch

        torch.cuda.empty_cache()
        where, half = f"{self.name} on {self.device}", (tried + 1) // 2
        if tried > 1 and not self._batch_fixed:
            self.batch_size = half
            log.warning(
                "CUDA ran out of memory encoding %d frames at once with %s; going on with "
                "batches of %d (--batch-size %d skips this)",
                tried,
                where,
                self.batch_size,
                self.batch_size,
            )
            return
        if tried > 1:
            fix = f"pass a smaller --batch-size (e.g. {half})"
        else:
            fix = "use a smaller model (--model sam-vit-b), another GPU or --device cpu"
        raise EngineError(f"CUDA ran out of memory encoding {tried} frame(s) with {where}; {fix}")

    def _embed(self, images: Sequence[np.ndarray]) -> list[SamEmbedding]:
        """One encoder call on all of ``images``."""
        import torch

        stream = torch.cuda.stream(self._stream) if self._stream else contextlib.nullcontext()
        with torch.no_grad(), stream:
            with self._stage("preprocess"):
                batch = self._preprocess(images)
            with self._stage("encode"), self._autocast():
                features = self.model.image_encoder(batch)
            event = None
            if self._stream is not None:
                event = torch.cuda.Event()
                event.record(self._stream)
        return [
            SamEmbedding(features[i : i + 1], image.shape[:2], event)
            for i, image in enumerate(images)
        ]

    def _preprocess(self, images: Sequence[np.ndarray]) -> Any:
        """(B, 3, 1024, 1024) float32 on the device: each frame resized (long side 1024,
        antialiased bilinear, rounded to uint8 levels like SamPredictor's PIL resize),
        normalised with SAM's pixel mean/std, zero-padded right and bottom."""
        import torch
        import torch.nn.functional as F

        size = sp.IMG_SIZE
        out = torch.zeros((len(images), 3, size, size), dtype=torch.float32, device=self.device)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            groups.setdefault(image.shape[:2], []).append(i)
        mean, std = self.model.pixel_mean, self.model.pixel_std
        for (h, w), index in groups.items():
            group = [images[i] for i in index]
            if self._pinned is not None:
                raw = self._pinned.upload(group, self.device)
            else:
                raw = torch.from_numpy(np.stack(group)).to(self.device)
            x = raw.permute(0, 3, 1, 2)  # (b, 3, h, w), channels-last in memory
            new_h, new_w = sp.input_size(h, w)
            if (new_h, new_w) != (h, w):
                if x.device.type == "cpu":
                    # PyTorch's uint8 antialiased bilinear: a fast CPU kernel that rounds
                    # to uint8 itself (7 ms for 720p, against 80 ms in float).
                    x = F.interpolate(
                        x, (new_h, new_w), mode="bilinear", align_corners=False, antialias=True
                    )
                else:
                    x = (
                        F.interpolate(
                            x.float(),
                            (new_h, new_w),
                            mode="bilinear",
                            align_corners=False,
                            antialias=True,
                        )
                        .round_()
                        .clamp_(0.0, 255.0)
                    )
            x = (x.float() - mean) / std
            if index == list(range(index[0], index[-1] + 1)):  # the usual case: one size
                out[index[0] : index[-1] + 1, :, :new_h, :new_w] = x
            else:  # a list index on a CUDA tensor would be copied over and wait for it
                for j, i in enumerate(index):
                    out[i, :, :new_h, :new_w] = x[j]
        return out

    # -- segment ----------------------------------------------------------------------

    def segment(
        self, embedding: SamEmbedding, prompts: Sequence[ObjectPrompt]
    ) -> list[Segmentation]:
        """One Segmentation per prompt, all objects decoded in one call.

        mask: (H, W) bool (host); score: SAM's predicted IoU in [0, 1]; logits:
        (1, 256, 256) tensor on the device (the next frame's mask prompt);
        appearance: (C,) float32 tensor on the device, the mean image embedding
        inside the mask (a PerSAM-style prototype; the previous one is kept when the
        mask is empty). A prompt with ``mask_given`` keeps that mask exactly.
        """
        import torch

        if not prompts:
            return []
        if not isinstance(embedding, SamEmbedding):
            raise EngineError(
                f"SAM engine: expected a SamEmbedding, got {type(embedding).__name__}"
            )
        shape = embedding.original_size
        for p in prompts:
            if p.mask is not None and p.mask.shape != shape:
                raise EngineError(f"prompt mask has shape {p.mask.shape}, frame is {shape}")
        features = embedding.features()
        with torch.no_grad(), self._stage("decode-masks"), self._autocast():
            given = {
                i: p.mask > 0.5
                for i, p in enumerate(prompts)
                if p.mask_given and p.mask is not None
            }
            asked = [i for i in range(len(prompts)) if i not in given]
            logits = torch.zeros((len(prompts), 1, sp.LOW_RES, sp.LOW_RES), device=self.device)
            scores = torch.ones(len(prompts), device=self.device)
            if asked:
                out_logits, out_scores = self._decode(features, [prompts[i] for i in asked], shape)
                logits[asked] = out_logits.float()
                scores[asked] = out_scores.float()
            for i, given_mask in given.items():
                logits[i] = sp.lowres_logits(
                    self._to_device(given_mask), shape, self.config.mask_logit
                )
            masks = sp.postprocess(logits, shape)
            for i, given_mask in given.items():
                masks[i] = self._to_device(given_mask)
            with torch.autocast(self.device.type, enabled=False):
                protos, has = prototypes(features, logits)
            host_masks = masks.cpu().numpy()
            host_scores = scores.clamp(0.0, 1.0).tolist()
            host_has = has.tolist()
        return [
            Segmentation(
                mask=host_masks[i],
                score=float(host_scores[i]),
                logits=logits[i],
                appearance=protos[i] if host_has[i] else p.appearance,
            )
            for i, p in enumerate(prompts)
        ]

    def locate(
        self, embedding: SamEmbedding, appearance: Any, area: float | None = None
    ) -> tuple[float, float, float] | None:
        """Where the object with this prototype (Segmentation.appearance, (C,)) most
        likely is, PerSAM-style: the embedding cell most cosine-similar to it, as
        (x, y, similarity) in frame pixels, or None below ``locate_similarity``.
        ``area`` is not used (the decoder's answer is checked against it instead)."""
        if appearance is None or not isinstance(embedding, SamEmbedding):
            return None
        return locate_prototype(embedding, appearance, self.config.locate_similarity)

    def _decode(
        self, features: Any, prompts: Sequence[ObjectPrompt], shape: tuple[int, int]
    ) -> tuple[Any, Any]:
        """(N, 1, 256, 256) chosen low-res logits and (N,) predicted IoU, one call."""
        import torch

        tokens, mask_prompts, ambiguous = [], [], []
        for p in prompts:
            xy, labels = sp.object_tokens(p, shape)
            mask_prompt = self._mask_prompt(p, shape, has_tokens=len(labels) > 0)
            if not len(labels) and mask_prompt is None:
                raise EngineError("SAM engine: a prompt needs points, a box or a mask")
            tokens.append((xy, labels))
            mask_prompts.append(mask_prompt)
            one_click = len(p.points) == 1 and p.box is None and mask_prompt is None
            ambiguous.append(self.config.multimask and one_click)
        packed = sp.pack(tokens, ambiguous)
        pe = self.model.prompt_encoder
        coords = torch.from_numpy(packed.coords).to(self.device)
        kinds = torch.from_numpy(packed.labels).to(self.device)
        # Positions in float32 even under autocast: sin(2 pi x f) needs the digits.
        with torch.autocast(self.device.type, enabled=False):
            sparse = sp.sparse_embeddings(pe, coords, kinds)
            image_pe = self._dense_pe()
        n = len(prompts)
        grid = pe.image_embedding_size
        dense = pe.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(n, -1, *grid)
        with_mask = [i for i, m in enumerate(mask_prompts) if m is not None]
        if with_mask:
            stacked = torch.stack([mask_prompts[i] for i in with_mask]).float()
            embedded = pe.mask_downscaling(stacked)
            # float32 rows: the objects without a mask prompt must not be rounded to
            # bf16 just because another object in the call has one.
            dense = dense.float().clone()
            dense[with_mask] = embedded.float()
        valid = None if packed.uniform else torch.from_numpy(packed.valid).to(self.device)
        all_masks, all_iou = sp.decode(
            self.model.mask_decoder, features, image_pe, sparse, dense, valid
        )
        choice = torch.zeros(n, dtype=torch.long, device=self.device)
        for i in np.flatnonzero(packed.ambiguous).tolist():
            choice[i] = 1 + self._pick(all_masks[i, 1:], all_iou[i, 1:], prompts[i], shape)
        rows = torch.arange(n, device=self.device)
        return all_masks[rows, choice].unsqueeze(1), all_iou[rows, choice]

    def _pick(self, masks: Any, iou: Any, prompt: ObjectPrompt, shape: tuple[int, int]) -> int:
        """Index (0-2) of SAM's three candidates: best IoU with the carried prior mask,
        where there is a non-empty one, else the highest predicted IoU."""
        if prompt.mask is not None and prompt.mask.any():
            prior = sp.mask_to_lowres(self._to_device(prompt.mask), shape)[0] > 0.5
            cand = masks > 0
            inter = (cand & prior).flatten(1).sum(1)
            union = (cand | prior).flatten(1).sum(1).clamp_min(1)
            return int((inter / union).argmax())
        return int(iou.argmax())

    def _mask_prompt(self, prompt: ObjectPrompt, shape: tuple[int, int], has_tokens: bool) -> Any:
        """(1, 256, 256) mask prompt for one object, or None (SAM's no-mask embedding)."""
        mode = self.config.mask_prompt
        if prompt.logits is not None and mode == "logits":
            logits = prompt.logits
            if not hasattr(logits, "to"):  # numpy, e.g. state restored from disk
                import torch

                logits = torch.from_numpy(np.asarray(logits, np.float32))
            return logits.to(self.device).reshape(1, sp.LOW_RES, sp.LOW_RES)
        if prompt.mask is not None and (mode == "prior" or not has_tokens):
            # With nothing else to go on, the prior itself is the prompt.
            return sp.lowres_logits(self._to_device(prompt.mask), shape, self.config.mask_logit)
        return None

    # -- helpers ----------------------------------------------------------------------

    def _dense_pe(self) -> Any:
        """The prompt encoder's (1, C, 64, 64) positional encoding: a constant, made once
        (SAM recomputes it on every call)."""
        if self._pe is None:
            self._pe = self.model.prompt_encoder.get_dense_pe()
        return self._pe

    def _to_device(self, array: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def _autocast(self) -> Any:
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _stage(self, name: str) -> Any:
        return self.observer.stage(name) if self.observer is not None else contextlib.nullcontext()
