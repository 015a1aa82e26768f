"""Noise estimation, denoising and speck removal for :mod:`tracer.isolate` (OpenCV).

Every radius and area here follows the image: filter radii are given in
source pixels by the caller (who derives them from the resolution), and
speck sizes are areas in source pixels² (derived from mm² at the requested
output width), never fixed pixel counts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["noise_sigma", "denoise_field", "remove_specks", "filter_radius_px", "keep_attached", "artefact_level",
           "Lookup", "dense"]

#: A field whose estimated noise (0..1 of the ink/paper contrast) is above this is treated as noisy.
NOISY_SIGMA = 0.008


def _cv2():
    import cv2

    return cv2


#: Statistics (noise, artefact level) are measured on every s-th pixel so that at most this many rows/cols remain.
STATS_SIDE = 1024


def _decimated(a: np.ndarray) -> np.ndarray:
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
    return _noise_sigma(coverage)[0]


def _noise_sigma(coverage: np.ndarray, grey: tuple[np.ndarray, np.ndarray] | None = None, *,
                 decimated: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """:func:`noise_sigma` and the 7x7 span (dilate - erode) of ``_decimated(coverage)`` it measured.

    ``grey = (g8, table)`` when ``coverage`` is ``table[g8]`` (uint8 grey levels): the span is then
    taken on the uint8 data (:func:`_span_lookup`), the same values; ``decimated``: ``_decimated_u8(g8)``
    when the caller has it.
    """
    cv2 = _cv2()
    k7 = np.ones((7, 7), np.uint8)
    if grey is None:
        c = _decimated(coverage)
        span = _span(c, k7)
    else:
        g = _decimated_u8(grey[0]) if decimated is None else decimated
        span = _span_lookup(g, grey[1], k7)
    # flat: the 7x7 neighbourhood holds no edge (span below half the contrast) and is not saturated
    flat = np.flatnonzero(span < 0.5)
    if flat.size < max(64, 0.02 * span.size):  # no flat area at all: the image is texture, not noise on paper
        return 1.0, span
    if flat.size > MAD_SAMPLES:  # a robust scale: 65k samples fix it to about 0.5 %
        flat = flat[:: flat.size // MAD_SAMPLES]
    if grey is not None:
        if _mostly_zero_around(g, grey[1], flat):
            return 0.0, span
        c = cv2.LUT(g, grey[1])  # (as _decimated(coverage): the same pixels' values)
    smooth = cv2.GaussianBlur(c, (0, 0), NOISE_BLUR_SIGMA)
    vals = np.abs(c.ravel()[flat] - smooth.ravel()[flat])  # |c - smooth| on the samples only
    return float(1.4826 * _median(vals, "min")), span


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
    cv2 = _cv2()
    inked = Lookup(g8, table).test(~zero)
    inked = cv2.dilate(inked.view(np.uint8), np.ones((NOISE_BLUR_TAPS, NOISE_BLUR_TAPS), np.uint8))
    return samples.size - int(np.count_nonzero(inked.ravel().take(samples))) > samples.size // 2


def _span(c: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``dilate(c) - erode(c)`` (local max - min over ``kernel``), subtracted in place."""
    cv2 = _cv2()
    hi = cv2.dilate(c, kernel)
    return np.subtract(hi, cv2.erode(c, kernel), out=hi)


def _decimated_u8(a: np.ndarray) -> np.ndarray:
    """:func:`_decimated` of uint8 data, kept uint8."""
    s = max(1, int(np.ceil(max(a.shape) / STATS_SIDE)))
    return np.ascontiguousarray(a[::s, ::s])


