"""Decode image files into :class:`tracer.types.Image` (the only module that reads images)."""

from __future__ import annotations

import io
import os
import struct
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


#: Pillow decoders tracecad accepts. Others (EPS runs Ghostscript, PSD, ICO, ...) are refused
#: before any decoder runs: a hostile file cannot reach code that was never meant for it.
FORMATS = ("PNG", "JPEG", "MPO", "BMP", "DIB", "TIFF", "WEBP", "GIF", "PPM")


def _open(source, name: str):
    """Open ``source`` (a path or bytes) with Pillow, header only. Returns ``(image, file or None)``.

    Every way a path can fail to be an image file gets its own sentence:
    missing, a directory, not a regular file (FIFO, socket, device: reading
    one could block forever), unreadable, empty, unknown format.
    """
    import stat

    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    fh = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageReadError(f"{name}: the data is empty (0 bytes)")
        fp = io.BytesIO(bytes(source))
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
        PILImage.init()
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


def _close(fh) -> None:
    if fh is not None:
        fh.close()


def load_image(source, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> Image:
    """Decode an image file (path or bytes) into RGB float32 plus optional alpha.

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
                im = ImageOps.exif_transpose(im)
                rgb, alpha = _to_arrays(im)
            except MemoryError as exc:
                raise ImageTooLargeError(f"{name}: not enough memory to decode the image "
                                         "(lower --max-pixels to have it refused earlier)") from exc
            except Exception as exc:  # any decoder failure is the file's fault: one sentence, typed
                msg = str(exc) or type(exc).__name__
                if "truncated" in msg.lower() or isinstance(exc, EOFError):
                    raise ImageReadError(f"{name}: the image data is truncated or corrupt") from exc
                raise ImageReadError(f"{name}: the image data is corrupt and cannot be decoded ({msg})") from exc
        return Image(pixels=rgb, alpha=alpha, name=name,
                     source_size=(round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), scale=scale)
    finally:
        im.close()
        _close(fh)


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
        g = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if mode == "F" and g.max() <= 1.0:
            top = 1.0
        else:
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
