"""Ink and paper levels of a luminance field: Otsu's split and the median of each side.

A grey 8-bit image's luminance takes 256 values only (:func:`grey_tables`): its levels are read off the
uint8 codes (:func:`ink_paper_levels_u8`), to the same values as from the float field.
"""

from __future__ import annotations

import functools

import numpy as np

from tracer import denoise
from tracer.errors import EmptyMaskError
from tracer.opencv import load_cv2
from tracer.types import LUMA, U8_TO_F32, Image

__all__ = ["otsu", "ink_paper_levels", "ink_paper_levels_u8", "grey_tables", "grey_u8", "median_u8",
           "MIN_CONTRAST", "LEVEL_SAMPLES"]

#: Ink and paper must differ by at least this much (0..1 luminance) for a subject to exist.
MIN_CONTRAST = 0.06


def otsu(values01: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1] on 256 levels (``round(v * 255)``, as 8-bit Otsu), over 255."""
    cv2 = load_cv2()
    v = np.ascontiguousarray(values01, dtype=np.float32)
    hist = cv2.calcHist([v], [0], None, [256], [-0.5 / 255.0, 255.5 / 255.0]).ravel().astype(np.float64)
    lo_edge, hi_edge = np.float32(-0.5 / 255.0), np.float32(255.5 / 255.0)  # (as numpy compares float32 to them)
    v_min, v_max = cv2.minMaxLoc(v.reshape(v.shape[0], -1) if v.ndim else v.reshape(1, 1))[:2] if v.size else (0.0, 0.0)
    if v_min < lo_edge:  # out of range: clipped, as 8-bit values would be
        hist[0] += np.count_nonzero(v < -0.5 / 255.0)
    if v_max >= hi_edge:
        hist[-1] += np.count_nonzero(v >= 255.5 / 255.0)
    return _otsu_hist(hist)


def _otsu_hist(hist: np.ndarray) -> float:
    """Otsu's threshold (over 255) from a float64 histogram of 256 levels."""
    p = hist / max(hist.sum(), 1.0)
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(p)  # class 0 = levels <= t
    m0 = np.cumsum(p * levels)
    mu = m0[-1]
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = np.where((w0 > 1e-12) & (w1 > 1e-12), (mu * w0 - m0) ** 2 / (w0 * w1), 0.0)
    return float(np.argmax(between)) / 255.0


#: The ink and paper levels are medians of at most about this many pixels of each side (strided).
LEVEL_SAMPLES = 1 << 16


