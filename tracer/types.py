"""Immutable values passed between the tracing stages.

Frames
------
All ``tracer`` coordinates are in **source-image pixels**, origin at the
top-left corner of the image, x to the right and y **down**. Pixel ``(col,
row)`` covers the square ``[col, col+1] x [row, row+1]``. Millimetres and the
y-flip exist only in :mod:`cad.regions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tracer.errors import InvalidInputError
from tracer.opencv import load_cv2

__all__ = ["Image", "Mask", "Contour", "Outlines", "IsolateParams", "TraceParams"]


def _frozen(a: NDArray, dtype) -> NDArray:
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def _readonly(a: NDArray, dtype) -> NDArray:
    """``a`` as a read-only C-contiguous array of ``dtype``, copied only when it is not one already."""
    out = np.ascontiguousarray(a, dtype=dtype)
    out.setflags(write=False)
    return out


def _lookup(d: NDArray[np.uint8], table: NDArray[np.float32], channel: int | None = None) -> NDArray[np.float32]:
    """``table[d]`` (or ``table[d[..., channel]]``) as a new float32 array.

    OpenCV's LUT when available (3-5x faster than NumPy's gather; exact, it is
    a lookup), one channel at a time so no float32 RGB temporary is made.
    """
    try:
        cv2 = load_cv2()
    except ImportError:  # pragma: no cover - cv2 is a dependency; NumPy gives the same values
        return table[d if channel is None else d[..., channel]]
    src = d if channel is None else cv2.extractChannel(d, channel)
    return cv2.LUT(src, table)


#: uint8 value -> float32 in [0, 1], the same values as ``u8.astype(float32) / 255``.
U8_TO_F32 = np.arange(256, dtype=np.float32) / 255.0
U8_TO_F32.setflags(write=False)
#: Rec. 709 luma weights (applied in float32, in this order, by :meth:`Image.luminance`).
LUMA = (0.2126, 0.7152, 0.0722)


class Image:
    """A decoded image.

    ``pixels`` is ``(rows, cols, 3)`` float32 RGB in ``[0, 1]`` (grey images are
    expanded), ``alpha`` is ``(rows, cols)`` float32 in ``[0, 1]`` or ``None``
    when the image has no alpha channel or it is fully opaque. ``name`` is the
    file name used in messages. ``meta`` holds what the file says about the picture (``focal_35mm``: the
    EXIF focal length, 35 mm equivalent, when the file has one).

    Storage is compact: the constructor also takes ``(rows, cols)`` grey
    pixels and uint8 pixels (0..255), and keeps them as given (a 40 MP grey
    uint8 image holds 40 MB, not the 480 MB of float32 RGB). ``pixels`` builds
    the float32 RGB array on first use (then keeps it, and only it);
    :meth:`luminance` works on the compact data and gives the same float32
    values as it does on ``pixels``. Immutable: every array is read-only.
    """

    __slots__ = ("_data", "alpha", "name", "source_size", "scale", "meta")

    _data: NDArray[Any]  # uint8 or float32, (rows, cols) grey or (rows, cols, 3) RGB
    alpha: NDArray[np.float32] | None
    name: str
    source_size: tuple[int, int]
    scale: float
    meta: dict

    def __init__(self, pixels, alpha=None, name: str = "<image>", source_size: tuple[int, int] | None = None,
                 scale: float = 1.0, meta: dict | None = None) -> None:
        self._init(np.asarray(pixels), alpha, name, source_size, scale, copy=True, meta=meta)

    @classmethod
    def _adopt(cls, pixels: NDArray, alpha: NDArray | None = None, **kw) -> Image:
        """An Image over arrays the caller gives up (no copy when dtype and layout already fit; tracer.load)."""
        self = cls.__new__(cls)
        self._init(pixels, alpha, kw.get("name", "<image>"), kw.get("source_size"), kw.get("scale", 1.0), copy=False,
                   meta=kw.get("meta"))
        return self

    def _init(self, px, alpha, name, source_size, scale, *, copy: bool, meta: dict | None = None) -> None:
        if not (px.ndim == 2 or (px.ndim == 3 and px.shape[2] == 3)):
            raise InvalidInputError(f"image pixels must be (rows, cols, 3) or (rows, cols), got shape {px.shape}")
        dtype = np.uint8 if px.dtype == np.uint8 else np.float32
        data = _frozen(px, dtype) if copy else _readonly(px, dtype)
        if alpha is not None:
            a = np.asarray(alpha)
            if a.shape != px.shape[:2]:
                raise InvalidInputError(f"alpha shape {a.shape} does not match pixels {px.shape[:2]}")
            alpha = _frozen(a, np.float32) if copy else _readonly(a, np.float32)
        if source_size is None:
            source_size = (px.shape[1], px.shape[0])
        set_ = object.__setattr__
        set_(self, "_data", data)
        set_(self, "alpha", alpha)
        set_(self, "name", name)
        set_(self, "source_size", tuple(source_size))
        set_(self, "scale", scale)
        set_(self, "meta", dict(meta or {}))

    def __setattr__(self, key, value):
        raise AttributeError(f"Image is immutable (cannot set {key!r})")

    def __delattr__(self, key):
        raise AttributeError(f"Image is immutable (cannot delete {key!r})")

    def __reduce__(self):
        return (Image, (self._data, self.alpha, self.name, self.source_size, self.scale, self.meta))

    def __repr__(self) -> str:
        d = self._data
        kind = "grey" if d.ndim == 2 else "RGB"
        return (f"Image(name={self.name!r}, size={self.size}, {kind} {d.dtype}, "
                f"alpha={'yes' if self.alpha is not None else 'no'}, scale={self.scale:g})")

    @property
    def pixels(self) -> NDArray[np.float32]:
        """``(rows, cols, 3)`` float32 RGB in [0, 1], read-only (built on first use from the compact data)."""
        d = self._data
        if d.ndim == 3 and d.dtype == np.float32:
            return d
        f = _lookup(d, U8_TO_F32) if d.dtype == np.uint8 else d
        if f.ndim == 2:
            f = np.repeat(f[..., None], 3, axis=2)
        f.setflags(write=False)
        object.__setattr__(self, "_data", f)  # the float copy replaces the compact one (one copy held)
        return f

    def rgb_rows(self, r0: int, r1: int) -> NDArray[np.float32]:
        """``pixels[r0:r1]`` (the same float32 values) without building or caching the full-size float copy."""
        d = self._data
        x = d[r0:r1]
        x = _lookup(np.ascontiguousarray(x), U8_TO_F32) if d.dtype == np.uint8 else np.asarray(x, np.float32)
        return np.repeat(x[..., None], 3, axis=2) if x.ndim == 2 else x

    def rgb_at(self, rows: NDArray[np.intp], cols: NDArray[np.intp]) -> NDArray[np.float32]:
        """``(n, 3)`` float32 RGB of the pixels at ``rows``, ``cols`` (the values of ``pixels``), read in place."""
        d = self._data
        h, w = d.shape[:2]
        if d.flags.c_contiguous:
            x = np.take(d.reshape(h * w, *d.shape[2:]), rows * w + cols, axis=0)
        else:
            x = d[rows, cols]
        x = _lookup(x, U8_TO_F32) if d.dtype == np.uint8 else np.asarray(x, np.float32)
        return np.repeat(x[:, None], 3, axis=1) if x.ndim == 1 else x

    def rgb8(self) -> NDArray[np.uint8]:
        """``(rows, cols, 3)`` uint8 RGB: ``clip(pixels * 255 + 0.5)`` without a float32 RGB array when stored as uint8."""
        d = self._data
        if d.dtype == np.uint8:
            return np.ascontiguousarray(np.repeat(d[..., None], 3, axis=2) if d.ndim == 2 else d)
        return np.clip(self.pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)

    @property
    def data(self) -> NDArray[Any]:
        """The compact pixel data as stored: uint8 or float32, ``(rows, cols)`` grey or ``(rows, cols, 3)`` RGB."""
        return self._data

    def crop(self, x0: int, y0: int, x1: int, y1: int) -> Image:
        """The pixels ``[y0:y1, x0:x1]`` (and their alpha) as a new Image, in the same storage and scale."""
        a = None if self.alpha is None else self.alpha[y0:y1, x0:x1]
        s = self.scale
        return Image._adopt(np.ascontiguousarray(self._data[y0:y1, x0:x1]),
                            None if a is None else np.ascontiguousarray(a), name=self.name, scale=s,
                            source_size=(round((x1 - x0) * s), round((y1 - y0) * s)), meta=self.meta)

    @property
    def is_grey(self) -> bool:
        """True when the image is stored as one grey channel (R = G = B)."""
        return self._data.ndim == 2

    @property
    def size(self) -> tuple[int, int]:
        """``(cols, rows)`` of ``pixels``."""
        return (self._data.shape[1], self._data.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self._data.shape[:2]

    @property
    def nbytes(self) -> int:
        """Bytes held by the pixel data and alpha."""
        return self._data.nbytes + (self.alpha.nbytes if self.alpha is not None else 0)

    def luminance(self) -> NDArray[np.float32]:
        """Rec. 709 luma of the RGB values, ``(rows, cols)`` float32 in [0, 1].

        Computed as ``(0.2126 R + 0.7152 G) + 0.0722 B`` in float32 whatever the
        storage (uint8 data goes through per-channel lookup tables of exactly
        those products), so grey, uint8 and float32 RGB storage of the same
        image give identical values, without a float32 RGB temporary.
        """
        d = self._data
        wr, wg, wb = LUMA
        if d.dtype == np.uint8:
            if d.ndim == 2:
                return _lookup(d, (wr * U8_TO_F32 + wg * U8_TO_F32) + wb * U8_TO_F32)
            out = _lookup(d, wr * U8_TO_F32, 0)
            out += _lookup(d, wg * U8_TO_F32, 1)
            out += _lookup(d, wb * U8_TO_F32, 2)
            return out
        if d.ndim == 2:
            out = wr * d  # type: ignore[assignment]  # stubs: float * NDArray[Any] is float64; float32 data stays float32 (NEP 50)
            out += wg * d
            t = wb * d
        else:
            out = wr * d[..., 0]  # type: ignore[assignment]  # as above
            out += wg * d[..., 1]
            t = wb * d[..., 2]
        out += t
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Mask:
    """Binary raster of the subject: ``True`` is material.

    ``pixels`` is ``(rows, cols)`` bool, row 0 at the top. One mask pixel is
    ``scale`` source pixels wide (``scale < 1`` after sub-pixel upsampling).
    """

    pixels: NDArray[np.bool_]
    scale: float = 1.0
    source_size: tuple[int, int] = (0, 0)
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        px = np.asarray(self.pixels)
        if px.ndim != 2:
            raise InvalidInputError(f"mask must be 2-D, got {px.ndim}-D")
        if not self.scale > 0:
            raise InvalidInputError(f"mask scale must be > 0, got {self.scale}")
        object.__setattr__(self, "pixels", _frozen(px, bool))
        if self.source_size == (0, 0):
            object.__setattr__(
                self, "source_size", (round(px.shape[1] * self.scale), round(px.shape[0] * self.scale))
            )

    @classmethod
    def _adopt(cls, pixels: NDArray, scale: float = 1.0, source_size: tuple[int, int] = (0, 0),
               info: dict | None = None) -> Mask:
        """A Mask over an array the caller gives up: no defensive copy when it is already C-contiguous bool.

        For producers of large working rasters (tracer.isolate): the copy in the
        constructor costs about 3 ms per 16 MP mask. Same checks and result as ``Mask(...)``.
        """
        px = np.asarray(pixels)
        if px.ndim != 2:
            raise InvalidInputError(f"mask must be 2-D, got {px.ndim}-D")
        if not scale > 0:
            raise InvalidInputError(f"mask scale must be > 0, got {scale}")
        self = cls.__new__(cls)
        if source_size == (0, 0):
            source_size = (round(px.shape[1] * scale), round(px.shape[0] * scale))
        for k, v in (("pixels", _readonly(px, bool)), ("scale", scale), ("source_size", source_size),
                     ("info", {} if info is None else info)):
            object.__setattr__(self, k, v)
        return self


@dataclass(frozen=True, slots=True, eq=False)
class Contour:
    """One closed outline made of cubic Bézier segments.

    ``ctrl`` is ``(n, 4, 2)`` float64 in source pixels (y down): segment ``i``
    runs from ``ctrl[i, 0]`` to ``ctrl[i, 3]`` and ``ctrl[i, 3] == ctrl[i+1, 0]``
    (cyclically). ``is_line[i]`` marks straight segments (potrace corners),
    whose inner control points lie at thirds of the chord, so every segment
    is a valid cubic. ``is_hole`` comes from potrace's sign; ``parent`` is the
    index of the enclosing contour in :attr:`Outlines.contours`, or -1.
    """

    ctrl: NDArray[np.float64]
    is_line: NDArray[np.bool_]
    is_hole: bool
    parent: int = -1

    def __post_init__(self) -> None:
        c = np.asarray(self.ctrl, dtype=np.float64)
        if c.ndim != 3 or c.shape[1:] != (4, 2) or len(c) == 0:
            raise InvalidInputError(f"contour control points must be (n, 4, 2), got {c.shape}")
        object.__setattr__(self, "ctrl", _frozen(c, np.float64))
        object.__setattr__(self, "is_line", _frozen(self.is_line, bool))

    @property
    def n_segments(self) -> int:
        return len(self.ctrl)


@dataclass(frozen=True, slots=True, eq=False)
class Outlines:
    """The traced outlines of one image, in source pixels (y down)."""

    contours: tuple[Contour, ...]
    source_size: tuple[int, int]
    info: dict = field(default_factory=dict)

    @property
    def n_segments(self) -> int:
        return sum(c.n_segments for c in self.contours)


@dataclass(frozen=True, slots=True)
class IsolateParams:
    """Options of :func:`tracer.isolate`.

    threshold : ink level in 0..255 on luminance (None: automatic, Otsu).
    invert : swap ink and background after the automatic polarity decision.
    use_alpha : None (auto: when the alpha channel carries the shape), True or False.
    upsample : working pixels per source pixel (None: automatic sub-pixel policy).
    target_px_mm : working pixel size aimed at by the automatic policy, in mm, given the output width.
    width_mm : the requested output width, used only to pick the working size.
    method : "otsu" | "adaptive" | "color" | "grabcut".
    color : "#RRGGBB" for method "color"; color_tolerance is a Lab distance (Delta E).
    denoise : "auto" (median filter when the image is noisy, radius following the resolution) |
        "none" | "median" | "bilateral".
    speck_mm2 : islands and holes of the mask smaller than this area at the output width are removed
        (0 disables).
    pick : ``(x, y)`` points in the image's source pixels: the subject is the region of the colour under
        each point (within ``color_tolerance``) connected to it (:mod:`tracer.pick`); empty: not used.
    keep : "all" connected parts of the mask, the "largest", or the N largest (an int).
    restore_tips : give thin tapers and paper wedges back the tips that a blurred picture's midpoint
        cut, or a clean render's coverage fill, cut short (:mod:`tracer.tips`; only where the image
        shows the taper's ink).
    """

    threshold: float | None = None
    invert: bool = False
    use_alpha: bool | None = None
    upsample: float | None = None
    target_px_mm: float = 0.02
    width_mm: float | None = None
    method: str = "otsu"
    color: str | None = None
    color_tolerance: float = 30.0
    denoise: str = "auto"
    speck_mm2: float = 0.005
    restore_tips: bool = True
    max_working_px: int = 40_000_000
    pick: tuple[tuple[float, float], ...] = ()
    keep: str | int = "all"


@dataclass(frozen=True, slots=True)
class TraceParams:
    """potrace's parameters, under potrace's own names, plus a complexity budget.

    turdsize : speckles up to this many working pixels are suppressed.
    turnpolicy : "minority" (default), "majority", "black", "white", "left", "right", "random".
    alphamax : corner threshold (0 = polygon, 1.3334 = no corners).
    opttolerance : curve optimisation tolerance, in working pixels (0 disables curve optimisation).
    max_segments : refuse outlines with more curve segments than this (TooComplexError).
    """

    turdsize: int = 2
    turnpolicy: str = "minority"
    alphamax: float = 1.0
    opttolerance: float = 0.2
    max_segments: int = 200_000
