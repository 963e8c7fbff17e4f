"""Project Aria VRS recordings as a frame Source, through projectaria_tools.

``AriaSource(path, config)`` reads one camera stream of a ``.vrs`` recording (the
RGB camera, label "camera-rgb", unless told otherwise), Aria Gen1 or Gen2, and
yields its frames:

- upright: Gen1 stores its RGB and SLAM images turned on their side (90 degrees
  clockwise makes them upright); Gen2 stores RGB and SLAM upright. "auto" works
  the turn out from the factory calibration (the quarter turn that brings the
  camera's image "down" nearest to the wearer's down, the -Y axis of the CPF
  frame), so it needs no table of devices; it matches what the frames look like.
- optionally undistorted (``undistort=True``): fisheye -> pinhole of the same size
  and the same focal length as the fisheye's centre, with projectaria_tools'
  ``get_linear_camera_calibration`` and ``distort_by_calibration`` (run once to
  build cv2.remap maps); the turn is applied after: undistort, then rotate.
- timed by the device: ``Frame.pts`` is the capture timestamp in ns of device
  time (``info.time_base`` "1/1000000000") and ``Frame.time`` the same in seconds,
  so frames line up with MPS and on-device eye gaze. ``config.start`` counts
  seconds from the first frame of the stream.

projectaria_tools is imported lazily: importing this module never fails; opening
a recording without it raises a SourceError that says ``pip install
"streamseg[aria]"``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceError, SourceNotFoundError
from streamseg.io.rotate import normalize_degrees, rotate_image, rotate_points, rotated_size
from streamseg.io.source import SourceConfig, SourceInfo, _limit
from streamseg.types import Frame

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "streamseg[aria]"'
TIME_BASE = "1/1000000000"  # Aria device time is in nanoseconds
RECORDING_KEYS = (  # VrsMetadata fields worth keeping with the masks
    "device_serial",
    "device_id",
    "recording_profile",
    "shared_session_id",
    "filename",
    "start_time_epoch_sec",
    "end_time_epoch_sec",
    "duration_sec",
    "time_sync_mode",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Quarter turn (clockwise) -> the direction in the unturned image that becomes "down".
_DOWN_AFTER_TURN = {0: (0.0, 1.0), 90: (1.0, 0.0), 180: (0.0, -1.0), 270: (-1.0, 0.0)}


def require_projectaria(what: str = "reading Aria VRS recordings") -> None:
    """Raise a one-line SourceError naming the extra when projectaria_tools is missing."""
    try:
        import projectaria_tools.core.data_provider  # noqa: F401
    except ImportError as error:
        raise SourceError(
            f"{what} needs projectaria-tools, which is not installed; {INSTALL_HINT}"
        ) from error


@contextlib.contextmanager
def native_output_to_log(what: str) -> Iterator[None]:
    """Send what projectaria_tools' C++ code prints (fds 1 and 2) to this logger at DEBUG.

    It prints a dozen coloured lines per file opened; the CLI's stderr is for our
    messages. Only wrap calls made before the pipeline threads start (opening
    files): the file descriptors are process-wide.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved: list[int] = []
    with tempfile.TemporaryFile() as sink:
        try:
            for fd in (1, 2):
                saved.append(os.dup(fd))
                os.dup2(sink.fileno(), fd)
            yield
        finally:
            for fd, copy in zip((1, 2), saved, strict=False):
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            text = _ANSI.sub("", sink.read().decode("utf-8", "replace"))
            for line in text.splitlines():
                if line.strip():
                    log.debug("projectaria_tools (%s): %s", what, line.strip())


def open_vrs(path: str | Path) -> Any:
    """A projectaria_tools VrsDataProvider for ``path``; clear errors for every way it fails."""
    path = Path(path)
    if not path.is_file():
        raise SourceNotFoundError(f"no such file: {path}; check the path")
    require_projectaria()
    from projectaria_tools.core import data_provider

    with native_output_to_log(path.name):
        provider = data_provider.create_vrs_data_provider(str(path))
    if provider is None:
        raise SourceError(
            f"cannot open {path} as a VRS recording (not a VRS file, or damaged); "
            "give a Project Aria .vrs file"
        )
    return provider


