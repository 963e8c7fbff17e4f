import warnings
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
import zarr

from streamseg.render.overlay import draw_overlay, object_colour
from streamseg.render.stage import Overlay, RenderedVideo
from streamseg.sinks.video import VideoSink
from streamseg.sinks.zarr_store import ZarrSink
from streamseg.sources import SourceConfig, open_source
from streamseg.testing.clips import disc_clip, encode
from streamseg.types import Frame, FrameResult, mask_box


def results(n=10, objects_at=None, width=32, height=24):
    """FrameResults with objects 1 and (from frame ``objects_at``) 2."""
    images, masks = disc_clip(n, width, height)
    out = []
    for t in range(n):
        ids = [1] if objects_at is not None and t < objects_at else [1, 2]
        m = np.stack([masks[t], ~masks[t]][: len(ids)])
        frame = Frame(t, pts=t * 1000, time=t / 24, image=images[t])
        out.append(
            FrameResult(
                frame,
                ids,
                m,
                np.full(len(ids), 0.9, np.float32),
                np.stack([mask_box(x) for x in m]),
                np.ones(len(ids), bool),
            )
        )
    return out


def test_zarr_layout_and_growing_objects(tmp_path):
    sink = ZarrSink(
        tmp_path / "m.zarr",
        {"source": {"uri": "x"}},
        lambda: {1: {"id": 1, "name": "disc"}, 2: {"id": 2, "name": None}},
        chunk_frames=4,
    )
    rs = results(10, objects_at=5)
    for r in rs:
        sink.write(r)
    sink.close(complete=True)
    g = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    assert g["masks"].shape == (10, 2, 24, 32) and g["masks"].dtype == bool
    assert g["masks"].chunks == (4, 1, 24, 32)
    assert g["scores"].dtype == np.float32 and g["boxes"].shape == (10, 2, 4)
    assert g["pts"][:].tolist() == [t * 1000 for t in range(10)]
    assert np.allclose(g["time"][:], np.arange(10) / 24)
    assert g["frame_index"][:].tolist() == list(range(10))
    present = g["present"][:]
    assert present[:5, 1].sum() == 0 and present[5:, 1].all()  # object 2 from frame 5 on
    assert np.array_equal(g["masks"][7, 0], rs[7].masks[0])
    assert not g["masks"][2, 1].any()
    attrs = dict(g.attrs)
    assert attrs["frames_written"] == 10 and attrs["complete"] is True
    assert [o["id"] for o in attrs["objects"]] == [1, 2]
    assert attrs["objects"][0]["name"] == "disc" and attrs["source"] == {"uri": "x"}


def test_zarr_readable_while_written_and_partial_on_failure(tmp_path):
    sink = ZarrSink(tmp_path / "m.zarr", {}, chunk_frames=4)
    rs = results(10)
    for r in rs[:9]:
        sink.write(r)
    # mid-run, another process sees whole chunks, consistently
    g = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    assert g.attrs["frames_written"] == 8 and g["masks"].shape[0] == 8
    assert g.attrs["complete"] is False
    sink.close(complete=False)  # what an interrupted run does
    g = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
    assert g.attrs["frames_written"] == 9 and g["masks"].shape[0] == 9
    assert g.attrs["complete"] is False
    assert np.array_equal(g["masks"][8], rs[8].masks)


