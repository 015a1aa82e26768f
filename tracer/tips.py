"""Sharp tips that a blurred picture has blunted, put back from the taper that leads to them.

A camera (or any blur) spreads each edge over a few pixels. Where a wedge of
ink narrows below about ``1.35 sigma`` its blurred peak no longer reaches the
midpoint level, so the midpoint cut ends the wedge early: a thin beak or the
end of a tapering swash comes out several pixels short. The sides of the
wedge further back are placed correctly (a straight edge is not moved by a
symmetric blur), so the lost tip is where those sides meet.

The same holds for a wedge of paper cutting into ink (a V notch, the slit
between two letters): the blur closes its point early. :func:`restore_tips`
finds sharp points of the mask's outline, ink tips and paper wedges alike,
and, for each:

* pairs the two sides at equal arc length from the tip, where they are at
  least ``3 sigma`` apart (there the blur leaves edges in place), and fits the
  taper's width (a line) and centreline (a parabola) against the distance
  along its axis;
* keeps only a real taper cut short: the width grows steadily away from the
  tip, and at the blunted tip it is no more than twice what the blur erases
  (a round or square stroke end is wider, and is left alone); the middle of
  the pair and the point beyond the tip differ (ink inside and paper beyond:
  an ink tip, extended with ink; the other way round: a paper wedge, opened
  with paper, so a slit is never filled);
* tries sharp tips reaching 0 to 1.2 times the extrapolated length, reduces
  each candidate shape to source pixels, blurs it with ``sigma`` and keeps the
  one that differs least from the picture around the tip (0 = leave the cut
  as it is), so the image itself decides how far a tip goes.

``sigma`` is measured from the field itself (the steepest ink-to-paper slope
of a blurred step is ``1 / (sigma sqrt(2 pi))``).

A lossless render has no blur, but its coverage fill (``tracer.isolate``) can
misplace a taper's last ink: the shared level and the bicubic ranking pile it
up on the side of the body, and the pieces past that stop touching it, so the
tip ends a pixel or two short. With ``model="box"`` the same search runs with
the picture's own model, each pixel the exact area of ink it holds (no blur):
the cut's tip ahead of the fitted sides is replaced by a sharp taper (of the
fitted width or narrower), and the taper wins only where it explains the
pixels much better than the cut did (40 % less squared error, and at least
``BOX_MIN_GAIN`` less). It is examined only ``near`` the pixels the fill
starved, and only on lossless pictures (compression noise would pass for
evidence).
"""

from __future__ import annotations

import math

import numpy as np

from tracer.opencv import load_cv2

__all__ = ["estimate_blur", "restore_tips"]

#: The box model (a lossless render: each pixel holds its exact ink): its length scale in source px (the sides
#: are fitted where the taper is 3 of these wide, and it ends in under 2.7 of them).
BOX_SIGMA = 0.5
#: ... and tries tapers of these fractions of the cut's width (a hairline's cut is wider than its ink).
BOX_WIDTHS = (0.5, 0.75, 1.0)
#: A taper replaces the cut's tip only when it leaves at most this fraction of the squared error ...
BOX_KEEP_FRACTION = 0.6
#: ... and takes at least this much (pixels² of coverage) off it.
BOX_MIN_GAIN = 0.03
#: With ``near``: outline is read this many source pixels around them, and a tip within NEAR_TIP_PX is examined.
NEAR_WINDOW_PX = 32
NEAR_TIP_PX = 3.0
#: Below this blur (source pixels) tips survive the midpoint cut to within a fraction of a pixel.
MIN_SIGMA = 0.8
#: A wedge vanishes where its width falls below this many sigmas (blurred peak = 1/2).
VANISH_WIDTH_SIGMAS = 1.35
#: Above this blur (source pixels) the estimate is not trusted (and no tip is restored).
MAX_SIGMA = 8.0
#: Pixels whose 0..1 field changes less than this per pixel are not on an edge.
MIN_EDGE_SLOPE = 0.02
#: Edge pixels are looked for in about this many pixels (every n-th row of a big image) ...
BLUR_SCAN_PX = 1 << 20
#: ... and the blur is measured on at most this many of them.
BLUR_SAMPLES = 65536
#: Largest opening angle of a tip that is restored (degrees).
MAX_TIP_ANGLE = 60.0
#: The taper may be this many times the vanishing width wide at the blunted tip.
WIDTH_MARGIN = 2.0
#: The sides are fitted where the two of them are at least this many sigmas apart.
FIT_WIDTH_SIGMAS = 3.0
#: More sharp points than this on one mask make a texture, not a logo (the corpus's photos have at most 91).
MAX_TIPS = 250
#: Degree of the polynomial that follows the taper's centreline (2: a curving swash).
CENTRE_DEGREE = 2
#: The fit runs over this many times the distance from the blunted tip to where it starts.
SPAN = 1.0
#: Fractions of the extrapolated length tried against the field (0 = as cut), then +-REACH_FINE around the best.
REACH_COARSE = (0.0, 0.3, 0.6, 0.9, 1.2)
REACH_FINE = 0.1


