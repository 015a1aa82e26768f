"""A third tone: flat areas of partial coverage (a grey fill, a third colour), which are not edges."""

from __future__ import annotations

import numpy as np

from tracer import denoise
from tracer.lookup import Lookup
from tracer.opencv import load_cv2

__all__ = ["has_flat_midtones", "flat_midtones", "FLAT_MIDTONE_FRACTION"]

#: In a two-level image (ink on paper) partial coverage occurs only along edges. Flat areas of
#: partial coverage (a grey fill, a third colour) cover more than this fraction of the image in
#: images that are not two-level.
FLAT_MIDTONE_FRACTION = 0.002


def has_flat_midtones(coverage: np.ndarray) -> bool:
    """True when the coverage field has flat areas of partial ink (a third tone), not just edges."""
    return flat_midtones(coverage)[0]


def flat_midtones(coverage: np.ndarray | Lookup, n_pixels: int | None = None) -> tuple[bool, np.ndarray | None]:
    """:func:`has_flat_midtones` and the 3x3 span (dilate - erode) of the coverage it measured.

    ``n_pixels``: the size of the whole field when ``coverage`` is a part of it
    that holds its partial ink (and a pixel more around it). A
    :class:`~tracer.lookup.Lookup` field (span None) is measured on its codes,
    when its table is monotone: the same count.
    """
    n_pixels = coverage.size if n_pixels is None else n_pixels
    k3 = np.ones((3, 3), np.uint8)
    if isinstance(coverage, Lookup):
        n = _flat_midtones_lookup(coverage, k3)
        if n is not None:
            return n > FLAT_MIDTONE_FRACTION * n_pixels, None
        coverage = coverage.dense()
    c = np.ascontiguousarray(coverage, dtype=np.float32)
    span = denoise.local_span(c, k3)
    flat_mid = (c > 0.15) & (c < 0.85) & (span < 0.1)
    return int(np.count_nonzero(flat_mid)) > FLAT_MIDTONE_FRACTION * n_pixels, span


def _flat_midtones_lookup(c: Lookup, kernel: np.ndarray) -> int | None:
    """The count of :func:`flat_midtones` on a :class:`~tracer.lookup.Lookup` field (None: its table is not monotone).

    The span of a window is ``t[hi] - t[lo]`` for the codes ``hi >= lo`` of its
    dilation and erosion (:func:`tracer.denoise.local_span_lookup`; the other way round
    for a falling table); for each ``lo`` it grows with ``hi``, so ``span < 0.1``
    is ``hi <= last[lo]``, a lookup and a comparison of the codes.
    """
    cv2 = load_cv2()
    t = c.table
    d = np.diff(t)
    up = bool((d >= 0).all())
    if not (up or bool((d <= 0).all())):
        return None
    lv = np.arange(256)
    span = (t[:, None] - t[None, :]) if up else (t[None, :] - t[:, None])  # [hi, lo], float32 as the field's
    ok = (span < 0.1) | (lv[:, None] < lv[None, :])  # (hi < lo never occurs)
    last = np.where(ok.all(axis=0), 255, np.argmin(ok, axis=0) - 1)  # (argmin: the first False)
    if not np.array_equal(ok, lv[:, None] <= last[None, :]):
        return None  # (not a prefix: cannot happen with rounded subtraction, but then the floats decide)
    hi8, lo8 = c.extremes3() if kernel.shape == (3, 3) and kernel.all() else (cv2.dilate(c.codes, kernel),
                                                                               cv2.erode(c.codes, kernel))
    flat = hi8 <= cv2.LUT(lo8, last.astype(np.uint8))
    mid = c.test((t > 0.15) & (t < 0.85))
    return int(np.count_nonzero(flat & mid))
