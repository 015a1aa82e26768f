"""The coverage fill: a clean coverage field (anti-aliased ink on paper) onto a ``k`` times finer binary mask.

On a clean field the grey level of a pixel is the fraction of it covered by ink, so each source pixel gets
exactly that many working sub-pixels, placed where the bicubic interpolation of the field is highest
(:func:`coverage_fill`). That keeps the ink of thin strokes, serifs and tips, which a 50 % cut loses. The
fill works on the box of the ink (:func:`ink_part`) and ranks only the partly covered pixels; where the
shared level starved a taper's pixels it repairs them, and reports what is still loose (:class:`Loose`:
tips for :mod:`tracer.tips`, pieces for :func:`join_pieces`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from tracer import tips
from tracer.lookup import Lookup, value_range
from tracer.opencv import load_cv2
from tracer.tileblur import blur_columns, blur_near, blur_taps

__all__ = ["coverage_fill", "coverage_fill_detailed", "ink_part", "join_pieces", "has_faint_detail", "Loose",
           "SMOOTH_LEVEL_PX", "STARVED_FRACTION", "FAINT_DETAIL_UPSAMPLE", "MIN_LOOSE_UPSAMPLE", "MISPLACED_INK",
           "STARVED_PASSES", "JOIN_REACH_PX", "JOIN_PIECE_PX2"]


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
    return coverage_fill_detailed(coverage, k, smooth=smooth)[0]


#: Unsigned integers of k bytes, whose product with 0x0101.. repeats a byte k times.
_SPREAD = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_SPREAD_ONES = {2: 0x0101, 4: 0x01010101, 8: 0x0101010101010101}


def _block_fill(full: np.ndarray, k: int, out: np.ndarray | None = None, y0: int = 0, x0: int = 0) -> np.ndarray:
    """``full`` (bool, rows x cols) repeated into k x k blocks: zeros, then only the box around the True pixels.

    With ``out`` (a zero mask of a larger raster) the blocks go there, ``full`` sitting at pixel ``(y0, x0)``.
    """
    h, w = full.shape
    mask = np.zeros((h * k, w * k), bool) if out is None else out
    c0, r0, bw, bh = load_cv2().boundingRect(full.view(np.uint8))  # (the box of the True pixels)
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


class Loose(NamedTuple):
    """Where the coverage fill left a taper's ink wrong: ``(xs, ys)`` source pixels of the whole field."""

    misplaced: tuple  #: starved pixels whose 5x5 ink still differs from the coverage (a tip to redraw)
    cut_off: tuple  #: starved pixels the repair could not join to the ink (a piece of it may hang loose)


_NONE_LOOSE = Loose(_NONE_STARVED, _NONE_STARVED)


def coverage_fill_detailed(coverage: np.ndarray | Lookup, k: int, *, smooth: bool = True,
                   box: tuple[int, int, int, int] | None = None, loose: bool = False) -> tuple[np.ndarray, bool, Loose]:
    """:func:`coverage_fill`, whether the mask holds any ink (without a pass over the large mask), and
    (with ``loose``, from ``k = MIN_LOOSE_UPSAMPLE``) where the starved pixels (the shared level left them less than
    ``STARVED_FRACTION`` of their ink) still hold their ink wrong (:class:`Loose`): around them the
    mask's ink differs from the coverage by ``MISPLACED_INK`` (squared, 5x5), or the repair could not
    join them to the ink.

    ``coverage`` may be a :class:`~tracer.lookup.Lookup`. ``box = (y0, x0,
    rows, cols)``: ``coverage`` is the part at ``(y0, x0)`` of a ``rows x cols``
    field that is paper (0) elsewhere, with its ink at least :func:`_crop_pad`
    pixels from the part's edges that are not the field's; the mask is then the
    whole field's, the same as from the whole field: every window read lies in
    the part, and the shared level is blurred on columns from a multiple of
    :data:`tracer.tileblur.BLUR_ALIGN` (OpenCV's row filter takes a row in vector-sized steps
    from its start, and its last partial step otherwise, to other last bits),
    on the tiles around the partial pixels only (:func:`blur_near`) when it can.
    """
    cv2 = load_cv2()
    lookup = isinstance(coverage, Lookup)
    c = coverage if lookup else np.ascontiguousarray(coverage, dtype=np.float32)
    lo, hi = value_range(c)
    if not (0.0 <= lo and hi <= 1.0):  # (a copy only when something is out of range)
        c = Lookup(c.codes, np.clip(c.table, 0.0, 1.0)) if isinstance(c, Lookup) else np.clip(c, 0.0, 1.0)
    h, w = c.shape
    y0, x0, rows, cols = box if box is not None else (0, 0, h, w)
    kk = k * k
    if isinstance(c, Lookup):  # the same arithmetic on the table's entries
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
    blocks = (c.take(win5) if isinstance(c, Lookup) else c.ravel().take(win5)) @ w_cubic  # (N, kk) bicubic values
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
    bx0, bx1 = blur_columns(x0, x0 + w, cols)
    near = blur_near((h, bx1 - bx0), ys, gx - bx0, (t_p, np.ones(len(ys), np.float32)), SMOOTH_LEVEL_PX)
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
    return mask, any_ink, Loose((gx[bad], gy[bad]), (gx[left], gy[left]))


