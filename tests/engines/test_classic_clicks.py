"""The classic engine's first frame from several clicks: positive clicks add the parts
they mark, negative clicks take parts away, and more clicks never lose what fewer
found, clicks spread along a long object do not take in what lies below it, and
clicks close together on a small one stay on it. The object is the banded ellipse of
test_classic_score (three colour bands), a boat or a ball."""

from __future__ import annotations

import cv2
import numpy as np
from test_classic import H, W, background
from test_classic_score import banded_clip

from streamseg.engines.base import ObjectPrompt
from streamseg.engines.classic import ClassicEngine
from streamseg.engines.classic_init import InitConfig, mask_from_points_box
from streamseg.eval.metrics import jaccard
from streamseg.track.points import interior_points

RED, YELLOW, BLUE = (80, 120), (120, 120), (160, 120)  # a point on each band, frame 0


def first_mask(points: list[tuple[int, int]], labels: list[int]) -> np.ndarray:
    frames, _ = banded_clip(1)
    engine = ClassicEngine()
    prompt = ObjectPrompt(np.array(points, np.float32), np.array(labels, np.int32))
    return engine.segment(engine.embed(frames)[0], [prompt])[0].mask


def bands() -> list[np.ndarray]:
    """The truth of frame 0 split into its red, yellow and blue bands."""
    _, truths = banded_clip(1)
    x = np.arange(truths[0].shape[1])[None, :]
    edges = [60, 101, 142, 10_000]  # the bands are 41 px wide from x = 60
    return [truths[0] & (x >= a) & (x < b) for a, b in zip(edges, edges[1:])]


def cover(mask: np.ndarray, part: np.ndarray) -> float:
    return np.count_nonzero(mask & part) / np.count_nonzero(part)


def test_one_click_per_colour_gives_the_whole_object():
    _, truths = banded_clip(1)
    one = first_mask([RED], [1])
    assert jaccard(one, truths[0]) < 0.5  # one colour band: part of the object
    three = first_mask([RED, YELLOW, BLUE], [1, 1, 1])
    assert jaccard(three, truths[0]) >= 0.9


def test_more_clicks_keep_what_fewer_found():
    one = first_mask([RED], [1])
    for more in ([RED, YELLOW], [RED, YELLOW, BLUE]):
        mask = first_mask(more, [1] * len(more))
        assert np.count_nonzero(mask & one) >= 0.95 * np.count_nonzero(one), more


def test_a_negative_click_takes_its_part_away():
    red, yellow, blue = bands()
    mask = first_mask([RED, YELLOW, BLUE], [1, 1, 0])
    assert cover(mask, red) > 0.9 and cover(mask, yellow) > 0.9
    assert cover(mask, blue) < 0.1


def boat_scene() -> tuple[np.ndarray, np.ndarray]:
    """A long, low, textured red hull on rippled water with its red reflection below it,
    sky above (320 x 240 RGB, and the hull's truth)."""
    rng = np.random.default_rng(3)
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float32)
    img[:] = (150, 190, 230)
    ripple = 30 * np.sin(xx / 6.0 + 3 * np.sin(yy / 9.0))
    water = yy >= 110
    img[water] = np.stack([40 + ripple, 90 + ripple, 150 + ripple], -1)[water]
    hull = np.zeros((h, w), np.uint8)
    cv2.fillPoly(hull, [np.array([[40, 90], [280, 90], [260, 125], [60, 125]])], 1)
    truth = hull.astype(bool)
    texture = 20 * np.sin((xx + yy) / 4.0)
    img[truth] = np.stack([190 + texture, 40 + texture, 40 + texture], -1)[truth]
    reflection = (yy > 125) & (yy < 225) & (xx > 60) & (xx < 260)
    a = (0.6 + 0.4 * np.sin(yy / 3.0 + np.sin(xx / 5.0)))[..., None]
    red = np.stack([150 + texture, 45 + texture, 50 + texture], -1)
    img[reflection] = (a * red + (1 - a) * img)[reflection]
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), truth


def test_clicks_along_a_long_object_do_not_take_its_reflection():
    # Clicks spread along a boat set a wide, low box: the reflection below stays out.
    # A square box as wide as the clicks' spread reaches into it and GrabCut takes it.
    image, truth = boat_scene()
    for k in (3, 5):
        points = interior_points(truth, k)
        mask = mask_from_points_box(image, points, np.ones(k), None, InitConfig())
        assert jaccard(mask, truth) >= 0.9, k
        square = mask_from_points_box(image, points, np.ones(k), None, InitConfig(spread_box=False))
        assert jaccard(square, truth) < 0.5, k


def test_clicks_close_together_keep_their_disks_on_a_small_object():
    # Five clicks on a ball 28 px across: sure-object disks of the full radius (11 px
    # here) reach past its edge and GrabCut takes the ground with it; disks kept to
    # half the distance to the nearest other click stay on the ball.
    image = background()[:H, :W].copy()
    truth = np.zeros((H, W), np.uint8)
    cv2.circle(truth, (160, 120), 14, 1, -1)
    ball = truth.astype(bool)
    yy, xx = np.mgrid[0:H, 0:W]
    texture = 235 + 25 * np.sin((xx + yy) / 3.0)
    image[ball] = np.clip(texture, 0, 255).astype(np.uint8)[ball, None]
    points = interior_points(ball, 5)
    mask = mask_from_points_box(image, points, np.ones(5), None, InitConfig())
    assert jaccard(mask, ball) >= 0.95
    unspaced = mask_from_points_box(image, points, np.ones(5), None, InitConfig(click_spacing=0))
    assert jaccard(unspaced, ball) < 0.8
