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

This module runs the stages; each one's work lives in its own module:
:mod:`tracer.strategies` (the ink field; with :mod:`tracer.levels` and
:mod:`tracer.illumination`), :mod:`tracer.denoise` (noise, artefacts,
filters), :mod:`tracer.midtones` (a third tone), :mod:`tracer.fill` (the
coverage fill; with :mod:`tracer.tileblur`), :mod:`tracer.specks` and
:mod:`tracer.tips`.
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

from tracer import denoise, fill, specks, tips
from tracer.errors import EmptyMaskError, InvalidInputError
from tracer.lookup import Lookup, dense
from tracer.midtones import flat_midtones
from tracer.opencv import load_cv2
from tracer.pick import keep_parts
from tracer.strategies import METHODS, ink_field_and_codes
from tracer.types import Image, IsolateParams, Mask

__all__ = ["isolate", "ink_field", "working_factor", "METHODS", "DENOISE_MODES"]

DENOISE_MODES = ("auto", "none", "median", "bilateral")
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


def ink_field(image: Image, params: IsolateParams = IsolateParams()) -> tuple[np.ndarray, float, dict]:
    """Return ``(field, level, info)``: a float32 field where ink is high, and the cut level.

    The subject is ``field >= level``. ``info`` records the decisions taken
    (source of the field, polarity, levels) for the report; when the field is
    a coverage (anti-aliased grey levels), ``info["ink"]`` and
    ``info["paper"]`` are its levels of full ink and bare paper.
    """
    field, level, info, _ = ink_field_and_codes(image, params)
    return dense(field), level, info


def _restore_tips(mask: np.ndarray, coverage: np.ndarray | None, k: int, info: dict, on: bool = True) -> np.ndarray:
    """Give a blurred picture's midpoint cut back the tips the blur took (:mod:`tracer.tips`)."""
    if not on or coverage is None or info.get("flat_midtones"):
        return mask  # no ink/paper coverage to read the blur from (a third tone is not an edge)
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
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    return ThreadpoolController()


def _clip01(c: np.ndarray | Lookup) -> np.ndarray | Lookup:
    """``np.clip(c, 0.0, 1.0)`` (of the table, for a :class:`~tracer.lookup.Lookup`)."""
    if isinstance(c, Lookup):
        return Lookup(c.codes, np.clip(c.table, 0.0, 1.0))
    return np.clip(c, 0.0, 1.0)


def _dead_zone(c: np.ndarray | Lookup, dead: float) -> np.ndarray | Lookup:
    """Values below ``dead`` become paper (0), above ``1 - dead`` ink (1): in place for an array."""
    if isinstance(c, Lookup):
        c = Lookup(c.codes, c.table.copy())
    t = c.table if isinstance(c, Lookup) else c
    t[t < dead] = 0.0
    t[t > 1.0 - dead] = 1.0
    return c


