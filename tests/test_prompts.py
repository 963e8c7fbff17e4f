import json

import numpy as np
import pytest
from PIL import Image

from streamseg.errors import SourceNotFoundError, UsageError
from streamseg.prompts import (
    load_prompts_file,
    masks_from_png,
    parse_box,
    parse_prompt,
    validate,
)


def test_points_negative_points_and_box():
    p = parse_prompt("100,80 120.5,90 -300,40 10,20,200,220", 3)
    assert p.object_id == 3 and p.frame == 0
    assert p.points.tolist() == [[100, 80], [120.5, 90], [300, 40]]
    assert p.labels.tolist() == [1, 1, 0]
    assert p.box.tolist() == [10, 20, 200, 220]


@pytest.mark.parametrize("text", ["", "100", "a,b", "1,2,3", "-5,5", "1,2,3,4 5,6,7,8"])
def test_malformed_prompts_are_usage_errors(text):
    with pytest.raises(UsageError, match="prompt"):
        parse_prompt(text, 1)


def test_box():
    assert parse_box("1,2,30,40", 2).box.tolist() == [1, 2, 30, 40]
    with pytest.raises(UsageError, match="X0,Y0,X1,Y1"):
        parse_box("1,2,3", 1)


def test_validate_rejects_out_of_frame():
    validate([parse_prompt("0,0 159,119", 1)], 160, 120)
    with pytest.raises(UsageError, match="outside the 160x120 frame"):
        validate([parse_prompt("160,10", 1)], 160, 120)
    with pytest.raises(UsageError, match="box"):
        validate([parse_box("10,10,5,50", 1)], 160, 120)
    with pytest.raises(UsageError, match="box"):
        validate([parse_box("10,10,170,50", 1)], 160, 120)


def test_palette_mask_gives_one_object_per_value(tmp_path):
    labels = np.zeros((20, 30), np.uint8)
    labels[2:5, 2:5] = 1
    labels[10:15, 10:20] = 7
    image = Image.frombytes("P", labels.shape[::-1], labels.tobytes())
    image.putpalette([0, 0, 0, 255, 0, 0] + [128] * 762)
    image.save(tmp_path / "m.png")
    prompts = masks_from_png(tmp_path / "m.png")
    assert [p.object_id for p in prompts] == [1, 7]
    assert prompts[1].mask.sum() == 50
    with pytest.raises(UsageError, match="is 30x20, the video is 40x20"):
        validate(prompts, 40, 20)


def test_binary_255_mask_is_object_1(tmp_path):
    Image.fromarray(np.where(np.eye(8, dtype=bool), 255, 0).astype(np.uint8)).save(
        tmp_path / "m.png"
    )
    (p,) = masks_from_png(tmp_path / "m.png")
    assert p.object_id == 1 and p.mask.sum() == 8


def test_prompts_file_json_and_yaml(tmp_path):
    entries = [
        {"object": 1, "frame": 0, "name": "dog", "points": [[5, 6]], "negative": [[1, 1]]},
        {"object": 2, "frame": 12, "box": [0, 0, 10, 10]},
    ]
    (tmp_path / "p.json").write_text(json.dumps({"prompts": entries}))
    (tmp_path / "p.yaml").write_text(
        "- {object: 1, frame: 0, name: dog, points: [[5, 6]], "
        "negative: [[1, 1]]}\n- {object: 2, frame: 12, "
        "box: [0, 0, 10, 10]}\n"
    )
    for name in ("p.json", "p.yaml"):
        a, b = load_prompts_file(tmp_path / name)
        assert (a.object_id, a.name, a.labels.tolist()) == (1, "dog", [1, 0])
        assert (b.object_id, b.frame, b.box.tolist()) == (2, 12, [0, 0, 10, 10])


def test_prompts_file_errors(tmp_path):
    with pytest.raises(SourceNotFoundError):
        load_prompts_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UsageError, match="cannot parse"):
        load_prompts_file(tmp_path / "bad.json")
    (tmp_path / "keys.json").write_text('[{"object": 1, "pionts": [[1, 2]]}]')
    with pytest.raises(UsageError, match="unknown keys"):
        load_prompts_file(tmp_path / "keys.json")
