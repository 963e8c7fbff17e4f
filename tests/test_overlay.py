"""Overlay colours: bright, distinct per object, outlined so they show on any footage."""

import colorsys

import numpy as np
import pytest

from streamseg.render.colours import PALETTE, contrast_ratio, object_colour, outline_colour
from streamseg.render.overlay import draw_overlay
from streamseg.types import Frame, FrameResult, mask_box

H, W = 60, 80


def square_result(background, n_objects=1) -> FrameResult:
    """A uniform (H, W) frame of ``background`` with ``n_objects`` 16x16 squares."""
    image = np.empty((H, W, 3), np.uint8)
    image[:] = background
    masks = np.zeros((n_objects, H, W), bool)
    for k in range(n_objects):
        masks[k, 20:36, 4 + 18 * k : 20 + 18 * k] = True
    return FrameResult(
        Frame(0, 0, 0.0, image),
        list(range(1, n_objects + 1)),
        masks,
        np.ones(n_objects, np.float32),
        np.stack([mask_box(m) for m in masks]),
        np.ones(n_objects, bool),
    )


def test_colours_are_bright_saturated_and_distinct():
    colours = np.array([object_colour(k) for k in range(40)], np.int64)
    for rgb in colours:
        _, s, v = colorsys.rgb_to_hsv(*(rgb / 255))
        assert s >= 0.6 and v >= 0.95, rgb  # bright, not DAVIS's dark (128, 0, 0)
    distance = np.abs(colours[:, None] - colours[None]).sum(-1)
    np.fill_diagonal(distance, 999)
    assert distance[:8, :8].min() >= 120  # the fixed list: far apart
    assert distance[:24, :24].min() >= 45  # the first 24 objects: clearly apart
    assert distance.min() >= 20  # no two of 40 objects share a colour
    for k in range(39):  # neighbours (objects added one after another) differ clearly
        assert distance[k, k + 1] >= 100, (k, colours[k], colours[k + 1])
    assert np.array_equal(object_colour(3), object_colour(3))  # stable
    with pytest.raises(ValueError, match="position"):
        object_colour(-1)


def test_outline_contrasts_with_its_colour():
    for k in range(40):
        colour = object_colour(k)
        assert contrast_ratio(colour, outline_colour(colour)) >= 4.5  # WCAG AA
    assert outline_colour(np.array([255, 255, 0])).tolist() == [0, 0, 0]
    assert outline_colour(np.array([0, 0, 255])).tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    "background", [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 0, 0), "own"]
)
def test_the_outline_stands_out_on_any_background(background):
    """On black, white, grey, red and on the object's own colour, the pixels along the
    object's edge contrast with the background (WCAG contrast >= 3 somewhere across it)."""
    own = background == "own"
    result = square_result(object_colour(0) if own else background)
    image = draw_overlay(result, alpha=0.5, outline=2)
    bg = np.array(result.frame.image[0, 0])
    row = image[28, :30]  # across the square's left edge (x = 4)
    assert max(contrast_ratio(px, bg) for px in row) >= 3.0
    assert np.array_equal(image[0, 0], bg) and np.array_equal(image[59, 79], bg)
    # the halo is the outline colour, just outside the edge; the band inside is the colour
    assert np.array_equal(image[28, 3], outline_colour(object_colour(0)))
    assert np.array_equal(image[28, 4], object_colour(0))
    assert np.array_equal(image[28, 5], object_colour(0))


def test_objects_get_their_own_colours_in_order():
    result = square_result((90, 90, 90), n_objects=3)
    image = draw_overlay(result, alpha=1.0, outline=0)
    for k in range(3):
        assert np.array_equal(image[28, 12 + 18 * k], object_colour(k))
    assert np.array_equal(image[5, 5], [90, 90, 90])  # outline 0: nothing outside the masks
    assert np.array_equal(image[28, 3], [90, 90, 90])


def test_png_palette_stays_davis():
    assert PALETTE[0].tolist() == [0, 0, 0]
    assert PALETTE[1].tolist() == [128, 0, 0] and PALETTE[2].tolist() == [0, 128, 0]
    assert PALETTE.shape == (256, 3) and PALETTE.dtype == np.uint8
