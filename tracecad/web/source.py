"""The photo as the page shows it, and the photo options checked against its size before any work.

The page draws the crop box, the corners and the picked points over :func:`source_picture`, the
photo as :func:`tracer.load_image` loads it (after its EXIF orientation), reduced for display, with
its full size: a click at a fraction of the picture's width and height is that fraction of the full
size, the pixels every photo option is given in (see :mod:`tracer.photo`).

:func:`check_photo_range` refuses, before the photo is decoded, a crop box, a corner or a picked
point that lies outside the photo, with :class:`PhotoRangeError` (the web answers 400: the request
is wrong, whatever the picture shows). The limits are the command line's own: the same box, point
and corner outside the photo are refused by :func:`tracer.photo.prepare` in the same words.
"""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np

import tracer
from tracer.errors import InvalidInputError
from tracer.load import FORMATS
from tracer.photo import PhotoParams

__all__ = ["PhotoRangeError", "source_picture", "oriented_size", "check_photo_range", "PICTURE_LONG_SIDE"]

#: The displayed picture's longest side in pixels (the page scales it; clicks map to the full size).
PICTURE_LONG_SIDE = 1600
#: EXIF orientations that swap width and height (rotated by 90 or 270 degrees, with or without a mirror).
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}


class PhotoRangeError(InvalidInputError):
    """A crop box, corner or picked point lies outside the photo."""


def oriented_size(source: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of an image file after its EXIF orientation, read from its header only; None when
    Pillow cannot read the header (the conversion then reports why, in its own words)."""
    from PIL import Image as PILImage  # (lazy: start-up time)

    PILImage.init()  # (Pillow registers its formats on first use: before that, OPEN is empty)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (odd EXIF, a header over Pillow's own pixel limit)
            with PILImage.open(io.BytesIO(source), formats=[f for f in FORMATS if f in PILImage.OPEN]) as im:
                w, h = im.size
                orientation = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - not readable here: the loader says why
        return None
    return (h, w) if orientation in SWAPPING_ORIENTATIONS else (w, h)


def check_photo_range(photo: PhotoParams, size: tuple[int, int], name: str) -> None:
    """Raise :class:`PhotoRangeError` when ``photo``'s crop box, corners or points leave a ``size`` (w, h) photo."""
    w, h = size
    box = (0.0, 0.0, float(w), float(h))
    if photo.crop is not None:
        x0, y0, x1, y1 = photo.crop.box(w, h)
        if x0 >= w or y0 >= h or x1 > w + 0.5 or y1 > h + 0.5:
            raise PhotoRangeError(f"{name}: the crop box {photo.crop} reaches beyond the {w}x{h} photo")
        box = (x0, y0, x1, y1)
    if isinstance(photo.perspective, tuple):
        q = np.array(photo.perspective, np.float64)
        if (q[:, 0] < -w).any() or (q[:, 0] > 2 * w).any() or (q[:, 1] < -h).any() or (q[:, 1] > 2 * h).any():
            raise PhotoRangeError(f"{name}: a --perspective corner lies far outside the {w}x{h} photo "
                                  "(corners are in the photo's pixels)")
    for x, y in photo.pick:
        if not (0 <= x < w and 0 <= y < h):
            raise PhotoRangeError(f"{name}: the --pick point {x:g},{y:g} lies outside the {w}x{h} photo")
        if not (box[0] <= x < box[2] and box[1] <= y < box[3]):
            raise PhotoRangeError(f"{name}: the --pick point {x:g},{y:g} lies outside the crop box {photo.crop}")


def source_picture(source: bytes, *, max_pixels: int, name: str) -> dict:
    """``{"picture": a JPEG data URL, "width", "height"}``: the photo after its EXIF orientation, its longest
    side reduced to :data:`PICTURE_LONG_SIDE`, and its full size in pixels (the frame of every photo option)."""
    import cv2  # (lazy: start-up time)

    image = tracer.load_image(source, max_pixels=max_pixels, name=name)
    rgb: np.ndarray = image.rgb8()
    if image.alpha is not None:  # transparent areas shown on white
        a = image.alpha[..., None]
        rgb = np.clip(rgb * a + 255.0 * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    h, w = rgb.shape[:2]
    k = PICTURE_LONG_SIDE / max(w, h)
    if k < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("the picture could not be encoded as JPEG")
    sw, sh = image.source_size
    return {"picture": "data:image/jpeg;base64," + base64.b64encode(jpeg.tobytes()).decode("ascii"),
            "width": int(sw), "height": int(sh), "picture_size": [int(rgb.shape[1]), int(rgb.shape[0])]}