def ink_paper_levels(lum: np.ndarray, name: str) -> tuple[float, float, float]:
    """Otsu split -> (threshold, ink level (dark side median), paper level (light side median)).

    Measured on at most about 1024 x 1024 pixels (every s-th pixel of a larger image).
    """
    sample = denoise.decimate(lum)  # a global statistic: every s-th pixel of a large image is plenty
    t = otsu(sample)
    dark = sample <= t
    lo, hi = np.compress(dark.ravel(), sample), np.compress(~dark.ravel(), sample)  # (as sample[dark], faster)
    if lo.size == 0 or hi.size == 0:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    ink, paper = (denoise.fast_median(v[:: max(1, v.size // LEVEL_SAMPLES)], ext) for v, ext in ((lo, "min"), (hi, "max")))
    if paper - ink < MIN_CONTRAST:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    return t, ink, paper


@functools.lru_cache(maxsize=1)
def grey_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(lum (256,) float32, otsu bin (256,) intp)``: the luminance of each grey level, exactly as
    :meth:`Image.luminance` computes it, and the bin :func:`otsu`'s histogram puts that value in."""
    cv2 = load_cv2()
    wr, wg, wb = LUMA
    tab = (wr * U8_TO_F32 + wg * U8_TO_F32) + wb * U8_TO_F32
    bins = np.empty(256, np.intp)
    for i in range(256):  # (once per process) the very histogram otsu takes, one value at a time
        h = cv2.calcHist([tab[i:i + 1].reshape(1, 1)], [0], None, [256], [-0.5 / 255.0, 255.5 / 255.0]).ravel()
        bins[i] = int(np.argmax(h)) if h.sum() == 1 else -1
    tab.flags.writeable = False
    bins.flags.writeable = False
    return tab, bins


def grey_u8(image: Image) -> np.ndarray | None:
    """The uint8 grey levels of which ``image.luminance()`` is a lookup (``grey_tables()[0][g8]``), else None."""
    d = image._data
    if d.dtype == np.uint8 and d.ndim == 2 and image.alpha is None:
        tab, bins = grey_tables()
        if (bins >= 0).all() and bool((np.diff(tab) > 0).all()):
            return d
    return None


def median_u8(g: np.ndarray, tab: np.ndarray) -> float:
    """``float(np.median(tab[g]))`` of uint8 values ``g`` (non-empty; ``tab`` increasing), from their histogram."""
    cv2 = load_cv2()
    counts = cv2.calcHist([np.ascontiguousarray(g).reshape(1, -1)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    cum = np.cumsum(counts)
    n = int(cum[-1])
    ranks = [n // 2] if n % 2 else [n // 2 - 1, n // 2]  # the middle order statistics numpy averages
    mids = tab[np.searchsorted(cum, np.array(ranks), side="right")]
    return float(np.median(mids))  # (the same float32 mean of the same one or two values)


def _strided_median_u8(counts: np.ndarray, tab: np.ndarray) -> float | None:
    """The median of ``tab[v[::max(1, v.size // LEVEL_SAMPLES)]]`` (as :func:`ink_paper_levels`) for any order of the
    codes ``v`` whose histogram is ``counts`` (``tab`` increasing), or None when it depends on the order.

    Every sample is taken when the step is 1: the median is then read off the
    histogram. Otherwise it is the most frequent code's entry when the codes
    below it and those above it are each too few to reach a middle sample
    (which ones the step picks does not matter then).
    """
    n = int(counts.sum())
    step = max(1, n // LEVEL_SAMPLES)
    if step == 1:
        cum = np.cumsum(counts)
        ranks = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
        return float(np.median(tab[np.searchsorted(cum, np.array(ranks), side="right")]))
    ns = -(-n // step)  # samples taken
    c = int(np.argmax(counts))
    below, above = int(counts[:c].sum()), int(counts[c + 1:].sum())
    if below <= (ns - 1) // 2 and above <= (ns - 1) // 2:  # both middle samples are code c
        return float(tab[c])
    return None


def ink_paper_levels_u8(g8: np.ndarray, name: str, sample: np.ndarray | None = None) -> tuple[float, float, float]:
    """:func:`ink_paper_levels` of ``tab[g8]`` (a grey uint8 image's luminance), read off the uint8 data: same values.

    ``sample``: ``denoise.decimate_u8(g8)`` when the caller has it.
    """
    cv2 = load_cv2()
    tab, bins = grey_tables()
    if sample is None:
        sample = denoise.decimate_u8(g8)  # (as denoise.decimate)
    h8 = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    hist = np.zeros(256, np.float64)
    np.add.at(hist, bins, h8)
    t = _otsu_hist(hist)
    m = int(np.count_nonzero(tab <= t))  # tab is increasing: tab[g] <= t exactly when g < m
    if m == 0 or m == 256:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    counts = h8.astype(np.int64)
    if not counts[:m].any() or not counts[m:].any():
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    ink, paper = _strided_median_u8(counts[:m], tab[:m]), _strided_median_u8(counts[m:], tab[m:])
    if ink is None or paper is None:  # (the median of the strided samples depends on their order)
        dark = sample < np.uint8(m)
        lo, hi = np.compress(dark.ravel(), sample), np.compress(~dark.ravel(), sample)
        ink, paper = (denoise.fast_median(tab[v[:: max(1, v.size // LEVEL_SAMPLES)]], ext) for v, ext in ((lo, "min"), (hi, "max")))
    if paper - ink < MIN_CONTRAST:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    return t, ink, paper
