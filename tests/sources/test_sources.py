from fractions import Fraction

import cv2
import numpy as np
import pytest

from streamseg.errors import SourceError, SourceNotFoundError
from streamseg.sources import SourceConfig, open_source
from streamseg.testing.clips import audio_only, disc_clip, encode


def frames_of(spec, **config):
    source = open_source(str(spec), SourceConfig(**config))
    try:
        return source.info, list(source.frames())
    finally:
        source.close()


def test_video_file_frames_and_timestamps(clip):
    path, masks = clip
    info, frames = frames_of(path)
    assert (info.width, info.height, info.fps, info.frames) == (160, 120, 24.0, 24)
    assert info.has_audio and info.kind == "file"
    assert [f.index for f in frames] == list(range(24))
    assert [round(f.time * 24) for f in frames] == list(range(24))
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    # the disc is red-orange: decoded colours inside the true mask say so
    assert frames[5].image[masks[5]].mean(axis=0)[0] > 150


def test_start_and_max_frames(clip):
    path, _ = clip
    _, frames = frames_of(path, start=0.5, max_frames=5)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].time == pytest.approx(0.5)


def test_start_on_mpegts_counts_from_the_first_frame(tmp_path):
    images, _ = disc_clip(24)
    path = encode(tmp_path / "clip.ts", images, fmt="mpegts")  # first pts is not 0 in TS
    _, frames = frames_of(path)
    assert frames[0].time == 0.0 and frames[-1].time == pytest.approx(23 / 24)
    _, frames = frames_of(path, start=0.5)
    assert len(frames) == 12 and frames[0].time == pytest.approx(0.5)


def test_variable_frame_rate_timestamps_survive(tmp_path):
    images, _ = disc_clip(6)
    pts = [0, 40, 80, 200, 230, 500]
    encode(tmp_path / "vfr.mkv", images, pts=pts, time_base=Fraction(1, 1000))
    _, frames = frames_of(tmp_path / "vfr.mkv")
    assert [round(f.time * 1000) for f in frames] == pts


def test_image_folder_and_pattern(tmp_path):
    images, _ = disc_clip(5)
    for i, image in enumerate(images):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    info, frames = frames_of(tmp_path, fps=10)
    assert info.kind == "images" and info.frames == 5 and len(frames) == 5
    assert frames[3].time == pytest.approx(0.3)
    _, frames = frames_of(tmp_path / "%05d.png")
    assert len(frames) == 5
    assert np.array_equal(frames[2].image, images[2])  # lossless, and RGB order


def test_missing_file():
    with pytest.raises(SourceNotFoundError, match="no such file"):
        open_source("/nonexistent/video.mp4")


def test_not_a_video(tmp_path):
    (tmp_path / "notes.mp4").write_text("this is not a video\n" * 100)
    with pytest.raises(SourceError, match="cannot read .* as video"):
        open_source(str(tmp_path / "notes.mp4"))


def test_no_video_stream(tmp_path):
    path = audio_only(tmp_path / "audio.m4a")
    with pytest.raises(SourceError, match="no video stream"):
        open_source(str(path))


def test_truncated_stream_keeps_what_decodes(tmp_path, caplog):
    images, _ = disc_clip(48)
    path = encode(tmp_path / "clip.ts", images, fmt="mpegts")
    data = path.read_bytes()
    (tmp_path / "cut.ts").write_bytes(data[: len(data) // 2])
    _, frames = frames_of(tmp_path / "cut.ts")
    assert 5 < len(frames) < 48


def test_truncated_mp4_says_how_many_frames_were_announced(tmp_path, caplog):
    import av

    images, _ = disc_clip(48)
    plain = encode(tmp_path / "clip.mp4", images)
    fast = tmp_path / "fast.mp4"  # the index first: a cut file still announces 48 frames
    with (
        av.open(str(plain)) as src,
        av.open(str(fast), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = fast.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    _, frames = frames_of(tmp_path / "cut.mp4")
    assert 5 < len(frames) < 48
    assert f"ended after {len(frames)} of the 48 frames its header announces" in caplog.text
    caplog.clear()
    assert len(frames_of(fast)[1]) == 48 and "truncated" not in caplog.text
    # MKV has no frame count, only a duration, here the audio's: no false alarm
    mkv = encode(tmp_path / "long_audio.mkv", images, audio_seconds=3.0)  # video: 2 s
    assert len(frames_of(mkv)[1]) == 48 and "truncated" not in caplog.text


def test_corrupt_middle_warns_and_goes_on(tmp_path, caplog):
    images, _ = disc_clip(48)
    path = encode(tmp_path / "clip.ts", images, fmt="mpegts")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    middle = len(data) // 2
    data[middle : middle + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (tmp_path / "bad.ts").write_bytes(bytes(data))
    _, frames = frames_of(tmp_path / "bad.ts")
    assert len(frames) >= 30  # frames on both sides of the damage


def test_zero_frames(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(SourceError, match="no images found"):
        open_source(str(folder))
    images, _ = disc_clip(4)
    path = encode(tmp_path / "short.mp4", images, fps=24)
    with pytest.raises(SourceError, match="no frame could be decoded"):
        list(open_source(str(path), SourceConfig(start=10.0)).frames())
