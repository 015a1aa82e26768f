"""Subject isolation: :class:`Image` -> :class:`Mask` (OpenCV).

Stages
------
1. **Ink field.** A float field where the subject is high, with the levels of
   ink and paper: the alpha channel when it carries the shape; otherwise
   luminance with Otsu separating ink from paper and the polarity read from
   the image border (``method="otsu"``); the same after dividing out a smooth
   illumination estimate (``"adaptive"``, also applied automatically when the
   paper level drifts across the image); a colour key (``"color"``: closeness
   to ``--color`` in CIE Lab); or GrabCut's foreground (``"grabcut"``: a
   subject photographed in front of a background, no model download).
2. **Denoise.** The noise of the flat areas is measured; a noisy field is
   median (or bilateral) filtered with a radius that follows the resolution.
3. **Working raster.** Small subjects are upsampled so that one working pixel
   is about ``target_px_mm`` at the requested width (at most
   ``MAX_COVERAGE_UPSAMPLE``), very large ones are area-reduced.
4. **Sub-pixel cut.** On a clean field the grey level of a pixel is the
   fraction of it covered by ink (anti-aliasing), so each source pixel gets
   exactly that many working sub-pixels, placed where the bicubic
   interpolation of the field is highest ("coverage fill"). That keeps the
   ink of thin strokes, serifs and tips, which a 50 % cut loses, and whose
   loss moves the subject's bounding box and hence the scale of the whole
   part. A noisy field, a fixed ``threshold`` or GrabCut's mask is instead
   cut at the midpoint level after bicubic interpolation ("midpoint cut").
   A blur (a camera) ends thin tapers early at that level; :mod:`tracer.tips`
   measures the blur and puts such tips back where the field says they reach.
5. **Specks.** Islands and holes smaller than ``speck_mm2`` (at the output
   width) are removed.

Coordinates: the mask is on the working raster; ``Mask.scale`` is source
pixels per working pixel, so the tracer returns source pixels (y down).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from tracer import denoise as D
from tracer.errors import EmptyMaskError, InvalidInputError
from tracer.types import Image, IsolateParams, Mask

__all__ = ["isolate", "ink_field", "working_factor", "coverage_fill", "parse_color", "METHODS", "DENOISE_MODES"]

METHODS = ("otsu", "adaptive", "color", "grabcut")
DENOISE_MODES = ("auto", "none", "median", "bilateral")
#: Ink and paper must differ by at least this much (0..1 luminance) for a subject to exist.
MIN_CONTRAST = 0.06
#: Upsampling never exceeds this factor for the midpoint cut (accuracy gains stop, time does not).
MAX_UPSAMPLE = 4
#: The coverage fill places sub-pixel ink exactly, so it profits from a finer raster.
MAX_COVERAGE_UPSAMPLE = 6
#: From this working factor up a clean image gets the coverage fill (at k = 2 it keeps the thin strokes of
#: 2048 px logos that the midpoint cut loses, and, run on the ink's box and a grey image's codes, costs no more).
MIN_COVERAGE_UPSAMPLE = 2
#: Coverage below this (fraction of the ink/paper contrast) is paper on a clean image ...
CLEAN_DEAD_ZONE = 0.01
#: ... and, on a noisy one, this many noise sigmas.
NOISE_DEAD_ZONE_SIGMAS = 3.0
#: Paper level drift (fraction of the contrast) above which the illumination is flattened automatically.
AUTO_FLATTEN_DRIFT = 0.06


def _cv2():
    import cv2

    return cv2


def _border(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    b = max(1, min(h, w) // 50)
    parts = [a[:b], a[-b:], a[:, :b], a[:, -b:]]
    if a.ndim == 3:
        return np.concatenate([p.reshape(-1, a.shape[2]) for p in parts])
    return np.concatenate([p.ravel() for p in parts])


def _otsu(values01: np.ndarray) -> float:
    """Otsu's threshold of values in [0, 1] on 256 levels (``round(v * 255)``, as 8-bit Otsu), over 255."""
    cv2 = _cv2()
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


def _alpha_carries_shape(image: Image) -> bool:
    a = image.alpha
    if a is None:
        return False
    frac = (a < 0.5).mean()
    return 0.0005 < frac < 0.9995


