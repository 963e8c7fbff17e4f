"""The video engines through the commands users run: ``run`` (a prompts file adding an
object mid-stream, ``--inpaint``, ``--live``), ``bench``, ``eval`` and an Aria recording,
each with ``--model auto --checkpoint DIR`` on a small random-weight SAM 2 saved with
save_pretrained. Random weights make meaningless masks: these tests check what the
commands promise (frames, objects, outputs, metadata), the streaming tests the numbers."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest
import zarr

pytest.importorskip("transformers")

from helpers import streamseg  # noqa: E402

from streamseg.testing.clips import disc_clip, disc_video  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from streamseg.engines.video_model import build_random

    torch.manual_seed(0)
    engine = build_random("sam2", image_size=128, device="cpu")
    folder = tmp_path_factory.mktemp("sam2-small")
    engine.model.save_pretrained(folder)
    engine.processor.save_pretrained(folder)
    return folder


def _video_frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_run_adds_an_object_mid_stream_and_inpaints(tmp_path, checkpoint):
    clip = tmp_path / "clip.mp4"
    disc_video(clip, n=8)
    prompts = tmp_path / "prompts.json"
    prompts.write_text(
        json.dumps(
            [
                {"frame": 0, "object": 1, "points": [[30, 60]]},
                {"frame": 3, "object": 2, "points": [[120, 20]]},
            ]
        )
    )
    out = tmp_path / "out"
    r = streamseg(
        "run", clip, "--prompts", prompts, "--model", "auto", "--checkpoint", checkpoint,
        "--inpaint", "remove", "--device", "cpu", "--out", out, "-q", timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 8 and g["masks"].shape[:2] == (8, 2)
    assert g.attrs["engine"]["weights"]["source"] == "checkpoint"
    assert g.attrs["engine"]["name"].startswith("sam2")
    assert not g["masks"][:3, 1].any()  # object 2 does not exist before its frame
    assert _video_frames(out / "overlay.mp4") == 8
    assert _video_frames(out / "rendered.mp4") == 8


def test_live_run_with_a_video_engine(tmp_path, checkpoint):
    clip = tmp_path / "clip.mp4"
    disc_video(clip, n=12)
    out = tmp_path / "out"
    r = streamseg(
        "run", clip, "--prompt", "30,60", "--live", "--model", "auto",
        "--checkpoint", checkpoint, "--device", "cpu", "--out", out, "-q", timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    written = g.attrs["frames_written"]
    assert 1 <= written <= 12 and g["masks"].shape[0] == written  # live may drop frames
    assert _video_frames(out / "overlay.mp4") == written


def test_bench_times_a_video_engine(tmp_path, checkpoint):
    clip = tmp_path / "clip.mp4"
    disc_video(clip, n=6)
    r = streamseg(
        "bench", clip, "--model", "auto", "--checkpoint", checkpoint, "--max-frames", "4",
        "--device", "cpu", "--json", "-q", timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["frames"] == 4 and result["engine"]["name"].startswith("sam2")


def test_eval_scores_a_video_engine(tmp_path, checkpoint):
    frames, masks = disc_clip(5)
    images = tmp_path / "davis" / "JPEGImages" / "480p" / "disc"
    notes = tmp_path / "davis" / "Annotations" / "480p" / "disc"
    images.mkdir(parents=True)
    notes.mkdir(parents=True)
    for t, (frame, mask) in enumerate(zip(frames, masks)):
        cv2.imwrite(str(images / f"{t:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(notes / f"{t:05d}.png"), mask.astype(np.uint8) * 255)
    table = tmp_path / "table.json"
    r = streamseg(
        "eval", tmp_path / "davis", "--model", "auto", "--checkpoint", checkpoint,
        "--init", "click", "--json", table, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = json.loads(table.read_text())["sequences"]
    assert [row["frames"] for row in rows] == [5]
    assert 0.0 <= rows[0]["JF"] <= 1.0


def test_aria_recording_with_gaze_and_a_video_engine(shared_data, tmp_path, checkpoint):
    pytest.importorskip("projectaria_tools")
    adt = shared_data / "aria" / "gen1" / "digital_twin"
    out = tmp_path / "out"
    r = streamseg(
        "run", adt / "video.vrs", "--prompt", "gaze",
        "--gaze", adt / "mps" / "eye_gaze" / "general_eye_gaze.csv",
        "--model", "auto", "--checkpoint", checkpoint, "--device", "cpu",
        "--max-frames", "2", "--out", out, "-q", timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    g = zarr.open_group(str(out / "masks.zarr"), mode="r")
    assert g.attrs["frames_written"] == 2 and g["masks"].shape[2:] == (1408, 1408)
    assert g.attrs["engine"]["name"].startswith("sam2") and g["gaze_valid"][:].all()
