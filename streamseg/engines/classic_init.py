"""First-frame masks for the classic engine: clicks or a box -> mask, by GrabCut.

A box is GrabCut's own setting: outside is background, inside is to be decided,
clicks are sure object (positive) or sure background (negative). A click alone says
where the object is but not how big it is, so GrabCut starts in a small box around
it and every side of the box the object still leans on moves out, until the object
sits inside its box (sides on the frame's edge do not count: objects are often cut
by it). Only the part connected to the positive clicks is kept; several positive
clicks are one object, so an answer that leaves them in separate pieces is not
taken, and the object is then found click by click. Work is done at
reduced resolution; this runs once per prompt and may take a few hundred ms. The
starting boxes are tried in threads (GrabCut releases the GIL, and OpenCV's random
generator, seeded before each GrabCut, is per thread), so the result is the same as
one after another, in about half the time on two cores.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from streamseg.checks import check_numbers
from streamseg.errors import UsageError


@dataclass
class InitConfig:
    """Settings of the first-frame segmentation.

    work_size: long side (pixels) of the window GrabCut runs on.
    iterations: GrabCut iterations.
    start_boxes: sides of the first boxes tried around clicks, as fractions of the frame's
        shorter side (the result that stands out most from its surroundings is kept).
    grow: how far a side the object leans on moves out, as a fraction of the box side.
    grow_steps: most boxes tried.
    click_radius: radius of the sure-object disk around a click, as a fraction of the
        frame's shorter side. GrabCut learns the object's colours from it: 0.045 (22 px
        at 480) against the earlier 0.015, tracked J&F from one click 0.516 -> 0.544
        (boat 0.21 -> 0.39, rollerblade 0.28 -> 0.53, no sequence lower).
    click_spacing: with several positive clicks, no disk is wider than this share of
        the distance to the nearest other click (clicks close together mark a small
        object, such as a ball, whose disks would otherwise take in its surroundings);
        0: off. With both, three clicks 0.529 -> 0.580, five 0.592 -> 0.588; without
        the spacing five clicks fall to 0.564 (soccerball 0.49 -> 0.04). Held out
        (4 folds, one, three and five clicks jointly) 0.562 against 0.546.
    negative_radius: radius of the sure-background disk around a negative click, as a
        fraction of the frame's shorter side (the DAVIS protocol has no negative
        clicks, so it keeps the size the positive disks had: a wider one could cover a
        thin part of the object next to it).
    edge_touch: the largest share of a box side the object may cover for the box to
        count as big enough on that side.
    per_click: with several positive clicks, find the first click's object, then add
        the part each later click outside it marks, found on its own (kept when it is
        no bigger than what was found so far, or when the whole then stands out no
        less); off: one GrabCut with every click.
    grow_check: a box grows only while its object stands out at least as well as
        before (else the object leaked into the background, and the last is kept).
    one_piece: several positive clicks mark one object, so a GrabCut of them together
        that leaves them in separate pieces (often just a disk around each) is not
        an answer; when no starting box keeps them together, the object is found
        click by click (as ``per_click``). On the DAVIS dev set: three clicks' frame-0
        IoU 0.626 -> 0.654 (dog-agility 0.02 -> 0.47), tracked J&F 0.527 -> 0.528
        from three clicks and 0.526 -> 0.534 from five.
    spread_box: the box around several clicks is as wide and as tall as their spread
        needs (a boat clicked along its length gets a wide, low box); off: a square
        whose side is set by their widest spread, which reaches far into the water
        below the boat or the grass below a dog and lets GrabCut take a block of it.
        On the DAVIS dev set, tracked J&F from five clicks 0.540 -> 0.592, from three
        0.532 -> 0.529 (one click: the same box); held out jointly 0.561 vs 0.536.
    per_click and grow_check are off by default: on the DAVIS dev set, with the
    colour-guided filter, they lose at work_size 160 (one click J&F 0.509 vs 0.510,
    three clicks 0.514 vs 0.527); with work_size 320 the three together give 0.539
    from one click and 0.546 from three, but the first frame then takes about 2 s
    instead of 0.4 s (scripts/crossval_classic.py, docs/benchmarks.md). A second, finer
    GrabCut of the chosen box (at 320 px, the boxes searched at 160) was tried and
    dropped: 0.526 in-sample from one click, 0.507 held out, against 0.510.
    """

    work_size: int = 160
    iterations: int = 3
    start_boxes: tuple[float, ...] = (0.3, 0.45, 0.6, 0.8)
    grow: float = 0.5
    grow_steps: int = 4
    click_radius: float = 0.045
    edge_touch: float = 0.1
    per_click: bool = False
    grow_check: bool = False
    one_piece: bool = True
    spread_box: bool = True
    click_spacing: float = 0.5
    negative_radius: float = 0.015

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value (UsageError); also after ``--set`` edits."""
        check_numbers(self, "classic.init")
        if self.work_size < 16:
            raise UsageError(f"classic.init.work_size is {self.work_size}; give 16 or more")