#: A piece of ink the fill cut off a taper is joined back across at most this many source pixels ...
JOIN_REACH_PX = 2.0
#: ... when it covers less than this many source pixels² (a bigger piece is an island of its own).
JOIN_PIECE_PX2 = 4.0


def join_pieces(mask: np.ndarray, k: int, near: tuple[np.ndarray, np.ndarray], coverage: np.ndarray) -> int:
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
    cv2 = load_cv2()
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


#: Gaussian radius (source pixels) over which the per-pixel ink level is shared by coverage_fill.
SMOOTH_LEVEL_PX = 0.6
#: coverage_fill gives a pixel its exact ink back when the shared level left it less than this fraction.
STARVED_FRACTION = 0.5
#: A clean image that needs only k = 2 is filled at this factor instead when it holds faint detail: ink that
#: the k = 2 fill rounds away (under 1/8 of a pixel) with no solid ink beside it (a hairline, a tip's end).
FAINT_DETAIL_UPSAMPLE = 3


def has_faint_detail(coverage: np.ndarray | Lookup, k: int) -> bool:
    """Whether the coverage fill at ``k`` would give no sub-pixel to a pixel of faint detail.

    Such a pixel holds ink (over 0) that rounds to no sub-pixel at ``k`` and has
    no pixel of half ink or more in its 3 x 3 neighbourhood: the end of a taper
    or a hairline, not the corner of a solid shape that an edge clips (those
    sit next to solid ink and lose nothing the outline needs).
    """
    kk = np.float32(k * k)
    if isinstance(coverage, Lookup):
        faint = coverage.test((coverage.table > 0) & (np.rint(coverage.table * kk) == 0))
    else:
        c = np.asarray(coverage, dtype=np.float32)
        faint = (c > 0) & (np.rint(c * kk) == 0)
    if not load_cv2().countNonZero(faint.view(np.uint8)):
        return False
    ys, xs = np.divmod(np.flatnonzero(faint), faint.shape[1])  # (as np.nonzero, several times faster)
    win = _window_index(faint.shape, ys, xs, 1)
    near = coverage.take(win) if isinstance(coverage, Lookup) else c.ravel().take(win)
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


def _crop_pad() -> int:
    """Pixels of paper kept around the ink when the clean path works on its box (see :func:`coverage_fill_detailed`).

    Two for the 5 x 5 windows of the bicubic values; one plus the reach of
    the level's blur for the 3 x 3 windows read off it (OpenCV's Gaussian
    kernel for float data has ``round(8 sigma + 1) | 1`` taps). One is
    enough for the rest: islands, holes and attached ink are the same in the
    box when a ring of paper, joined to the border outside it, surrounds the ink.
    """
    return max(2, 1 + blur_taps(SMOOTH_LEVEL_PX) // 2)


def ink_part(coverage: np.ndarray | Lookup) -> tuple[slice, slice]:
    """The box of a coverage's pixels above 0 (the others are 0: it lies in [0, 1]), :func:`_crop_pad` wider.

    Its columns are those of :func:`blur_columns`, so the coverage fill blurs the part itself.
    """
    h, w = coverage.shape
    x, y, bw, bh = load_cv2().boundingRect((coverage > 0).view(np.uint8))
    if not bw:
        return slice(0, h), slice(0, w)
    p = _crop_pad()
    return slice(max(0, y - p), min(h, y + bh + p)), slice(*blur_columns(max(0, x - p), min(w, x + bw + p), w))