def _span_lookup(g8: np.ndarray, table: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``_span(table[g8], kernel)`` from dilations of the uint8 ``g8`` when ``table`` is monotone.

    The local max of ``table[g]`` is ``table`` at the local max (or min, for a
    decreasing table) of ``g``: lookups of the same float32 values, then the same subtraction.
    """
    cv2 = _cv2()
    d = np.diff(table)
    if bool((d >= 0).all()):
        up = True
    elif bool((d <= 0).all()):
        up = False
    else:
        return _span(cv2.LUT(g8, table), kernel)
    hi8, lo8 = cv2.dilate(g8, kernel), cv2.erode(g8, kernel)
    if not up:
        hi8, lo8 = lo8, hi8
    hi = cv2.LUT(hi8, table)
    return np.subtract(hi, cv2.LUT(lo8, table), out=hi)


class Lookup:
    """A float32 field stored as ``table[codes]``: uint8 codes (a grey image's levels) and a table of 256 entries.

    The clean path of :mod:`tracer.isolate` runs on it. An elementwise test
    (``field >= t``) is taken on the 256 entries and read back per pixel (a
    comparison of the codes when the test is a threshold on them), and
    arithmetic with a number changes the table only: each result equals the
    float field's, at a quarter of the memory traffic. Setting pixels to a value
    picks a code whose entry is exactly that value (:meth:`with_value`).
    """

    __slots__ = ("codes", "table", "_ext3")

    def __init__(self, codes: np.ndarray, table: np.ndarray):
        self.codes = codes
        self.table = np.asarray(table, dtype=np.float32)
        self._ext3 = None

    def extremes3(self) -> tuple[np.ndarray, np.ndarray]:
        """``(dilate, erode)`` of the codes over 3 x 3: each pixel's highest and lowest code around it.

        Taken once per :class:`Lookup` (its codes are never changed in place); for a
        monotone table they are the codes of the field's 3 x 3 maximum and minimum.
        """
        if self._ext3 is None:
            cv2 = _cv2()
            k3 = np.ones((3, 3), np.uint8)
            self._ext3 = (cv2.dilate(self.codes, k3), cv2.erode(self.codes, k3))
        return self._ext3

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    @property
    def size(self) -> int:
        return self.codes.size

    def dense(self) -> np.ndarray:
        """The float32 field."""
        return _cv2().LUT(self.codes, self.table)

    def __getitem__(self, key) -> "Lookup":
        """A part of the field (contiguous codes)."""
        return Lookup(np.ascontiguousarray(self.codes[key]), self.table)

    def test(self, entries: np.ndarray) -> np.ndarray:
        """``entries[codes]`` for a bool table of 256 entries (a test of each level), as a bool image."""
        t = np.asarray(entries, dtype=bool)
        m = int(np.count_nonzero(t))
        if m == 0 or m == 256:
            return np.full(self.codes.shape, m == 256, bool)
        a = int(np.argmax(t))
        if t[a:a + m].all():  # the levels a .. a + m - 1: comparisons of the codes
            if a == 0:
                return self.codes < np.uint8(m)
            above = self.codes >= np.uint8(a)
            return above if a + m == 256 else np.logical_and(above, self.codes < np.uint8(a + m), out=above)
        return _cv2().LUT(self.codes, t.view(np.uint8)).view(bool)

    def take(self, index: np.ndarray) -> np.ndarray:
        """``field.ravel().take(index)``."""
        g = self.codes.ravel().take(index)
        if not g.size:
            return self.table[g]
        return _cv2().LUT(g.reshape(-1, 1), self.table).reshape(g.shape)  # (as self.table[g], several times faster)

    def compress(self, where: np.ndarray) -> np.ndarray:
        """``np.compress(where, field.ravel())``."""
        return self.table[np.compress(where, self.codes.ravel())]

    def code_of(self, value: float) -> int | None:
        """A code whose entry is exactly ``np.float32(value)`` (the same bits), or None."""
        hit = np.flatnonzero(self.table.view(np.uint32) == np.float32(value).view(np.uint32))
        return int(hit[0]) if hit.size else None

    def with_value(self, where: np.ndarray, value: float) -> "Lookup | np.ndarray":
        """A copy with the pixels ``where`` set to ``value`` (a float field when no entry is exactly it)."""
        code = self.code_of(value)
        if code is None:
            out = self.dense()
            out[where] = value
            return out
        codes = self.codes.copy()
        codes[where] = code
        return Lookup(codes, self.table)

    def value_range(self) -> tuple[float, float]:
        """``(min, max)`` of the values present."""
        cv2 = _cv2()
        lo8, hi8 = cv2.minMaxLoc(self.codes)[:2] if self.size else (0, 0)
        if _monotone(self.table):  # the extremes are those of the extreme codes
            ends = self.table[[int(lo8), int(hi8)]]
            return float(ends.min()), float(ends.max())
        present = cv2.calcHist([self.codes], [0], None, [256], [0, 256]).ravel() > 0
        return float(self.table[present].min()), float(self.table[present].max())

    def _map(self, fn) -> "Lookup":
        return Lookup(self.codes, fn(self.table))

    def __rsub__(self, other):
        return self._map(lambda t: other - t)

    def __sub__(self, other):
        return self._map(lambda t: t - other)

    def __mul__(self, other):
        return self._map(lambda t: t * other)

    def __ge__(self, other):
        return self.test(self.table >= other)

    def __gt__(self, other):
        return self.test(self.table > other)

    def __le__(self, other):
        return self.test(self.table <= other)

    def __lt__(self, other):
        return self.test(self.table < other)


def _monotone(table: np.ndarray) -> bool:
    """True when ``table`` never decreases or never increases."""
    d = np.diff(table)
    return bool((d >= 0).all()) or bool((d <= 0).all())


def dense(field) -> np.ndarray:
    """A float32 array of a field (a :class:`Lookup` or an array)."""
    return field.dense() if isinstance(field, Lookup) else np.asarray(field, dtype=np.float32)


def _value_range(c) -> tuple[float, float]:
    if isinstance(c, Lookup):
        return c.value_range()
    return _cv2().minMaxLoc(c)[:2] if c.size else (0.0, 0.0)


def _compress(where: np.ndarray, c) -> np.ndarray:
    return c.compress(where) if isinstance(c, Lookup) else np.compress(where, c)


def _median(v: np.ndarray, extreme: str) -> float:
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
    cv2 = _cv2()
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


def remove_specks(coverage: np.ndarray | Lookup, *, min_area_px: float,
                  floor: float = 0.0) -> tuple[np.ndarray | Lookup, int, int]:
    """Drop islands and fill holes whose ink (or missing ink) is below ``min_area_px`` pixels².

    ``coverage`` is a field in [0, 1] (a binary mask works too). An island is
    an 8-connected set of pixels above ``floor``; its size is its ink mass
    (the sum of its coverage), so a faint anti-aliased speck counts for what
    it covers. A hole is a 4-connected set below ``1 - floor`` that does not
    touch the image border. Islands that nowhere reach 0.5 and holes that
    nowhere drop below it are removed too, whatever their size. Returns ``(coverage, islands dropped, holes filled)``.

    A component's mass lies between its number of full pixels and its number
    of pixels, both read off label histograms; the weighted sum (the same
    float sum as ever) is taken only for components those counts leave undecided.
    A component joined to a seed (see :data:`SPECK_REACH_STEPS`) is neither
    faint nor small: only the box of the pixels that no seed reached is labelled.
    A :class:`Lookup` field gives the same result as a :class:`Lookup` (or an
    array, when no code stands for 0 or 1).
    """
    cv2 = _cv2()
    lookup = isinstance(coverage, Lookup)
    if min_area_px <= 0:
        return (coverage if lookup else np.asarray(coverage, dtype=np.float32)), 0, 0
    if not lookup and np.asarray(coverage).dtype == bool:
        return _remove_specks_binary(np.asarray(coverage), min_area_px)
    c = coverage if lookup else np.asarray(coverage, dtype=np.float32)
    lo, hi = _value_range(c)
    bounded = floor >= 0.0 and lo >= 0.0 and hi <= 1.0  # each pixel weighs 0..1: counts bound the masses
    # Seeds: a pixel of weight >= max(0.5, min_area_px), or (larger areas) a side x side square of whole
    # pixels, side² >= min_area_px: a component holding one is neither faint nor small (its mass is at least
    # its count of whole pixels).
    sure = _at_least(max(0.5, float(min_area_px)))
    side = int(np.ceil(np.sqrt(float(min_area_px))))
    ink = c > floor
    islands = 0
    seeds = None if not bounded else (c >= sure) if sure is not None else _in_squares(c >= 1.0, side)
    part, settled = _unsettled(ink, seeds, np.ones((3, 3), np.uint8))
    if part is not None:
        n, lab = _labels(ink[part], 8)
        cp = c[part]
        area, whole, half = _class_counts(lab, n, cp >= 1.0, cp >= 0.5)
        skip = None if settled is None else _label_counts(lab, n, settled[part]) > 0
        small = _below(lab, n, area, whole, cp, cp, min_area_px, bounded, skip)
        # a faint smudge (noise, JPEG blocks) never reaches the midpoint anywhere: it is not part of the subject
        small |= ~(half > 0)
        if skip is not None:
            small &= ~skip
        small[0] = False
        islands = int(small.sum())
        if islands:
            c = _set(c, _placed(small.take(lab), part, c.shape), 0.0)
    paper = c < 1.0 - floor
    holes = 0
    seeds = None if not bounded else ((c <= 0.5) & ((1.0 - c) >= sure)) if sure is not None else _in_squares(c <= 0.0, side)
    part, settled = _unsettled(paper, seeds, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
    if part is not None:
        n2, lab2 = _labels(paper[part], 4)
        cp = c[part]
        area2, whole2, half2 = _class_counts(lab2, n2, cp <= 0.0, cp <= 0.5)
        skip = None if settled is None else _label_counts(lab2, n2, settled[part]) > 0
        tiny = _below(lab2, n2, area2, whole2, cp, None, min_area_px, bounded, skip)
        tiny |= ~(half2 > 0)
        if skip is not None:
            tiny &= ~skip
        # open to the border: not a hole (the box's edge is the border wherever an unsettled component meets it)
        tiny[np.concatenate([lab2[0], lab2[-1], lab2[:, 0], lab2[:, -1]])] = False
        tiny[0] = False
        holes = int(tiny.sum())
        if holes:
            c = _set(c, _placed(tiny.take(lab2), part, c.shape), 1.0)
    return c, islands, holes


#: Dilations :func:`remove_specks` grows its seeds by inside a region before it labels the box of what is left
#: (thin strokes and narrow gaps of a large image lie many pixels from any square; each step costs a pass).
SPECK_REACH_STEPS = 8


def _unsettled(region: np.ndarray, seeds: np.ndarray | None, kernel: np.ndarray,
               steps: int = SPECK_REACH_STEPS) -> tuple[tuple[slice, slice] | None, np.ndarray | None]:
    """``(part, settled)``: the pixels of ``region`` joined to ``seeds`` inside it within ``steps`` dilations,
    and the box, a pixel wider, of the others (None: there are none); without seeds, the whole region.

    A component of ``region`` inside ``part`` that holds no settled pixel lies in
    the box of the others, and so is a whole component of ``region`` (its
    neighbours would lie in ``part``); the others hold a seed.
    """
    h, w = region.shape
    if seeds is None:
        return (slice(0, h), slice(0, w)), None
    settled, complete = _grow(region, seeds, kernel, steps)
    if complete:
        return None, settled
    x, y, bw, bh = _cv2().boundingRect(np.logical_and(region, ~settled).view(np.uint8))
    return (slice(max(0, y - 1), min(h, y + bh + 1)), slice(max(0, x - 1), min(w, x + bw + 1))), settled


def _in_squares(whole: np.ndarray, side: int) -> np.ndarray:
    """The pixels of ``whole`` (bool) that lie in a ``side x side`` square of its pixels (inside the image)."""
    cv2 = _cv2()
    square = np.ones((side, side), np.uint8)
    corners = cv2.erode(whole.view(np.uint8), square, anchor=(0, 0),  # squares by their top left pixel
                        borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.dilate(corners, square, anchor=(side - 1, side - 1)).view(bool)


def _placed(part_values: np.ndarray, part: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """A bool image of ``shape``, ``part_values`` in ``part`` and False elsewhere."""
    out = np.zeros(shape, bool)
    out[part] = part_values
    return out


def _set(c: np.ndarray | Lookup, where: np.ndarray, value: float) -> np.ndarray | Lookup:
    """A copy of the field with the pixels ``where`` set to ``value``."""
    if isinstance(c, Lookup):
        return c.with_value(where, value)
    return np.where(where, np.float32(value), c)


#: Geodesic steps :func:`_reaches_all` takes before it gives up (anti-aliased fringes are a pixel or two wide).
REACH_STEPS = 4


def _reaches_all(region: np.ndarray, seeds: np.ndarray, kernel: np.ndarray, steps: int = REACH_STEPS) -> bool:
    """True when every pixel of ``region`` is joined to a pixel of ``seeds & region`` within ``region``.

    Grows the seeds inside the region (dilation by ``kernel``: 3x3 for 8-, a cross
    for 4-connectivity) at most ``steps`` times; False means "not shown", not "no".
    Then every component of the region holds a seed pixel, without labelling it.
    """
    return _grow(region, seeds, kernel, steps)[1]


def _grow(region: np.ndarray, seeds: np.ndarray, kernel: np.ndarray, steps: int) -> tuple[np.ndarray, bool]:
    """``(reached, complete)``: ``seeds & region`` grown inside the region at most ``steps`` times, and whether
    that is all of it (stops early when nothing grows)."""
    cv2 = _cv2()
    total = np.count_nonzero(region)
    reached = seeds & region
    got = np.count_nonzero(reached)
    grown = np.empty_like(reached)  # two buffers, grown into alternately
    for _ in range(steps):
        if got == total:
            break
        cv2.dilate(reached.view(np.uint8), kernel, dst=grown.view(np.uint8))
        np.logical_and(grown, region, out=grown)
        before, got = got, np.count_nonzero(grown)
        reached, grown = grown, reached
        if got == before:
            break  # no growth: some pixels are never reached
    return reached, got == total


def _at_least(t: float) -> np.float32 | None:
    """The smallest float32 that is >= ``t`` (so ``c >= _at_least(t)`` implies ``c >= t`` exactly); None above 1."""
    if t > 1.0:
        return None
    t32 = np.float32(t)
    if float(t32) < t:
        t32 = np.nextafter(t32, np.float32(np.inf))
    return t32


def _label_counts(lab: np.ndarray, n: int, where: np.ndarray) -> np.ndarray:
    """Number of pixels of each label where ``where`` (bool) holds; label 0 (the background) is not counted.

    16-bit labels: the histogram of ``lab * where`` (the other pixels go to label 0), several
    times faster than OpenCV's masked histogram.
    """
    cv2 = _cv2()
    if lab.dtype == np.uint16:
        counts = cv2.calcHist([np.multiply(lab, where, dtype=np.uint16)], [0], None, [n], [0, n]).ravel().astype(np.int64)
    else:
        counts = np.bincount(np.compress(where.ravel(), lab), minlength=n)
    counts[0] = 0
    return counts


def _below(lab: np.ndarray, n: int, area: np.ndarray, whole: np.ndarray, c, weights,
           min_area_px: float, bounded: bool, skip: np.ndarray | None = None) -> np.ndarray:
    """Labels whose mass, ``bincount(lab, weights)`` (``weights=None``: ``1 - c``), is below ``min_area_px``.

    With ``bounded`` (every weight in 0..1) a label's mass is at least its
    number of ``whole`` pixels (weight 1; a count per label) and at most its
    pixel count (the float sums of non-negative terms keep both bounds), so the
    weighted sum is taken only over the labels that neither bound decides (nor
    ``skip``: labels whose answer is not needed).
    """
    if not bounded:
        w = dense((1.0 - c) if weights is None else weights)
        return np.bincount(lab.ravel(), weights=w.ravel(), minlength=n) < min_area_px
    below = area < min_area_px
    open_ = ~below & (whole < min_area_px)
    if skip is not None:
        open_ &= ~skip
    open_[0] = False
    if open_.any():
        sel = open_.take(lab).ravel()
        w = (1.0 - _compress(sel, c)) if weights is None else _compress(sel, weights)  # same terms, same order
        mass = np.bincount(np.compress(sel, lab), weights=w, minlength=n)
        below |= open_ & (mass < min_area_px)
    return below


def _labels(mask: np.ndarray, connectivity: int) -> tuple[int, np.ndarray]:
    """``(n, labels)`` of a bool mask; 16-bit labels (a fast histogram) while they fit."""
    cv2 = _cv2()
    u8 = mask.view(np.uint8)
    try:
        return cv2.connectedComponents(u8, connectivity=connectivity, ltype=cv2.CV_16U)
    except cv2.error:  # more than 65535 components
        return cv2.connectedComponents(u8, connectivity=connectivity)


def _class_counts(lab: np.ndarray, n: int, whole: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(pixels, whole pixels, half pixels)`` of each label, ``whole`` within ``half`` (bool images).

    One histogram of ``3 lab + whole + half`` (three classes per label) instead of one per count.
    """
    cv2 = _cv2()
    cls = np.add(whole, half, dtype=np.uint8)
    if lab.dtype == np.uint16 and 3 * n <= 1 << 16:
        key = np.multiply(lab, 3, dtype=np.uint16)
        key += cls
        counts = cv2.calcHist([key], [0], None, [3 * n], [0, 3 * n]).ravel().astype(np.int64)
    else:
        counts = np.bincount((lab.astype(np.int64) * 3 + cls).ravel(), minlength=3 * n)
    counts = counts.reshape(n, 3)
    return counts.sum(axis=1), counts[:, 2], counts[:, 1] + counts[:, 2]


def _remove_specks_binary(mask: np.ndarray, min_area_px: float) -> tuple[np.ndarray, int, int]:
    """:func:`remove_specks` for a bool mask, where ink mass is the pixel count: no weighted passes."""
    out, islands, holes = remove_specks_mask(mask, min_area_px)
    return out.astype(np.float32), islands, holes


def _labels_and_areas(mask: np.ndarray, connectivity: int) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, labels, pixel count per label)`` of a bool mask; 16-bit labels (a fast histogram) while they fit."""
    n, lab = _labels(mask, connectivity)
    if lab.dtype != np.uint16:
        return n, lab, np.bincount(lab.ravel(), minlength=n)
    return n, lab, _cv2().calcHist([lab], [0], None, [n], [0, n]).ravel().astype(np.int64)


def remove_specks_mask(mask: np.ndarray, min_area_px: float) -> tuple[np.ndarray, int, int]:
    """:func:`remove_specks` on a bool mask, returning a bool mask (``mask`` itself when nothing changed).

    Component areas come from a histogram of the labels: OpenCV's labelling is
    several times faster without its statistics pass, and a hole's only other
    property needed, touching the border, is read off the border's labels.
    """
    cv2 = _cv2()
    islands = holes = 0
    out = mask
    if not _all_large(mask, min_area_px, np.ones((3, 3), np.uint8)):
        n, lab, area = _labels_and_areas(mask, 8)
        small = area < min_area_px
        small[0] = False
        islands = int(small.sum())
        out = mask & ~small[lab] if islands else mask
    paper = ~out
    if not _all_large(paper, min_area_px, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))):
        n2, lab2, area2 = _labels_and_areas(paper, 4)
        tiny = area2 < min_area_px
        tiny[np.concatenate([lab2[0], lab2[-1], lab2[:, 0], lab2[:, -1]])] = False  # open to the border: not a hole
        tiny[0] = False
        holes = int(tiny.sum())
        if holes:
            out = out | tiny[lab2]
    return out, islands, holes


#: :func:`_all_large` proves areas with squares up to this side (larger areas: few squares, labelling it is).
LARGE_SQUARE_MAX = 5


def _all_large(region: np.ndarray, min_area_px: float, kernel: np.ndarray) -> bool:
    """True when every component of ``region`` (bool) provably has at least ``min_area_px`` pixels.

    A pixel whose s x s window (s² >= min_area_px, nothing outside the image)
    lies in the region belongs to a component of at least s² pixels (the
    square is connected either way); when every pixel is joined to such a
    pixel (:func:`_reaches_all`), no component is smaller. False means "not shown".
    """
    cv2 = _cv2()
    side = max(1, int(np.ceil(np.sqrt(max(float(min_area_px), 0.0)))))
    if side > LARGE_SQUARE_MAX or not region.any():
        return not region.any()
    if side == 1:
        return True  # every component has a pixel
    inner = cv2.erode(region.view(np.uint8), np.ones((side, side), np.uint8),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    return _reaches_all(region, inner, kernel)


def keep_attached(coverage: np.ndarray | Lookup, *, link: float = 0.1) -> np.ndarray | Lookup:
    """Hysteresis on a coverage field: faint ink survives only where it hangs off solid ink.

    Ink above ``link`` is kept when its 8-connected component reaches 0.5
    somewhere (thin tips, serifs and hairlines fade out from the body), plus a
    one-pixel fringe below ``link`` around it; every other faint value (JPEG
    blocks and ringing, noise, smudges) becomes paper. The same is done for
    paper inside the ink (faint pinholes become ink). An array gives a new
    array; a :class:`Lookup` gives a :class:`Lookup` (itself when nothing
    changes, else new codes; an array when no code stands for 0 or 1).
    """
    cv2 = _cv2()
    lookup = isinstance(coverage, Lookup)
    c = coverage if lookup else np.asarray(coverage, dtype=np.float32)
    k3 = np.ones((3, 3), np.uint8)
    out = c if lookup else c.copy()
    for field, to in ((c, 0.0), (1.0 - c, 1.0)):
        ext = _extremes_lookup(field, c.extremes3()) if lookup else None
        if ext is not None:
            linked_t = field.table >= link
            seeds_t = (field.table >= 0.5) & linked_t
        if ext is not None and not _any_untouched(field, ext, linked_t, seeds_t):
            kept = None  # every linked pixel is a seed or touches one: all are kept
        else:
            linked = field >= link
            seeds = field >= 0.5
            if ext is not None:  # (the first step of the reach, read off the codes)
                reach = _reaches_all(linked, np.logical_and(linked, ext.test(seeds_t)), k3, REACH_STEPS - 1)
            else:
                reach = _reaches_all(linked, seeds, k3)
            if reach:  # (a clean image: every component is solid, no labelling needed)
                kept = None if ext is not None else linked
            else:
                n, lab, _ = _labels_and_areas(linked, 8)
                solid = _label_counts(lab, n, seeds) > 0
                solid[0] = False
                kept = linked if solid[1:].all() else solid.take(lab)
        if kept is None:  # ink not touching the linked pixels (the codes' extremes say where)
            pos_t = field.table > 0
            if not _any_untouched(field, ext, pos_t, linked_t):
                continue
            drop = field.test(pos_t)
            np.logical_and(drop, ~ext.test(linked_t), out=drop)
        else:
            near = cv2.dilate(kept.view(np.uint8), k3).view(bool)
            drop = (field > 0) & ~near
        if drop.any():
            if isinstance(out, Lookup):
                out = out.with_value(drop, to)  # (new codes the first time; a pixel's later value wins, as below)
            else:
                out[drop] = to
    return out


def _extremes_lookup(field: Lookup, ext3: tuple[np.ndarray, np.ndarray]) -> Lookup | None:
    """For a monotone :class:`Lookup` field, the field's 3 x 3 maximum as a :class:`Lookup` of the 3 x 3
    extreme codes ``ext3`` (the highest codes for a rising table, the lowest for a falling one), else None.

    A test ``field >= v`` (or ``> v``) then holds on a run of codes from an end,
    and a pixel touches a pixel that passes it exactly when its extreme
    neighbouring code does: the test of the extremes is the dilation of the test.
    """
    d = np.diff(field.table)
    if bool((d >= 0).all()):
        return Lookup(ext3[0], field.table)
    if bool((d <= 0).all()):
        return Lookup(ext3[1], field.table)
    return None


def _any_untouched(field: Lookup, ext: Lookup, a_t: np.ndarray, b_t: np.ndarray) -> bool:
    """Whether a pixel passes the test ``a_t`` and touches no pixel that passes ``b_t`` (tests of a monotone
    field, holding on runs of codes from an end; ``ext`` from :func:`_extremes_lookup`).

    Read off the lowest and highest codes of the pixels that touch none: a run from an end holds a code of
    theirs exactly when it holds one of those two.
    """
    untouched = ext.test(~b_t)
    lo, hi, where, _ = _cv2().minMaxLoc(field.codes, untouched.view(np.uint8))
    return where != (-1, -1) and bool(a_t[int(lo)] or a_t[int(hi)])


def artefact_level(coverage: np.ndarray | Lookup, *,
                   spans: tuple[np.ndarray | None, np.ndarray | None] | None = None,
                   decimated: np.ndarray | None = None) -> float:
    """How far from pure ink/paper the pixels next to (not on) edges stray: JPEG ringing and blocking.

    On a clean render, pixels two or three pixels from an edge are exactly 0
    or 1; after lossy compression they are not. Returns the 95th percentile
    of ``min(c, 1 - c)`` over those pixels (0 for a clean image). ``spans``:
    the 3x3 and 7x7 spans (dilate - erode) of ``_decimated(coverage)`` when the
    caller has them already (either may be None). A :class:`Lookup` field's
    spans are taken on its codes (:func:`_span_lookup`, the same values);
    ``decimated``: its ``_decimated_u8(coverage.codes)`` when the caller has it.
    """
    span3, span7 = spans if spans is not None else (None, None)
    kernels = np.ones((3, 3), np.uint8), np.ones((7, 7), np.uint8)
    if isinstance(coverage, Lookup):
        g = _decimated_u8(coverage.codes) if decimated is None else decimated
    if isinstance(coverage, Lookup) and span3 is None:
        level = _artefact_level_codes(coverage, span7, g)
        if level is not None:
            return level
    if isinstance(coverage, Lookup):
        c = _cv2().LUT(g, coverage.table)  # (as _decimated(coverage): the same pixels' values)
        span3, span7 = (s if s is not None else _span_lookup(g, coverage.table, k) for s, k in zip((span3, span7), kernels))
    else:
        c = _decimated(coverage)
        span3, span7 = (s if s is not None else _span(c, k) for s, k in zip((span3, span7), kernels))
    near = (span7 >= 0.5) & (span3 < 0.25)
    if near.sum() < 64:
        return 0.0
    v = np.compress(near.ravel(), c)  # (as c[near], faster)
    return float(np.percentile(np.minimum(v, 1.0 - v), 95))


def _artefact_level_codes(coverage: Lookup, span7: np.ndarray | None, g: np.ndarray) -> float | None:
    """:func:`artefact_level` of a :class:`Lookup` field with a monotone table, on its codes ``g`` (decimated;
    else None).

    ``span3 < 0.25`` is a comparison of the 3 x 3 extreme codes (as in
    :func:`tracer.isolate._flat_midtones_lookup`), and the percentile, which depends
    only on the values taken, is read off the histogram of the near pixels' codes:
    the value at the ranks it interpolates between when one value spans them
    (a clean image: 0), else ``np.percentile`` of the same values, sorted.
    """
    cv2 = _cv2()
    t = coverage.table
    if not _monotone(t):
        return None
    if span7 is None:
        span7 = _span_lookup(g, t, np.ones((7, 7), np.uint8))
    up = bool((np.diff(t) >= 0).all())
    lv = np.arange(256)
    span = (t[:, None] - t[None, :]) if up else (t[None, :] - t[:, None])  # [hi code, lo code], as _span_lookup's
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
