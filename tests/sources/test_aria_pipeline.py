"""Aria recordings through `streamseg run`: gaze as the prompt, judged on Aria Digital Twin."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

pytest.importorskip("projectaria_tools")

from helpers import streamseg  # noqa: E402


def run(*args):
    return streamseg("run", *args, timeout=300)


def test_gaze_prompt_on_aria_digital_twin(shared_data, tmp_path):
    from streamseg.eval.adt import adt_instance_masks, instance_at, instance_iou

    adt = shared_data / "aria" / "gen1" / "digital_twin"
    out = tmp_path / "o"
    r = run(
        adt / "video.vrs",
        "--prompt",
        "gaze",
        "--gaze",
        adt / "mps" / "eye_gaze" / "general_eye_gaze.csv",
        "--model",
        "classic",
        "--out",
        out,
        "-q",
    )
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 3 and g["masks"].shape == (3, 1, 1408, 1408)
    assert g.attrs["recording"]["rotation_cw"] == 90 == g.attrs["source"]["rotation"]
    assert g.attrs["recording"]["calibration"]  # camera model and intrinsics
    assert g["gaze_valid"][:].all()
    gaze, times = g["gaze"][:], g["pts"][:]
    truth = list(adt_instance_masks(adt / "segmentations.vrs"))
    assert len(truth) == 2
    instance = instance_at(truth[0][1], gaze[0])
    assert instance != 0
    x, y = np.round(gaze[0]).astype(int)
    assert g["masks"][0, 0][y, x]  # the object was prompted where the wearer looked
    ious = []
    for t_ns, ids in truth:  # the ground-truth frames match RGB frames within 0.1 ms
        k = int(np.argmin(np.abs(times - t_ns)))
        assert abs(int(times[k]) - t_ns) < 1_000_000
        ious.append(instance_iou(g["masks"][k, 0], ids, instance))
    print("ADT IoU, frames 0 and 1:", [round(v, 3) for v in ious])  # noqa: T201
    assert min(ious) > 0.0  # the mask lies on the looked-at instance (see the closing note)


def test_gen2_recording_with_on_device_gaze(shared_data, tmp_path):
    rec = shared_data / "aria" / "gen2" / "aria_gen2_unit_test_sequence_with_bluetooth.vrs"
    r = run(rec, "--prompt", "gaze", "--model", "classic", "--out", tmp_path / "o", "-q")
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(tmp_path / "o" / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 3
    assert g["masks"].shape[2:] == (1512, 2016)  # Gen2 RGB is stored upright
    assert g["gaze_valid"][:].all() and g["present"][:, 0].any()


def test_vrs_errors(shared_data, tmp_path):
    adt = shared_data / "aria" / "gen1" / "digital_twin"
    r = run(adt / "segmentations.vrs", "--prompt", "10,10", "--out", tmp_path / "a")
    assert r.returncode != 0 and "camera-rgb" in r.stderr and "Traceback" not in r.stderr
    r = run(adt / "video.vrs", "--prompt", "gaze", "--out", tmp_path / "b")
    assert r.returncode == 2 and "--gaze PATH" in r.stderr
    other = shared_data / "aria" / "gen1" / "everyday_activities" / "mps" / "eye_gaze"
    r = run(
        adt / "video.vrs",
        "--prompt",
        "gaze",
        "--gaze",
        other / "general_eye_gaze.csv",
        "--out",
        tmp_path / "c",
    )
    assert r.returncode == 2 and "does not overlap" in r.stderr
