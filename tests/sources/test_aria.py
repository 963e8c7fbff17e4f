"""Aria VRS input, gaze, fixations and ADT ground truth.

Real recordings come from the shared data folder (``$STREAMSEG_TEST_DATA/aria``)
and need projectaria_tools; those tests skip when either is missing. Fixation
detection and the missing-extra error run everywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streamseg.errors import SourceError, SourceNotFoundError, UsageError
from streamseg.gaze.fixations import FixationDetector, detect_fixations
from streamseg.geometry import rotate_image, rotate_points
from streamseg.sources import SourceConfig

# relative path, frames, stored (w, h), upright (w, h), clockwise turn
RECORDINGS = [
    ("gen1/everyday_activities/recording.vrs", 8, (1408, 1408), (1408, 1408), 90),
    ("gen1/digital_twin/video.vrs", 3, (1408, 1408), (1408, 1408), 90),
    ("gen1/aria_unit_test_timecode_sequence_calib.vrs", 4, (1408, 1408), (1408, 1408), 90),
    # Gen2 stores RGB upright, landscape: 2016 wide x 1512 high, no turn
    ("gen2/aria_gen2_unit_test_sequence_with_bluetooth.vrs", 3, (2016, 1512), (2016, 1512), 0),
    ("gen2/multi_stream.vrs", 2, (2560, 1920), (2560, 1920), 0),
]
EA = "gen1/everyday_activities"
ADT = "gen1/digital_twin"
GEN2 = "gen2/aria_gen2_unit_test_sequence_with_bluetooth.vrs"


@pytest.fixture(scope="module")
def aria(shared_data: Path) -> Path:
    pytest.importorskip("projectaria_tools", exc_type=ImportError)
    root = shared_data / "aria"
    if not root.is_dir():
        pytest.skip(f"no Aria recordings at {root}")
    return root


def open_aria(path: Path, **kwargs):
    from streamseg.sources.aria import AriaSource

    return AriaSource(path, kwargs.pop("config", SourceConfig()), **kwargs)


def capture_times(source) -> list[int]:
    """Capture timestamps straight from projectaria_tools, for comparison."""
    provider, sid = source.provider, source.stream_id
    return [
        provider.get_image_data_by_index(sid, i)[1].capture_timestamp_ns
        for i in range(provider.get_num_data(sid))
    ]


# --- frames ------------------------------------------------------------------------------


@pytest.mark.data
@pytest.mark.parametrize("rel, count, stored, upright, turn", RECORDINGS)
def test_frames_counts_sizes_and_device_times(aria, rel, count, stored, upright, turn):
    source = open_aria(aria / rel)
    try:
        frames = list(source.frames())
        expected_times = capture_times(source)
    finally:
        source.close()
    assert source.info.kind == "vrs" and source.info.time_base == "1/1000000000"
    assert source.info.frames == count and len(frames) == count
    assert source.raw_size == stored
    assert (source.info.width, source.info.height) == upright
    assert source.applied_rotation == source.info.rotation == turn
    assert [f.index for f in frames] == list(range(count))
    assert [f.pts for f in frames] == expected_times
    assert all(f.time == pytest.approx(f.pts / 1e9, abs=1e-9) for f in frames)
    for frame in frames:
        assert frame.image.shape == (upright[1], upright[0], 3)
        assert frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous


@pytest.mark.data
@pytest.mark.parametrize("rel, count, stored, upright, turn", RECORDINGS)
def test_upright_matches_gravity(aria, rel, count, stored, upright, turn):
    """The accelerometer (reading "up" when still) must point up in the upright frame."""
    source = open_aria(aria / rel)
    provider, calib = source.provider, source.device_calibration
    t_device_camera = calib.get_transform_device_sensor(source.label)
    for label in ("imu-left", "imu-right"):
        sid = provider.get_stream_id_from_label(label)
        n = provider.get_num_data(sid)
        up_imu = np.mean([provider.get_imu_data_by_index(sid, i).accel_msec2 for i in range(n)], 0)
        t_camera_imu = t_device_camera.inverse() @ calib.get_transform_device_sensor(label)
        up = (t_camera_imu.rotation().to_matrix() @ up_imu)[:2]  # camera: x right, y down
        ends = rotate_points(np.array([[0.0, 0.0], up / np.linalg.norm(up)]), turn, 10, 10)
        direction = ends[1] - ends[0]
        assert direction[1] < -0.9, f"{label}: up is {direction} in the upright frame"


@pytest.mark.data
def test_turn_is_the_stored_image_turned_clockwise(aria):
    stored = next(open_aria(aria / EA / "recording.vrs", rotate=0).frames()).image
    upright = next(open_aria(aria / EA / "recording.vrs").frames()).image
    assert np.array_equal(upright, np.rot90(stored, k=-1))


@pytest.mark.data
def test_start_and_max_frames(aria):
    # frames every ~50 ms; 0.075 s is between the 2nd and the 3rd
    config = SourceConfig(start=0.075, max_frames=3)
    source = open_aria(aria / EA / "recording.vrs", config=config)
    frames = list(source.frames())
    all_times = capture_times(source)
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.pts for f in frames] == all_times[2:5]
    with pytest.raises(SourceError, match="start"):
        list(open_aria(aria / EA / "recording.vrs", config=SourceConfig(start=60)).frames())


@pytest.mark.data
def test_slam_stream_by_label(aria):
    source = open_aria(aria / EA / "recording.vrs", stream="camera-slam-left")
    frames = list(source.frames())
    assert len(frames) == 4 and source.raw_size == (640, 480)
    assert frames[0].image.shape == (640, 480, 3)  # grey, turned upright, as RGB
    assert np.array_equal(frames[0].image[..., 0], frames[0].image[..., 2])


@pytest.mark.data
def test_undistort_matches_projectaria(aria):
    from projectaria_tools.core import calibration

    raw = open_aria(aria / EA / "recording.vrs", rotate=0)
    flat = open_aria(aria / EA / "recording.vrs", undistort=True)
    assert flat.calibration.get_model_name().name == "LINEAR"
    assert (flat.info.width, flat.info.height) == (1408, 1408)
    stored = next(raw.frames()).image
    expected = calibration.distort_by_calibration(stored, flat.calibration, raw.calibration)
    got = next(flat.frames()).image
    diff = np.abs(got.astype(int) - rotate_image(np.asarray(expected), 90).astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 2


@pytest.mark.data
def test_metadata_is_json(aria):
    source = open_aria(aria / GEN2, undistort=True)
    meta = source.metadata()
    json.dumps(meta)
    assert meta["stream"] == "camera-rgb" and meta["rotation_cw"] == 0
    assert meta["device_version"] == "Gen2"
    assert meta["calibration"]["model"] == "FISHEYE624"
    assert meta["calibration"]["image_size"] == [2016, 1512]
    assert meta["pinhole_calibration"]["model"] == "LINEAR"
    assert meta["recording"]["device_serial"]


# --- gaze ------------------------------------------------------------------------------------

GAZE_CASES = [
    (f"{EA}/recording.vrs", f"{EA}/mps/eye_gaze/general_eye_gaze.csv", [1, 3, 5, 7]),
    (f"{ADT}/video.vrs", f"{ADT}/mps/eye_gaze/general_eye_gaze.csv", [0, 1, 2]),
    (f"{ADT}/video.vrs", f"{ADT}/eyegaze.csv", [0, 1, 2]),  # with vergence depth
    (GEN2, "device", [0, 1, 2]),  # on-device gaze, with a 3D gaze point
    ("gen2/multi_stream.vrs", "gen2/multi_stream.vrs", [0, 1]),
]


def gaze_path(aria: Path, rel: str) -> str | Path:
    return rel if rel == "device" else aria / rel


@pytest.mark.data
@pytest.mark.parametrize("undistort", [False, True])
@pytest.mark.parametrize("rel, gaze, valid_frames", GAZE_CASES)
def test_gaze_matches_projectaria(aria, rel, gaze, valid_frames, undistort):
    from projectaria_tools.core import calibration
    from projectaria_tools.core.mps.utils import get_gaze_vector_reprojection

    from streamseg.gaze.samples import GazeTrack

    source = open_aria(aria / rel, undistort=undistort)
    track = GazeTrack(gaze_path(aria, gaze), source, tolerance_s=0.02)
    valid = []
    for frame in source.frames():
        xy, ok = track.gaze_at(frame)
        assert xy.shape == (2,) and xy.dtype == np.float32
        if not ok:
            continue
        valid.append(frame.index)
        assert 0 <= xy[0] < source.info.width and 0 <= xy[1] < source.info.height
        sample = track.nearest(frame.pts)
        depth = sample.depth if sample.depth > 0 else 1.0
        theirs = get_gaze_vector_reprojection(
            sample, "camera-rgb", source.device_calibration, source.calibration, depth_m=depth
        ).ravel()
        raw, _ = track.project_raw(sample)
        assert np.abs(raw - theirs).max() < 1.0  # before the turn
        np.testing.assert_allclose(xy, source.to_frame_points(raw), atol=1e-4)
        if undistort and source.applied_rotation == 90:  # their own upright projection
            turned = calibration.rotate_camera_calib_cw90deg(source.calibration)
            upright = get_gaze_vector_reprojection(
                sample, "camera-rgb", source.device_calibration, turned, depth, make_upright=True
            ).ravel()
            assert np.abs(xy - upright).max() < 1.0
    assert valid == valid_frames


MARKER_CASES = [(f"{ADT}/video.vrs", f"{ADT}/mps/eye_gaze"), (GEN2, "device")]


@pytest.mark.data
@pytest.mark.parametrize("rel, gaze", MARKER_CASES)
def test_marker_at_gaze_turns_with_the_frame(aria, rel, gaze):
    from streamseg.gaze.samples import GazeTrack

    stored = open_aria(aria / rel, rotate=0)
    upright = open_aria(aria / rel)
    raw_track = GazeTrack(gaze_path(aria, gaze), stored)
    track = GazeTrack(gaze_path(aria, gaze), upright)
    for turn in (upright.applied_rotation, 90, 270):
        frame = next(stored.frames())
        raw_xy, ok = raw_track.gaze_at(frame)
        assert ok
        image = np.zeros_like(frame.image)
        x, y = np.round(raw_xy).astype(int)
        image[y - 2 : y + 3, x - 2 : x + 3] = 255  # a 5x5 marker centred on the gaze pixel
        turned = rotate_image(image, turn)
        ys, xs = np.nonzero(turned[..., 0])
        found = np.array([xs.mean(), ys.mean()])
        w, h = stored.raw_size
        np.testing.assert_allclose(found, rotate_points([x, y], turn, w, h), atol=1e-6)
        if turn == upright.applied_rotation:
            xy, ok = track.gaze_at(frame)
            assert ok and np.abs(found - xy).max() <= 0.75  # the marker sits on the gaze


@pytest.mark.data
def test_gaze_errors(aria):
    from streamseg.gaze.samples import GazeTrack

    source = open_aria(aria / EA / "recording.vrs")
    with pytest.raises(UsageError, match="does not overlap"):
        GazeTrack(aria / "gen1/mps_sample/eye_gaze/generalized_eye_gaze.csv", source)
    with pytest.raises(UsageError, match="does not overlap"):
        GazeTrack(aria / "gen2/mps_sample/eye_gaze", open_aria(aria / GEN2))
    with pytest.raises(SourceNotFoundError, match="--gaze"):
        GazeTrack(aria / "no_such_gaze.csv", source)
    with pytest.raises(SourceError, match="on-device eye gaze"):
        GazeTrack("device", source)  # Gen1 records none
    with pytest.raises(SourceError, match="eye gaze samples"):
        GazeTrack(aria / EA / "speech.csv", source)
    with pytest.raises(UsageError, match="calibration"):
        GazeTrack(aria / EA / "mps/eye_gaze", object())


@pytest.mark.data
def test_source_errors(aria):
    with pytest.raises(SourceError, match="camera-slam-left"):
        open_aria(aria / EA / "recording.vrs", stream="camera-nope")  # lists what is there
    with pytest.raises(SourceError, match="no RGB camera stream"):
        open_aria(aria / ADT / "segmentations.vrs")
    with pytest.raises(SourceError, match="VRS"):
        open_aria(aria / EA / "speech.csv")
    with pytest.raises(SourceNotFoundError):
        open_aria(aria / "missing.vrs")


def test_missing_extra_is_one_clear_line(tmp_path):
    fake = tmp_path / "x.vrs"
    fake.write_bytes(b"not really")
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "projectaria_tools":
            raise ImportError("blocked")
sys.meta_path.insert(0, Block())
import streamseg.sources.aria, streamseg.gaze.samples, streamseg.eval.adt  # importing is fine
from streamseg.errors import SourceError
for call in (lambda: streamseg.sources.aria.AriaSource({str(fake)!r}),
             lambda: streamseg.gaze.samples.load_eye_gaze({str(fake)!r})):
    try:
        call()
    except SourceError as error:
        print(error)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all('pip install "streamseg[aria]"' in line for line in lines)


# --- ADT ground truth ----------------------------------------------------------------------


@pytest.mark.data
def test_adt_instance_maps_line_up_with_frames_and_gaze(aria):
    from streamseg.eval.adt import adt_instance_masks, adt_instances, instance_at, instance_iou
    from streamseg.gaze.samples import GazeTrack

    maps = list(adt_instance_masks(aria / ADT))
    stored = list(adt_instance_masks(aria / ADT / "segmentations.vrs", rotate=0))
    assert len(maps) == 2
    source = open_aria(aria / ADT / "video.vrs")
    frames = list(source.frames())
    track = GazeTrack(aria / ADT / "mps/eye_gaze", source)
    names = adt_instances(aria / ADT)
    for (t, ids), (_, raw) in zip(maps, stored, strict=True):
        assert ids.dtype == np.uint64 and ids.shape == (1408, 1408)
        assert np.array_equal(ids, np.rot90(raw, k=-1))
        frame = min(frames, key=lambda f: abs(f.pts - t))
        assert abs(frame.pts - t) < 1_000_000  # GT stamps sit within 1 ms of the frames
        xy, ok = track.gaze_at(frame)
        instance = instance_at(ids, xy)
        assert ok and instance in names  # the wearer looks at a known object
        assert instance_iou(ids == np.uint64(instance), ids, instance) == 1.0
        # scene objects are dark-on-bright differently from background: the GT map and the
        # upright frame agree where the image has strong edges (rotation sanity check)
        edges_gt = np.abs(np.diff(ids.astype(np.int64), axis=1)) > 0
        grey = frame.image.mean(axis=2)
        edges_img = np.abs(np.diff(grey, axis=1)) > 12
        wrong = np.abs(np.diff(np.rot90(raw, k=1).astype(np.int64), axis=1)) > 0
        assert (edges_gt & edges_img).mean() > 1.5 * (wrong & edges_img).mean()


# --- fixations (no data needed) ------------------------------------------------------------


def synthetic_gaze(rate: float = 30.0):
    """Fixation at (100, 100) for 0.3 s, saccade, fixation at (400, 250) for 0.4 s, saccade."""
    rng = np.random.default_rng(0)
    points = []
    for centre, duration in (((100, 100), 0.3), (None, 0.1), ((400, 250), 0.4), (None, 0.1)):
        for _ in range(int(round(duration * rate))):
            if centre is None:  # a saccade: big jumps
                xy = rng.uniform(0, 600, 2)
            else:
                xy = np.array(centre) + rng.normal(0, 2.0, 2)
            points.append(xy)
    return np.arange(len(points)) / rate, np.array(points, np.float32)


def test_detect_fixations_idt():
    times, points = synthetic_gaze()
    fixations = detect_fixations(times, points, min_duration=0.1, max_dispersion=25)
    assert len(fixations) == 2
    np.testing.assert_allclose(fixations[0].center, [100, 100], atol=2)
    np.testing.assert_allclose(fixations[1].center, [400, 250], atol=2)
    assert fixations[0].duration == pytest.approx(0.3 - 1 / 30, abs=0.04)
    assert fixations[1].first >= 12 and fixations[1].duration >= 0.3
    valid = np.ones(len(times), bool)
    valid[5] = False  # a frame without gaze is left out: the fixation goes on across it
    with_hole = detect_fixations(times, points, 0.1, 25, valid)
    assert [(f.first, f.last) for f in with_hole] == [(f.first, f.last) for f in fixations]
    valid[:] = True
    valid[2:5] = False  # a blink: samples 1 and 5 are 0.13 s apart
    assert detect_fixations(times, points, 0.1, 25, valid)[0].first == 0  # bridged (0.25 s)
    split = detect_fixations(times, points, 0.1, 25, valid, max_gap=0.1)
    assert len(split) == 2 and split[0].first == 5  # not bridged; 0-1 is too short alone
    assert detect_fixations(times, points, min_duration=1.0) == []


def test_fixation_detector_reports_each_start_once():
    times, points = synthetic_gaze()
    detector = FixationDetector(min_duration=0.1, max_dispersion=25)
    updates = [detector.update(t, p) for t, p in zip(times, points, strict=True)]
    started = [(i, f) for i, f in enumerate(updates) if f is not None]
    assert len(started) == 2
    (i0, f0), (i1, f1) = started
    assert i0 == 3 and f0.first == 0  # 4 samples at 30 Hz span 0.1 s
    np.testing.assert_allclose(f1.center, [400, 250], atol=4)
    assert 12 <= f1.first <= 13  # starts at the end of the saccade
    offline = detect_fixations(times, points, 0.1, 25)
    assert [f.first for _, f in started] == [f.first for f in offline]
    assert detector.current is None  # the trailing saccade ended the second one


def test_fixation_detector_agrees_with_idt_on_gappy_gaze():
    times, points = synthetic_gaze()
    valid = np.ones(len(times), bool)
    valid[::2] = False  # gaze on every other frame only, as in the Aria samples
    valid[14:17] = False
    detector = FixationDetector(min_duration=0.1, max_dispersion=25, max_gap=0.1)
    online = [detector.update(t, p, v) for t, p, v in zip(times, points, valid, strict=True)]
    starts = [f.first for f in online if f is not None]
    offline = detect_fixations(times, points, 0.1, 25, valid, max_gap=0.1)
    assert len(offline) == 2 and starts == [f.first for f in offline]


@pytest.mark.data
def test_gaze_prompter_first_and_every(aria):
    from streamseg.gaze.prompts import GazePrompter
    from streamseg.gaze.samples import GazeTrack

    source = open_aria(aria / EA / "recording.vrs")
    track = GazeTrack(aria / EA / "mps/eye_gaze", source)
    frames = list(source.frames())
    first, every = GazePrompter(track, "first"), GazePrompter(track, "every")
    got_first = [p for f in frames for p in first.prompts_for(f)]
    got_every = [p for f in frames for p in every.prompts_for(f)]
    assert [(p.object_id, p.frame) for p in got_first] == [(1, 1)]  # frame 0 has no gaze
    assert [(p.object_id, p.frame) for p in got_every] == [(1, 1), (1, 3), (1, 5), (1, 7)]
    np.testing.assert_allclose(got_first[0].points[0], track.gaze_at(frames[1])[0])


def test_gaze_prompter_fixation_mode():
    from streamseg.gaze.prompts import GazePrompter
    from streamseg.types import Frame

    times, points = synthetic_gaze()

    class Track:  # stands in for a GazeTrack: the synthetic gaze, frame by frame
        pixels_per_degree = 10.0

        def gaze_at(self, frame):
            return points[frame.index], True

    prompter = GazePrompter(Track(), "fixation")  # 2 degrees = 20 px
    image = np.zeros((4, 4, 3), np.uint8)
    prompts = [
        p
        for i, t in enumerate(times)
        for p in prompter.prompts_for(Frame(index=i, pts=None, time=t, image=image))
    ]
    # reported once each fixation has lasted 0.1 s: 3 frames after its first sample
    assert [p.object_id for p in prompts] == [1, 2]
    assert prompts[0].frame == 3 and prompts[1].frame in (15, 16)
    np.testing.assert_allclose(prompts[1].points[0], [400, 250], atol=4)
    with pytest.raises(UsageError, match="fixation"):
        GazePrompter(Track(), "stare")