def image_stream_labels(provider: Any) -> dict[str, Any]:
    """{label: StreamId} of every image stream (unlabelled ones under their id, "400-1")."""
    from projectaria_tools.core.sensor_data import SensorDataType

    out = {}
    with native_output_to_log("stream labels"):  # it warns about every unlabelled stream
        for sid in provider.get_all_streams():
            if provider.get_sensor_data_type(sid) == SensorDataType.IMAGE:
                out[provider.get_label_from_stream_id(sid) or str(sid)] = sid
    return out


def find_image_stream(provider: Any, stream: str, path: str | Path) -> tuple[str, Any]:
    """(label, StreamId) of the image stream named ``stream`` (a label or an id like "214-1")."""
    streams = image_stream_labels(provider)
    by_id = {str(sid): (label, sid) for label, sid in streams.items()}
    if stream in streams:
        return stream, streams[stream]
    if stream in by_id:
        return by_id[stream]
    known = ", ".join(sorted(streams)) or "none"
    rgb = stream == "camera-rgb"
    what = "RGB camera stream (camera-rgb)" if rgb else f"image stream {stream!r}"
    raise SourceError(
        f"{path} has no {what}; its image streams are: {known}; pick one with --stream"
    )


def upright_rotation(device_calibration: Any, label: str, device_version: str = "") -> int:
    """Clockwise quarter turn that shows camera ``label`` upright (0, 90, 180 or 270).

    From the calibration: the CPF frame (central pupil frame) has +Y up; the turn
    chosen is the one after which image-down points nearest to CPF -Y. Without a
    calibration for ``label``: 90 for Gen1 RGB/SLAM (how Gen1 stores them), else 0.
    """
    try:
        t_cpf_cam = device_calibration.get_transform_cpf_sensor(label)
        rotation = np.asarray(t_cpf_cam.rotation().to_matrix(), np.float64).reshape(3, 3)
    except Exception:  # noqa: BLE001 - pybind raises various types for an unknown label
        rotation = None
    if rotation is None or not np.isfinite(rotation).all():
        sideways = label in ("camera-rgb", "camera-slam-left", "camera-slam-right")
        return 90 if sideways and "Gen1" in device_version else 0
    down_in_camera = rotation.T @ np.array([0.0, -1.0, 0.0])  # CPF down, camera axes
    scores = {d: float(np.dot(v, down_in_camera[:2])) for d, v in _DOWN_AFTER_TURN.items()}
    return max(scores, key=lambda d: scores[d])


def _frame_rate(first_ns: int, last_ns: int, count: int) -> Fraction | None:
    """Mean frame rate of the stream; snapped to a whole number when within 1% of one."""
    if count < 2 or last_ns <= first_ns:
        return None
    fps = (count - 1) * 1e9 / (last_ns - first_ns)
    if abs(fps - round(fps)) < 0.01 * fps and round(fps) > 0:
        return Fraction(round(fps))
    return Fraction(fps).limit_denominator(1001)


