"""The classic engine's first frame from several clicks: positive clicks add the parts
they mark, negative clicks take parts away, and more clicks never lose what fewer
found. The object is the banded ellipse of test_classic_score (three colour bands)."""

from __future__ import annotations

import numpy as np
from test_classic_score import banded_clip

from streamseg.engines.base import ObjectPrompt
from streamseg.engines.classic import ClassicEngine
from streamseg.eval.metrics import jaccard

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