def mask_from_points_box(
    image: np.ndarray,
    points: np.ndarray,
    labels: np.ndarray,
    box: np.ndarray | None,
    cfg: InitConfig,
) -> np.ndarray:
    """(H, W) bool mask of the object marked by (K, 2) points / (K,) labels and/or a box.

    image: (H, W, 3) uint8 RGB. points in pixels (x, y); labels 1 = object, 0 = not.
    box: (4,) x0, y0, x1, y1 or None. An empty mask when nothing can be found.
    """
    h, w = image.shape[:2]
    points = np.asarray(points, np.float32).reshape(-1, 2)
    labels = np.asarray(labels).reshape(-1)
    pos, neg = points[labels > 0], points[labels <= 0]
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return np.zeros((h, w), bool)
        m = max(8, int(0.1 * max(x1 - x0, y1 - y0)))
        window = (max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m))
        return _grabcut(image, window, (x0, y0, x1, y1), pos, neg, cfg, strict=True)
    if not len(pos):
        return np.zeros((h, w), bool)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    if cfg.per_click and len(pos) > 1:
        return _click_by_click(image, lab, pos, neg, cfg)
    mask = _from_clicks(image, lab, pos, neg, cfg)
    if cfg.one_piece and len(pos) > 1 and not mask.any():
        # No GrabCut of all the clicks together kept them in one piece: find the
        # object click by click instead.
        return _click_by_click(image, lab, pos, neg, cfg)
    return mask


def _click_by_click(
    image: np.ndarray, lab: np.ndarray, pos: np.ndarray, neg: np.ndarray, cfg: InitConfig
) -> np.ndarray:
    """(H, W) bool mask from several positive clicks, each marking a part of the object
    (often one of its colours): the first click's object is the start; a later click
    outside it adds the part it marks, found on its own. Clicks inside add nothing:
    more clicks never take away what fewer found."""
    h, w = image.shape[:2]
    mask = _from_clicks(image, lab, pos[:1], neg, cfg)
    for p in pos[1:]:
        x, y = int(min(max(p[0], 0), w - 1)), int(min(max(p[1], 0), h - 1))
        if not mask[y, x]:
            part = _from_clicks(image, lab, p[None], neg, cfg)
            more = mask | part
            # The part is kept if it is no bigger than what was found so far, or
            # if the whole stands out no less: else it leaked into the background.
            small = np.count_nonzero(part) <= np.count_nonzero(mask)
            if small or separation(lab, more) >= separation(lab, mask):
                mask = more
    return mask


