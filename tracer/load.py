"""Decode image files into :class:`tracer.types.Image` (the only module that reads images)."""

from __future__ import annotations

import importlib
import io
import math
import os
import stat
import struct
import warnings
from pathlib import Path
from typing import IO

import numpy as np

from tracer.errors import ImageReadError, ImageTooLargeError, InvalidInputError
from tracer.opencv import load_cv2
from tracer.types import U8_TO_F32, Image

__all__ = ["load_image", "DEFAULT_MAX_PIXELS", "MIN_SIDE_PX"]

#: Images above this many pixels are decoded reduced (JPEG) or refused.
DEFAULT_MAX_PIXELS = 40_000_000
#: Images narrower or shorter than this cannot hold a traceable subject.
MIN_SIDE_PX = 4


#: Pillow decoders tracecad accepts. Others (EPS runs Ghostscript, PSD, ICO, ...) are refused
#: before any decoder runs: a hostile file cannot reach code that was never meant for it.
FORMATS = ("PNG", "JPEG", "MPO", "BMP", "DIB", "TIFF", "WEBP", "GIF", "PPM")


def _open(source, name: str):
    """Open ``source`` (a path or bytes) with Pillow, header only. Returns ``(image, file or None)``.

    Every way a path can fail to be an image file gets its own sentence:
    missing, a directory, not a regular file (FIFO, socket, device: reading
    one could block forever), unreadable, empty, unknown format.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    fh = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageReadError(f"{name}: the data is empty (0 bytes)")
        fp: IO[bytes] = io.BytesIO(bytes(source))
    else:
        path = Path(source)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise ImageReadError(f"{name}: no such file") from None
        except NotADirectoryError:
            raise ImageReadError(f"{name}: no such file (a part of the path is a file, not a folder)") from None
        except PermissionError:
            raise ImageReadError(f"{name}: permission denied, the file cannot be reached") from None
        except OSError as exc:
            raise ImageReadError(f"{name}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(st.st_mode):
            raise ImageReadError(f"{name}: is a directory, not an image file")
        if not stat.S_ISREG(st.st_mode):
            raise ImageReadError(f"{name}: is not a regular file (a pipe, socket or device), not an image file")
        if st.st_size == 0:
            raise ImageReadError(f"{name}: the file is empty (0 bytes)")
        try:
            fh = open(path, "rb")  # noqa: SIM115 (closed by load_image)
        except PermissionError:
            raise ImageReadError(f"{name}: permission denied, the file cannot be read") from None
        except OSError as exc:
            raise ImageReadError(f"{name}: cannot be read ({exc.strerror or exc})") from None
        fp = fh
    try:
        # Pillow's own bomb check is replaced by ours (it would warn or raise its own type).
        PILImage.MAX_IMAGE_PIXELS = None
        _register_plugins()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return PILImage.open(fp, formats=[f for f in FORMATS if f in PILImage.OPEN]), fh
    except UnidentifiedImageError as exc:
        _close(fh)
        raise ImageReadError(f"{name}: not a recognised image format (PNG, JPEG, BMP, TIFF, WebP, GIF)") from exc
    except MemoryError as exc:
        _close(fh)
        raise ImageTooLargeError(f"{name}: the image header asks for more memory than is available") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        _close(fh)
        msg = str(exc) or type(exc).__name__
        if "too large" in msg.lower():  # Pillow's MAX_TEXT_CHUNK guard: a compressed-text bomb
            raise ImageTooLargeError(f"{name}: a metadata chunk decompresses to too large a size "
                                     "(a decompression bomb)") from exc
        raise ImageReadError(f"{name}: the image header is corrupt ({msg})") from exc
    except BaseException:
        _close(fh)
        raise


def _register_plugins() -> None:
    """Import the Pillow decoders of :data:`FORMATS` only (``PIL.Image.init()`` imports all ~45 plugins)."""
    for mod in ("BmpImagePlugin", "GifImagePlugin", "JpegImagePlugin", "PpmImagePlugin", "PngImagePlugin",
                "TiffImagePlugin", "WebPImagePlugin", "MpoImagePlugin"):
        try:
            importlib.import_module(f"PIL.{mod}")
        except ImportError:  # a decoder Pillow was built without: its format is simply not offered
            pass


def _close(fh) -> None:
    if fh is not None:
        fh.close()


def load_image(source, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> Image:
    """Decode an image file (path or bytes) into an :class:`Image` (compact storage, see ``_to_arrays``).

    Applies the EXIF orientation, takes the first frame of animations and
    multi-page files, and accepts 1/8/16-bit grey, grey+alpha, RGB(A),
    palette (with transparency) and CMYK. Images above ``max_pixels`` are
    decoded reduced when the format allows it (JPEG), otherwise refused with
    :class:`ImageTooLargeError` before any pixel is decoded.
    """
    from PIL import ImageOps

    if name is None:
        name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)
    im, fh = _open(source, name)
    try:
        w, h = im.size
        if w < MIN_SIDE_PX or h < MIN_SIDE_PX:
            raise InvalidInputError(f"{name}: image is {w}x{h} pixels, too small to trace (need at least {MIN_SIDE_PX}x{MIN_SIDE_PX})")
        scale = 1.0
        if w * h > max_pixels:
            if im.format in ("JPEG", "MPO"):
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
                meta = _exif_meta(im)
                ImageOps.exif_transpose(im, in_place=True)  # in place: no copy of the decoded image
                pixels, alpha = _to_arrays(im)
            except MemoryError as exc:
                raise ImageTooLargeError(f"{name}: not enough memory to decode the image "
                                         "(lower --max-pixels to have it refused earlier)") from exc
            except Exception as exc:  # any decoder failure is the file's fault: one sentence, typed
                msg = str(exc) or type(exc).__name__
                if "truncated" in msg.lower() or isinstance(exc, EOFError):
                    raise ImageReadError(f"{name}: the image data is truncated or corrupt") from exc
                raise ImageReadError(f"{name}: the image data is corrupt and cannot be decoded ({msg})") from exc
        im.close()  # the decoded copy inside Pillow is no longer needed
        return Image._adopt(pixels, alpha, name=name, scale=scale, meta=meta,
                            source_size=(round(pixels.shape[1] * scale), round(pixels.shape[0] * scale)))
    finally:
        im.close()
        _close(fh)


def _exif_meta(im) -> dict:
    """``{"focal_35mm": mm}`` from the EXIF focal length (35 mm equivalent, else the focal length and the
    focal plane resolution), or ``{}``. A malformed EXIF block is ignored: it never fails a load."""
    try:
        exif = im.getexif()
        ifd = exif.get_ifd(0x8769)  # the Exif sub-IFD
        f35 = ifd.get(0xA405)  # FocalLengthIn35mmFilm
        if f35 and float(f35) > 0:
            return {"focal_35mm": float(f35)}
        f = ifd.get(0x920A)  # FocalLength (mm)
        xres, unit = ifd.get(0xA20E), ifd.get(0xA210, 2)  # FocalPlaneXResolution, its unit (2 inch, 3 cm)
        if f and xres and float(f) > 0 and float(xres) > 0:
            per_mm = float(xres) / (25.4 if int(unit) == 2 else 10.0 if int(unit) == 3 else 1.0)
            w, h = im.size
            diag_mm = math.hypot(w, h) / per_mm  # the sensor's diagonal
            return {"focal_35mm": float(f) * math.hypot(36.0, 24.0) / diag_mm}
    except Exception:  # noqa: BLE001 - EXIF is advisory
        return {}
    return {}


def _to_arrays(im) -> tuple[np.ndarray, np.ndarray | None]:
    """Compact pixels (for :class:`Image`) and alpha float32 [0,1] (None when absent or fully opaque).

    8-bit images stay uint8: ``(rows, cols)`` when grey (also an RGB image whose
    three channels are equal), ``(rows, cols, 3)`` otherwise; 16-bit and float
    grey become ``(rows, cols)`` float32 in [0, 1]. No float32 RGB array and no
    float64 temporary is made here; :class:`Image` converts on demand, to the
    same values the float32 RGB decoding gave.
    """
    mode = im.mode
    if mode in ("P", "PA", "RGBa", "La"):
        return _to_arrays(im.convert("RGBA"))
    if mode == "CMYK":
        return _to_arrays(im.convert("RGB"))
    if mode == "1":
        return _to_arrays(im.convert("L"))
    if mode == "L":
        return np.asarray(im), None
    if mode in ("LA", "RGBA"):
        a = np.asarray(im)
        colour = a[..., 0] if mode == "LA" else _rgb_or_grey(a[..., :3])
        return np.ascontiguousarray(colour), _alpha(a[..., -1])
    if mode == "RGB":
        return _rgb_or_grey(np.asarray(im)), None
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        g = np.asarray(im).astype(np.float32)  # uint16 is exact in float32; the float32 quotient equals the
        g /= np.float32(65535.0)                # float64 one rounded to float32 (53 >= 2 x 24 + 2 bits)
        return g, None
    if mode in ("I", "F"):
        g = np.asarray(im, dtype=np.float64)  # 32-bit values: divide in float64 like before, in place
        np.nan_to_num(g, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if (mode == "F" and g.max() <= 1.0) else (65535.0 if g.max() > 255 else 255.0)
        g /= top
        np.clip(g, 0, 1, out=g)
        return g.astype(np.float32), None
    # 16-bit RGB(A) and other rare modes: let Pillow convert.
    return _to_arrays(im.convert("RGBA"))


def _rgb_or_grey(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``(rows, cols, 3)``, or its first channel when all three are equal (a grey image saved as RGB)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    s = slice(None, None, 16)  # every 16th row first: a colour image is told apart at 1/16 of the cost
    if np.array_equal(r[s], g[s]) and np.array_equal(r[s], b[s]) and np.array_equal(r, g) and np.array_equal(r, b):
        try:
            return load_cv2().extractChannel(np.ascontiguousarray(rgb), 0)
        except ImportError:  # pragma: no cover - cv2 is a dependency
            return np.ascontiguousarray(r)
    return np.ascontiguousarray(rgb)


def _alpha(a8: np.ndarray) -> np.ndarray | None:
    """uint8 alpha -> float32 [0, 1] (``a / 255`` in float32), or None when fully opaque."""
    if a8.min() == 255:
        return None
    return U8_TO_F32[a8]
