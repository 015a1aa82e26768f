"""Decode image files into :class:`tracer.types.Image` (the only module that reads images)."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from tracer.errors import ImageReadError, ImageTooLargeError, InvalidInputError
from tracer.types import Image

__all__ = ["load_image", "DEFAULT_MAX_PIXELS", "MIN_SIDE_PX"]

#: Images above this many pixels are decoded reduced (JPEG) or refused.
DEFAULT_MAX_PIXELS = 40_000_000
#: Images narrower or shorter than this cannot hold a traceable subject.
MIN_SIDE_PX = 4


def _open(source, name: str):
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if isinstance(source, (bytes, bytearray)):
        fp = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.exists():
            raise ImageReadError(f"{name}: no such file")
        if path.is_dir():
            raise ImageReadError(f"{name}: is a directory, not an image file")
        if not os.access(path, os.R_OK):
            raise ImageReadError(f"{name}: permission denied, the file cannot be read")
        if path.stat().st_size == 0:
            raise ImageReadError(f"{name}: the file is empty (0 bytes)")
        fp = path
    try:
        # Pillow's own bomb check is replaced by ours (it would warn or raise its own type).
        PILImage.MAX_IMAGE_PIXELS = None
        return PILImage.open(fp)
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name}: not a recognised image format (PNG, JPEG, BMP, TIFF, WebP, GIF)") from exc
    except OSError as exc:
        raise ImageReadError(f"{name}: cannot be read ({exc})") from exc


def load_image(source, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> Image:
    """Decode an image file (path or bytes) into RGB float32 plus optional alpha.

    Applies the EXIF orientation, takes the first frame of animations and
    multi-page files, and accepts 1/8/16-bit grey, grey+alpha, RGB(A),
    palette (with transparency) and CMYK. Images above ``max_pixels`` are
    decoded reduced when the format allows it (JPEG), otherwise refused with
    :class:`ImageTooLargeError` before any pixel is decoded.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps

    if name is None:
        name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    im = _open(source, name)
    try:
        w, h = im.size
        if w < MIN_SIDE_PX or h < MIN_SIDE_PX:
            raise InvalidInputError(f"{name}: image is {w}x{h} pixels, too small to trace (need at least {MIN_SIDE_PX}x{MIN_SIDE_PX})")
        scale = 1.0
        if w * h > max_pixels:
            if im.format == "JPEG":
                k = 1
                while (w // (2 * k)) * (h // (2 * k)) > max_pixels and k < 8:
                    k *= 2
                k *= 2
                im.draft(im.mode, (w // k, h // k))
                if im.size[0] * im.size[1] > max_pixels:
                    raise ImageTooLargeError(
                        f"{name}: image is {w}x{h} = {w * h / 1e6:.0f} MP, above the limit of {max_pixels / 1e6:.0f} MP (raise it with --max-pixels)")
                scale = w / im.size[0]
            else:
                raise ImageTooLargeError(
                    f"{name}: image is {w}x{h} = {w * h / 1e6:.0f} MP, above the limit of {max_pixels / 1e6:.0f} MP (raise it with --max-pixels)")
        try:
            im.seek(0)
        except EOFError:
            pass
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on odd EXIF / palette transparency
            try:
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb, alpha = _to_arrays(im)
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                msg = str(exc) or type(exc).__name__
                if "truncated" in msg.lower() or isinstance(exc, EOFError):
                    raise ImageReadError(f"{name}: the image data is truncated or corrupt") from exc
                raise ImageReadError(f"{name}: cannot be decoded ({msg})") from exc
        return Image(pixels=rgb, alpha=alpha, name=name,
                     source_size=(round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), scale=scale)
    finally:
        im.close()


def _to_arrays(im) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB float32 [0,1] and alpha float32 [0,1] (None when absent or fully opaque)."""
    mode = im.mode
    alpha = None
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("1", "L"):
        g = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        rgb = np.repeat(g[..., None], 3, axis=2)
    elif mode == "LA":
        a = np.asarray(im, dtype=np.float32) / 255.0
        rgb = np.repeat(a[..., :1], 3, axis=2)
        alpha = a[..., 1]
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        g = np.asarray(im, dtype=np.float64)
        top = 65535.0 if (mode.startswith("I;16") or g.max() > 255) else 255.0
        rgb = np.repeat((np.clip(g / top, 0, 1)).astype(np.float32)[..., None], 3, axis=2)
    elif mode == "RGBA":
        a = np.asarray(im, dtype=np.float32) / 255.0
        rgb, alpha = a[..., :3], a[..., 3]
    elif mode == "RGB":
        rgb = np.asarray(im, dtype=np.float32) / 255.0
    elif mode in ("RGBa", "La"):
        return _to_arrays(im.convert("RGBA"))
    elif mode == "CMYK":
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    else:
        # 16-bit RGB(A) and other rare modes: let Pillow convert.
        conv = im.convert("RGBA")
        return _to_arrays(conv)
    if alpha is not None and alpha.min() >= 1.0 - 1e-6:
        alpha = None
    return np.ascontiguousarray(rgb, dtype=np.float32), alpha
