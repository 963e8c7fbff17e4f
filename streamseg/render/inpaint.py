"""Re-rendering masked regions: settings, the factory, crops, and the keyframe schedule.

``build_inpainter(config, device)`` gives a renderer, a stateful callable
``FrameResult -> (H, W, 3) uint8 RGB`` (it plugs into ``VideoSink``'s ``draw``) with
``close()``, and a metadata dict for the output attributes. The renderer is either:

- ``Inpainter`` (here): a crop model (the diffusers backend) runs on *keyframes* only,
  on a crop around each object scaled to the model's resolution; the frames between
  carry the keyframe's result along the optical flow, and the model runs again when
  the carried result no longer fits (warp error) or every K frames, starting from the
  carried pixels, with a fixed seed per object. That is what keeps it from flickering.
- ``FlowRemover`` (``remove.py``): weight-free removal, background propagated from past
  frames along the flow, the rest filled by ``cv2.inpaint``.

Either way, pixels outside the dilated mask are exactly the source's."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from streamseg.errors import EngineError
from streamseg.render.inpaint_config import InpaintConfig
from streamseg.render.masks import dilate, feather_alpha, object_masks, paste
from streamseg.render.remove import BackgroundFlow, FlowRemover
from streamseg.types import FrameResult, mask_box

log = logging.getLogger(__name__)

INVALID = -1.0e5  # map value for "came from outside the frame"


class CropModel(Protocol):
    """What the keyframe renderer needs from a model.

    ``inpaint(image (h, w, 3) uint8 RGB, mask (h, w) bool, seed, strength) -> (h, w, 3)
    uint8``, where h and w are multiples of ``multiple`` near ``resolution`` on the long
    side; strength None means the model's configured one.
    """

    resolution: int
    multiple: int

    def inpaint(
        self, image: np.ndarray, mask: np.ndarray, seed: int, strength: float | None = None
    ) -> np.ndarray: ...


# ---------------------------------------------------------------- crops


def crop_box(
    box: np.ndarray, size: tuple[int, int], margin: float, min_side: int = 128
) -> tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) ints around ``box`` (4,) float x0, y0, x1, y1.

    The box grows by ``margin`` of its size on each side (at least 8 px), its short
    side to at least half its long side and both to ``min_side`` (models need context
    and prefer square-ish inputs); then it is *shifted* to lie inside the ``size`` =
    (width, height) frame, keeping its size where the frame allows, so objects at the
    frame border still get a full crop.
    """
    w, h = size
    bx0, by0, bx1, by1 = (float(v) for v in box)
    bw, bh = bx1 - bx0, by1 - by0
    cw = bw + 2 * max(8.0, margin * bw)
    ch = bh + 2 * max(8.0, margin * bh)
    cw, ch = max(cw, ch / 2, min_side), max(ch, cw / 2, min_side)
    cw, ch = min(round(cw), w), min(round(ch), h)
    x0 = int(np.clip(round((bx0 + bx1 - cw) / 2), 0, w - cw))
    y0 = int(np.clip(round((by0 + by1 - ch) / 2), 0, h - ch))
    return x0, y0, x0 + cw, y0 + ch