def _from_clicks(
    image: np.ndarray, lab: np.ndarray, pos: np.ndarray, neg: np.ndarray, cfg: InitConfig
) -> np.ndarray:
    """(H, W) bool mask from clicks alone: the best of the grown starting boxes."""
    h, w = image.shape[:2]
    # A click gives no size: grow boxes of a few starting sizes around it, and keep the
    # object that stands out most from its surroundings (the first of equals).

    def candidate(start: float) -> tuple[np.ndarray, float]:
        mask = _grow_from_clicks(image, pos, neg, start, cfg, lab)
        if len(pos) > 1 and cfg.one_piece and _splits(mask, pos):
            # The positive clicks mark one object: a mask that leaves them in separate
            # pieces (often little more than a disk around each) has not found it.
            return np.zeros((h, w), bool), -1.0
        return mask, separation(lab, mask)

    workers = max(1, min(len(cfg.start_boxes), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grabcut") as pool:
        found = list(pool.map(candidate, cfg.start_boxes))
    best, best_score = np.zeros((h, w), bool), -1.0
    for mask, score in found:
        if score > best_score:
            best, best_score = mask, score
    return best


def _grow_from_clicks(
    image: np.ndarray,
    pos: np.ndarray,
    neg: np.ndarray,
    start: float,
    cfg: InitConfig,
    lab: np.ndarray,
) -> np.ndarray:
    """GrabCut from a box of side ``start`` x the frame's shorter side around the
    clicks, moving out each side the object still leans on. (H, W) bool mask."""
    h, w = image.shape[:2]
    cx, cy = pos.mean(axis=0)
    # Half the box's width and height: at least half the starting side, and far enough
    # out that every click is well inside.
    if cfg.spread_box:
        reach = np.abs(pos - (cx, cy)).max(axis=0)
    else:  # a square, whichever way the clicks spread
        reach = np.full(2, 0.5 * float(np.ptp(pos, axis=0).max(initial=0)))
    hx, hy = (max(start * min(h, w) / 2, 1.25 * float(r)) for r in reach)
    x0, y0, x1, y1 = cx - hx, cy - hy, cx + hx, cy + hy
    mask, stands_out = np.zeros((h, w), bool), -1.0
    for _ in range(cfg.grow_steps):
        rect = (max(0, int(x0)), max(0, int(y0)), min(w, int(x1) + 1), min(h, int(y1) + 1))
        m = max(8, int(0.1 * max(rect[2] - rect[0], rect[3] - rect[1])))
        window = (
            max(0, rect[0] - m),
            max(0, rect[1] - m),
            min(w, rect[2] + m),
            min(h, rect[3] + m),
        )
        found = _grabcut(image, window, rect, pos, neg, cfg)
        if not found.any():
            break
        # Grown, it must stand out at least as well: else it leaked.
        if cfg.grow_check:
            now = separation(lab, found)
            if mask.any() and now < stands_out:
                break
            stands_out = now
        mask = found
        touched = _touched_sides(mask, window, (w, h), cfg.edge_touch)
        if not any(touched):
            break
        grow = cfg.grow * max(x1 - x0, y1 - y0)
        x0, y0 = x0 - grow * touched[0], y0 - grow * touched[1]
        x1, y1 = x1 + grow * touched[2], y1 + grow * touched[3]
    return mask


def separation(lab: np.ndarray, mask: np.ndarray) -> float:
    """How much a (H, W) bool mask stands out in colour from the ring around it in the
    (H, W, 3) Lab image: the Bhattacharyya distance of their histograms, in [0, 1]
    (-1 for an empty mask)."""
    area = int(mask.sum())
    if area < 16:
        return -1.0
    k = max(5, int(0.15 * np.sqrt(area)))
    m8 = mask.view(np.uint8)
    grown: np.ndarray = cv2.dilate(m8, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    ring = grown & (1 - m8)
    args = ([0, 1, 2], [8, 16, 16], [0, 256, 0, 256, 0, 256])
    h_in = cv2.calcHist([lab], args[0], m8, args[1], args[2])
    h_out = cv2.calcHist([lab], args[0], ring, args[1], args[2])
    return float(cv2.compareHist(h_in, h_out, cv2.HISTCMP_BHATTACHARYYA))


def _splits(mask: np.ndarray, points: np.ndarray) -> bool:
    """Whether the (K, 2) points (x, y) fall in more than one connected piece of the
    (H, W) bool mask."""
    h, w = mask.shape
    _, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    xs = np.clip(points[:, 0].astype(int), 0, w - 1)
    ys = np.clip(points[:, 1].astype(int), 0, h - 1)
    return len(set(labels[ys, xs].tolist())) > 1


def _touched_sides(
    mask: np.ndarray, rect: tuple[int, int, int, int], frame: tuple[int, int], share: float
) -> tuple[bool, bool, bool, bool]:
    """Whether the mask covers more than ``share`` of each side (left, top, right,
    bottom) of ``rect``, just inside it; sides on the frame's edge never count."""
    x0, y0, x1, y1 = rect
    fw, fh = frame
    band = 3
    sides = (
        mask[y0:y1, x0 : x0 + band].any(axis=1) if x0 > 0 else None,
        mask[y0 : y0 + band, x0:x1].any(axis=0) if y0 > 0 else None,
        mask[y0:y1, x1 - band : x1].any(axis=1) if x1 < fw else None,
        mask[y1 - band : y1, x0:x1].any(axis=0) if y1 < fh else None,
    )
    return tuple(bool(s is not None and s.size and s.mean() > share) for s in sides)  # type: ignore[return-value]


def _grabcut(
    image: np.ndarray,
    window: tuple[int, int, int, int],
    rect: tuple[int, int, int, int],
    pos: np.ndarray,
    neg: np.ndarray,
    cfg: InitConfig,
    strict: bool = False,
) -> np.ndarray:
    """GrabCut of the (H, W, 3) RGB image inside ``window`` (x0, y0, x1, y1): outside
    ``rect`` is background, clicks are sure object / background. (H, W) bool mask."""
    h, w = image.shape[:2]
    wx0, wy0, wx1, wy1 = window
    ww, wh = wx1 - wx0, wy1 - wy0
    s = min(1.0, cfg.work_size / max(ww, wh))
    size = (max(8, round(ww * s)), max(8, round(wh * s)))
    sx, sy = size[0] / ww, size[1] / wh
    small = cv2.resize(image[wy0:wy1, wx0:wx1], size, interpolation=cv2.INTER_AREA)
    crop = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
    # A user's box is strict: outside is background. A box guessed around clicks is
    # not: outside it is probably background, only the window's own edge (not where it
    # is the frame's edge) is sure, so the object may spill past the box.
    lab = np.full((size[1], size[0]), cv2.GC_BGD if strict else cv2.GC_PR_BGD, np.uint8)
    rx0, ry0 = int((rect[0] - wx0) * sx), int((rect[1] - wy0) * sy)
    rx1, ry1 = int(np.ceil((rect[2] - wx0) * sx)), int(np.ceil((rect[3] - wy0) * sy))
    lab[ry0:ry1, rx0:rx1] = cv2.GC_PR_FGD
    b = 2
    if wx0 > 0:
        lab[:, :b] = cv2.GC_BGD
    if wy0 > 0:
        lab[:b, :] = cv2.GC_BGD
    if wx1 < w:
        lab[:, -b:] = cv2.GC_BGD
    if wy1 < h:
        lab[-b:, :] = cv2.GC_BGD
    r = max(2, int(cfg.click_radius * min(h, w) * s))
    seeds = [(int((x - wx0) * sx), int((y - wy0) * sy)) for x, y in pos]
    r_neg = max(2, int(cfg.negative_radius * min(h, w) * s))
    for x, y in neg:
        cv2.circle(lab, (int((x - wx0) * sx), int((y - wy0) * sy)), r_neg, cv2.GC_BGD, -1)
    for c, radius in zip(seeds, _seed_radii(pos, r, cfg.click_spacing * s)):
        cv2.circle(lab, c, radius, cv2.GC_FGD, -1)
    if not (lab == cv2.GC_BGD).any():
        # The box is the whole frame: GrabCut needs some background, take the border.
        lab[[0, -1], :] = cv2.GC_BGD
        lab[:, [0, -1]] = cv2.GC_BGD
    if not (lab != cv2.GC_BGD).any():
        return np.zeros((h, w), bool)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # The rect argument is ignored with GC_INIT_WITH_MASK.
    # GrabCut seeds its colour clusters from OpenCV's global RNG: seed it, so a click
    # gives the same mask whatever ran before in the process.
    cv2.setRNGSeed(0)
    cv2.grabCut(crop, lab, (0, 0, 1, 1), bgd, fgd, cfg.iterations, cv2.GC_INIT_WITH_MASK)
    found = ((lab == cv2.GC_FGD) | (lab == cv2.GC_PR_FGD)).astype(np.uint8)
    found = _connected_to(found, seeds)
    full = cv2.resize(found.astype(np.float32), (ww, wh), interpolation=cv2.INTER_LINEAR) > 0.5
    mask = np.zeros((h, w), bool)
    mask[wy0:wy1, wx0:wx1] = full
    return mask


def _seed_radii(pos: np.ndarray, radius: int, spacing: float) -> list[int]:
    """The sure-object disk's radius (work pixels) around each of the (K, 2) positive
    clicks (frame pixels): ``radius``, but no more than ``spacing`` (work pixels per
    frame pixel) times the distance to the nearest other click, as clicks close
    together mark a small object or a thin part; at least 2. spacing 0: all ``radius``."""
    if spacing <= 0 or len(pos) < 2:
        return [radius] * len(pos)
    gaps = np.linalg.norm(pos[:, None] - pos[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    return [max(2, min(radius, int(spacing * float(g)))) for g in gaps.min(axis=1)]


def _connected_to(mask: np.ndarray, seeds: list[tuple[int, int]]) -> np.ndarray:
    """The parts of a (h, w) uint8 mask connected to any seed (x, y); all of it if no seed hits."""
    if not seeds:
        return mask.astype(bool)
    n, labels = cv2.connectedComponents(mask, connectivity=8)
    h, w = mask.shape
    keep = np.zeros(n, bool)
    for x, y in seeds:
        lab = labels[min(max(y, 0), h - 1), min(max(x, 0), w - 1)]
        if lab:
            keep[lab] = True
    if not keep.any():
        return mask.astype(bool)
    return keep[labels]
