"""Pure image geometry: quarter turns of frames and of points in them, and remapping.

Conventions used throughout streamseg:

- ``degrees`` is a **clockwise** turn as the image is looked at on screen, one of
  0, 90, 180, 270 (any multiple of 90 is reduced modulo 360; anything else is a
  UsageError).
- Pixel coordinates are ``(x, y)`` = (column, row) with the centre of the top-left
  pixel at (0, 0), as in OpenCV and projectaria_tools (whose principal points sit
  at ``(size - 1) / 2``). With that convention a pixel's centre maps exactly onto
  the centre of the pixel it lands on, e.g. turning a W x H image 90 degrees
  clockwise sends (x, y) to (H - 1 - y, x) in the H x W result.
- Inverse: ``rotate_points(p, (360 - d) % 360, *rotated_size(w, h, d))`` undoes
  ``rotate_points(p, d, w, h)``.

PyAV display rotation: ``av.VideoFrame.rotation`` is FFmpeg's
``av_display_rotation_get`` of the display matrix, the angle in degrees by which
the matrix turns the frame **counter-clockwise** for display, in [-180, 180] (a
portrait phone clip stored landscape reads -90). ``PyAVSource`` stores it modulo
360 in ``info.display_rotation`` (so -90 becomes 270); the clockwise turn that shows the
frame as players do (FFmpeg's autorotate) is ``(-rotation) % 360``
(:func:`display_rotation_cw`).

Undistortion: ``remap_image`` applies precomputed per-pixel maps (the Aria source
builds them once from the camera calibration).
"""

from __future__ import annotations

import numpy as np

from streamseg.errors import UsageError

ANGLES = (0, 90, 180, 270)


def normalize_degrees(degrees: int | float | str) -> int:
    """``degrees`` as one of 0, 90, 180, 270 (clockwise); UsageError for anything else."""
    try:
        value = float(degrees)
    except (TypeError, ValueError):
        raise UsageError(
            f"rotation {degrees!r} is not a number; give 0, 90, 180, 270 or auto"
        ) from None
    if value != round(value) or int(value) % 90:
        raise UsageError(f"rotation {degrees!r} is not a multiple of 90; give 0, 90, 180 or 270")
    return int(value) % 360


def display_rotation_cw(ccw_rotation: int | float | None) -> int:
    """Clockwise quarter turn that shows a frame upright, from PyAV's counter-clockwise angle.

    ``ccw_rotation``: ``av.VideoFrame.rotation`` or ``SourceInfo.display_rotation``
    (counter-clockwise degrees, any sign). Rounded to the nearest quarter turn.
    """
    if not ccw_rotation:
        return 0
    return int(round(-float(ccw_rotation) / 90.0)) * 90 % 360


def rotated_size(width: int, height: int, degrees: int) -> tuple[int, int]:
    """(width, height) of a ``width`` x ``height`` image after a ``degrees`` turn."""
    return (height, width) if normalize_degrees(degrees) in (90, 270) else (width, height)


def rotate_image(image: np.ndarray, degrees: int) -> np.ndarray:
    """Turn ``image`` clockwise by ``degrees``; returns a new C-contiguous array.

    image: (H, W) or (H, W, C), any dtype (uint8 RGB frames, bool masks, uint64
    instance maps). Result: (W, H[, C]) for 90/270, (H, W[, C]) for 0/180.
    The input is never modified; 0 degrees returns a copy.
    """
    d = normalize_degrees(degrees)
    if d == 0:
        return image.copy()
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] <= 4):
        import cv2  # several times faster than numpy's strided copy for frames

        code = {
            90: cv2.ROTATE_90_CLOCKWISE,
            180: cv2.ROTATE_180,
            270: cv2.ROTATE_90_COUNTERCLOCKWISE,
        }[d]
        out = cv2.rotate(np.ascontiguousarray(image), code)
        if image.ndim == 3 and out.ndim == 2:  # cv2 drops a trailing axis of size 1
            out = out[:, :, None]
        return out
    # np.rot90 turns counter-clockwise for positive k.
    return np.ascontiguousarray(np.rot90(image, k=-d // 90, axes=(0, 1)))


def rotate_points(points: np.ndarray, degrees: int, width: int, height: int) -> np.ndarray:
    """Map (x, y) points of a ``width`` x ``height`` image into the image turned by ``degrees``.

    points: (..., 2) array-like of x, y (pixel centres at integers, see the module
    docstring). Returns float32 of the same shape, consistent with
    :func:`rotate_image`: the pixel at (x, y) before ends up at the returned (x', y').
    """
    d = normalize_degrees(degrees)
    p = np.asarray(points, np.float64)
    if p.shape[-1] != 2:
        raise ValueError(f"rotate_points: expected (..., 2) x, y points, got shape {p.shape}")
    x, y = p[..., 0], p[..., 1]
    if d == 0:
        out = np.stack([x, y], axis=-1)
    elif d == 90:
        out = np.stack([height - 1 - y, x], axis=-1)
    elif d == 180:
        out = np.stack([width - 1 - x, height - 1 - y], axis=-1)
    else:  # 270 clockwise = 90 counter-clockwise
        out = np.stack([y, width - 1 - x], axis=-1)
    return out.astype(np.float32)


def remap_image(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Resample ``image`` ((H, W[, C]) uint8) at (map_x, map_y) ((H', W') float32 source
    pixels, bilinear; pixels mapped outside the image are black). Used to undistort."""
    import cv2

    return cv2.remap(np.ascontiguousarray(image), map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
