"""Noise estimation and denoising for :mod:`tracer.isolate` (OpenCV): the noise of the flat areas, the
level of compression artefacts next to edges, and the median or bilateral filter.

Filter radii are given in source pixels by the caller (who derives them from the resolution). The
statistics are measured on every s-th pixel of a large field (:func:`decimate`).
"""

from __future__ import annotations

import numpy as np

from tracer.lookup import Lookup, is_monotone
from tracer.opencv import load_cv2

__all__ = ["noise_sigma", "noise_sigma_and_span", "denoise_field", "filter_radius_px", "artefact_level",
           "decimate", "decimate_u8", "local_span", "local_span_lookup", "fast_median",
           "NOISY_SIGMA", "MEDIAN_SIGMA", "CONTENT_SIGMA"]

#: A field whose estimated noise (0..1 of the ink/paper contrast) is above this is treated as noisy.
NOISY_SIGMA = 0.008

#: Statistics (noise, artefact level) are measured on every s-th pixel so that at most this many rows/cols remain.
STATS_SIDE = 1024


def decimate(a: np.ndarray) -> np.ndarray:
    """Every s-th pixel of a large field (pixel statistics do not need them all)."""
    s = max(1, int(np.ceil(max(a.shape) / STATS_SIDE)))
    return np.ascontiguousarray(a[::s, ::s], dtype=np.float32)


#: noise_sigma takes the median absolute deviation of at most about this many flat pixels.
MAD_SAMPLES = 1 << 16


def noise_sigma(coverage: np.ndarray) -> float:
    """Robust standard deviation of the pixel noise of a coverage field (0 = paper, 1 = ink).

    Measured on flat pixels only (away from edges) as 1.4826 x the median
    absolute deviation of the field from a Gaussian-smoothed copy, so edges,
    anti-aliasing and JPEG ringing next to edges do not count as noise, while
    spatially correlated (blurred or compressed) sensor noise still does.
    """
    return noise_sigma_and_span(coverage)[0]


