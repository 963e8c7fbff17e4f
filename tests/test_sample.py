"""The bundled sample: the README's main job, judged against the sample's ground truth."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

import streamseg
from streamseg.testing.clips import iou

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def truth(t: int) -> np.ndarray:
    return np.array(Image.open(SAMPLE / "sample_masks" / f"{t:05d}.png")) > 0


def test_sample_files_agree():
    import av

    with av.open(str(SAMPLE / "sample.mp4")) as c:
        assert c.streams.video[0].frames == len(list((SAMPLE / "sample_masks").glob("*.png")))
        assert (c.streams.video[0].width, c.streams.video[0].height) == truth(0).shape[::-1]
    assert (SAMPLE / "sample.mp4").stat().st_size < 2_000_000


def test_classic_engine_follows_the_sample_object_from_one_click():
    x, y = json.loads((SAMPLE / "sample_prompt.json").read_text())["point"]
    ious = [
        iou(r.masks[0], truth(r.frame.index))
        for r in streamseg.segment(str(SAMPLE / "sample.mp4"), [f"{x},{y}"], model="classic")
    ]
    assert len(ious) == 96
    assert np.mean(ious) >= 0.8, np.round(ious, 2)
    assert min(ious) >= 0.6, np.round(ious, 2)