class AriaSource:
    """One camera stream of a Project Aria VRS recording, upright, device-timed.

    path: the .vrs file. config: SourceConfig (start, in seconds from the stream's
    first frame, and max_frames are honoured; fps and format are ignored).
    stream: image stream label ("camera-rgb", "camera-slam-left", "slam-front-left",
    ...) or stream id ("214-1"). rotate: "auto" (upright, see ``upright_rotation``)
    or 0/90/180/270 clockwise. undistort: fisheye -> pinhole (``undistort_focal``
    pixels, default the fisheye's own focal length), same image size.

    Attributes for gaze and prompts: ``device_calibration`` (may be None),
    ``camera_calibration`` (the stream's own, None if absent), ``calibration``
    (what the frames are in before the turn: the pinhole when undistorting),
    ``raw_size`` (w, h before the turn), ``applied_rotation`` (clockwise degrees),
    ``first_ns``/``last_ns`` (capture times of the first/last frame).
    """

    def __init__(
        self,
        path: str | Path,
        config: SourceConfig | None = None,
        stream: str = "camera-rgb",
        rotate: int | str = "auto",
        undistort: bool = False,
        undistort_focal: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.config = config or SourceConfig()
        self.provider = open_vrs(self.path)  # checks that projectaria_tools is there
        from projectaria_tools.core.sensor_data import TimeDomain

        self.label, self.stream_id = find_image_stream(self.provider, stream, self.path)
        self.count = int(self.provider.get_num_data(self.stream_id))
        if self.count == 0:
            raise SourceError(f"{self.path}: the {self.label} stream holds no frames")
        image_config = self.provider.get_image_configuration(self.stream_id)
        self.raw_size = (int(image_config.image_width), int(image_config.image_height))
        self.device_version = str(self.provider.get_device_version())
        self.device_calibration = self.provider.get_device_calibration()
        self.camera_calibration = None
        if self.device_calibration is not None:
            with native_output_to_log(self.label):  # warns for the two-eye "camera-et"
                self.camera_calibration = self.device_calibration.get_camera_calib(self.label)
        self.calibration = self.camera_calibration
        self.undistort = bool(undistort)
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        if self.undistort:
            self.calibration = self._pinhole(undistort_focal)
            self._maps = self._undistort_maps()
        if isinstance(rotate, str) and rotate.strip().lower() == "auto":
            self.applied_rotation = upright_rotation(
                self.device_calibration, self.label, self.device_version
            )
        else:
            self.applied_rotation = normalize_degrees(rotate)
        self.first_ns = int(self.provider.get_first_time_ns(self.stream_id, TimeDomain.DEVICE_TIME))
        self.last_ns = int(self.provider.get_last_time_ns(self.stream_id, TimeDomain.DEVICE_TIME))
        rate = _frame_rate(self.first_ns, self.last_ns, self.count)
        width, height = rotated_size(*self.raw_size, self.applied_rotation)
        duration = (self.last_ns - self.first_ns) / 1e9 + (1 / float(rate) if rate else 0.0)
        self.info = SourceInfo(
            uri=str(self.path),
            kind="vrs",
            width=width,
            height=height,
            rate=str(rate) if rate else None,
            time_base=TIME_BASE,
            frames=self.count,
            duration=duration,
            rotation=self.applied_rotation,
            has_audio=False,  # VRS audio is not carried over to the overlay video
        )
        log.info(
            "%s: %s %s, %d frames %dx%d, turned %d degrees clockwise%s",
            self.path.name,
            self.device_version.replace("DeviceVersion.", ""),
            self.label,
            self.count,
            width,
            height,
            self.applied_rotation,
            ", undistorted" if self.undistort else "",
        )

    def _pinhole(self, focal: float | None) -> Any:
        from projectaria_tools.core import calibration

        fisheye = self.camera_calibration
        if fisheye is None:
            raise SourceError(
                f"{self.path}: no calibration for the {self.label} stream, so it cannot be "
                "undistorted; drop --undistort"
            )
        if focal is None:  # keep the centre's resolution: same focal as the fisheye
            focal = float(np.asarray(fisheye.get_focal_lengths()).reshape(-1)[0])
        width, height = self.raw_size
        return calibration.get_linear_camera_calibration(
            width, height, float(focal), self.label, fisheye.get_transform_device_camera()
        )

    def _undistort_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps (H, W) float32 pinhole pixel -> fisheye pixel (-1: outside the lens).

        projectaria_tools' ``distort_by_calibration`` does the geometry, once: applied
        with bilinear interpolation to images holding each pixel's own x (and y) it
        returns, for every pinhole pixel, exactly the fisheye coordinate it samples
        (bilinear interpolation of a linear ramp is exact). Remapping each frame with
        these maps gives the same image as calling it per frame (within one grey
        level) about 20 times faster. Ramps start at 1 so that 0 marks "no source".
        """
        from projectaria_tools.core import calibration

        width, height = self.raw_size
        xs, ys = np.meshgrid(
            np.arange(1, width + 1, dtype=np.float32), np.arange(1, height + 1, dtype=np.float32)
        )
        maps = []
        for ramp in (xs, ys):
            warped = calibration.distort_by_calibration(
                ramp, self.calibration, self.camera_calibration
            )
            maps.append(np.asarray(warped, np.float32) - 1.0)
        outside = (maps[0] < 0) | (maps[1] < 0)
        maps[0][outside] = maps[1][outside] = -10.0  # far outside: cv2 fills with black
        return maps[0], maps[1]

    def frames(self) -> Iterator[Frame]:
        """Frames in capture order: (H, W, 3) uint8 RGB, upright (and undistorted if asked)."""
        # _limit compares Frame.time (absolute device seconds) with config.start, so
        # shift start by the first frame's time: --start stays relative to the stream.
        shifted = replace(self.config, start=self.config.start + self.first_ns / 1e9)
        return _limit(self._read(), shifted)

    def _read(self) -> Iterator[Frame]:
        from projectaria_tools.core.sensor_data import TimeDomain, TimeQueryOptions

        first = 0
        if self.config.start > 0:  # jump straight to the first frame wanted
            target = self.first_ns + int(round(self.config.start * 1e9))
            query = TimeDomain.DEVICE_TIME, TimeQueryOptions.AFTER
            found = self.provider.get_index_by_time_ns(self.stream_id, target, *query)
            first = self.count if target > self.last_ns else max(0, int(found))
        skipped = 0
        for i in range(first, self.count):
            image_data, record = self.provider.get_image_data_by_index(self.stream_id, i)
            if not image_data.is_valid():
                skipped += 1
                if skipped == 1:
                    log.warning("%s: frame %d cannot be decoded; skipping it", self.path.name, i)
                continue
            ts = int(record.capture_timestamp_ns)
            image = self.prepare(image_data.to_numpy_array())
            yield Frame(index=i, pts=ts, time=ts / 1e9, image=image)
        if skipped:
            log.warning("%s: %d frames could not be decoded", self.path.name, skipped)

    def prepare(self, raw: np.ndarray) -> np.ndarray:
        """A frame as stored (H, W[, C]) -> (H', W', 3) uint8 RGB: undistorted, then turned."""
        image = np.asarray(raw)
        if image.dtype != np.uint8:  # e.g. 10-bit grey stored as uint16: stretch to 8 bits
            values = image.astype(np.float32)
            low, span = float(values.min()), max(float(np.ptp(values)), 1e-6)
            image = ((values - low) * (255.0 / span)).round().astype(np.uint8)
        if self._maps is not None:
            import cv2

            map_x, map_y = self._maps
            image = cv2.remap(
                np.ascontiguousarray(image), map_x, map_y, cv2.INTER_LINEAR, borderValue=0
            )
        if image.ndim == 2:  # SLAM and eye cameras are grey
            image = np.repeat(image[:, :, None], 3, axis=2)
        elif image.shape[2] == 4:
            image = image[:, :, :3]
        return rotate_image(image, self.applied_rotation)

    def to_frame_points(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) x, y in the stored image (after undistortion) -> in the upright frames."""
        return rotate_points(points, self.applied_rotation, *self.raw_size)

    def metadata(self) -> dict[str, Any]:
        """JSON-friendly attributes to record with the masks (stream, turn, calibration)."""
        out: dict[str, Any] = {
            "format": "aria-vrs",
            "stream": self.label,
            "stream_id": str(self.stream_id),
            "device_version": self.device_version.replace("DeviceVersion.", ""),
            "rotation_cw": self.applied_rotation,
            "undistorted": self.undistort,
            "raw_size": list(self.raw_size),
            "frames": self.count,
            "first_capture_ns": self.first_ns,
            "last_capture_ns": self.last_ns,
            "time_domain": "DEVICE_TIME",
            "calibration": camera_calibration_dict(self.camera_calibration),
        }
        if self.undistort:
            out["pinhole_calibration"] = camera_calibration_dict(self.calibration)
        try:
            meta = self.provider.get_metadata()
            out["recording"] = {key: _plain(getattr(meta, key)) for key in RECORDING_KEYS}
        except Exception as error:  # noqa: BLE001 - metadata is optional in VRS files
            log.debug("%s: no recording metadata (%s)", self.path.name, error)
        return out

    def close(self) -> None:
        self.provider = None


def _plain(value: Any) -> Any:
    """JSON-friendly: numbers and strings as they are, pybind enums by their str."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def camera_calibration_dict(calib: Any) -> dict[str, Any] | None:
    """Model, parameters, size and extrinsics of a projectaria CameraCalibration, as JSON."""
    if calib is None:
        return None
    radius = calib.get_valid_radius()
    return {
        "label": calib.get_label(),
        "model": str(calib.get_model_name()).replace("CameraModelType.", ""),
        "projection_params": [float(v) for v in np.asarray(calib.get_projection_params()).ravel()],
        "image_size": [int(v) for v in np.asarray(calib.get_image_size()).ravel()],
        "focal_lengths": [float(v) for v in np.asarray(calib.get_focal_lengths()).ravel()],
        "principal_point": [float(v) for v in np.asarray(calib.get_principal_point()).ravel()],
        "valid_radius": None if radius is None else float(radius),
        "T_device_camera": np.asarray(calib.get_transform_device_camera().to_matrix())
        .round(9)
        .tolist(),
    }