def decoded(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [(f.pts, f.time, f.to_ndarray(format="rgb24")) for f in c.decode(v)]
        return c.streams.video[0], [s.type for s in c.streams], frames


def test_overlay_keeps_timestamps_audio_and_colours(tmp_path, clip):
    path, masks = clip
    source = open_source(str(path), SourceConfig())
    sink = RenderedVideo(
        Overlay(0.5), VideoSink(tmp_path / "o.mp4", source.info, audio_from=str(path))
    )
    for frame, mask in zip(source.frames(), masks):
        sink.write(
            FrameResult(
                frame,
                [1],
                mask[None],
                np.ones(1, np.float32),
                mask_box(mask)[None],
                np.ones(1, bool),
            )
        )
    sink.close(True)
    with av.open(str(tmp_path / "o.mp4")) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "h264" and v.average_rate == 24
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].duration * c.streams.audio[0].time_base > 0.9
        frames = list(c.decode(v))
    assert len(frames) == 24
    assert [round(f.time * 24) for f in frames] == list(range(24))
    image = frames[10].to_ndarray(format="rgb24")
    # object 1's colour is blended over the mask's interior (the outline aside)
    source_frame = next(f for f in open_source(str(path)).frames() if f.index == 10)
    interior = cv2.erode(masks[10].astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    expected = (source_frame.image[interior] * 0.5 + object_colour(0) * 0.5).mean(axis=0)
    assert np.abs(image[interior].mean(axis=0) - expected).max() < 12


class Cropped:
    """A renderer handing the encoder an odd-sized picture (51 x 75)."""

    def __call__(self, result):
        return result.frame.image[:51, :75]

    def close(self):
        pass


def test_overlay_variable_frame_rate_and_odd_size(tmp_path):
    images, masks = disc_clip(6, width=75, height=51)
    pts = [0, 40, 80, 200, 230, 500]
    encode(
        tmp_path / "vfr.mkv",
        [np.pad(i, ((0, 1), (0, 1), (0, 0))) for i in images],
        pts=pts,
        time_base=Fraction(1, 1000),
    )
    source = open_source(str(tmp_path / "vfr.mkv"))
    sink = RenderedVideo(Cropped(), VideoSink(tmp_path / "o.mp4", source.info))
    for frame in source.frames():
        sink.write(
            FrameResult(
                frame,
                [],
                np.zeros((0, *frame.image.shape[:2]), bool),
                np.zeros(0, np.float32),
                np.zeros((0, 4), np.float32),
                np.zeros(0, bool),
            )
        )
    sink.close(True)
    with av.open(str(tmp_path / "o.mp4")) as c:
        frames = list(c.decode(video=0))
    assert [round(f.time * 1000) for f in frames] == pts
    assert (frames[0].width, frames[0].height) == (76, 52)  # padded to even


def test_overlay_draws_only_present_objects():
    (r,) = results(1)
    r.present[:] = [True, False]
    image = draw_overlay(r, alpha=0.5, outline=0)
    mask = r.masks[0]
    assert not np.array_equal(image[mask], r.frame.image[mask])
    assert np.array_equal(image[~mask], r.frame.image[~mask])  # object 2 absent: untouched


def test_sinks_are_context_managers(tmp_path):
    rs = results(3)
    with ZarrSink(tmp_path / "ok.zarr", {}, chunk_frames=2) as sink:
        for r in rs:
            sink.write(r)
    assert zarr.open_group(str(tmp_path / "ok.zarr"), mode="r").attrs["complete"] is True
    with pytest.raises(RuntimeError), ZarrSink(tmp_path / "cut.zarr", {}, chunk_frames=2) as sink:
        sink.write(rs[0])
        raise RuntimeError("the run failed")
    attrs = zarr.open_group(str(tmp_path / "cut.zarr"), mode="r").attrs
    assert attrs["complete"] is False and attrs["frames_written"] == 1  # what came is kept


def test_xarray_opens_the_store_with_named_dimensions(tmp_path):
    import dataclasses

    import xarray as xr

    rs = results(10, objects_at=5)
    for t, r in enumerate(rs):  # gaze on even frames only
        gaze = np.array([t, 2 * t], np.float32) if t % 2 == 0 else None
        rs[t] = dataclasses.replace(r, frame=dataclasses.replace(r.frame, gaze=gaze))
    prompts = [{"frame": t, "points": [[1, t]]} for t in range(0, 10, 2)]  # more than the summary
    history = {1: {"id": 1, "name": "disc", "prompts": prompts}, 2: {"id": 2, "prompts": []}}
    sink = ZarrSink(
        tmp_path / "m.zarr",
        {"source": {"uri": "x"}},
        objects=lambda: history,
        chunk_frames=4,
        gaze=True,
    )
    for r in rs:
        sink.write(r)
    sink.close(complete=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing in the store that zarr or xarray frowns on
        ds = xr.open_zarr(tmp_path / "m.zarr", consolidated=False)
        group = zarr.open_group(str(tmp_path / "m.zarr"), mode="r")
        assert sorted(group.group_keys()) == ["prompt_history"]
    assert group["prompt_history"].attrs["objects"][0]["prompts"] == prompts  # the whole history
    assert group.attrs["objects"][0]["history"] == "prompt_history"
    assert ds["masks"].dims == ("t", "object", "y", "x")
    assert ds["scores"].dims == ds["present"].dims == ("t", "object")
    assert ds["boxes"].dims == ("t", "object", "coord")
    for name in ("frame_index", "pts", "time", "latency", "gaze_valid"):
        assert ds[name].dims == ("t",), name
    assert ds["gaze"].dims == ("t", "xy")
    assert dict(ds.sizes) == {"t": 10, "object": 2, "y": 24, "x": 32, "coord": 4, "xy": 2}
    assert ds["object"].values.tolist() == [1, 2]  # the ids are the object coordinate
    disc = ds["masks"].sel(object=1)
    assert np.array_equal(disc.isel(t=7).values, rs[7].masks[0])
    assert not ds["masks"].sel(object=2).isel(t=slice(0, 5)).values.any()  # added at frame 5
    assert np.array_equal(ds["masks"].sel(object=2).isel(t=6).values, rs[6].masks[1])
    assert ds["present"].sel(object=2).values.tolist() == [False] * 5 + [True] * 5
    assert ds["pts"].values.tolist() == [t * 1000 for t in range(10)]
    assert np.allclose(ds["time"].values, np.arange(10) / 24)
    assert np.allclose(ds["boxes"].isel(t=3, object=0).values, rs[3].boxes[0])
    assert ds["gaze_valid"].values.tolist() == [t % 2 == 0 for t in range(10)]
    assert ds["gaze"].isel(t=4).values.tolist() == [4.0, 8.0]
    assert np.isnan(ds["gaze"].isel(t=5).values).all()
    assert ds.attrs["complete"] is True and ds.attrs["frames_written"] == 10