def parse_color(text: str) -> tuple[float, float, float]:
    """``'#RRGGBB'`` (or ``'RRGGBB'``, ``'#RGB'``) -> RGB in 0..1."""
    s = text.strip().lstrip("#")
    if len(s) == 3:
        s = "".join(ch * 2 for ch in s)
    if len(s) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in s):
        raise InvalidInputError(f"--color must be '#RRGGBB', got {text!r}")
    return tuple(int(s[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def _to_lab(rgb01: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    return cv2.cvtColor(np.ascontiguousarray(rgb01, dtype=np.float32), cv2.COLOR_RGB2Lab)


def _background_estimate(lum: np.ndarray, dark_ink: bool, *, degree: int = 2) -> np.ndarray:
    """Smooth paper level: a polynomial surface in x, y fitted to the paper pixels only.

    Fitted on a copy reduced to at most 128 px, re-classifying paper and ink
    against the surface three times, so large ink areas never pull the
    paper level down (as a grey closing would).
    """
    return _BackgroundFit(lum, dark_ink, degree=degree).surface()


@functools.lru_cache(maxsize=8)
def _design_matrix(sh: int, sw: int, degree: int) -> np.ndarray:
    """(sh*sw, terms) float64 (from float32 pixel coordinates): the monomials x^i y^j of the background fit."""
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xs, ys = (xx + 0.5) / sw - 0.5, (yy + 0.5) / sh - 0.5
    terms = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    A = np.stack([xs.ravel() ** i * ys.ravel() ** j for i, j in terms], axis=1).astype(np.float64)
    A.flags.writeable = False
    return A


class _BackgroundFit:
    """The fit of :func:`_background_estimate`; its surface in full or on a grid of rows and columns only."""

    def __init__(self, lum: np.ndarray, dark_ink: bool, *, degree: int = 2):
        cv2 = _cv2()
        h, w = lum.shape
        self.shape, self.degree = (h, w), degree
        d = max(1, int(math.ceil(max(h, w) / 128)))
        small = cv2.resize(lum, (max(2, w // d), max(2, h // d)), interpolation=cv2.INTER_AREA) if d > 1 else lum
        terms = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
        A = _design_matrix(*small.shape, degree)
        v = small.ravel().astype(np.float64)
        t = _otsu(small)
        ink = float(np.median(v[v <= t])) if (v <= t).any() else 0.0
        if not dark_ink:
            ink = float(np.median(v[v > t])) if (v > t).any() else 1.0
        paper = (v > t) if dark_ink else (v <= t)
        coef = None
        for _ in range(3):
            if paper.sum() < len(terms) * 4:
                break
            Ap = np.compress(paper, A, axis=0)  # normal equations: a few terms, thousands of samples
            coef = np.linalg.solve(Ap.T @ Ap + 1e-9 * np.eye(len(terms)), Ap.T @ np.compress(paper, v))
            surf = A @ coef
            band = 0.15 * np.abs(surf - ink)  # paper lies close to the surface; edges and ink do not
            paper = np.abs(v - surf) < band
        self.coef, self.terms = coef, terms
        self.flat = None if coef is not None else (float(np.median(v[paper])) if paper.any() else 1.0)

    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(cols (h, J), rows (J, w))`` float32: the surface is ``cols @ rows``."""
        h, w = self.shape
        # sum of c_ij x^i y^j = (Y powers) @ (coefficient-weighted X powers): one (h, J) x (J, w) product
        X = (np.arange(w, dtype=np.float64) + 0.5) / w - 0.5
        Y = (np.arange(h, dtype=np.float64) + 0.5) / h - 0.5
        rows = np.zeros((self.degree + 1, w))
        for c, (i, j) in zip(self.coef, self.terms):
            rows[j] += c * X ** i
        cols = np.stack([Y ** j for j in range(self.degree + 1)], axis=1)
        return cols.astype(np.float32), rows.astype(np.float32)

    def surface(self) -> np.ndarray:
        """The paper level at every pixel, ``(h, w)`` float32."""
        if self.coef is None:
            return np.full(self.shape, self.flat, np.float32)
        cols, rows = self._factors()
        return (cols @ rows).astype(np.float32, copy=False)

    def sampled(self, sy: int, sx: int) -> np.ndarray:
        """``surface()[::sy, ::sx]`` without the rest: the same K=3 products (one per element), on those rows and columns."""
        if self.coef is None:
            return self.surface()[::sy, ::sx]
        cols, rows = self._factors()
        return np.ascontiguousarray(cols[::sy]) @ np.ascontiguousarray(rows[:, ::sx])


def _flatten(lum: np.ndarray, bg: np.ndarray, dark_ink: bool) -> np.ndarray:
    if dark_ink:  # multiplicative light: paper -> 1
        return np.clip(lum / np.maximum(bg, 1e-3), 0, 1).astype(np.float32)
    return np.clip(1.0 - (1.0 - lum) / np.maximum(1.0 - bg, 1e-3), 0, 1).astype(np.float32)


#: The ink and paper levels are medians of at most about this many pixels of each side (strided).
LEVEL_SAMPLES = 1 << 16


def _levels(lum: np.ndarray, name: str) -> tuple[float, float, float]:
    """Otsu split -> (threshold, ink level (dark side median), paper level (light side median)).

    Measured on at most about 1024 x 1024 pixels (every s-th pixel of a larger image).
    """
    sample = D._decimated(lum)  # a global statistic: every s-th pixel of a large image is plenty
    t = _otsu(sample)
    dark = sample <= t
    lo, hi = np.compress(dark.ravel(), sample), np.compress(~dark.ravel(), sample)  # (as sample[dark], faster)
    if lo.size == 0 or hi.size == 0:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    ink, paper = (D._median(v[:: max(1, v.size // LEVEL_SAMPLES)], ext) for v, ext in ((lo, "min"), (hi, "max")))
    if paper - ink < MIN_CONTRAST:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    return t, ink, paper


@functools.lru_cache(maxsize=1)
def _grey_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(lum (256,) float32, otsu bin (256,) intp)``: the luminance of each grey level, exactly as
    :meth:`Image.luminance` computes it, and the bin :func:`_otsu`'s histogram puts that value in."""
    cv2 = _cv2()
    from tracer.types import _LUMA, _U8_TO_F32

    wr, wg, wb = _LUMA
    tab = (wr * _U8_TO_F32 + wg * _U8_TO_F32) + wb * _U8_TO_F32
    bins = np.empty(256, np.intp)
    for i in range(256):  # (once per process) the very histogram _otsu takes, one value at a time
        h = cv2.calcHist([tab[i:i + 1].reshape(1, 1)], [0], None, [256], [-0.5 / 255.0, 255.5 / 255.0]).ravel()
        bins[i] = int(np.argmax(h)) if h.sum() == 1 else -1
    tab.flags.writeable = False
    bins.flags.writeable = False
    return tab, bins


def _grey_u8(image: Image) -> np.ndarray | None:
    """The uint8 grey levels of which ``image.luminance()`` is a lookup (``_grey_tables()[0][g8]``), else None."""
    d = image._data
    if d.dtype == np.uint8 and d.ndim == 2 and image.alpha is None:
        tab, bins = _grey_tables()
        if (bins >= 0).all() and bool((np.diff(tab) > 0).all()):
            return d
    return None


def _median_u8(g: np.ndarray, tab: np.ndarray) -> float:
    """``float(np.median(tab[g]))`` of uint8 values ``g`` (non-empty; ``tab`` increasing), from their histogram."""
    cv2 = _cv2()
    counts = cv2.calcHist([np.ascontiguousarray(g).reshape(1, -1)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    cum = np.cumsum(counts)
    n = int(cum[-1])
    ranks = [n // 2] if n % 2 else [n // 2 - 1, n // 2]  # the middle order statistics numpy averages
    mids = tab[np.searchsorted(cum, np.array(ranks), side="right")]
    return float(np.median(mids))  # (the same float32 mean of the same one or two values)


def _strided_median_u8(counts: np.ndarray, tab: np.ndarray) -> float | None:
    """The median of ``tab[v[::max(1, v.size // LEVEL_SAMPLES)]]`` (as :func:`_levels`) for any order of the
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


def _levels_u8(g8: np.ndarray, name: str, sample: np.ndarray | None = None) -> tuple[float, float, float]:
    """:func:`_levels` of ``tab[g8]`` (a grey uint8 image's luminance), read off the uint8 data: same values.

    ``sample``: ``D._decimated_u8(g8)`` when the caller has it.
    """
    cv2 = _cv2()
    tab, bins = _grey_tables()
    if sample is None:
        sample = D._decimated_u8(g8)  # (as D._decimated)
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
        ink, paper = (D._median(tab[v[:: max(1, v.size // LEVEL_SAMPLES)]], ext) for v, ext in ((lo, "min"), (hi, "max")))
    if paper - ink < MIN_CONTRAST:
        raise EmptyMaskError(
            f"{name}: no subject found, the image is blank or has almost no contrast "
            "(try --threshold N or --invert)")
    return t, ink, paper


def ink_field(image: Image, params: IsolateParams = IsolateParams()) -> tuple[np.ndarray, float, dict]:
    """Return ``(field, level, info)``: a float32 field where ink is high, and the cut level.

    The subject is ``field >= level``. ``info`` records the decisions taken
    (source of the field, polarity, levels) for the report; when the field is
    a coverage (anti-aliased grey levels), ``info["ink"]`` and
    ``info["paper"]`` are its levels of full ink and bare paper.
    """
    field, level, info, _ = _ink_field(image, params)
    return D.dense(field), level, info


def _ink_field(image: Image, params: IsolateParams) -> tuple[np.ndarray | D.Lookup, float, dict, tuple | None]:
    """:func:`ink_field`, and ``(g8, table, decimated g8)`` when the field is ``table[g8]`` (a grey uint8 image;
    the third is :func:`tracer.denoise._decimated_u8` of ``g8``, shared by the statistics), else None.

    A grey 8-bit image's luminance takes 256 values only: its statistics are
    read off the uint8 data (a quarter of the memory traffic) and the field is
    that lookup (a :class:`~tracer.denoise.Lookup`: the same float32 values as
    the computation on luminance, made into an array only where one is needed).
    """
    name = image.name
    info: dict = {}
    if params.method not in METHODS:
        raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, got {params.method!r}")
    if params.method == "color":
        return (*_color_field(image, params, info), None)
    if params.method == "grabcut":
        return (*_grabcut_field(image, params, info), None)
    use_alpha = params.use_alpha
    if use_alpha is None:
        use_alpha = params.threshold is None and params.method == "otsu" and _alpha_carries_shape(image)
    if use_alpha:
        if image.alpha is None:
            raise InvalidInputError(f"{name}: --alpha was asked for but the image has no alpha channel")
        field, level, ink, paper = image.alpha, 0.5, 1.0, 0.0
        info.update(source="alpha", level=level)
        if params.invert:
            field, level, ink, paper = 1.0 - field, 1.0 - level, 1.0, 0.0
            info["inverted"] = True
        info.update(ink=ink, paper=paper)
        return np.ascontiguousarray(field, dtype=np.float32), level, info, None

    g8 = _grey_u8(image) if params.threshold is None else None
    lum = image.luminance()
    if image.alpha is not None:
        # Transparent pixels read as the paper: composite on the border colour.
        lum = lum * image.alpha + (1.0 - image.alpha) * float(np.median(_border(lum)))
    if params.threshold is not None:
        t = float(params.threshold) / 255.0
        dark_ink = True
        if params.method == "adaptive":
            lum = _flatten(lum, _background_estimate(lum, True), True)
            info["illumination"] = "flattened"
        info.update(source="luminance", threshold=float(params.threshold), polarity="dark-on-light")
        field, level = 1.0 - lum, 1.0 - t
    else:
        g8_dec = None if g8 is None else D._decimated_u8(g8)
        t, ink_lo, paper_hi = _levels(lum, name) if g8 is None else _levels_u8(g8, name, g8_dec)
        mid = 0.5 * (ink_lo + paper_hi)
        border = float(np.median(_border(lum))) if g8 is None else _median_u8(_border(g8), _grey_tables()[0])
        dark_ink = border >= mid  # the border is background
        flatten = params.method == "adaptive"
        bg = None
        if not flatten:
            fit = _BackgroundFit(lum, dark_ink)  # the drift is read on a 64 x 64 grid of the surface
            lo_bg, hi_bg = np.percentile(fit.sampled(max(1, lum.shape[0] // 64), max(1, lum.shape[1] // 64)), [2, 98])
            flatten = (hi_bg - lo_bg) > AUTO_FLATTEN_DRIFT * (paper_hi - ink_lo)
            info["paper_drift"] = round(float(hi_bg - lo_bg) * 255, 1)
            if flatten:
                bg = fit.surface()
        if flatten:
            if bg is None:
                bg = _background_estimate(lum, dark_ink, degree=3)
            lum = _flatten(lum, bg, dark_ink)
            g8 = None  # (no longer a lookup of the grey levels)
            info["illumination"] = "flattened"
            t, ink_lo, paper_hi = _levels(lum, name)
            mid = 0.5 * (ink_lo + paper_hi)
        info.update(source="luminance", threshold=round(mid * 255, 2),
                    polarity="dark-on-light" if dark_ink else "light-on-dark",
                    levels=(round(ink_lo * 255, 1), round(paper_hi * 255, 1)))
        if g8 is not None:
            lum = _grey_tables()[0]  # the field's table: the same operations on the 256 values, then one lookup
        if dark_ink:
            field, level, ink, paper = 1.0 - lum, 1.0 - mid, 1.0 - ink_lo, 1.0 - paper_hi
        else:
            field, level, ink, paper = lum, mid, paper_hi, ink_lo
        info.update(ink=ink, paper=paper)
    if params.invert:
        field, level = 1.0 - field, 1.0 - level
        info["inverted"] = True
        if "ink" in info:
            info["ink"], info["paper"] = 1.0 - info["paper"], 1.0 - info["ink"]
    if g8 is not None:
        table = np.ascontiguousarray(field, dtype=np.float32)
        return D.Lookup(g8, table), level, info, (g8, table, g8_dec)
    return np.ascontiguousarray(field, dtype=np.float32), level, info, None


def _color_field(image: Image, params: IsolateParams, info: dict) -> tuple[np.ndarray, float, dict]:
    """Closeness to the key colour: 1 at the colour, 0.5 at ``color_tolerance`` (CIE Delta E 1976), 0 at twice it."""
    if not params.color:
        raise InvalidInputError("--method color needs --color '#RRGGBB'")
    if not params.color_tolerance > 0:
        raise InvalidInputError(f"--color-tolerance must be > 0, got {params.color_tolerance}")
    key = np.array(parse_color(params.color), np.float32).reshape(1, 1, 3)
    px = image.pixels
    if image.alpha is not None:  # transparent pixels read as the border colour
        bgc = np.median(_border(px), axis=0).astype(np.float32)
        px = px * image.alpha[..., None] + (1.0 - image.alpha[..., None]) * bgc
    d = np.linalg.norm(_to_lab(px) - _to_lab(key), axis=2)
    tol = float(params.color_tolerance)
    field = np.clip(1.0 - d / (2.0 * tol), 0.0, 1.0).astype(np.float32)
    info.update(source="color", color=params.color, color_tolerance=tol, level=0.5)
    level = 0.5
    if params.invert:
        field, level = 1.0 - field, 0.5
        info["inverted"] = True
    if not (field >= level).any():
        raise EmptyMaskError(f"{image.name}: no pixel is within Delta E {tol:g} of {params.color} "
                             "(raise --color-tolerance or check the colour)")
    return np.ascontiguousarray(field), level, info


def _grabcut_field(image: Image, params: IsolateParams, info: dict) -> tuple[np.ndarray, float, dict]:
    """GrabCut (OpenCV, Gaussian mixture colour models + graph cut) seeded with the border as background.

    Runs on a copy reduced to at most ``GRABCUT_SIDE`` pixels (it is iterative); the
    foreground is then smoothed and brought back to the full size as a soft field.
    """
    cv2 = _cv2()
    h, w = image.pixels.shape[:2]
    d = max(1.0, max(h, w) / GRABCUT_SIDE)
    sw, sh = max(8, int(round(w / d))), max(8, int(round(h / d)))
    u8 = np.clip(image.pixels * 255.0 + 0.5, 0, 255).astype(np.uint8)
    small = cv2.resize(u8, (sw, sh), interpolation=cv2.INTER_AREA) if d > 1 else u8
    small = np.ascontiguousarray(small[..., ::-1])  # OpenCV wants BGR
    m = max(2, int(round(0.03 * min(sw, sh))))
    gc = np.full((sh, sw), cv2.GC_PR_FGD, np.uint8)
    gc[:m], gc[-m:], gc[:, :m], gc[:, -m:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
    if image.alpha is not None:
        a_small = cv2.resize(image.alpha, (sw, sh), interpolation=cv2.INTER_AREA)
        gc[a_small < 0.05] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(small, gc, None, bgd, fgd, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:
        raise EmptyMaskError(f"{image.name}: GrabCut found no subject apart from the background") from exc
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)
    fg = cv2.GaussianBlur(fg, (0, 0), 0.7)
    field = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR) if d > 1 else fg
    info.update(source="grabcut", grabcut_size=(sw, sh), level=0.5)
    level = 0.5
    if params.invert:
        field = 1.0 - field
        info["inverted"] = True
    return np.ascontiguousarray(field, dtype=np.float32), level, info


#: GrabCut works on a copy at most this many pixels on its long side.
GRABCUT_SIDE = 400
GRABCUT_ITERATIONS = 5


def _restore_tips(mask: np.ndarray, coverage: np.ndarray | None, k: int, info: dict, on: bool = True) -> np.ndarray:
    """Give a blurred picture's midpoint cut back the tips the blur took (:mod:`tracer.tips`)."""
    if not on or coverage is None or info.get("flat_midtones"):
        return mask  # no ink/paper coverage to read the blur from (a third tone is not an edge)
    from tracer import tips

    sigma = tips.estimate_blur(coverage)
    info["blur_sigma"] = round(sigma, 2)
    mask, n = tips.restore_tips(mask, coverage, k, sigma)
    if n:
        info["tips_restored"] = n
    return mask


def working_factor(subject_px: float, params: IsolateParams, n_pixels: int, *,
                   max_upsample: int = MAX_UPSAMPLE) -> float:
    """Working pixels per source pixel: fine enough for ``target_px_mm`` at the output width."""
    if params.upsample is not None:
        return float(params.upsample)
    width_mm = params.width_mm if params.width_mm else 50.0
    want = width_mm / params.target_px_mm  # working pixels across the subject
    k = want / max(subject_px, 1.0)
    if k >= 1.0:
        k = min(max_upsample, math.ceil(k))
        while k > 1 and n_pixels * k * k > params.max_working_px:
            k -= 1
        return float(k)
    d = math.floor(1.0 / k)
    return 1.0 / d if d >= 2 else 1.0


def _cubic(x: np.ndarray, a: float = -0.75) -> np.ndarray:
    """OpenCV's bicubic kernel (a = -0.75)."""
    x = np.abs(x)
    return np.where(x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))


def _subpixel_weights(k: int) -> np.ndarray:
    """(k*k, 25): bicubic weights of a pixel's 5x5 neighbourhood at each of its k x k sub-pixel centres."""
    u = (np.arange(k) + 0.5) / k - 0.5  # sub-pixel centres relative to the pixel centre
    w1 = _cubic(u[:, None] - np.arange(-2, 3)[None, :])  # (k, 5)
    return np.einsum("ia,jb->ijab", w1, w1).reshape(k * k, 25)


def coverage_fill(coverage: np.ndarray, k: int, *, smooth: bool = True) -> np.ndarray:
    """Upsample a coverage field ``(rows, cols)`` in [0, 1] to a ``k`` times finer binary mask.

    Each source pixel gets ``round(coverage * k * k)`` sub-pixels (its ink
    area, exactly, to 1/k²), chosen where the bicubic interpolation of the
    coverage is highest. Only partly covered pixels are ranked, so the cost
    follows the length of the outline, not the area of the image.

    With ``smooth`` (default) the level that selects a pixel's sub-pixels is
    averaged with its neighbours' (Gaussian, ``SMOOTH_LEVEL_PX``), so ink is
    preserved over a neighbourhood rather than in each pixel: outlines are
    continuous where a blurred edge spreads its ink over two pixels. A pixel
    that the shared level leaves with less than ``STARVED_FRACTION`` of its
    ink (the tip of a taper, the end of a hairline, where all neighbours are
    darker) gets exactly its ink back, so thin tips keep their length.
    """
    return _coverage_fill(coverage, k, smooth=smooth)[0]


#: Unsigned integers of k bytes, whose product with 0x0101.. repeats a byte k times.
_SPREAD = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_SPREAD_ONES = {2: 0x0101, 4: 0x01010101, 8: 0x0101010101010101}


def _block_fill(full: np.ndarray, k: int, out: np.ndarray | None = None, y0: int = 0, x0: int = 0) -> np.ndarray:
    """``full`` (bool, rows x cols) repeated into k x k blocks: zeros, then only the box around the True pixels.

    With ``out`` (a zero mask of a larger raster) the blocks go there, ``full`` sitting at pixel ``(y0, x0)``.
    """
    h, w = full.shape
    mask = np.zeros((h * k, w * k), bool) if out is None else out
    c0, r0, bw, bh = _cv2().boundingRect(full.view(np.uint8))  # (the box of the True pixels)
    if bw:
        part = full[r0:r0 + bh, c0:c0 + bw]
        if k in _SPREAD:  # columns first (a 0/1 byte times 0x0101..: the byte k times), then whole rows k times
            wide = (part.view(np.uint8).astype(_SPREAD[k]) * _SPREAD[k](_SPREAD_ONES[k])).view(bool)
        else:
            wide = np.repeat(part, k, axis=1)
        mask.reshape(mask.shape[0] // k, k, mask.shape[1])[y0 + r0:y0 + r0 + bh, :, (x0 + c0) * k:(x0 + c0 + bw) * k] \
            = wide[:, None, :]
    return mask


def _window_index(shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray, r: int) -> np.ndarray:
    """``(N, (2r+1)²)`` flat indices of the (2r+1)² neighbourhood of each pixel, edges replicated (np.pad "edge").

    Clipped row and column indices, so no padded copy is made; the 3x3 window
    is the middle of the 5x5 one (:data:`_INNER_3X3`).
    """
    h, w = shape
    d = np.arange(-r, r + 1)
    rows = np.clip(ys[:, None] + d, 0, h - 1) * w  # (N, 2r+1)
    cols = np.clip(xs[:, None] + d, 0, w - 1)
    return (rows[:, :, None] + cols[:, None, :]).reshape(len(ys), -1)


#: The 3x3 window's columns in a 5x5 window's flat index.
_INNER_3X3 = np.array([6, 7, 8, 11, 12, 13, 16, 17, 18])


_WEIGHTS: dict = {}


def _weights(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cached ``(cubic (25, k*k), linear (9, k*k))`` float32 sub-pixel weights (transposed, as matmul takes them)."""
    w = _WEIGHTS.get(k)
    if w is None:
        w = _WEIGHTS[k] = (_subpixel_weights(k).T.astype(np.float32), _subpixel_weights_linear(k).T.astype(np.float32))
        for a in w:
            a.flags.writeable = False
    return w


_NONE_STARVED = (np.zeros(0, np.intp), np.zeros(0, np.intp))


class _Loose(NamedTuple):
    """Where the coverage fill left a taper's ink wrong: ``(xs, ys)`` source pixels of the whole field."""

    misplaced: tuple  #: starved pixels whose 5x5 ink still differs from the coverage (a tip to redraw)
    cut_off: tuple  #: starved pixels the repair could not join to the ink (a piece of it may hang loose)


_NONE_LOOSE = _Loose(_NONE_STARVED, _NONE_STARVED)


def _coverage_fill(coverage: np.ndarray | D.Lookup, k: int, *, smooth: bool = True,
                   box: tuple[int, int, int, int] | None = None, loose: bool = False) -> tuple[np.ndarray, bool, _Loose]:
    """:func:`coverage_fill`, whether the mask holds any ink (without a pass over the large mask), and
    (with ``loose``, from ``k = MIN_LOOSE_UPSAMPLE``) where the starved pixels (the shared level left them less than
    ``STARVED_FRACTION`` of their ink) still hold their ink wrong (:class:`_Loose`): around them the
    mask's ink differs from the coverage by ``MISPLACED_INK`` (squared, 5x5), or the repair could not
    join them to the ink.

    ``coverage`` may be a :class:`~tracer.denoise.Lookup`. ``box = (y0, x0,
    rows, cols)``: ``coverage`` is the part at ``(y0, x0)`` of a ``rows x cols``
    field that is paper (0) elsewhere, with its ink at least :func:`_crop_pad`
    pixels from the part's edges that are not the field's; the mask is then the
    whole field's, the same as from the whole field: every window read lies in
    the part, and the shared level is blurred on columns from a multiple of
    :data:`BLUR_ALIGN` (OpenCV's row filter takes a row in vector-sized steps
    from its start, and its last partial step otherwise, to other last bits),
    on the tiles around the partial pixels only (:func:`_blur_near`) when it can.
    """
    cv2 = _cv2()
    lookup = isinstance(coverage, D.Lookup)
    c = coverage if lookup else np.ascontiguousarray(coverage, dtype=np.float32)
    lo, hi = D._value_range(c)
    if not (0.0 <= lo and hi <= 1.0):  # (a copy only when something is out of range)
        c = D.Lookup(c.codes, np.clip(c.table, 0.0, 1.0)) if lookup else np.clip(c, 0.0, 1.0)
    h, w = c.shape
    y0, x0, rows, cols = box if box is not None else (0, 0, h, w)
    kk = k * k
    if lookup:  # the same arithmetic on the table's entries
        n_t = c.table * kk
        np.rint(n_t, out=n_t)
        full = c.test(n_t >= kk)
        flat = np.flatnonzero(c.test((n_t > 0) & ~(n_t >= kk)))
        nn = n_t[c.codes.ravel()[flat]].astype(np.int32)
    else:
        n = c * kk  # sub-pixels of ink per pixel: whole numbers in float32, rounded in place
        np.rint(n, out=n)
        full = n >= kk
        flat = np.flatnonzero((n > 0) & ~full)
        nn = n.ravel()[flat].astype(np.int32)
    mask = _block_fill(full, k, np.zeros((rows * k, cols * k), bool), y0, x0)
    any_full = bool(cv2.countNonZero(full.view(np.uint8))) if full.size else False
    if len(flat) == 0:
        return mask, any_full, _NONE_LOOSE
    ys, xs = np.divmod(flat, w)  # (as np.nonzero, several times faster)
    gy, gx = ys + y0, xs + x0  # in the whole field
    # flat index of each partial pixel's k x k block in the mask, and of the block's sub-pixels
    block = (gy * (k * cols * k) + gx * k)[:, None] + (np.arange(k)[:, None] * (cols * k) + np.arange(k)[None, :]).ravel()
    w_cubic, w_linear = _weights(k)
    if ys.min() >= 2 and ys.max() < h - 2 and xs.min() >= 2 and xs.max() < w - 2:  # (no window leaves the part)
        win5 = flat[:, None] + (np.arange(-2, 3)[:, None] * w + np.arange(-2, 3)[None, :]).ravel()
    else:
        win5 = _window_index((h, w), ys, xs, 2)
    blocks = (c.take(win5) if lookup else c.ravel().take(win5)) @ w_cubic  # (N, kk) bicubic values
    if not smooth:
        order = np.argsort(-blocks, axis=1, kind="stable")
        on = np.zeros((len(ys), kk), dtype=bool)
        np.put_along_axis(on, order, np.arange(kk)[None, :] < nn[:, None], axis=1)
        mask.ravel()[block] = on
        return mask, True, _NONE_LOOSE
    # The level that gives each pixel its ink is smoothed over neighbouring pixels, so that ink spread
    # over two pixels (blur) is not split into two strips with a gap, and no pixel grows a lone spike.
    srt = np.sort(blocks, axis=1)  # ascending: the i-th highest value is srt[:, kk - 1 - i]
    idx = np.arange(len(ys))
    t_p = 0.5 * (srt[idx, kk - nn] + srt[idx, np.maximum(kk - 1 - nn, 0)])
    bx0, bx1 = _blur_columns(x0, x0 + w, cols)
    near = _blur_near((h, bx1 - bx0), ys, gx - bx0, (t_p, np.ones(len(ys), np.float32)))
    if near is not None:  # (the blurs on the tiles around the partial pixels only)
        ts, ws = near
    else:
        tmap = np.zeros((h, bx1 - bx0), np.float32)  # (the part's rows; its columns, aligned)
        at = ys * (bx1 - bx0) + (gx - bx0)
        tmap.ravel()[at] = t_p
        win3 = win5[:, _INNER_3X3] if (bx0, bx1) == (x0, x0 + w) else _window_index(tmap.shape, ys, gx - bx0, 1)
        ts = cv2.GaussianBlur(tmap, (0, 0), SMOOTH_LEVEL_PX).ravel().take(win3)
        tmap.fill(0.0)  # (reused for the weights)
        tmap.ravel()[at] = 1.0
        ws = cv2.GaussianBlur(tmap, (0, 0), SMOOTH_LEVEL_PX).ravel().take(win3)
    # the shared level, only on the 3x3 neighbourhoods of the partial pixels (N, 9)
    lneigh = np.where(ws > 1e-3, ts / np.maximum(ws, 1e-6), np.float32(0.5)).astype(np.float32)
    lev = lneigh @ w_linear  # (N, kk) bilinear level
    on = blocks >= lev
    mask.ravel()[block] = on
    got = on.sum(axis=1)
    starved = np.flatnonzero(got < STARVED_FRACTION * nn)
    any_ink = any_full or bool(got.any())
    if not len(starved):
        return mask, any_ink, _NONE_LOOSE
    # (the repair only adds ink next to ink already in the mask)
    _repair_starved(mask, k, gy[starved], gx[starved], blocks[starved] - lev[starved], nn[starved])
    if not loose or k < MIN_LOOSE_UPSAMPLE:
        return mask, any_ink, _NONE_LOOSE
    # Where the ink around a starved pixel still sits in the wrong pixels, a taper's tip is misplaced.
    got[starved] = mask.ravel()[block[starved]].sum(axis=1)  # (the repair changed only these)
    err = np.zeros((h, w), np.float32)
    err.ravel()[flat] = np.square((got - nn) / np.float32(kk))  # (against the rounded ink: not its rounding)
    local = err.ravel().take(win5[starved]).sum(axis=1)
    bad = starved[local >= MISPLACED_INK]
    left = starved[got[starved] < STARVED_FRACTION * nn[starved]]
    return mask, any_ink, _Loose((gx[bad], gy[bad]), (gx[left], gy[left]))



#: A piece of ink the fill cut off a taper is joined back across at most this many source pixels ...
JOIN_REACH_PX = 2.0
#: ... when it covers less than this many source pixels² (a bigger piece is an island of its own).
JOIN_PIECE_PX2 = 4.0


def _join_pieces(mask: np.ndarray, k: int, near: tuple, coverage: np.ndarray) -> int:
    """Join the pieces of a thin taper that the coverage fill cut off, in place; returns how many.

    Where a hairline or a slit's side holds a tenth of a pixel's ink, the fill
    can place it in pieces that do not touch, and the regions stage then drops
    the small ones as specks: the hairline ends early. Around the starved pixels
    ``near`` (source ``(xs, ys)``) each small piece of ink (under
    ``JOIN_PIECE_PX2``, not reaching the window's edge) is joined to the nearest
    other ink within ``JOIN_REACH_PX`` by a one-pixel line, when the picture
    holds ink (``coverage`` > 0) all along it: what the picture shows as joined
    stays joined, and a gap of paper is never bridged.
    """
    cv2 = _cv2()
    from tracer import tips

    u8 = mask.view(np.uint8)
    reach = JOIN_REACH_PX * k
    small = JOIN_PIECE_PX2 * k * k
    joined = 0
    r = int(math.ceil(JOIN_REACH_PX)) + 2
    for x0, y0, x1, y1 in tips.windows_near(near, k, mask.shape, r):
        crop = u8[y0:y1, x0:x1]
        n, lab, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
        if n < 3:
            continue
        bx, by, bw, bh, area = stats.T
        pieces = (bx > 0) & (by > 0) & (bx + bw < crop.shape[1]) & (by + bh < crop.shape[0]) & (area < small)
        pieces[0] = False
        for i in np.flatnonzero(pieces):
            sx0, sy0 = max(int(bx[i] - reach), 0), max(int(by[i] - reach), 0)
            sub = lab[sy0:int(by[i] + bh[i] + reach) + 1, sx0:int(bx[i] + bw[i] + reach) + 1]
            fy, fx = np.nonzero(sub == i)
            oy, ox = np.nonzero((sub != i) & (sub > 0))
            if not len(oy):
                continue
            d2 = (fy[:, None] - oy[None, :]) ** 2 + (fx[:, None] - ox[None, :]) ** 2
            a, b = np.unravel_index(int(np.argmin(d2)), d2.shape)
            if d2[a, b] > reach * reach:
                continue
            p = np.array([fx[a] + sx0, fy[a] + sy0])
            q = np.array([ox[b] + sx0, oy[b] + sy0])
            t = np.linspace(0.0, 1.0, int(math.ceil(math.sqrt(float(d2[a, b])))) + 2)[:, None]
            src = ((p + t * (q - p) + [x0 + 0.5, y0 + 0.5]) // k).astype(np.intp)  # source pixels on the way
            if not (coverage[src[:, 1], src[:, 0]] > 0).all():
                continue  # paper between them in the picture
            cv2.line(crop, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), 1, 1, cv2.LINE_8)
            joined += 1
    return joined


def _repair_starved(mask: np.ndarray, k: int, ys: np.ndarray, xs: np.ndarray, margin: np.ndarray,
                    n: np.ndarray) -> None:
    """Ink conservation where the shared level starved a pixel (the tip of a taper, the end of a hairline).

    Pixel ``(ys[i], xs[i])`` of ``mask`` (``k`` sub-pixels a side) gets exactly
    ``n[i]`` ink sub-pixels, those with the highest ``margin`` above the shared
    level, when that ink touches (8-connected) ink already in ``mask``, so no
    lone speck appears; ``STARVED_PASSES`` rounds, so a tip grows pixel by pixel.
    """
    rows, cols = mask.shape
    blocks = mask.reshape(rows // k, k, cols // k, k)
    kth = -np.sort(-margin, axis=1)[np.arange(len(n)), n - 1]
    exact = (margin >= kth[:, None]).reshape(-1, k, k)
    grown = np.zeros((len(n), k + 2, k + 2), bool)  # the restored ink dilated by one sub-pixel
    for dy in range(3):
        for dx in range(3):
            grown[:, dy:dy + k, dx:dx + k] |= exact
    r = np.arange(-1, k + 1)
    for _ in range(STARVED_PASSES):
        # the mask in a (k+2)² window around each starved pixel (outside the raster: no ink)
        wy, wx = (ys * k)[:, None] + r[None, :], (xs * k)[:, None] + r[None, :]
        inside = ((wy >= 0) & (wy < rows))[:, :, None] & ((wx >= 0) & (wx < cols))[:, None, :]
        win = mask[np.clip(wy, 0, rows - 1)[:, :, None], np.clip(wx, 0, cols - 1)[:, None, :]] & inside
        take = (grown & win).any(axis=(1, 2))
        if not take.any():
            return
        blocks[ys[take], :, xs[take], :] = exact[take]
        keep = ~take
        ys, xs, exact, grown = ys[keep], xs[keep], exact[keep], grown[keep]
        if not len(ys):
            return



#: In a two-level image (ink on paper) partial coverage occurs only along edges. Flat areas of
#: partial coverage (a grey fill, a third colour) cover more than this fraction of the image in
#: images that are not two-level.
FLAT_MIDTONE_FRACTION = 0.002


def has_flat_midtones(coverage: np.ndarray) -> bool:
    """True when the coverage field has flat areas of partial ink (a third tone), not just edges."""
    return _flat_midtones(coverage)[0]


def _flat_midtones(coverage: np.ndarray | D.Lookup, n_pixels: int | None = None) -> tuple[bool, np.ndarray | None]:
    """:func:`has_flat_midtones` and the 3x3 span (dilate - erode) of the coverage it measured.

    ``n_pixels``: the size of the whole field when ``coverage`` is a part of it
    that holds its partial ink (and a pixel more around it). A
    :class:`~tracer.denoise.Lookup` field (span None) is measured on its codes,
    when its table is monotone: the same count.
    """
    n_pixels = coverage.size if n_pixels is None else n_pixels
    k3 = np.ones((3, 3), np.uint8)
    if isinstance(coverage, D.Lookup):
        n = _flat_midtones_lookup(coverage, k3)
        if n is not None:
            return n > FLAT_MIDTONE_FRACTION * n_pixels, None
        coverage = coverage.dense()
    c = np.ascontiguousarray(coverage, dtype=np.float32)
    span = D._span(c, k3)
    flat_mid = (c > 0.15) & (c < 0.85) & (span < 0.1)
    return int(np.count_nonzero(flat_mid)) > FLAT_MIDTONE_FRACTION * n_pixels, span


def _flat_midtones_lookup(c: D.Lookup, kernel: np.ndarray) -> int | None:
    """The count of :func:`_flat_midtones` on a :class:`~tracer.denoise.Lookup` field (None: its table is not monotone).

    The span of a window is ``t[hi] - t[lo]`` for the codes ``hi >= lo`` of its
    dilation and erosion (:func:`tracer.denoise._span_lookup`; the other way round
    for a falling table); for each ``lo`` it grows with ``hi``, so ``span < 0.1``
    is ``hi <= last[lo]``, a lookup and a comparison of the codes.
    """
    cv2 = _cv2()
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


#: Gaussian radius (source pixels) over which the per-pixel ink level is shared by coverage_fill.
SMOOTH_LEVEL_PX = 0.6
#: coverage_fill gives a pixel its exact ink back when the shared level left it less than this fraction.
STARVED_FRACTION = 0.5
#: A clean image that needs only k = 2 is filled at this factor instead when it holds faint detail: ink that
#: the k = 2 fill rounds away (under 1/8 of a pixel) with no solid ink beside it (a hairline, a tip's end).
FAINT_DETAIL_UPSAMPLE = 3


def _has_faint_detail(coverage: np.ndarray | D.Lookup, k: int) -> bool:
    """Whether the coverage fill at ``k`` would give no sub-pixel to a pixel of faint detail.

    Such a pixel holds ink (over 0) that rounds to no sub-pixel at ``k`` and has
    no pixel of half ink or more in its 3 x 3 neighbourhood: the end of a taper
    or a hairline, not the corner of a solid shape that an edge clips (those
    sit next to solid ink and lose nothing the outline needs).
    """
    kk = np.float32(k * k)
    if isinstance(coverage, D.Lookup):
        faint = coverage.test((coverage.table > 0) & (np.rint(coverage.table * kk) == 0))
    else:
        c = np.asarray(coverage, dtype=np.float32)
        faint = (c > 0) & (np.rint(c * kk) == 0)
    if not _cv2().countNonZero(faint.view(np.uint8)):
        return False
    ys, xs = np.divmod(np.flatnonzero(faint), faint.shape[1])  # (as np.nonzero, several times faster)
    win = _window_index(faint.shape, ys, xs, 1)
    near = coverage.take(win) if isinstance(coverage, D.Lookup) else c.ravel().take(win)
    return bool((near.max(axis=1) < 0.5).any())


#: The box-model tips and the joining of cut-off pieces run from this working factor (at 2 the tips changed
#: no png2048 result, and cost 10 ms on a 1080p logo).
MIN_LOOSE_UPSAMPLE = 3
#: Squared ink error (sum over a 5x5 window, in pixels² of coverage) that marks a starved pixel's tip as misplaced.
MISPLACED_INK = 0.03
#: passes of coverage_fill's starved-pixel repair (each one reaches one pixel further along a tip).
STARVED_PASSES = 3


def _subpixel_weights_linear(k: int) -> np.ndarray:
    """(k*k, 9): bilinear weights of a pixel's 3x3 neighbourhood at each of its k x k sub-pixel centres."""
    u = (np.arange(k) + 0.5) / k - 0.5
    w1 = np.clip(1.0 - np.abs(u[:, None] - np.arange(-1, 2)[None, :]), 0.0, None)  # (k, 3)
    return np.einsum("ia,jb->ijab", w1, w1).reshape(k * k, 9)


def isolate(image: Image, *, params: IsolateParams = IsolateParams()) -> Mask:
    """Binary mask of the subject on the working raster (see the module docstring).

    NumPy's BLAS runs on one thread meanwhile: a multi-threaded matrix product
    sums in another order, and the coverage fill breaks ties between equal
    sub-pixels (straight edges) on those last bits, so the mask would depend on
    the machine's thread count. With one thread it is the same everywhere, and
    the same as the CLI's.
    """
    with _one_blas_thread():
        return _isolate(image, params)


def _one_blas_thread():
    """A context that keeps BLAS on one thread (its libraries are found once per process, a millisecond)."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - a declared dependency
        import contextlib

        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    return ThreadpoolController()


def _clip01(c: np.ndarray | D.Lookup) -> np.ndarray | D.Lookup:
    """``np.clip(c, 0.0, 1.0)`` (of the table, for a :class:`~tracer.denoise.Lookup`)."""
    if isinstance(c, D.Lookup):
        return D.Lookup(c.codes, np.clip(c.table, 0.0, 1.0))
    return np.clip(c, 0.0, 1.0)


def _dead_zone(c: np.ndarray | D.Lookup, dead: float) -> np.ndarray | D.Lookup:
    """Values below ``dead`` become paper (0), above ``1 - dead`` ink (1): in place for an array."""
    if isinstance(c, D.Lookup):
        c = D.Lookup(c.codes, c.table.copy())
    t = c.table if isinstance(c, D.Lookup) else c
    t[t < dead] = 0.0
    t[t > 1.0 - dead] = 1.0
    return c


#: Blurs run on columns from a multiple of this (a vector step of OpenCV's filters, unrolled, divides it) ...
BLUR_ALIGN = 64


def _blur_columns(x0: int, x1: int, cols: int) -> tuple[int, int]:
    """Columns ``[a, b)`` around ``[x0, x1)`` of a ``cols`` wide field on which a blur gives the whole rows' values.

    ``a`` is a multiple of :data:`BLUR_ALIGN` and ``b - a`` too, or ``b`` is the field's
    edge: every column then falls in the same step of the row filter as in the whole row.
    """
    a = x0 // BLUR_ALIGN * BLUR_ALIGN
    return a, min(cols, a + -(-(x1 - a) // BLUR_ALIGN) * BLUR_ALIGN)


#: :func:`_blur_near` blurs tiles of this many rows and columns (the tiles around the partial pixels) ...
NEAR_TILE = (32, 56)
#: ... laid out this many a row.
NEAR_TILES_A_ROW = 16


def _blur_taps() -> int:
    """Taps of OpenCV's Gaussian kernel of ``SMOOTH_LEVEL_PX`` for float data (``round(8 sigma + 1) | 1``)."""
    return int(round(8 * SMOOTH_LEVEL_PX + 1)) | 1


def _blur_near(shape: tuple[int, int], ys: np.ndarray, xs: np.ndarray,
               maps: tuple[np.ndarray, ...]) -> list[np.ndarray] | None:
    """For each of ``maps`` (values at the pixels ``(ys, xs)`` of a field of ``shape``, 0 elsewhere), its
    Gaussian blur (``SMOOTH_LEVEL_PX``, as ``cv2.GaussianBlur``) on the 3 x 3 window of each pixel, ``(N, 9)``;
    None when the shortcut does not apply (use the blur of the whole field).

    Only the tiles (:data:`NEAR_TILE`) that hold one of the pixels are blurred:
    each is copied with a margin of the kernel's reach plus one into a packed
    image, side by side, and blurred there (the tiles of a 2048 px logo's
    outline are about a third of its box). OpenCV's filters compute every pixel
    from its neighbours alone, the same wherever it lies in a row made of whole
    vector steps (a test holds them to it), so each value equals the whole
    field's when no pixel lies within that margin of the field's edge (no
    border rule reaches the windows) and the field's rows are whole vector
    steps (a multiple of :data:`BLUR_ALIGN`: no shorter last step); else None.
    """
    cv2 = _cv2()
    h, w = shape
    r = _blur_taps() // 2 + 1  # (the kernel's reach, and the window's)
    if (w % BLUR_ALIGN or not len(ys) or int(ys.min()) < r or int(ys.max()) >= h - r
            or int(xs.min()) < r or int(xs.max()) >= w - r):
        return None
    th, tw = NEAR_TILE
    sh, sw = th + 2 * r, tw + 2 * r  # a slot: the tile and its margin
    per_row = NEAR_TILES_A_ROW
    pw = per_row * sw  # (a multiple of BLUR_ALIGN: whole vector steps)
    if pw % BLUR_ALIGN:
        return None
    ntx = -(-w // tw)
    ty, tx = ys // th, xs // tw
    used = np.zeros((-(-h // th)) * ntx, bool)
    used[ty * ntx + tx] = True
    slot_of = np.cumsum(used) - 1
    n = int(slot_of[-1]) + 1
    rows = -(-n // per_row) * sh

    def packed(yy, xx, tyy, txx):  # flat index in the packed image of pixel (yy, xx) in the slot of tile (tyy, txx)
        s = slot_of[tyy * ntx + txx]
        return ((s // per_row) * sh + (yy - tyy * th + r)) * pw + (s % per_row) * sw + (xx - txx * tw + r)

    at = [packed(ys, xs, ty, tx)]
    where = [np.arange(len(ys))]
    oy, ox = ys - ty * th, xs - tx * tw  # (offsets in the tile)
    for dy, dx in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        # the pixels that lie in the margin of the neighbouring tile (dy, dx), when that tile is blurred
        near = np.ones(len(ys), bool)
        if dy:
            near &= (oy < r) if dy < 0 else (oy >= th - r)
        if dx:
            near &= (ox < r) if dx < 0 else (ox >= tw - r)
        i = np.flatnonzero(near)
        if not len(i):
            continue
        i = i[used[(ty[i] + dy) * ntx + tx[i] + dx]]
        if len(i):
            at.append(packed(ys[i], xs[i], ty[i] + dy, tx[i] + dx))
            where.append(i)
    at, where = np.concatenate(at), np.concatenate(where)
    win = at[:len(ys), None] + (np.arange(-1, 2)[:, None] * pw + np.arange(-1, 2)[None, :]).ravel()
    out = []
    img, blurred = np.zeros((rows, pw), np.float32), np.empty((rows, pw), np.float32)  # (reused for each map)
    for m in maps:
        img.ravel()[at] = m[where]
        cv2.GaussianBlur(img, (0, 0), SMOOTH_LEVEL_PX, dst=blurred)
        out.append(blurred.ravel().take(win))
    return out


def _crop_pad() -> int:
    """Pixels of paper kept around the ink when the clean path works on its box (see :func:`_coverage_fill`).

    Two for the 5 x 5 windows of the bicubic values; one plus the reach of
    the level's blur for the 3 x 3 windows read off it (OpenCV's Gaussian
    kernel for float data has ``round(8 sigma + 1) | 1`` taps). One is
    enough for the rest: islands, holes and attached ink are the same in the
    box when a ring of paper, joined to the border outside it, surrounds the ink.
    """
    return max(2, 1 + _blur_taps() // 2)


def _ink_part(coverage: np.ndarray | D.Lookup) -> tuple[slice, slice]:
    """The box of a coverage's pixels above 0 (the others are 0: it lies in [0, 1]), :func:`_crop_pad` wider.

    Its columns are those of :func:`_blur_columns`, so the coverage fill blurs the part itself.
    """
    h, w = coverage.shape
    x, y, bw, bh = _cv2().boundingRect((coverage > 0).view(np.uint8))
    if not bw:
        return slice(0, h), slice(0, w)
    p = _crop_pad()
    return slice(max(0, y - p), min(h, y + bh + p)), slice(*_blur_columns(max(0, x - p), min(w, x + bw + p), w))


def _isolate(image: Image, params: IsolateParams) -> Mask:
    cv2 = _cv2()
    if params.denoise not in DENOISE_MODES:
        raise InvalidInputError(f"denoise must be one of {', '.join(DENOISE_MODES)}, got {params.denoise!r}")
    field, level, info, grey = _ink_field(image, params)
    h, w = field.shape
    coverage = None
    if "ink" in info and params.threshold is None and abs(info["ink"] - info["paper"]) > 1e-6:
        if grey is None:
            raw = np.subtract(field, info["paper"], dtype=np.float32)
            raw /= info["ink"] - info["paper"]  # (in place: the same float32 values as one expression)
            sigma, span7 = D._noise_sigma(raw)
            lo_raw, hi_raw = cv2.minMaxLoc(raw)[:2]
        else:  # field = table[g8]: the same operations on the table (a lookup of the codes g8)
            g8, table, g8_dec = grey
            raw_t = np.subtract(table, info["paper"], dtype=np.float32)
            raw_t /= info["ink"] - info["paper"]
            raw = D.Lookup(g8, raw_t)
            sigma, span7 = D._noise_sigma(raw, grey=(g8, raw_t), decimated=g8_dec)
            lo_raw, hi_raw = raw.value_range()
        info["noise_sigma"] = round(sigma, 4)
        in_range = lo_raw >= 0.0 and hi_raw <= 1.0
        coverage = raw if in_range else _clip01(raw)  # (clipping in-range values changes nothing)
        if not in_range:
            span7 = None  # measured on other values than the coverage's (clipped)
    else:
        sigma = 0.0
    # Denoise: radius follows the resolution and the measured noise.
    mode = params.denoise
    radius = 0
    if mode == "auto":
        radius = D.filter_radius_px((w, h), sigma)
        mode = "median"
    elif mode != "none":
        radius = max(1, int(round(max(h, w) / 1024.0)))
    if radius > 0 and mode != "none":
        if coverage is not None:
            coverage = D.denoise_field(D.dense(coverage), mode=mode, radius_px=radius)
        field = D.denoise_field(D.dense(field), mode=mode, radius_px=radius)
        info["denoise"] = f"{mode} r={radius}px"
    coarse = field >= level
    bx, by, bw, bh = cv2.boundingRect(coarse.view(np.uint8))  # (the box of the subject)
    if not bw:
        raise EmptyMaskError(f"{image.name}: no subject found after thresholding (try --invert or --threshold N)")
    subject_px = float(max(bw, bh))
    clean = coverage is not None and sigma <= D.NOISY_SIGMA and radius == 0
    k = working_factor(subject_px, params, h * w, max_upsample=MAX_COVERAGE_UPSAMPLE if clean else MAX_UPSAMPLE)
    clean = clean and k >= MIN_COVERAGE_UPSAMPLE and float(k).is_integer()  # -> coverage fill
    if clean:
        # The clean path works on the box of the ink (coverage > 0) and a margin: all else is paper, left as it is.
        part = _ink_part(coverage)
        coverage_full, coverage = coverage, coverage[part]
        midtones, _ = _flat_midtones(coverage, n_pixels=h * w)
        if midtones:
            clean = False  # a third tone (grey fill, colour) is not an edge: the coverage fill would dither it
            info["flat_midtones"] = True
            coverage = coverage_full
    if not clean:
        field = D.dense(field)
        coverage = None if coverage is None else D.dense(coverage)
    # Specks: an area at the output width (mm²) -> source pixels², removed at the source resolution.
    width_mm = params.width_mm if params.width_mm else 50.0
    src_px_mm = width_mm / max(float(bw), 1.0)
    speck_px = params.speck_mm2 / src_px_mm ** 2 if params.speck_mm2 > 0 else 0.0
    if clean:
        # faint values away from the body are artefacts; so is anything within the compression ringing level
        # (the 7x7 spans measured with the noise, when they were measured on these very values)
        dead = max(CLEAN_DEAD_ZONE, min(0.25, 1.5 * D.artefact_level(
            coverage_full, spans=(None, span7), decimated=None if grey is None else grey[2])))
        info["dead_zone"] = round(dead, 3)
        coverage = _dead_zone(D.keep_attached(coverage), dead)
    if speck_px > 0 and sigma <= D.CONTENT_SIGMA:  # texture is left to the complexity budget
        if clean:
            coverage, islands, holes = D.remove_specks(coverage, min_area_px=speck_px)
        else:
            cut, islands, holes = D.remove_specks_mask(coarse, speck_px)
            if islands or holes:  # push the removed pixels well past the level, keeping the grey edges elsewhere
                lo_v, hi_v = float(field.min()), float(field.max())
                field = field.copy()
                field[coarse & ~cut] = min(lo_v, level - 1.0)
                field[cut & ~coarse] = max(hi_v, level + 1.0)
        if islands or holes:
            info["specks_removed"] = (islands, holes)
    has_ink = None  # known without a pass over the working raster (coverage fill), else read off the mask
    if clean:
        kk = int(k)
        if (kk < FAINT_DETAIL_UPSAMPLE and params.upsample is None and h * w * FAINT_DETAIL_UPSAMPLE ** 2 <= params.max_working_px
                and _has_faint_detail(coverage, kk)):
            kk = FAINT_DETAIL_UPSAMPLE  # (the fill at k would drop a hairline's or a tip's faint pixels)
            info["faint_detail"] = True
        mask, has_ink, loose = _coverage_fill(coverage, kk, box=(part[0].start, part[1].start, h, w),
                                              loose=info["dead_zone"] <= CLEAN_DEAD_ZONE)  # (lossless only)
        scale = 1.0 / kk
        info["subpixel"] = "coverage fill"
    elif k > 1:
        kk = int(round(k))
        work = cv2.resize(field, (w * kk, h * kk), interpolation=cv2.INTER_CUBIC)
        mask = work >= level
        scale = 1.0 / kk
        info["subpixel"] = "midpoint cut"
    elif k < 1:
        d = int(round(1.0 / k))
        f = field[: (h // d) * d, : (w // d) * d]
        work = cv2.resize(f, (w // d, h // d), interpolation=cv2.INTER_AREA)
        mask = work >= level
        scale = float(d)
        info["subpixel"] = "reduced"
    else:
        mask, scale = field >= level, 1.0
        info["subpixel"] = "midpoint cut"
    if info["subpixel"] == "midpoint cut":  # (the cut that a blur shortens; k is a whole number here)
        mask = _restore_tips(mask, coverage, int(round(1.0 / scale)), info, params.restore_tips)
    elif (info["subpixel"] == "coverage fill" and info["dead_zone"] <= CLEAN_DEAD_ZONE
          and (len(loose.misplaced[0]) or len(loose.cut_off[0]))):
        # (lossless: each pixel holds its exact ink, the box model)
        whole = np.zeros((h, w), np.float32)  # (the coverage of the whole field: paper outside the part)
        whole[part] = D.dense(coverage)
        if params.restore_tips and len(loose.misplaced[0]):
            from tracer import tips

            mask, n = tips.restore_tips(mask, whole, kk, model="box", near=loose.misplaced, copy=False)
            if n:
                info["tips_restored"] = n
        if len(loose.cut_off[0]):
            n = _join_pieces(mask, kk, loose.cut_off, whole)
            if n:
                info["pieces_joined"] = n
    if not (mask.any() if has_ink is None else has_ink):
        raise EmptyMaskError(f"{image.name}: no subject found after thresholding (try --invert or --threshold N)")
    info.update(working_size=(int(mask.shape[1]), int(mask.shape[0])), working_scale=scale)
    return Mask._adopt(mask, scale=scale * image.scale, source_size=image.source_size, info=info)