def estimate_blur(field01: np.ndarray) -> float:
    """The blur ``sigma`` (source pixels) of a 0 (paper) .. 1 (ink) field, from its edge slopes."""
    f = np.asarray(field01, dtype=np.float32)
    h, w = f.shape
    if h < 3 or w < 3:
        return 0.0
    stride = max(1, -(-h * w // BLUR_SCAN_PX))  # rows scanned for edge pixels (a big image needs few)
    inner = f[1:-1:stride, 1:-1]
    ys, xs = np.nonzero((inner > 0.4) & (inner < 0.6))
    if ys.size < 50:
        return 0.0
    if ys.size > BLUR_SAMPLES:  # the median of an even subsample
        pick = np.linspace(0, ys.size - 1, BLUR_SAMPLES).astype(np.intp)
        ys, xs = ys[pick], xs[pick]
    ys, xs = ys * stride + 1, xs + 1
    gx = 0.5 * (f[ys, xs + 1] - f[ys, xs - 1])
    gy = 0.5 * (f[ys + 1, xs] - f[ys - 1, xs])
    g = np.hypot(gx, gy)
    g = g[g > MIN_EDGE_SLOPE]  # a flat mid-grey area (a third tone) is not an edge
    if g.size < 50:
        return 0.0
    slope = float(np.median(g))
    if slope <= 1e-6 or slope >= 0.5:
        return 0.0
    # A central difference across a blurred step is erf(1 / (sigma sqrt 2)) / 2, not the slope 1 / (sigma sqrt(2 pi)).
    lo, hi = 1e-3, 1e3
    for _ in range(60):
        sig = math.sqrt(lo * hi)
        if math.erf(1.0 / (sig * math.sqrt(2.0))) / 2.0 > slope:
            lo = sig
        else:
            hi = sig
    sig = math.sqrt(lo * hi)
    return sig if sig <= MAX_SIGMA else 0.0


def _point_at(p: np.ndarray, arc: np.ndarray, seg: np.ndarray, per: float, target: np.ndarray) -> np.ndarray:
    """Points of the closed polyline ``p`` at arc lengths ``target`` (wrapped), linearly interpolated."""
    n = len(p)
    t = np.asarray(target, dtype=np.float64) % per
    j = np.clip(np.searchsorted(arc, t, side="right") - 1, 0, n - 1)
    frac = (t - arc[j]) / np.maximum(seg[j], 1e-12)
    return p[j] + frac[..., None] * (p[(j + 1) % n] - p[j])


def _get(u8: np.ndarray, q: np.ndarray) -> bool:
    x, y = int(round(float(q[0]))), int(round(float(q[1])))
    return 0 <= y < u8.shape[0] and 0 <= x < u8.shape[1] and bool(u8[y, x])


def _centreline(frame, b_from: float, b_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Distances behind the tip from ``b_from`` to ``b_end`` (a point per working pixel) and the centreline there."""
    t, u, v, lateral = frame
    b = np.linspace(b_from, b_end, max(3, int(abs(b_from - b_end)) + 1))
    return b, t - b[:, None] * u + np.polyval(lateral, b)[:, None] * v


def _taper(frame, w_from: float, b_from: float, b_end: float) -> np.ndarray:
    """Outline of a sharp taper, ``w_from`` wide at ``b_from`` behind the blunted tip, with its apex at ``b_end``.

    ``frame = (t, u, v, lateral)``: the blunted tip, the axis towards it, its normal, and the
    centreline's lateral offset as a polynomial in the distance behind ``t``.
    """
    t, u, v, lateral = frame
    b, c = _centreline(frame, b_from, b_end)
    tan = -u + np.polyval(np.polyder(lateral), b)[:, None] * v
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    nrm = np.stack([-tan[:, 1], tan[:, 0]], axis=1)
    half = (w_from * (b - b_end) / max(b_from - b_end, 1e-9))[:, None] * 0.5
    return np.concatenate([c + half * nrm, (c - half * nrm)[::-1]])


def _best_reach(u8, field01, k, sigma, make, blob=None, fill: int = 1):
    """The tip outline ``make(f)`` (or None: leave the cut as it is) whose blurred shape best explains ``field01``.

    ``f`` is ``(fraction of the extrapolated length, fraction of the width)`` (or 0: the cut); the sum
    of squared differences around the tip is searched on a coarse grid, then refined next to its best point.
    ``blob(crop, off)`` (the box model): the working pixels of the cut's own tip,
    which a candidate replaces; it returns ``(outline, those pixels)``, the pixels as
    flat indices of ``u8``. Without it a candidate is added to the cut.
    """
    cv2 = load_cv2()
    kk = int(k)
    pad = int(math.ceil(3.0 * sigma)) + 1 if blob is None else 2
    biggest = make(REACH_COARSE[-1])
    lo = np.floor(biggest.min(axis=0) / kk).astype(int) - pad
    hi = np.ceil(biggest.max(axis=0) / kk).astype(int) + pad + 1
    h, w = field01.shape
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], w), min(hi[1], h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    crop = u8[y0 * kk:y1 * kk, x0 * kk:x1 * kk]
    if crop.shape != ((y1 - y0) * kk, (x1 - x0) * kk):
        return None
    seen = field01[y0:y1, x0:x1].astype(np.float32)
    inner = np.zeros(seen.shape, dtype=bool)  # away from the crop's edges, where the blur sees the border
    b = pad - 1
    inner[b:inner.shape[0] - b, b:inner.shape[1] - b] = True
    off = np.array([x0 * kk, y0 * kk], dtype=np.float64)
    errors: dict[float | tuple[float, float], float] = {}
    base = crop
    cleared = None
    if blob is not None:
        cleared = blob(crop, (x0 * kk, y0 * kk))
        if cleared is None:
            return None
        base = crop.copy()
        base.reshape(-1)[cleared[1]] = 0

    def error(f: float | tuple[float, float]) -> float:
        if f not in errors:
            shape = (crop if f == 0 else base).copy()
            if f != 0:
                cv2.fillPoly(shape, [np.round((make(f) - off) * 16).astype(np.int32)], fill, lineType=cv2.LINE_8, shift=4)
            cover = shape.reshape(y1 - y0, kk, x1 - x0, kk).mean(axis=(1, 3), dtype=np.float32)
            model = cover if blob is not None else cv2.GaussianBlur(cover, (0, 0), sigma)
            errors[f] = float(np.square(model - seen)[inner].sum())
        return errors[f]

    box = blob is not None
    if box and error(0.0) < BOX_MIN_GAIN:
        return None  # the cut explains the picture: no candidate can gain enough
    # candidates (fraction of the length, fraction of the width); the box model does not trust the cut's width either
    grid: list[float | tuple[float, float]] = [0.0] + [(f, w) for f in REACH_COARSE[1:] for w in (BOX_WIDTHS if box else (1.0,))]
    best = min(grid, key=error)
    f0, w0 = best if isinstance(best, tuple) else (0.0, 1.0)
    if best or not box:  # (the blur model also tries a short tip when the cut wins the grid)
        for f in (round(f0 - REACH_FINE, 3), round(f0 + REACH_FINE, 3)):
            if 0.0 < f <= REACH_COARSE[-1]:
                error((f, w0))
    best = min(errors, key=errors.__getitem__)
    if best == 0:
        return None
    if blob is not None and not (errors[0.0] - errors[best] >= BOX_MIN_GAIN and errors[best] <= BOX_KEEP_FRACTION * errors[0.0]):
        return None  # the cut explains the picture about as well: keep it
    if blob is None:
        return make(best)
    # the cleared pixels as flat indices of the whole working raster
    assert cleared is not None  # (set with the box model, else returned above)
    cy, cx = np.divmod(cleared[1], crop.shape[1])
    return make(best), (cy + y0 * kk) * u8.shape[1] + (cx + x0 * kk)


def _band(frame, half: float, b_from: float, b_end: float) -> np.ndarray:
    """Outline of a strip ``2 half`` wide along the taper's centreline, from ``b_from`` behind the tip to ``b_end``."""
    c = _centreline(frame, b_from, b_end)[1]
    return np.concatenate([c + half * frame[2], (c - half * frame[2])[::-1]])


def _tip_blob(frame, half: float, b_from: float, b_end: float):
    """``blob`` for :func:`_best_reach`: the cut's ink in the strip ahead of ``b_from`` that holds the tip."""
    cv2 = load_cv2()

    def blob(crop: np.ndarray, off) -> tuple[np.ndarray, np.ndarray] | None:
        zone = np.zeros_like(crop)
        outline = _band(frame, half, b_from, b_end)
        cv2.fillPoly(zone, [np.round((outline - np.asarray(off, float)) * 16).astype(np.int32)], 1,
                     lineType=cv2.LINE_8, shift=4)
        ink = crop & zone
        n, lab = cv2.connectedComponents(ink, connectivity=8)
        if n < 2:
            return None
        ys, xs = np.nonzero(lab)
        t = frame[0] - np.asarray(off, float)
        j = int(np.argmin((xs - t[0]) ** 2 + (ys - t[1]) ** 2))
        keep = lab == lab[ys[j], xs[j]]
        return outline, np.flatnonzero(keep)

    return blob


def windows_near(near: tuple[np.ndarray, np.ndarray], k: int, shape: tuple[int, ...], r: int = NEAR_WINDOW_PX) -> list[tuple[int, int, int, int]]:
    """Working-raster boxes ``(x0, y0, x1, y1)``, ``r`` source pixels around the source pixels
    ``near = (xs, ys)``, overlapping boxes merged."""
    boxes = [[int(x) - r, int(y) - r, int(x) + r + 1, int(y) + r + 1] for x, y in zip(*near)]
    merged = True
    while merged:  # (a handful of boxes)
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[:] = [min(o[0], b[0]), min(o[1], b[1]), max(o[2], b[2]), max(o[3], b[3])]
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    h, w = shape[0] // k, shape[1] // k
    return [(max(x0, 0) * k, max(y0, 0) * k, min(x1, w) * k, min(y1, h) * k) for x0, y0, x1, y1 in boxes]


def restore_tips(mask: np.ndarray, field01: np.ndarray, k: float, sigma: float | None = None,
                 model: str = "blur", near=None, copy: bool = True) -> tuple[np.ndarray, int]:
    """Extend blunted ink tips of ``mask`` (working raster, ``k`` working px per source px).

    ``field01`` is the source-resolution field the mask was cut from, scaled so
    paper is 0 and ink 1. Returns ``(mask, number of tips restored)``; the mask
    is a new array when a tip was restored (``copy=False``: ``mask`` itself,
    changed in place). A mask with more than ``MAX_TIPS`` sharp points (a
    texture) is returned as it is. ``model="box"``: a lossless render (see the
    module docstring); ``near=(xs, ys)``: only tips within ``NEAR_TIP_PX`` of
    these source pixels are examined.
    """
    box = model == "box"
    if box:
        sigma = BOX_SIGMA
    elif sigma is None:
        sigma = estimate_blur(field01)
    if not box and sigma < MIN_SIGMA:
        return mask, 0
    cv2 = load_cv2()
    s = sigma * k  # blur in working pixels
    vanish = VANISH_WIDTH_SIGMAS * s
    d1 = 2.0 * s + 1.0  # the search for the fitting span starts this far from the tip (arc length, working px)
    d2 = d1 + max(6.0, 4.0 * s)  # the sharpness of a point is the angle to the outline this far on either side
    max_cos = math.cos(math.radians(MAX_TIP_ANGLE))
    u8 = mask.view(np.uint8) if mask.dtype == bool and mask.flags.c_contiguous else np.ascontiguousarray(mask, np.uint8)
    if near is None:
        contours, _ = cv2.findContours(u8, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        focus = None
    else:  # only the outline around these source pixels (in windows of the working raster)
        contours = []
        focus = np.zeros((u8.shape[0] // int(k), u8.shape[1] // int(k)), np.uint8)  # source pixels near them
        focus[near[1], near[0]] = 1
        r = int(math.ceil(NEAR_TIP_PX))
        focus = cv2.dilate(focus, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        for x0, y0, x1, y1 in windows_near(near, int(k), u8.shape):
            part, _ = cv2.findContours(np.ascontiguousarray(u8[y0:y1, x0:x1]), cv2.RETR_LIST,
                                       cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))
            contours.extend(part)
    tips_out = []
    examined = 0
    for cnt in contours:
        p = cnt[:, 0, :].astype(np.float64)
        n = len(p)
        if n < 3:
            continue
        seg = np.linalg.norm(np.roll(p, -1, axis=0) - p, axis=1)
        arc = np.concatenate([[0.0], np.cumsum(seg)])  # arc[i] = length from p[0] to p[i]; arc[n] = perimeter
        per = float(arc[-1])
        if per < 4.0 * d2:
            continue

        def at(base: float, d):
            return _point_at(p, arc, seg, per, base + np.asarray(d, dtype=np.float64))

        if focus is None:
            pts = np.arange(n)
        else:  # (outline points near those pixels only)
            src = (p // k).astype(np.intp)
            pts = np.flatnonzero(focus[np.minimum(src[:, 1], focus.shape[0] - 1), np.minimum(src[:, 0], focus.shape[1] - 1)])
            if pts.size == 0:
                continue
        a = np.zeros_like(p)
        b = np.zeros_like(p)
        a[pts] = at(0.0, arc[pts] - d2) - p[pts]
        b[pts] = at(0.0, arc[pts] + d2) - p[pts]
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        cos = np.full(n, -1.0)
        cos[pts] = np.einsum("ij,ij->i", a[pts], b[pts]) / np.maximum(na[pts] * nb[pts], 1e-9)
        cand = pts[cos[pts] > max_cos]
        if cand.size == 0:
            continue
        # one tip per stretch of the outline: the sharpest point
        taken = np.zeros(n, dtype=bool)
        for i in cand[np.argsort(-cos[cand])]:
            if taken[i]:
                continue
            close = np.abs((arc[:n] - arc[i] + 0.5 * per) % per - 0.5 * per) <= d2
            taken |= close
            # the tip is the outline's extreme point along the wedge's axis (the sharpest vertex may sit to one side)
            u = -(a[i] / max(na[i], 1e-9) + b[i] / max(nb[i], 1e-9))
            idx = np.flatnonzero(close)
            i = int(idx[np.argmax(p[idx] @ u)])
            t = p[i]
            examined += 1
            if examined > MAX_TIPS:
                return mask, 0  # a texture (gravel, foliage), not a logo's tapers: leave the cut alone
            # The sides are fitted where the wedge is wide enough (3 sigma) for the blur to leave them in place.
            dd = np.arange(d1, 8.0 * d2, 1.0)
            chord = np.linalg.norm(at(arc[i], -dd) - at(arc[i], dd), axis=1)
            wide = np.flatnonzero(chord >= FIT_WIDTH_SIGMAS * s)
            if wide.size == 0:
                continue
            d_from = float(dd[wide[0]])
            d_to = d_from + max(6.0, 4.0 * s, SPAN * d_from)  # a long span: the angle decides how far the tip reaches
            # Pair the two sides at equal arc length d from the tip: width w(d) and centre c(d) of the taper.
            ds = np.arange(d_from, d_to + 0.5, 1.0)
            lp, rp = at(arc[i], -ds), at(arc[i], ds)
            width = np.linalg.norm(rp - lp, axis=1)
            centre = 0.5 * (lp + rp)
            # Measure along the taper's own axis (arc length runs longer around the blunted end).
            u = centre[0] - centre[-1]
            u /= max(np.linalg.norm(u), 1e-9)
            v = np.array([-u[1], u[0]])
            back = (t - centre) @ u  # distance behind the blunted tip
            if np.ptp(back) < 1.0:
                continue  # the pairs do not run along an axis (a closed, folded outline): nothing to fit
            slope, w0 = np.polyfit(back, width, 1)
            if slope <= 0.05:
                continue  # parallel or widening towards the tip: a stroke end, not a taper
            if w0 > WIDTH_MARGIN * vanish:
                continue  # at the blunted tip the taper is wider than the blur erases: a real end
            b_apex = -w0 / slope  # where the width reaches 0 (negative: beyond the blunted tip)
            if -b_apex <= 0.5:
                continue
            resid = width - (slope * back + w0)
            if float(np.sqrt(np.mean(resid ** 2))) > 0.35 * s + 0.5:
                continue  # the sides are not a steady taper
            lateral = np.polyfit(back, (centre - t) @ v, CENTRE_DEGREE)
            frame = (t, u, v, lateral)
            b_from = float(back.min())
            mid = centre[0]
            inside, beyond = _get(u8, mid), _get(u8, t + (t - mid) / max(np.linalg.norm(t - mid), 1e-9) * 1.5)
            if inside == beyond:
                continue  # neither an ink tip nor a paper wedge cutting into ink
            paper = not inside  # a paper wedge (a slit, a V notch) that the blur closed early
            if paper and box:
                continue  # (the box model redraws ink tips only)
            w_from = slope * b_from + w0
            blob = None
            if box:  # the cut's own tip is replaced, not added to: a lossless cut already holds the tip's ink
                blob = _tip_blob(frame, 0.5 * w_from + 0.5 * k, b_from, REACH_COARSE[-1] * b_apex - k)
            def make(fw, frame=frame, w_from=w_from, b_from=b_from, b_apex=b_apex):
                """The taper reaching ``f`` of the extrapolated length; ``(f, width fraction)``."""
                f, ws = fw if isinstance(fw, tuple) else (fw, 1.0)
                return _taper(frame, ws * w_from, b_from, f * b_apex)
            reach = _best_reach(u8, field01, k, sigma, make, blob, fill=0 if paper else 1)
            if reach is not None:
                tips_out.append((reach, 0 if paper else 1))
    if not tips_out:
        return mask, 0
    out = u8.copy() if copy else u8
    for tip, value in tips_out:  # one at a time: overlapping polygons in one call could leave their overlap empty
        if box:
            tip, cleared = tip
            out.reshape(-1)[cleared] = 0
        cv2.fillPoly(out, [np.round(tip * 16).astype(np.int32)], value, lineType=cv2.LINE_8, shift=4)
    return out.view(bool), len(tips_out)
