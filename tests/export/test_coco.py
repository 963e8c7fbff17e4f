"""COCO export: run-length-encoded masks per frame and object, decoded back with pycocotools."""

import json

import numpy as np
import pytest
import zarr
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from streamseg.errors import OutputError, SourceNotFoundError
from streamseg.export.coco import COCO_FILE, export_coco, rle_counts, rle_string
from streamseg.sinks.zarr_store import ZarrSink
from streamseg.types import Frame, FrameResult, mask_box

H, W = 24, 32
# pycocotools' own decode trips a NumPy 2 deprecation; it is theirs, not ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def random_masks(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Blobs, speckle, full, empty-but-one-pixel and corner masks: every RLE edge case."""
    masks = [rng.random((H, W)) < p for p in (0.05, 0.5, 0.95)]
    masks.append(np.ones((H, W), bool))
    corner = np.zeros((H, W), bool)
    corner[0, 0] = True  # a run of 0 zeros first
    masks.append(corner)
    last = np.zeros((H, W), bool)
    last[-1, -1] = True
    masks.append(last)
    while len(masks) < n:
        m = np.zeros((H, W), bool)
        y, x = rng.integers(0, H), rng.integers(0, W)
        m[max(0, y - 6) : y + 6, max(0, x - 9) : x + 9] = True
        masks.append(m)
    return masks


def test_rle_string_matches_pycocotools():
    rng = np.random.default_rng(0)
    for m in random_masks(rng, 20):
        ours = rle_string(rle_counts(m))
        theirs = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        assert ours == theirs["counts"].decode()
    assert rle_counts(np.array([[True, False], [True, True]])) == [0, 2, 1, 1]


def write_store(path, frames: int, rng: np.random.Generator):
    """A store with object 1 throughout, object 2 from frame 3 on and absent on frame 5."""
    sink = ZarrSink(
        path,
        {"source": {"uri": "clips/walk.mp4", "fps": 25.0}},
        lambda: {1: {"id": 1, "name": "dog"}},
    )
    expected = {}
    for t in range(frames):
        n = 1 if t < 3 else 2
        candidates = random_masks(rng, 8)
        masks = np.stack([candidates[t % 8], candidates[7]][:n])
        present = np.ones(n, bool)
        if t == 5:
            present[1] = False
        image = np.zeros((H, W, 3), np.uint8)
        frame = Frame(2 * t, pts=t * 3600, time=t * 0.04, image=image)
        scores = np.linspace(0.5, 0.9, n).astype(np.float32)
        sink.write(
            FrameResult(
                frame, [1, 2][:n], masks, scores, np.stack([mask_box(m) for m in masks]), present
            )
        )
        expected[t] = (masks, present, scores)
    sink.close(complete=True)
    return expected


def test_export_decodes_back_to_the_stores_masks(tmp_path):
    rng = np.random.default_rng(1)
    out = tmp_path / "run"
    out.mkdir()
    write_store(out / "masks.zarr", 20, rng)
    count = export_coco(out, out / "coco")
    path = out / "coco" / COCO_FILE
    doc = json.loads(path.read_text())
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    masks, present = g["masks"][:], g["present"][:]
    assert count == len(doc["annotations"]) == int(present.sum()) == 20 + 17 - 1
    assert [c["id"] for c in doc["categories"]] == [1, 2]
    assert doc["categories"][0]["name"] == "dog" and doc["categories"][1]["name"] == "object 2"
    assert len(doc["images"]) == 20
    assert [i["frame_index"] for i in doc["images"]] == [2 * t for t in range(20)]
    assert [i["pts"] for i in doc["images"]] == [t * 3600 for t in range(20)]
    assert np.allclose([i["time"] for i in doc["images"]], np.arange(20) * 0.04)
    assert doc["videos"][0]["fps"] == 25.0 and doc["videos"][0]["name"] == "walk"
    coco = COCO(str(path))  # the reference reader accepts the file
    for t in range(20):
        image_id = doc["images"][t]["id"]
        anns = {a["track_id"]: a for a in coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))}
        for k, object_id in enumerate([1, 2]):
            if k >= masks.shape[1] or not present[t, k] or not masks[t, k].any():
                assert object_id not in anns, (t, object_id)
                continue
            ann = anns[object_id]
            decoded = coco.annToMask(ann).astype(bool)
            assert np.array_equal(decoded, masks[t, k]), (t, object_id)
            assert np.array_equal(mask_utils.decode(ann["segmentation"]).astype(bool), decoded)
            assert (
                ann["area"] == int(masks[t, k].sum()) == int(mask_utils.area(ann["segmentation"]))
            )
            assert np.allclose(ann["bbox"], mask_utils.toBbox(ann["segmentation"]))
            assert ann["category_id"] == object_id and ann["iscrowd"] == 0
            assert ann["score"] == pytest.approx(float(g["scores"][t, k]))
    assert 2 not in {a["track_id"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[6]))}  # t=5


def test_export_of_an_empty_store_and_errors(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    ZarrSink(out / "masks.zarr", {}).close(complete=False)
    assert export_coco(out, out / "coco") == 0
    doc = json.loads((out / "coco" / COCO_FILE).read_text())
    assert doc["images"] == [] and doc["annotations"] == [] and doc["info"]["complete"] is False
    with pytest.raises(SourceNotFoundError, match="masks.zarr"):
        export_coco(tmp_path / "nothing", tmp_path / "coco")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="--dest"):
        export_coco(out, tmp_path / "file" / "coco")


def test_export_command_writes_coco(tmp_path):
    from click.testing import CliRunner

    from streamseg.cli import cli

    out = tmp_path / "run"
    out.mkdir()
    expected = write_store(out / "masks.zarr", 6, np.random.default_rng(2))
    r = CliRunner().invoke(cli, ["export", str(out), "--format", "coco"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "coco" / COCO_FILE).read_text())
    present = sum(int(p.sum()) for _, p, _ in expected.values())
    assert f"wrote {present} annotations" in r.stdout and len(doc["annotations"]) == present
    assert len(doc["images"]) == 6