def model_size(width: int, height: int, resolution: int, multiple: int = 8) -> tuple[int, int]:
    """(w, h) to resize a crop to: long side ``resolution``, sides multiples of ``multiple``."""
    scale = resolution / max(width, height)
    return (
        max(multiple, round(width * scale / multiple) * multiple),
        max(multiple, round(height * scale / multiple) * multiple),
    )


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (w, h): area averaging when shrinking (no aliasing), cubic when growing."""
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


# ---------------------------------------------------------------- keyframe + carry


@dataclass
class _Track:
    """One object's last keyframe and how the current frame maps back to it.

    render, source: (H, W, 3) uint8, the keyframe's output and input. key_alpha:
    (H, W) float32, where the keyframe was re-rendered. map: (H, W, 2) float32,
    for each current pixel where it was in the keyframe (INVALID if off-frame).
    """

    render: np.ndarray
    source: np.ndarray
    key_alpha: np.ndarray
    map: np.ndarray
    age: int = 0


@dataclass
class Inpainter:
    """Keyframe + carry renderer around a crop model; see the module docstring.

    ``__call__(result) -> (H, W, 3) uint8``; ``stats`` counts frames, keyframes
    and why the model re-ran (new object, every K, warp error).
    """

    model: CropModel
    config: InpaintConfig
    stats: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.flow = BackgroundFlow(self.config.flow_scale)
        self.tracks: dict[int, _Track] = {}
        self.grid: np.ndarray | None = None
        for key in ("frames", "keyframes", "carried", "new", "every", "warp"):
            self.stats.setdefault(key, 0)

    def __call__(self, result: FrameResult) -> np.ndarray:
        image = result.frame.image
        h, w = image.shape[:2]
        if self.grid is None or self.grid.shape[:2] != (h, w):
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self.grid = np.dstack([gx, gy])
            self.tracks.clear()  # their maps are for the old size
        targets = object_masks(result, self.config.objects)
        regions = [feather_alpha(m, self.config.dilate, self.config.feather) for _, m in targets]
        # Remove: the region is background, so carry it with the surrounding motion;
        # replace: the new content is the object, so it moves with the object's own flow.
        hole = np.zeros((h, w), bool)
        if self.config.mode == "remove":
            for region, _ in regions:
                hole |= region
        back = self.flow.step(image, hole)
        carry = None if back is None else self.flow.full(back, (w, h))
        canvas = image.copy()
        seen = set()
        for (oid, mask), (region, alpha) in zip(targets, regions, strict=True):
            seen.add(oid)
            track = self.tracks.get(oid)
            reason = "new" if track is None or carry is None else None
            if track is not None and carry is not None:
                track.map = _compose(track.map, self.grid + carry)
                track.age += 1
                if track.age >= self.config.every:
                    reason = "every"
                elif self.warp_error(track, image, mask, region) > self.config.warp_error:
                    reason = "warp"
            if reason is None:
                assert track is not None
                self._paste_carried(canvas, track, alpha)
                self.stats["carried"] += 1
            else:
                strength = None
                if reason != "new" and self.config.refresh < 1:
                    assert track is not None
                    self._paste_carried(canvas, track, alpha)  # the refresh starts from it
                    strength = self.config.refresh
                self._keyframe(canvas, oid, mask, region, alpha, strength)
                self.tracks[oid] = _Track(canvas.copy(), image, alpha, self.grid.copy())
                self.stats["keyframes"] += 1
                self.stats[reason] += 1
        for oid in set(self.tracks) - seen:  # gone: a reappearance starts from a keyframe
            del self.tracks[oid]
        self.stats["frames"] += 1
        return canvas

    def _keyframe(
        self,
        canvas: np.ndarray,
        oid: int,
        mask: np.ndarray,
        region: np.ndarray,
        alpha: np.ndarray,
        strength: float | None = None,
    ) -> None:
        """Run the model on a crop around the object and paste its output into ``canvas``."""
        h, w = canvas.shape[:2]
        min_side = min(128, self.model.resolution // 2)
        x0, y0, x1, y1 = crop_box(mask_box(region), (w, h), self.config.margin, min_side)
        crop, cmask = canvas[y0:y1, x0:x1], region[y0:y1, x0:x1]
        size = model_size(x1 - x0, y1 - y0, self.model.resolution, self.model.multiple)
        small_mask = cv2.resize(cmask.astype(np.uint8), size, interpolation=cv2.INTER_LINEAR) > 0
        out = self.model.inpaint(resize(crop, size), small_mask, self.config.seed + oid, strength)
        if out.shape != (size[1], size[0], 3) or out.dtype != np.uint8:
            raise EngineError(
                f"inpaint model returned {out.shape} {out.dtype}; "
                f"expected {(size[1], size[0], 3)} uint8"
            )
        paste(canvas, resize(out, (x1 - x0, y1 - y0)), alpha[y0:y1, x0:x1], (x0, y0))

    def _paste_carried(self, canvas: np.ndarray, track: _Track, alpha: np.ndarray) -> None:
        """Sample the keyframe's render along the accumulated map, inside the region's box."""
        x0, y0, x1, y1 = (int(v) for v in mask_box(alpha > 0))
        m = track.map[y0:y1, x0:x1]
        paste(canvas, _sample(track.render, m), alpha[y0:y1, x0:x1], (x0, y0))

    def warp_error(
        self, track: _Track, image: np.ndarray, mask: np.ndarray, region: np.ndarray
    ) -> float:
        """How badly the carried keyframe fits now, in grey levels (0-255).

        The mean absolute difference between the keyframe's source carried along the
        accumulated map and the current frame (both lightly blurred: misplaced
        structure counts, resampling and sensor noise do not), over a 12-px ring around
        the region, on the pixels that were plain background in the keyframe too (not
        just uncovered by the object); plus 255 x the fraction the carried keyframe
        cannot cover: of the region, pixels from off-frame; when replacing, also the
        object's pixels from outside the keyframe's re-rendered region (they would show
        the original object).
        """
        ring = dilate(region, 12)
        x0, y0, x1, y1 = (int(v) for v in mask_box(ring))
        m = track.map[y0:y1, x0:x1]
        inner = region[y0:y1, x0:x1]
        on_frame = (m[..., 0] > -1) & (m[..., 1] > -1)
        key_alpha = _sample(track.key_alpha, m, cv2.BORDER_CONSTANT)
        use = ring[y0:y1, x0:x1] & ~inner & on_frame & (key_alpha < 1e-3)
        photo = 255.0
        if use.any():
            now, then = (
                cv2.GaussianBlur(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32), (5, 5), 0)
                for x in (image[y0:y1, x0:x1], _sample(track.source, m))
            )
            photo = float(np.abs(now - then)[use].mean())
        lost = inner & ~on_frame
        if self.config.mode == "replace":
            lost |= mask[y0:y1, x0:x1] & (key_alpha <= 0.5)
        uncovered = float(lost.sum()) / max(1, int(inner.sum()))
        return photo + 255.0 * uncovered

    def close(self) -> None:
        self.tracks.clear()


def _compose(previous: np.ndarray, sample_at: np.ndarray) -> np.ndarray:
    """previous (H, W, 2) map sampled at ``sample_at`` (H, W, 2) absolute coordinates.

    Maps compose instead of re-warping images, so the keyframe is resampled once
    however long it is carried (no blur building up frame after frame).
    """
    out = _sample(previous, sample_at, cv2.BORDER_CONSTANT, (INVALID, INVALID))
    out[(out[..., 0] < -1) | (out[..., 1] < -1)] = INVALID
    return out


def _sample(
    image: np.ndarray, at: np.ndarray, border: int = cv2.BORDER_REPLICATE, value: Any = 0
) -> np.ndarray:
    """``image`` (H, W, ...) sampled bilinearly at ``at`` (h, w, 2) x, y coordinates."""
    return cv2.remap(
        image, at[..., 0], at[..., 1], cv2.INTER_LINEAR, borderMode=border, borderValue=value
    )


# ---------------------------------------------------------------- factory


def build_inpainter(config: InpaintConfig, device: str = "auto") -> tuple[Any, dict[str, Any]]:
    """The renderer for ``config`` and a JSON-friendly description of what runs.

    device: the pipeline's device, used when ``config.device`` is auto. The renderer
    is ``Inpainter`` (diffusion) or ``FlowRemover`` (opencv). ``auto`` takes
    diffusion only when its weights are already local (it never starts a multi-GB
    download by itself), else the weight-free remover, and says so in the log and in
    ``metadata["fallback"]``. Raises EngineError when diffusion is required
    (backend diffusion, or mode replace) and cannot be loaded.
    """
    config.validate()  # --set may have changed fields after construction
    meta: dict[str, Any] = {
        "mode": config.mode,
        "requested_backend": config.backend,
        "settings": dataclasses.asdict(config),
    }
    renderer: Inpainter | FlowRemover
    need = config.backend == "diffusion" or config.mode == "replace"
    model = None
    if config.backend != "opencv":
        from streamseg.render.diffusion import load_diffusion

        try:
            dev = device if config.device == "auto" else config.device
            model = load_diffusion(config, dev, allow_download=need)
        except EngineError as error:
            if need:
                raise
            # auto and no diffusion weights at hand: what was asked for (remove) still runs;
            # the reason is in the metadata, and a line says so unless --quiet
            log.info("inpaint: the weight-free remover runs (no diffusion model at hand)")
            meta["fallback"] = str(error)
    if model is None:
        renderer = FlowRemover(config)
        meta.update(backend="opencv", method=config.method)
    else:
        renderer = Inpainter(model, config)
        meta.update(backend="diffusion", **model.describe())
        meta["prompt"], meta["negative_prompt"] = config.text
    meta["stats"] = renderer.stats  # the same dict, kept current while the renderer runs
    return renderer, meta
