"""Eye gaze of a Project Aria wearer, as a point in each frame.

Sources of gaze, read with projectaria_tools:
- MPS output: ``personalized_eye_gaze.csv`` / ``general_eye_gaze.csv`` (or the older
  ``generalized_eye_gaze.csv`` / ``eyegaze.csv``), a file or the folder holding
  them (personalized preferred);
- on-device gaze: the "eyegaze" stream of an Aria Gen2 recording (give the .vrs,
  or ``"device"`` for the recording being read).

For a frame, the sample nearest in device time (within ``tolerance_s``) is
projected into the frame's camera with projectaria_tools'
``mps.utils.get_gaze_vector_reprojection``: at the 3D gaze point when the sample
has one (Gen2 vergence), at the sample's depth when it has one (vergence depth of
Gen1 personalized gaze), else at ``default_depth_m`` along the gaze ray. The
pixel is then turned like the frame (undistortion is taken care of by projecting
through the pinhole calibration the frames were undistorted to). Fixations are
found in fixations.py; gaze becomes prompts in prompts.py.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceError, SourceNotFoundError, UsageError
from streamseg.sources.aria_vrs import native_output_to_log, open_vrs, require_projectaria
from streamseg.types import Frame

log = logging.getLogger(__name__)

MPS_GAZE_FILES = (
    "personalized_eye_gaze.csv",
    "general_eye_gaze.csv",
    "generalized_eye_gaze.csv",
    "eyegaze.csv",
)
DEVICE_GAZE_LABEL = "eyegaze"


def _timestamp_ns(sample: Any) -> int:
    """A projectaria EyeGaze's ``tracking_timestamp`` (a timedelta of device time) in ns."""
    return int(sample.tracking_timestamp // timedelta(microseconds=1)) * 1000


def _find_mps_file(folder: Path) -> Path | None:
    for sub in (folder, folder / "eye_gaze", folder / "mps" / "eye_gaze"):
        for name in MPS_GAZE_FILES:
            if (sub / name).is_file():
                return sub / name
    return None


def load_eye_gaze(path: str | Path, recording: str | Path | None = None) -> tuple[list[Any], str]:
    """Read gaze samples (projectaria ``EyeGaze`` objects, in time order) and say where from.

    path: an MPS eye-gaze CSV, a folder holding one, a Gen2 .vrs (its on-device
    "eyegaze" stream), or "device" (the on-device gaze of ``recording``).
    """
    require_projectaria("reading Aria eye gaze")
    if str(path) == "device":
        if recording is None:
            raise UsageError("--gaze device needs an Aria .vrs input; give --gaze PATH instead")
        path = recording
    path = Path(path)
    if path.is_dir():
        found = _find_mps_file(path)
        if found is None:
            raise SourceNotFoundError(
                f"no MPS eye gaze CSV in {path} (looked for {', '.join(MPS_GAZE_FILES)}); "
                "give the eye_gaze folder of the recording's MPS output"
            )
        path = found
    if not path.is_file():
        raise SourceNotFoundError(f"no such gaze file: {path}; check the --gaze path")
    if path.suffix.lower() == ".vrs":
        return _device_gaze(path), f"device:{path.name}"
    from projectaria_tools.core import mps

    with native_output_to_log(path.name):
        samples = list(mps.read_eyegaze(str(path)))
    if not samples:
        raise SourceError(
            f"no eye gaze samples could be read from {path}; give an MPS "
            "general_eye_gaze.csv or personalized_eye_gaze.csv"
        )
    samples.sort(key=_timestamp_ns)
    return samples, f"mps:{path.name}"


def _device_gaze(path: Path) -> list[Any]:
    provider = open_vrs(path)
    with native_output_to_log(path.name):  # it warns when there is no such stream
        stream = provider.get_stream_id_from_label(DEVICE_GAZE_LABEL)
    count = 0 if stream is None else provider.get_num_data(stream)
    if not count:
        raise SourceError(
            f"{path} has no on-device eye gaze (only Aria Gen2 records it); give the "
            "MPS eye gaze CSV with --gaze PATH"
        )
    samples = [provider.get_eye_gaze_data_by_index(stream, i) for i in range(count)]
    samples.sort(key=_timestamp_ns)
    return samples


class GazeTrack:
    """Gaze points in the frames of an AriaSource.

    path: see :func:`load_eye_gaze`. source: the AriaSource whose frames the points
    are for (its calibration, undistortion and turn are used). tolerance_s: a frame
    gets the nearest sample within this many seconds, else no gaze.
    default_depth_m: distance along the gaze ray for samples without a depth.
    """

    def __init__(
        self,
        path: str | Path,
        source: Any,
        tolerance_s: float = 0.02,
        default_depth_m: float = 1.0,
    ) -> None:
        if getattr(source, "device_calibration", None) is None or source.calibration is None:
            raise UsageError(
                "gaze needs the calibration of an Aria recording; give the .vrs as input "
                "(MP4 exports and recordings without calibration cannot place the gaze)"
            )
        self.source = source
        self.tolerance_ns = int(round(tolerance_s * 1e9))
        self.default_depth_m = float(default_depth_m)
        self.samples, self.origin = load_eye_gaze(path, getattr(source, "path", None))
        self.times_ns = np.array([_timestamp_ns(s) for s in self.samples], np.int64)
        lo, hi = source.first_ns - self.tolerance_ns, source.last_ns + self.tolerance_ns
        overlapping = int(((self.times_ns >= lo) & (self.times_ns <= hi)).sum())
        if not overlapping:
            raise UsageError(
                f"the gaze in {path} ({self.times_ns[0] / 1e9:.3f}-{self.times_ns[-1] / 1e9:.3f} "
                f"s device time) does not overlap the recording ({source.first_ns / 1e9:.3f}-"
                f"{source.last_ns / 1e9:.3f} s); give the eye gaze from this recording's MPS output"
            )
        log.info(
            "gaze: %d samples from %s, %d within the recording",
            len(self.samples),
            self.origin,
            overlapping,
        )

    def nearest(self, t_ns: int) -> Any | None:
        """The sample nearest to device time ``t_ns`` within the tolerance, else None."""
        i = int(np.searchsorted(self.times_ns, t_ns))
        best = min(
            (j for j in (i - 1, i) if 0 <= j < len(self.times_ns)),
            key=lambda j: abs(int(self.times_ns[j]) - t_ns),
            default=None,
        )
        if best is None or abs(int(self.times_ns[best]) - t_ns) > self.tolerance_ns:
            return None
        return self.samples[best]

    def project_raw(self, sample: Any) -> tuple[np.ndarray, bool]:
        """Pixel (2,) float32 of ``sample`` in the stored (unturned, undistorted) image.

        Returns (xy, valid). valid is False when the gaze falls outside the image
        (xy is still where it projects) or cannot be projected at all: behind the
        camera, or outside the lens' valid radius (xy NaN).
        """
        from projectaria_tools.core.mps.utils import get_gaze_vector_reprojection

        depth = float(getattr(sample, "depth", 0.0) or 0.0)
        if not math.isfinite(depth) or depth <= 0:
            depth = self.default_depth_m
        xy = get_gaze_vector_reprojection(
            sample,
            self.source.label,
            self.source.device_calibration,
            self.source.calibration,
            depth_m=depth,
        )
        if xy is None:
            return np.full(2, np.nan, np.float32), False
        xy = np.asarray(xy, np.float32).reshape(2)
        width, height = self.source.raw_size
        inside = bool(-0.5 <= xy[0] < width - 0.5 and -0.5 <= xy[1] < height - 0.5)
        return xy, inside and bool(np.isfinite(xy).all())

    def gaze_at_time(self, t_ns: int, upright: bool = True) -> tuple[np.ndarray, bool]:
        """(xy (2,) float32, valid) at device time ``t_ns``; in the frames' pixels if upright."""
        sample = self.nearest(t_ns)
        if sample is None:
            return np.full(2, np.nan, np.float32), False
        xy, valid = self.project_raw(sample)
        if upright and np.isfinite(xy).all():
            xy = self.source.to_frame_points(xy)
        return xy, valid

    def gaze_at(self, frame: Frame) -> tuple[np.ndarray, bool]:
        """(xy (2,) float32 x, y in ``frame``'s pixels, valid) for a frame of the source."""
        t_ns = frame.pts if frame.pts is not None else int(round(frame.time * 1e9))
        return self.gaze_at_time(int(t_ns))

    @property
    def pixels_per_degree(self) -> float:
        """Pixels per degree of visual angle at the image centre (for fixation thresholds)."""
        focal = float(np.asarray(self.source.calibration.get_focal_lengths()).reshape(-1)[0])
        return focal * math.pi / 180.0
