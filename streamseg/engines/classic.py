"""The weight-free engine: OpenCV and numpy only.

First frame: a given mask is kept as is; clicks or a box become a mask by GrabCut
(streamseg/engines/classic_init.py). Later frames: the tracker hands over a soft
prior, the last mask carried by motion (streamseg/track/prior.py); this engine
snaps it to the object. On a crop around the object, at reduced resolution, it adds
to the prior's logit

- a colour log-likelihood ratio from object and background Lab histograms (the
  object's anchored on the first frame and updated slowly, so its colours do not
  drift; the background's re-learned every frame from around the object, a band
  along its edge left out: ``bg_gap``), weighted
  by how well the two separate on this object,
- optionally (``local_weight``), local colour models along the boundary: the colour
  just inside against just outside the carried mask (streamseg/engines/classic_local.py),

then smooths the posterior with an edge-aware guided filter (the colour image is the
guide, so the 0.5 level set settles on image edges, also between colours of one
brightness: streamseg/engines/guided_filter.py), thresholds it at full
resolution, keeps the connected parts the prior supports, and falls back to the
prior when the result departs too far from it (a colour model gone wrong); the mask
shown has its small holes filled (streamseg/engines/classic_parts.py). Its
score is the answer's IoU with the carried mask times how decided the posterior is
off the boundary times how well its colours still fit the object's first ones
(halved when it fell back to the prior; streamseg/engines/classic_score.py); on a
first frame from clicks, how clearly the object stands out. The tracker makes a
track's score of these (streamseg/track/confidence.py). A contested pixel goes to
the higher posterior (between equally sure claims, to the smaller object).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from streamseg.engines.base import ObjectPrompt, Segmentation
from streamseg.engines.classic_colour import (
    ColourModel,
    hidden,
    histogram,
    locate_colour,
    overlap,
    quantise,
)
from streamseg.engines.classic_config import ClassicConfig
from streamseg.engines.classic_init import mask_from_points_box, separation
from streamseg.engines.classic_local import local_colour_llr
from streamseg.engines.classic_parts import keep_supported, resolve_overlaps, show_filled
from streamseg.engines.classic_score import answer_quality
from streamseg.engines.guided_filter import guided_filter_colour, guided_filter_grey
from streamseg.errors import EngineError


@dataclass
class ClassicEmbedding:
    """The classic engine's per-frame 'embedding': the (H, W, 3) uint8 RGB frame itself."""

    image: np.ndarray


