"""Quarter-turn rotation: images and points agree, PyAV display matrices, RotatedSource."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from streamseg.errors import UsageError
from streamseg.geometry import (
    display_rotation_cw,
    normalize_degrees,
    rotate_image,
    rotate_points,
    rotated_size,
)
from streamseg.sources import SourceConfig
from streamseg.sources.pyav import PyAVSource
from streamseg.sources.rotated import RotatedSource

ANGLES = (0, 90, 180, 270)
W, H = 7, 4  # small, odd and non-square: any mix-up of axes or of off-by-one shows


def index_image() -> np.ndarray:
    """(H, W) int64 whose value at (x, y) is y * W + x: every pixel names itself."""
    return np.arange(H * W, dtype=np.int64).reshape(H, W)


@pytest.mark.parametrize("degrees", ANGLES)
def test_points_follow_pixels(degrees):
    image = index_image()
    turned = rotate_image(image, degrees)
    assert turned.shape[::-1] == rotated_size(W, H, degrees)
    ys, xs = np.mgrid[:H, :W]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    moved = rotate_points(points, degrees, W, H)
    assert moved.dtype == np.float32 and moved.shape == points.shape
    cols, rows = moved[:, 0].astype(int), moved[:, 1].astype(int)
    # the pixel that was at (x, y) is now at rotate_points((x, y))
    assert np.array_equal(turned[rows, cols], image.ravel())


@pytest.mark.parametrize("degrees", ANGLES)
def test_clockwise_means_clockwise(degrees):
    # a mark at the top-left corner goes round the corners clockwise: TL, TR, BR, BL
    image = np.zeros((H, W, 3), np.uint8)
    image[0, 0] = 255
    turned = rotate_image(image, degrees)
    h, w = turned.shape[:2]
    corner = {0: (0, 0), 90: (0, w - 1), 180: (h - 1, w - 1), 270: (h - 1, 0)}[degrees]
    assert turned[corner].tolist() == [255, 255, 255]


@pytest.mark.parametrize("degrees", ANGLES)
def test_opencv_and_numpy_paths_agree(degrees):
    rng = np.random.default_rng(degrees)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # cv2.rotate path
    as_int = rgb.astype(np.int32)  # np.rot90 path
    assert np.array_equal(rotate_image(rgb, degrees), rotate_image(as_int, degrees))
    assert rotate_image(rgb, degrees).flags.c_contiguous
    grey = rgb[:, :, :1]  # cv2 would drop the last axis; it must stay
    assert rotate_image(grey, degrees).shape[2] == 1
    mask = rgb[:, :, 0] > 128
    assert rotate_image(mask, degrees).dtype == bool


@pytest.mark.parametrize("degrees", ANGLES)
def test_inverse_turn(degrees):
    rng = np.random.default_rng(1)
    points = rng.uniform([-0.5, -0.5], [W - 0.5, H - 0.5], (20, 2)).astype(np.float32)
    size = rotated_size(W, H, degrees)
    back = rotate_points(rotate_points(points, degrees, W, H), (360 - degrees) % 360, *size)
    np.testing.assert_allclose(back, points, atol=1e-5)
    image = index_image()
    assert np.array_equal(rotate_image(rotate_image(image, degrees), (360 - degrees) % 360), image)


def test_rotate_image_copies():
    image = np.zeros((H, W, 3), np.uint8)
    out = rotate_image(image, 0)
    out[0, 0] = 1
    assert image[0, 0, 0] == 0


def test_degrees_are_checked():
    assert normalize_degrees(-90) == 270
    assert normalize_degrees("450") == 90
    assert normalize_degrees(180.0) == 180
    for bad in (45, "sideways", 90.5):
        with pytest.raises(UsageError, match="90"):
            normalize_degrees(bad)


def test_display_rotation_sign():
    # PyAV's VideoFrame.rotation is counter-clockwise; we turn clockwise
    assert display_rotation_cw(None) == 0
    assert display_rotation_cw(-90) == 90
    assert display_rotation_cw(270) == 90  # PyAVSource stores -90 as 270
    assert display_rotation_cw(90) == 270
    assert display_rotation_cw(180) == display_rotation_cw(-180) == 180


def marked_clip(path: Path, ccw: int | None, n: int = 4) -> Path:
    """A 64x32 clip, white block in the top-left, display matrix ``ccw`` degrees CCW."""
    image = np.full((32, 64, 3), 40, np.uint8)
    image[:8, :16] = 255
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        if ccw is not None:
            stream.set_display_rotation(ccw)
        for _ in range(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def bright_corner(image: np.ndarray) -> str:
    h, w = image.shape[:2]
    corners = {
        "TL": image[: h // 4, : w // 4],
        "TR": image[: h // 4, -w // 4 :],
        "BR": image[-h // 4 :, -w // 4 :],
        "BL": image[-h // 4 :, : w // 4],
    }
    return max(corners, key=lambda k: corners[k].mean())


@pytest.mark.parametrize(
    "ccw, cw, corner",
    # turning the stored frame clockwise by cw moves its top-left block to `corner`
    [(None, 0, "TL"), (-90, 90, "TR"), (90, 270, "BL"), (180, 180, "BR")],
)
def test_auto_follows_the_display_matrix(tmp_path, ccw, cw, corner):
    path = marked_clip(tmp_path / "marked.mp4", ccw)
    inner = PyAVSource(str(path), SourceConfig())
    source = RotatedSource(inner, "auto")
    try:
        assert source.applied_rotation == cw
        assert source.info.rotation == cw  # the turn applied to the frames
        assert inner.info.rotation == 0 and inner.info.display_rotation == (ccw or 0) % 360
        expected = (32, 64) if cw in (90, 270) else (64, 32)
        assert (source.info.width, source.info.height) == expected
        frames = list(source.frames())
    finally:
        source.close()
    assert len(frames) == 4  # the frame decoded to read the matrix is not lost
    assert [f.index for f in frames] == [0, 1, 2, 3]
    for frame in frames:
        assert frame.image.shape == (expected[1], expected[0], 3)
        assert bright_corner(frame.image) == corner


def test_explicit_turn_and_point_mapping(tmp_path):
    path = marked_clip(tmp_path / "plain.mp4", None)
    source = RotatedSource(PyAVSource(str(path), SourceConfig(max_frames=2)), 90)
    try:
        frames = list(source.frames())
        block_centre = source.rotate_points(np.array([7.5, 3.5]))
    finally:
        source.close()
    assert len(frames) == 2 and frames[0].image.shape == (64, 32, 3)
    x, y = np.round(block_centre).astype(int)
    assert frames[0].image[y, x].mean() > 200  # the block's centre, turned with the frame
    assert source.metadata()["rotation_applied_cw"] == 90


def test_auto_leaves_self_rotating_sources_alone(tmp_path):
    path = marked_clip(tmp_path / "m.mp4", -90)
    once = RotatedSource(PyAVSource(str(path), SourceConfig()), "auto")
    twice = RotatedSource(once, "auto")  # e.g. an AriaSource, which turns its own frames
    try:
        assert once.applied_rotation == 90 and twice.applied_rotation == 0
        assert (twice.info.width, twice.info.height) == (32, 64)
        assert bright_corner(next(iter(twice.frames())).image) == "TR"
    finally:
        twice.close()