def noise_sigma_and_span(coverage: np.ndarray | Lookup, grey: tuple[np.ndarray, np.ndarray] | None = None, *,
                 decimated: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """:func:`noise_sigma` and the 7x7 span (dilate - erode) of ``decimate(coverage)`` it measured.

    ``grey = (g8, table)`` when ``coverage`` is ``table[g8]`` (uint8 grey levels): the span is then
    taken on the uint8 data (:func:`local_span_lookup`), the same values; ``decimated``: ``decimate_u8(g8)``
    when the caller has it.
    """
    cv2 = load_cv2()
    k7 = np.ones((7, 7), np.uint8)
    if grey is None:
        assert not isinstance(coverage, Lookup)  # (a Lookup comes with its grey codes)
        c = decimate(coverage)
        span = local_span(c, k7)
    else:
        g = decimate_u8(grey[0]) if decimated is None else decimated
        span = local_span_lookup(g, grey[1], k7)
    # flat: the 7x7 neighbourhood holds no edge (span below half the contrast) and is not saturated
    flat = np.flatnonzero(span < 0.5)
    if flat.size < max(64, 0.02 * span.size):  # no flat area at all: the image is texture, not noise on paper
        return 1.0, span
    if flat.size > MAD_SAMPLES:  # a robust scale: 65k samples fix it to about 0.5 %
        flat = flat[:: flat.size // MAD_SAMPLES]
    if grey is not None:
        if _mostly_zero_around(g, grey[1], flat):
            return 0.0, span
        c = cv2.LUT(g, grey[1])  # (as decimate(coverage): the same pixels' values)
    smooth = cv2.GaussianBlur(c, (0, 0), NOISE_BLUR_SIGMA)
    vals = np.abs(c.ravel()[flat] - smooth.ravel()[flat])  # |c - smooth| on the samples only
    return float(1.4826 * fast_median(vals, "min")), span


#: The noise is measured against a Gaussian blur of this sigma (pixels of the decimated field) ...
NOISE_BLUR_SIGMA = 2.0
#: ... of this many taps (OpenCV takes ``round(8 sigma + 1) | 1`` for float data).
NOISE_BLUR_TAPS = int(round(8 * NOISE_BLUR_SIGMA + 1)) | 1


def _mostly_zero_around(g8: np.ndarray, table: np.ndarray, samples: np.ndarray) -> bool:
    """True when more than half of the ``samples`` (flat indices) of ``table[g8]`` see only zeros in the
    noise measure's blur window: their deviation from the blur is exactly 0, and so is the median.

    (A blur of zeros is zero, whatever the weights; a clean image's paper is exactly 0.)
    """
    zero = table == 0
    if int(np.count_nonzero(zero)) == 0:
        return False
    cv2 = load_cv2()
    inked = Lookup(g8, table).test(~zero)
    inked = cv2.dilate(inked.view(np.uint8), np.ones((NOISE_BLUR_TAPS, NOISE_BLUR_TAPS), np.uint8))
    return samples.size - int(np.count_nonzero(inked.ravel().take(samples))) > samples.size // 2


def local_span(c: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``dilate(c) - erode(c)`` (local max - min over ``kernel``), subtracted in place."""
    cv2 = load_cv2()
    hi = cv2.dilate(c, kernel)
    return np.subtract(hi, cv2.erode(c, kernel), out=hi)


def decimate_u8(a: np.ndarray) -> np.ndarray:
    """:func:`decimate` of uint8 data, kept uint8."""
    s = max(1, int(np.ceil(max(a.shape) / STATS_SIDE)))
    return np.ascontiguousarray(a[::s, ::s])


def local_span_lookup(g8: np.ndarray, table: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``local_span(table[g8], kernel)`` from dilations of the uint8 ``g8`` when ``table`` is monotone.

    The local max of ``table[g]`` is ``table`` at the local max (or min, for a
    decreasing table) of ``g``: lookups of the same float32 values, then the same subtraction.
    """
    cv2 = load_cv2()
    d = np.diff(table)
    if bool((d >= 0).all()):
        up = True
    elif bool((d <= 0).all()):
        up = False
    else:
        return local_span(cv2.LUT(g8, table), kernel)
    hi8, lo8 = cv2.dilate(g8, kernel), cv2.erode(g8, kernel)
    if not up:
        hi8, lo8 = lo8, hi8
    hi = cv2.LUT(hi8, table)
    return np.subtract(hi, cv2.LUT(lo8, table), out=hi)


def fast_median(v: np.ndarray, extreme: str) -> float:
    """``float(np.median(v))`` of a 1-D array; no partition when its minimum (or maximum) fills the middle.

    On a clean render most samples sit exactly at one value (paper 0, full ink):
    when more than half of ``v`` equals its ``extreme`` ("min" or "max"), both
    middle order statistics are that value, which is then the median.
    """
    n = v.size
    if n:
        m = v.min() if extreme == "min" else v.max()
        if np.count_nonzero(v == m) > n // 2 and not (m == 0 and np.signbit(v).any()):  # (+0 / -0: let numpy pick)
            return float(m)
    return float(np.median(v))


#: ``denoise="auto"`` median-filters only above this noise: below it, a median costs more detail (tips,
#: serifs) than the noise costs accuracy, and the speck removal handles what the noise leaves.
MEDIAN_SIGMA = 0.06
#: Above this the "noise" is the content itself (dither, salt and pepper, texture): filtering it would
#: invent a subject, so it is left to the complexity budget and the user.
CONTENT_SIGMA = 0.25


def filter_radius_px(size_px: tuple[int, int], sigma: float) -> int:
    """Median radius in source pixels: grows with the resolution and the noise (0 = no filter)."""
    if sigma <= MEDIAN_SIGMA or sigma > CONTENT_SIGMA:
        return 0
    # 1 px up to ~1.5k px, then in proportion to the long side (the blur of a camera grows with it)
    long_side = max(size_px)
    return int(max(1, min(4, round(long_side / 1536.0 * (1.0 + sigma / 0.1)))))


def denoise_field(field: np.ndarray, *, mode: str, radius_px: int) -> np.ndarray:
    """Median (edge-preserving, removes salt and pepper) or bilateral filter of a float field."""
    cv2 = load_cv2()
    if radius_px <= 0 or mode == "none":
        return field
    f = np.ascontiguousarray(field, dtype=np.float32)
    if mode == "median":
        ksize = 2 * radius_px + 1
        if ksize > 5:  # OpenCV's float median is limited to 5x5: use 8-bit with 1/255 steps (enough once noisy)
            u8 = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
            return cv2.medianBlur(u8, ksize).astype(np.float32) / 255.0
        return cv2.medianBlur(f, ksize)
    if mode == "bilateral":
        return cv2.bilateralFilter(f, d=2 * radius_px + 1, sigmaColor=0.15, sigmaSpace=float(radius_px))
    raise ValueError(f"unknown denoise mode {mode!r}")


def artefact_level(coverage: np.ndarray | Lookup, *,
                   spans: tuple[np.ndarray | None, np.ndarray | None] | None = None,
                   decimated: np.ndarray | None = None) -> float:
    """How far from pure ink/paper the pixels next to (not on) edges stray: JPEG ringing and blocking.

    On a clean render, pixels two or three pixels from an edge are exactly 0
    or 1; after lossy compression they are not. Returns the 95th percentile
    of ``min(c, 1 - c)`` over those pixels (0 for a clean image). ``spans``:
    the 3x3 and 7x7 spans (dilate - erode) of ``decimate(coverage)`` when the
    caller has them already (either may be None). A :class:`Lookup` field's
    spans are taken on its codes (:func:`local_span_lookup`, the same values);
    ``decimated``: its ``decimate_u8(coverage.codes)`` when the caller has it.
    """
    span3, span7 = spans if spans is not None else (None, None)
    kernels = np.ones((3, 3), np.uint8), np.ones((7, 7), np.uint8)
    if isinstance(coverage, Lookup):
        g = decimate_u8(coverage.codes) if decimated is None else decimated
    if isinstance(coverage, Lookup) and span3 is None:
        level = _artefact_level_codes(coverage, span7, g)
        if level is not None:
            return level
    if isinstance(coverage, Lookup):
        c = load_cv2().LUT(g, coverage.table)  # (as decimate(coverage): the same pixels' values)
        span3, span7 = (s if s is not None else local_span_lookup(g, coverage.table, k) for s, k in zip((span3, span7), kernels))
    else:
        c = decimate(coverage)
        span3, span7 = (s if s is not None else local_span(c, k) for s, k in zip((span3, span7), kernels))
    near = (span7 >= 0.5) & (span3 < 0.25)
    if near.sum() < 64:
        return 0.0
    v = np.compress(near.ravel(), c)  # (as c[near], faster)
    return float(np.percentile(np.minimum(v, 1.0 - v), 95))


def _artefact_level_codes(coverage: Lookup, span7: np.ndarray | None, g: np.ndarray) -> float | None:
    """:func:`artefact_level` of a :class:`Lookup` field with a monotone table, on its codes ``g`` (decimated;
    else None).

    ``span3 < 0.25`` is a comparison of the 3 x 3 extreme codes (as in
    :func:`tracer.midtones._flat_midtones_lookup`), and the percentile, which depends
    only on the values taken, is read off the histogram of the near pixels' codes:
    the value at the ranks it interpolates between when one value spans them
    (a clean image: 0), else ``np.percentile`` of the same values, sorted.
    """
    cv2 = load_cv2()
    t = coverage.table
    if not is_monotone(t):
        return None
    if span7 is None:
        span7 = local_span_lookup(g, t, np.ones((7, 7), np.uint8))
    up = bool((np.diff(t) >= 0).all())
    lv = np.arange(256)
    span = (t[:, None] - t[None, :]) if up else (t[None, :] - t[:, None])  # [hi code, lo code], as local_span_lookup's
    ok = (span < 0.25) | (lv[:, None] < lv[None, :])  # (hi < lo never occurs)
    last = np.where(ok.all(axis=0), 255, np.argmin(ok, axis=0) - 1)  # span < 0.25 exactly when hi <= last[lo]
    if not np.array_equal(ok, lv[:, None] <= last[None, :]):
        return None  # (not a prefix: cannot happen with rounded subtraction, but then the floats decide)
    k3 = np.ones((3, 3), np.uint8)
    near = cv2.dilate(g, k3) <= cv2.LUT(cv2.erode(g, k3), last.astype(np.uint8))
    np.logical_and(near, span7 >= 0.5, out=near)
    counts = cv2.calcHist([g], [0], near.view(np.uint8), [256], [0, 256]).ravel().astype(np.int64)
    n = int(counts.sum())
    if n < 64:
        return 0.0
    m = np.minimum(t, 1.0 - t)  # (float32, as of the pixels' values)
    order = np.argsort(m, kind="stable")
    cum = np.cumsum(counts[order])
    mid = 0.95 * (n - 1)  # the ranks np.percentile interpolates between, give or take one
    a, b = m[order[np.searchsorted(cum, [max(0, int(mid) - 1), min(n - 1, int(mid) + 2)], side="right")]]
    if a == b and not np.signbit(a):  # one value at all of them: the percentile is that value
        return float(a)
    return float(np.percentile(np.repeat(m[order], counts[order]), 95))
