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
(Reading the file itself, streams and calibration: aria_vrs.py.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceError
from streamseg.geometry import (
    normalize_degrees,
    remap_image,
    rotate_image,
    rotate_points,
    rotated_size,
)
from streamseg.sources.aria_vrs import (
    RECORDING_KEYS,
    TIME_BASE,
    camera_calibration_dict,
    find_image_stream,
    frame_rate,
    native_output_to_log,
    open_vrs,
    plain_value,
    upright_rotation,
)
from streamseg.sources.base import SourceBase, SourceConfig, SourceInfo, limit_frames
from streamseg.types import Frame

log = logging.getLogger(__name__)


class AriaSource(SourceBase):
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
        rate = frame_rate(self.first_ns, self.last_ns, self.count)
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
            device_clock=True,
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
        # limit_frames compares Frame.time (absolute device seconds) with config.start, so
        # shift start by the first frame's time: --start stays relative to the stream.
        shifted = replace(self.config, start=self.config.start + self.first_ns / 1e9)
        return limit_frames(self._read(), shifted)

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
            image = remap_image(image, *self._maps)
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
            out["recording"] = {key: plain_value(getattr(meta, key)) for key in RECORDING_KEYS}
        except Exception as error:  # noqa: BLE001 - metadata is optional in VRS files
            log.debug("%s: no recording metadata (%s)", self.path.name, error)
        return out

    def close(self) -> None:
        self.provider = None
