"""Ink-field strategies: from an :class:`Image`, a float field where the subject is high, and its cut level.

* **alpha**: the alpha channel, when it carries the shape (:func:`alpha_carries_shape`);
* **luminance** (``"otsu"``, ``"adaptive"``, or a fixed ``threshold``): Otsu separates ink from paper
  (:mod:`tracer.levels`), the polarity is read from the image border, and a drifting paper level is
  flattened (:mod:`tracer.illumination`; always with ``"adaptive"``);
* **colour** (``"color"``): closeness to ``--color`` in CIE Lab;
* **GrabCut** (``"grabcut"``): OpenCV's foreground of a subject photographed in front of a background;
* **pick** (``params.pick``): the colour regions under picked points (:mod:`tracer.pick`).
"""

from __future__ import annotations

import numpy as np

from tracer import denoise, levels
from tracer.colorspace import parse_color, to_lab
from tracer.errors import EmptyMaskError, InvalidInputError
from tracer.illumination import BackgroundFit, background_estimate, flatten_illumination
from tracer.lookup import Lookup
from tracer.opencv import load_cv2
from tracer.pick import pick_field
from tracer.types import Image, IsolateParams

__all__ = ["ink_field_and_codes", "alpha_carries_shape", "border_pixels", "METHODS", "AUTO_FLATTEN_DRIFT",
           "GRABCUT_SIDE", "GRABCUT_ITERATIONS"]

METHODS = ("otsu", "adaptive", "color", "grabcut")

#: Paper level drift (fraction of the contrast) above which the illumination is flattened automatically.
AUTO_FLATTEN_DRIFT = 0.06


def border_pixels(a: np.ndarray) -> np.ndarray:
    """The pixels of the image's border band (a fiftieth of its short side, at least one pixel), ``(n,)`` or
    ``(n, channels)``: the background's sample."""
    h, w = a.shape[:2]
    b = max(1, min(h, w) // 50)
    parts = [a[:b], a[-b:], a[:, :b], a[:, -b:]]
    return np.concatenate([p.reshape(-1, *a.shape[2:]) for p in parts])


def alpha_carries_shape(image: Image) -> bool:
    """Whether the alpha channel outlines the subject: some pixels, but not (nearly) all, are transparent."""
    a = image.alpha
    if a is None:
        return False
    frac = float((a < 0.5).mean())
    return 0.0005 < frac < 0.9995


def ink_field_and_codes(image: Image, params: IsolateParams) -> tuple[np.ndarray | Lookup, float, dict, tuple | None]:
    """:func:`tracer.isolate.ink_field`, and ``(g8, table, decimated g8)`` when the field is ``table[g8]`` (a grey uint8 image;
    the third is :func:`tracer.denoise.decimate_u8` of ``g8``, shared by the statistics), else None.

    A grey 8-bit image's luminance takes 256 values only: its statistics are
    read off the uint8 data (a quarter of the memory traffic) and the field is
    that lookup (a :class:`~tracer.lookup.Lookup`: the same float32 values as
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
    if params.pick:
        return (*pick_field(image, params.pick, params.color_tolerance), None)
    use_alpha = params.use_alpha
    if use_alpha is None:
        use_alpha = params.threshold is None and params.method == "otsu" and alpha_carries_shape(image)
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

    g8 = levels.grey_u8(image) if params.threshold is None else None
    lum = image.luminance()
    if image.alpha is not None:
        # Transparent pixels read as the paper: composite on the border colour.
        lum = lum * image.alpha + (1.0 - image.alpha) * float(np.median(border_pixels(lum)))
    if params.threshold is not None:
        t = float(params.threshold) / 255.0
        dark_ink = True
        if params.method == "adaptive":
            lum = flatten_illumination(lum, background_estimate(lum, True), True)
            info["illumination"] = "flattened"
        info.update(source="luminance", threshold=float(params.threshold), polarity="dark-on-light")
        field, level = 1.0 - lum, 1.0 - t
    else:
        g8_dec = None if g8 is None else denoise.decimate_u8(g8)
        t, ink_lo, paper_hi = levels.ink_paper_levels(lum, name) if g8 is None else levels.ink_paper_levels_u8(g8, name, g8_dec)
        mid = 0.5 * (ink_lo + paper_hi)
        border = float(np.median(border_pixels(lum))) if g8 is None else levels.median_u8(border_pixels(g8), levels.grey_tables()[0])
        dark_ink = border >= mid  # the border is background
        flatten = params.method == "adaptive"
        bg = None
        if not flatten:
            fit = BackgroundFit(lum, dark_ink)  # the drift is read on a 64 x 64 grid of the surface
            lo_bg, hi_bg = np.percentile(fit.sampled(max(1, lum.shape[0] // 64), max(1, lum.shape[1] // 64)), [2, 98])
            flatten = (hi_bg - lo_bg) > AUTO_FLATTEN_DRIFT * (paper_hi - ink_lo)
            info["paper_drift"] = round(float(hi_bg - lo_bg) * 255, 1)
            if flatten:
                bg = fit.surface()
        if flatten:
            if bg is None:
                bg = background_estimate(lum, dark_ink, degree=3)
            lum = flatten_illumination(lum, bg, dark_ink)
            g8 = None  # (no longer a lookup of the grey levels)
            info["illumination"] = "flattened"
            t, ink_lo, paper_hi = levels.ink_paper_levels(lum, name)
            mid = 0.5 * (ink_lo + paper_hi)
        info.update(source="luminance", threshold=round(mid * 255, 2),
                    polarity="dark-on-light" if dark_ink else "light-on-dark",
                    levels=(round(ink_lo * 255, 1), round(paper_hi * 255, 1)))
        if g8 is not None:
            lum = levels.grey_tables()[0]  # the field's table: the same operations on the 256 values, then one lookup
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
        return Lookup(g8, table), level, info, (g8, table, g8_dec)
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
        bgc = np.median(border_pixels(px), axis=0).astype(np.float32)
        px = px * image.alpha[..., None] + (1.0 - image.alpha[..., None]) * bgc
    d = np.linalg.norm(to_lab(px) - to_lab(key), axis=2)
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
    cv2 = load_cv2()
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
