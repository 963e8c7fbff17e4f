"""Reading Project Aria VRS files with projectaria_tools: opening, streams, calibration.

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
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from streamseg.errors import SourceError, SourceNotFoundError

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


def frame_rate(first_ns: int, last_ns: int, count: int) -> Fraction | None:
    """Mean frame rate of the stream; snapped to a whole number when within 1% of one."""
    if count < 2 or last_ns <= first_ns:
        return None
    fps = (count - 1) * 1e9 / (last_ns - first_ns)
    if abs(fps - round(fps)) < 0.01 * fps and round(fps) > 0:
        return Fraction(round(fps))
    return Fraction(fps).limit_denominator(1001)


def plain_value(value: Any) -> Any:
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
