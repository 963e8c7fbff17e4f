"""DAVIS J and F against a brute-force reimplementation and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streamseg.errors import UsageError
from streamseg.eval.metrics import boundary_f, jaccard, score_sequence, seg2bmap


def slow_boundary(mask: np.ndarray) -> set[tuple[int, int]]:
    """Boundary pixels by the toolkit's definition, pixel by pixel: a pixel differs from
    its east, south or south-east neighbour (the last row / column: from east / south)."""
    h, w = mask.shape
    out = set()
    for y in range(h):
        for x in range(w):
            v = mask[y, x]
            e = mask[y, x + 1] if x + 1 < w else False
            s = mask[y + 1, x] if y + 1 < h else False
            se = mask[y + 1, x + 1] if x + 1 < w and y + 1 < h else False
            if y == h - 1 and x == w - 1:
                on = False
            elif y == h - 1:
                on = v != e
            elif x == w - 1:
                on = v != s
            else:
                on = v != e or v != s or v != se
            if on:
                out.add((y, x))
    return out


def slow_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """F by brute force: a boundary pixel matches when one of the other's lies within the
    disk of radius ceil(bound_th * diagonal) (x² + y² <= r²)."""
    r = math.ceil(bound_th * math.hypot(*pred.shape)) if bound_th < 1 else math.ceil(bound_th)
    pb, gb = slow_boundary(pred), slow_boundary(gt)
    if not pb and not gb:
        return 1.0
    if not pb or not gb:
        return 0.0

    def matched(a: set, b: set) -> int:
        return sum(any((ya - yb) ** 2 + (xa - xb) ** 2 <= r * r for yb, xb in b) for ya, xa in a)

    precision = matched(pb, gb) / len(pb)
    recall = matched(gb, pb) / len(gb)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def slow_j(pred: np.ndarray, gt: np.ndarray) -> float:
    inter = sum(bool(a) and bool(b) for a, b in zip(pred.ravel(), gt.ravel()))
    union = sum(bool(a) or bool(b) for a, b in zip(pred.ravel(), gt.ravel()))
    return 1.0 if union == 0 else inter / union


def square(h: int, w: int, x: int, y: int, side: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y : y + side, x : x + side] = True
    return m


def test_identical_masks_score_one():
    m = square(60, 80, 10, 12, 20)
    assert jaccard(m, m) == 1.0
    assert boundary_f(m, m) == 1.0


def test_both_empty_score_one_and_one_empty_scores_zero():
    empty = np.zeros((30, 40), bool)
    full = square(30, 40, 5, 5, 10)
    assert jaccard(empty, empty) == 1.0
    assert boundary_f(empty, empty) == 1.0
    assert jaccard(empty, full) == 0.0
    assert boundary_f(empty, full) == 0.0
    assert boundary_f(full, empty) == 0.0


def test_known_iou_of_offset_squares():
    a = square(50, 50, 10, 10, 10)
    b = square(50, 50, 15, 10, 10)  # 5-pixel shift: overlap 50, union 150
    assert jaccard(a, b) == pytest.approx(1 / 3)


def test_shift_within_and_beyond_the_tolerance():
    # 480 x 854 frame: tolerance ceil(0.008 * 979.6) = 8 pixels.
    a = square(480, 854, 100, 100, 60)
    assert boundary_f(a, square(480, 854, 108, 100, 60)) == 1.0
    far = boundary_f(a, square(480, 854, 140, 100, 60))
    assert 0.0 < far < 1.0  # only the horizontal edges' overlapping parts match


@pytest.mark.parametrize("seed", range(6))
def test_against_brute_force_on_random_blobs(seed):
    rng = np.random.default_rng(seed)
    h, w = 24, 31
    pred = rng.random((h, w)) < 0.5
    gt = np.zeros((h, w), bool)
    gt[rng.integers(0, 10) : rng.integers(12, h), rng.integers(0, 10) : rng.integers(12, w)] = True
    for th in (0.008, 0.05, 2):
        assert boundary_f(pred, gt, th) == pytest.approx(slow_f(pred, gt, th))
    assert jaccard(pred, gt) == pytest.approx(slow_j(pred, gt))
    assert set(zip(*np.nonzero(seg2bmap(gt)))) == slow_boundary(gt)


def test_score_sequence_leaves_out_first_and_last_frame():
    gt = [square(40, 40, 5, 5, 20)] * 5
    bad = np.zeros((40, 40), bool)
    preds = [bad, gt[1], gt[2], gt[3], bad]
    score = score_sequence(preds, gt)
    assert score.J == [1.0, 1.0, 1.0]
    assert score.jf == 1.0
    preds[2] = bad
    score = score_sequence(preds, gt)
    assert score.j_mean == pytest.approx(2 / 3)
    assert score.jf == pytest.approx((score.j_mean + score.f_mean) / 2)


def test_mismatched_input_is_a_usage_error():
    with pytest.raises(UsageError):
        jaccard(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(UsageError):
        score_sequence([np.zeros((4, 4))] * 2, [np.zeros((4, 4))] * 2)