def _crop_box(mask: np.ndarray, cfg: ClassicConfig) -> tuple[int, int, int, int] | None:
    """x0, y0, x1, y1 of the crop around a (H, W) bool mask, or None when it is empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if not len(ys):
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    x0, x1, y0, y1 = xs[0], xs[-1] + 1, ys[0], ys[-1] + 1
    m = max(cfg.min_margin, int(cfg.margin * max(x1 - x0, y1 - y0)))
    h, w = mask.shape
    return max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)


class ClassicEngine:
    """Weight-free promptable segmenter (see the module docstring)."""

    name = "classic"

    def __init__(self, config: ClassicConfig | None = None):
        self.config = config or ClassicConfig()
        # OpenCV builds its Lab tables on the first conversion (0.15 s); build them now,
        # beside the source being opened, not in the first frame's time. Not a daemon:
        # a run that fails at once must not exit while the thread is inside OpenCV
        # (C++ then aborts the process: exit -6 instead of the error's own code).
        threading.Thread(target=_build_lab_tables, name="lab-tables").start()

    def embed(self, images: Sequence[np.ndarray]) -> list[ClassicEmbedding]:
        """Nothing to precompute: each (H, W, 3) uint8 RGB image is its own embedding."""
        out = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise EngineError(
                    f"classic engine: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}"
                )
            out.append(ClassicEmbedding(np.ascontiguousarray(image)))
        return out

    def segment(
        self, embedding: ClassicEmbedding, prompts: Sequence[ObjectPrompt]
    ) -> list[Segmentation]:
        """One Segmentation per prompt; mask (H, W) bool, appearance = ColourModel.

        ``logits`` carries the object's (H, W) float32 posterior, used to settle
        pixels that several objects claim.
        """
        image = embedding.image
        out = [self._one(image, p) for p in prompts]
        if len(out) > 1:
            resolve_overlaps(out)
        if self.config.fill_holes > 0:
            show_filled(out, prompts, self.config.fill_holes)
        return out

    def locate(
        self, embedding: ClassicEmbedding, appearance: object, area: float | None = None
    ) -> tuple[float, float, float] | None:
        """Where on the frame an object with this appearance (a ColourModel) most likely
        is: (x, y, score) in frame pixels, score in [0, 1], or None when nothing fits
        (streamseg/engines/classic_colour.py, ``locate_colour``)."""
        if not isinstance(appearance, ColourModel):
            return None
        return locate_colour(embedding.image, appearance, area, self.config)

    def _one(self, image: np.ndarray, prompt: ObjectPrompt) -> Segmentation:
        h, w = image.shape[:2]
        if prompt.mask is not None and prompt.mask.shape != (h, w):
            raise EngineError(f"prompt mask has shape {prompt.mask.shape}, frame is {(h, w)}")
        if prompt.mask is not None and prompt.mask_given:
            mask = prompt.mask > 0.5
            return self._finish(image, mask, mask.astype(np.float32), 1.0, None)
        if prompt.mask is None:
            if not len(prompt.points) and prompt.box is None:
                raise EngineError("classic engine: a prompt needs points, a box or a mask")
            mask = mask_from_points_box(
                image, prompt.points, prompt.labels, prompt.box, self.config.init
            )
            first = self._finish(image, mask, mask.astype(np.float32), 0.0, None)
            if not mask.any():
                return first
            posterior = mask.astype(np.float32)
            if self.config.init_snap > 0:
                # GrabCut ran at low resolution: snap to the edges at full detail.
                prior = cv2.GaussianBlur(posterior, (0, 0), self.config.init_snap)
                again = ObjectPrompt(
                    prompt.points, prompt.labels, mask=prior, appearance=first.appearance
                )
                snapped = self._refine(image, again)
                mask, posterior = snapped.mask, np.asarray(snapped.logits, np.float32)
            # Score: how clearly it stands out in colour (sqrt of the Bhattacharyya
            # distance to its surroundings); later scores are scaled by it (tracker).
            score = np.sqrt(max(0.0, separation(cv2.cvtColor(image, cv2.COLOR_RGB2Lab), mask)))
            return self._finish(image, mask, posterior, float(score), None)
        return self._refine(image, prompt)

    def _finish(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        posterior: np.ndarray,
        score: float,
        model: ColourModel | None,
        certainty: float = 1.0,
    ) -> Segmentation:
        """Learn/update the colour model from the final mask and package the answer."""
        box = _crop_box(mask, self.config)
        if box is None:
            return Segmentation(mask, 0.0, posterior, model, certainty=certainty)
        x0, y0, x1, y1 = box
        s = min(1.0, self.config.work_size / max(x1 - x0, y1 - y0))
        size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
        bins = quantise(cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA))
        m = cv2.resize(mask[y0:y1, x0:x1].view(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        kernel = np.ones((3, 3), np.uint8)
        inner = cv2.erode(m, kernel).astype(bool)
        outer = ~cv2.dilate(m, kernel, iterations=2).astype(bool)
        if self.config.bg_gap > 0:
            outer = _away_from(m, outer, self.config.bg_gap)
        if not inner.any():
            inner = m.astype(bool)
        fg, bg = histogram(bins, inner), histogram(bins, outer)
        cfg = self.config
        if model is None:
            model = ColourModel(fg0=fg, fg=fg, bg=bg)
        else:
            if cfg.fit_power > 0:  # a colour model that no longer fits lowers the score
                score *= overlap(fg, model.fg0) ** cfg.fit_power
            model = ColourModel(
                fg0=model.fg0,
                fg=(1 - cfg.fg_rate) * model.fg + cfg.fg_rate * fg,
                bg=(1 - cfg.bg_rate) * model.bg + cfg.bg_rate * bg,
            )
        return Segmentation(mask, score, posterior, model, certainty=certainty)

    def _refine(self, image: np.ndarray, prompt: ObjectPrompt) -> Segmentation:
        """Snap the flow-carried prior to the object's edges (see the module docstring)."""
        cfg = self.config
        assert prompt.mask is not None
        prior = prompt.mask
        core = prior > 0.5
        # Pixels the prior leaves possible (e.g. where the object was hidden until now)
        # count as support: parts of the object may come back there if its colours say so.
        support = prior >= cfg.support
        box = _crop_box(support, cfg)
        h, w = prior.shape
        if box is None:
            return Segmentation(
                np.zeros((h, w), bool), 0.0, np.zeros((h, w), np.float32), prompt.appearance
            )
        x0, y0, x1, y1 = box
        cw, ch = x1 - x0, y1 - y0
        s = min(1.0, cfg.work_size / max(cw, ch))
        size = (max(1, round(cw * s)), max(1, round(ch * s)))
        rgb = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        p = cv2.resize(prior[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)

        logit = _prior_logit(p, cfg)
        llr = np.zeros_like(logit)
        model: ColourModel | None = prompt.appearance
        if model is not None:
            bins = quantise(rgb)
            fg = (cfg.anchor * model.fg0 + (1 - cfg.anchor) * model.fg).reshape(-1)
            llr = np.log(fg[bins] + 1e-5) - np.log(model.bg.reshape(-1)[bins] + 1e-5)
            llr = np.clip(llr, -cfg.colour_clip, cfg.colour_clip)
            if hidden(llr, p, fg, model.bg.reshape(-1), cfg):
                # Where the object should be there is little of its colour: something
                # passed in front of it. Nothing rather than the occluder.
                return Segmentation(
                    np.zeros((h, w), bool), 0.0, np.zeros((h, w), np.float32), model
                )
            # Trust colour only as far as it separates object from background here.
            agree = np.mean((llr > 0) == (p > 0.5))
            weight = cfg.colour_weight * float(np.clip((agree - 0.6) / 0.3, 0.0, 1.0))
            llr = weight * llr
            logit = logit + llr
        if cfg.local_weight > 0 and core.any():
            local = local_colour_llr(rgb, p, cfg.local_radius, cfg.local_clip)
            logit = logit + cfg.local_weight * local
        post = (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        if cfg.guide_radius > 0 and cfg.guide_colour:
            guide = rgb.astype(np.float32) / 255.0
            r, eps = cfg.guide_radius, cfg.guide_eps
            post = guided_filter_colour(guide, post, r, eps, cfg.guide_subsample)
        elif cfg.guide_radius > 0:
            guide = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
            post = guided_filter_grey(guide, post, cfg.guide_radius, cfg.guide_eps)

        full = cv2.resize(post, (cw, ch), interpolation=cv2.INTER_LINEAR)
        crop_mask = keep_supported(full > 0.5, support[y0:y1, x0:x1], cfg.min_keep)
        # Only the confidently carried part may veto a large shrink: where the flow was
        # unreliable the tracker's prior is soft, and colour may overrule it.
        area, core_area = int(crop_mask.sum()), int(np.count_nonzero(prior > 0.9))
        score, decided = answer_quality(crop_mask, core[y0:y1, x0:x1], full)
        if not core.any():
            # Nothing visible was carried over: accept a re-appearance only when its
            # colours clearly say it is the object.
            small = post > 0.5
            evidence = float(np.mean(llr[small] > 0)) if small.any() else 0.0
            if evidence < cfg.reappear_evidence or area < cfg.reappear_area * int(support.sum()):
                crop_mask = np.zeros_like(crop_mask)
            score = evidence
        elif not (cfg.max_shrink * core_area <= area <= cfg.max_growth * int(support.sum())):
            # The colour model went wrong (or the object changed abruptly): keep the
            # prior, scored by how far the evidence departed from it.
            crop_mask = core[y0:y1, x0:x1]
            score = 0.5 * score
        mask = np.zeros((h, w), bool)
        mask[y0:y1, x0:x1] = crop_mask
        posterior = np.zeros((h, w), np.float32)
        posterior[y0:y1, x0:x1] = np.clip(full, 0, 1)
        # decided ** 0 is 1: certainty_power 0 turns it off.
        return self._finish(image, mask, posterior, score, model, decided**cfg.certainty_power)


def _away_from(mask: np.ndarray, outer: np.ndarray, gap: float) -> np.ndarray:
    """The pixels of ``outer`` (h, w) bool farther from the (h, w) uint8 mask than
    ``gap`` times the square root of its area (at most the object's larger side, so
    below ``margin`` some are left unless the frame's edge cuts the crop); ``outer``
    itself when none are."""
    width = gap * float(np.sqrt(np.count_nonzero(mask)))
    distance = cv2.distanceTransform((mask == 0).view(np.uint8), cv2.DIST_L2, 3)
    far = outer & (distance > width)
    return far if far.any() else outer


def _prior_logit(p: np.ndarray, cfg: ClassicConfig) -> np.ndarray:
    """(h, w) float32 logit of the tracker's (h, w) float32 prior, clipped to prior_clip."""
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.clip(np.log(q / (1 - q)), -cfg.prior_clip, cfg.prior_clip).astype(np.float32)


def _build_lab_tables() -> None:
    cv2.cvtColor(np.zeros((1, 1, 3), np.uint8), cv2.COLOR_RGB2Lab)