def _isolate(image: Image, params: IsolateParams) -> Mask:
    cv2 = load_cv2()
    if params.denoise not in DENOISE_MODES:
        raise InvalidInputError(f"denoise must be one of {', '.join(DENOISE_MODES)}, got {params.denoise!r}")
    field, level, info, grey = ink_field_and_codes(image, params)
    h, w = field.shape
    coverage = None
    if "ink" in info and params.threshold is None and abs(info["ink"] - info["paper"]) > 1e-6:
        raw: np.ndarray | Lookup
        span7: np.ndarray | None
        if grey is None:
            assert not isinstance(field, Lookup)  # (a Lookup field comes with its grey codes)
            raw = np.subtract(field, info["paper"], dtype=np.float32)
            raw /= info["ink"] - info["paper"]  # (in place: the same float32 values as one expression)
            sigma, span7 = denoise.noise_sigma_and_span(raw)
            lo_raw, hi_raw = cv2.minMaxLoc(raw)[:2]
        else:  # field = table[g8]: the same operations on the table (a lookup of the codes g8)
            g8, table, g8_dec = grey
            raw_t = np.subtract(table, info["paper"], dtype=np.float32)
            raw_t /= info["ink"] - info["paper"]
            raw = Lookup(g8, raw_t)
            sigma, span7 = denoise.noise_sigma_and_span(raw, grey=(g8, raw_t), decimated=g8_dec)
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
        radius = denoise.filter_radius_px((w, h), sigma)
        mode = "median"
    elif mode != "none":
        radius = max(1, int(round(max(h, w) / 1024.0)))
    if radius > 0 and mode != "none":
        if coverage is not None:
            coverage = denoise.denoise_field(dense(coverage), mode=mode, radius_px=radius)
        field = denoise.denoise_field(dense(field), mode=mode, radius_px=radius)
        info["denoise"] = f"{mode} r={radius}px"
    coarse = field >= level
    bx, by, bw, bh = cv2.boundingRect(coarse.view(np.uint8))  # (the box of the subject)
    if not bw:
        raise EmptyMaskError(f"{image.name}: no subject found after thresholding (try --invert or --threshold N)")
    subject_px = float(max(bw, bh))
    clean = coverage is not None and sigma <= denoise.NOISY_SIGMA and radius == 0
    k = working_factor(subject_px, params, h * w, max_upsample=MAX_COVERAGE_UPSAMPLE if clean else MAX_UPSAMPLE)
    clean = clean and k >= MIN_COVERAGE_UPSAMPLE and float(k).is_integer()  # -> coverage fill
    if clean:
        # The clean path works on the box of the ink (coverage > 0) and a margin: all else is paper, left as it is.
        assert coverage is not None  # (the clean path needs the coverage)
        part = fill.ink_part(coverage)
        coverage_full, coverage = coverage, coverage[part]
        midtones, _ = flat_midtones(coverage, n_pixels=h * w)
        if midtones:
            clean = False  # a third tone (grey fill, colour) is not an edge: the coverage fill would dither it
            info["flat_midtones"] = True
            coverage = coverage_full
    if not clean:
        field = dense(field)
        coverage = None if coverage is None else dense(coverage)
    # Specks: an area at the output width (mm²) -> source pixels², removed at the source resolution.
    width_mm = params.width_mm if params.width_mm else 50.0
    src_px_mm = width_mm / max(float(bw), 1.0)
    speck_px = params.speck_mm2 / src_px_mm ** 2 if params.speck_mm2 > 0 else 0.0
    if clean:
        # faint values away from the body are artefacts; so is anything within the compression ringing level
        # (the 7x7 spans measured with the noise, when they were measured on these very values)
        dead = max(CLEAN_DEAD_ZONE, min(0.25, 1.5 * denoise.artefact_level(
            coverage_full, spans=(None, span7), decimated=None if grey is None else grey[2])))
        info["dead_zone"] = round(dead, 3)
        assert coverage is not None
        coverage = _dead_zone(specks.keep_attached(coverage), dead)
    if speck_px > 0 and sigma <= denoise.CONTENT_SIGMA:  # texture is left to the complexity budget
        if clean:
            assert coverage is not None
            coverage, islands, holes = specks.remove_specks(coverage, min_area_px=speck_px)
        else:
            cut, islands, holes = specks.remove_specks_mask(coarse, speck_px)
            if islands or holes:  # push the removed pixels well past the level, keeping the grey edges elsewhere
                assert not isinstance(field, Lookup)  # (made dense off the clean path)
                lo_v, hi_v = float(field.min()), float(field.max())
                field = field.copy()
                field[coarse & ~cut] = min(lo_v, level - 1.0)
                field[cut & ~coarse] = max(hi_v, level + 1.0)
        if islands or holes:
            info["specks_removed"] = (islands, holes)
    has_ink = None  # known without a pass over the working raster (coverage fill), else read off the mask
    if clean:
        assert coverage is not None
        kk = int(k)
        if (kk < fill.FAINT_DETAIL_UPSAMPLE and params.upsample is None and h * w * fill.FAINT_DETAIL_UPSAMPLE ** 2 <= params.max_working_px
                and fill.has_faint_detail(coverage, kk)):
            kk = fill.FAINT_DETAIL_UPSAMPLE  # (the fill at k would drop a hairline's or a tip's faint pixels)
            info["faint_detail"] = True
        mask, has_ink, loose = fill.coverage_fill_detailed(coverage, kk, box=(part[0].start, part[1].start, h, w),
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
        assert not isinstance(coverage, Lookup)  # (made dense off the clean path)
        mask = _restore_tips(mask, coverage, int(round(1.0 / scale)), info, params.restore_tips)
    elif (info["subpixel"] == "coverage fill" and info["dead_zone"] <= CLEAN_DEAD_ZONE
          and (len(loose.misplaced[0]) or len(loose.cut_off[0]))):
        # (lossless: each pixel holds its exact ink, the box model)
        assert coverage is not None
        whole = np.zeros((h, w), np.float32)  # (the coverage of the whole field: paper outside the part)
        whole[part] = dense(coverage)
        if params.restore_tips and len(loose.misplaced[0]):
            mask, n = tips.restore_tips(mask, whole, kk, model="box", near=loose.misplaced, copy=False)
            if n:
                info["tips_restored"] = n
        if len(loose.cut_off[0]):
            n = fill.join_pieces(mask, kk, loose.cut_off, whole)
            if n:
                info["pieces_joined"] = n
    if not (mask.any() if has_ink is None else has_ink):
        raise EmptyMaskError(f"{image.name}: no subject found after thresholding (try --invert or --threshold N)")
    if params.keep != "all":
        mask, found, kept = keep_parts(mask, params.keep)
        info.update(parts=found, parts_kept=kept)
    info.update(working_size=(int(mask.shape[1]), int(mask.shape[0])), working_scale=scale)
    return Mask._adopt(mask, scale=scale * image.scale, source_size=image.source_size, info=info)
