"""Subject isolation: :class:`Image` -> :class:`Mask` (OpenCV).

The mask is computed on a *working* raster that may be finer than the source
(sub-pixel edges: the anti-aliased grey levels are interpolated and cut at the
midpoint between ink and paper) or coarser (very large images are reduced to
what the physical output can use).
"""

from __future__ import annotations

import math

import numpy as np

from tracer.errors import EmptyMaskError, InvalidInputError
from tracer.types import Image, IsolateParams, Mask

__all__ = ["isolate", "ink_field", "working_factor"]

#: Ink and paper must differ by at least this much (0..1 luminance) for a subject to exist.
MIN_CONTRAST = 0.06
#: Upsampling never exceeds this factor (accuracy gains stop, time does not).
MAX_UPSAMPLE = 4


def _cv2():
    import cv2

    return cv2


def _border(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    b = max(1, min(h, w) // 50)
    return np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[:, :b].ravel(), a[:, -b:].ravel()])


def _otsu(values01: np.ndarray) -> float:
    cv2 = _cv2()
    u8 = np.clip(values01 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    t, _ = cv2.threshold(u8.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(t) / 255.0


def _alpha_carries_shape(image: Image) -> bool:
    a = image.alpha
    if a is None:
        return False
    transparent = a < 0.5
    frac = transparent.mean()
    return 0.0005 < frac < 0.9995


def ink_field(image: Image, params: IsolateParams = IsolateParams()) -> tuple[np.ndarray, float, dict]:
    """Return ``(field, level, info)``: a float32 field where ink is high, and the cut level.

    The subject is ``field >= level``. ``info`` records the decisions taken
    (source of the field, polarity, levels) for the report.
    """
    name = image.name
    info: dict = {}
    use_alpha = params.use_alpha
    if use_alpha is None:
        use_alpha = params.threshold is None and params.method == "otsu" and _alpha_carries_shape(image)
    if use_alpha:
        if image.alpha is None:
            raise InvalidInputError(f"{name}: --alpha was asked for but the image has no alpha channel")
        field = image.alpha
        level = 0.5
        info.update(source="alpha", level=level)
        if params.invert:
            field, level = 1.0 - field, 1.0 - level
        return np.ascontiguousarray(field, dtype=np.float32), level, info

    lum = image.luminance()
    if image.alpha is not None:
        # Transparent pixels read as the paper: composite on the border colour.
        lum = lum * image.alpha + (1.0 - image.alpha) * float(np.median(_border(lum)))
    if params.method == "adaptive":
        lum = _flatten_illumination(lum)
        info["illumination"] = "flattened"
    if params.threshold is not None:
        t = float(params.threshold) / 255.0
        dark_ink = True
        info.update(source="luminance", threshold=float(params.threshold), polarity="dark-on-light")
    else:
        t = _otsu(lum)
        lo, hi = lum[lum <= t], lum[lum > t]
        if lo.size == 0 or hi.size == 0 or float(np.median(hi)) - float(np.median(lo)) < MIN_CONTRAST:
            raise EmptyMaskError(
                f"{name}: no subject found, the image is blank or has almost no contrast "
                "(try --threshold N or --invert)")
        ink_lo, paper_hi = float(np.median(lo)), float(np.median(hi))
        border_med = float(np.median(_border(lum)))
        t = 0.5 * (ink_lo + paper_hi)  # midpoint between the two levels: unbiased sub-pixel edge
        dark_ink = border_med >= t  # the border is background: a light border means dark ink
        info.update(source="luminance", threshold=round(t * 255, 2),
                    polarity="dark-on-light" if dark_ink else "light-on-dark",
                    levels=(round(ink_lo * 255, 1), round(paper_hi * 255, 1)))
    if dark_ink:
        field, level = 1.0 - lum, 1.0 - t
    else:
        field, level = lum, t
    if params.invert:
        field, level = 1.0 - field, 1.0 - level
        info["inverted"] = True
    return np.ascontiguousarray(field, dtype=np.float32), level, info


def _flatten_illumination(lum: np.ndarray) -> np.ndarray:
    """Divide out a smooth background estimate (uneven lighting on paper)."""
    cv2 = _cv2()
    h, w = lum.shape
    r = max(3, int(min(h, w) / 20) | 1)
    bg = cv2.morphologyEx(lum, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
    bg = cv2.GaussianBlur(bg, (0, 0), r / 2)
    return np.clip(lum / np.maximum(bg, 1e-3), 0, 1).astype(np.float32)


def working_factor(subject_px: float, params: IsolateParams, n_pixels: int) -> float:
    """Working pixels per source pixel: fine enough for ``target_px_mm`` at the output width."""
    if params.upsample is not None:
        return float(params.upsample)
    width_mm = params.width_mm if params.width_mm else 50.0
    want = width_mm / params.target_px_mm  # working pixels across the subject
    k = want / max(subject_px, 1.0)
    if k >= 1.0:
        k = min(MAX_UPSAMPLE, math.ceil(k))
        while k > 1 and n_pixels * k * k > params.max_working_px:
            k -= 1
        return float(k)
    d = math.floor(1.0 / k)
    return 1.0 / d if d >= 2 else 1.0


def isolate(image: Image, *, params: IsolateParams = IsolateParams()) -> Mask:
    """Binary mask of the subject on the working raster (see module docstring)."""
    cv2 = _cv2()
    field, level, info = ink_field(image, params)
    coarse = field >= level
    if not coarse.any():
        raise EmptyMaskError(f"{image.name}: no subject found after thresholding (try --invert or --threshold N)")
    rows = np.flatnonzero(coarse.any(axis=1))
    cols = np.flatnonzero(coarse.any(axis=0))
    subject_px = float(max(cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1))
    h, w = field.shape
    k = working_factor(subject_px, params, h * w)
    if k > 1:
        kk = int(round(k))
        work = cv2.resize(field, (w * kk, h * kk), interpolation=cv2.INTER_CUBIC)
        scale = 1.0 / kk
    elif k < 1:
        d = int(round(1.0 / k))
        field = field[: (h // d) * d, : (w // d) * d]
        work = cv2.resize(field, (w // d, h // d), interpolation=cv2.INTER_AREA)
        scale = float(d)
    else:
        work, scale = field, 1.0
    mask = work >= level
    if not mask.any():
        raise EmptyMaskError(f"{image.name}: no subject found after thresholding (try --invert or --threshold N)")
    info.update(working_size=(int(mask.shape[1]), int(mask.shape[0])), working_scale=scale)
    return Mask(pixels=mask, scale=scale * image.scale, source_size=image.source_size, info=info)
