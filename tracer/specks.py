"""Islands and holes of a coverage field (OpenCV): speck removal, and the hysteresis that keeps faint ink
only where it hangs off solid ink (:func:`keep_attached`).

Speck sizes are areas in source pixels² (derived by the caller from mm² at the requested output width),
never fixed pixel counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tracer.lookup import Lookup, compress, dense, value_range
from tracer.opencv import load_cv2

__all__ = ["remove_specks", "remove_specks_mask", "keep_attached"]


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
    cv2 = load_cv2()
    lookup = isinstance(coverage, Lookup)
    if min_area_px <= 0:
        return (coverage if lookup else np.asarray(coverage, dtype=np.float32)), 0, 0
    if not lookup and np.asarray(coverage).dtype == bool:
        return _remove_specks_binary(np.asarray(coverage), min_area_px)
    c = coverage if lookup else np.asarray(coverage, dtype=np.float32)
    lo, hi = value_range(c)
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
    x, y, bw, bh = load_cv2().boundingRect(np.logical_and(region, ~settled).view(np.uint8))
    return (slice(max(0, y - 1), min(h, y + bh + 1)), slice(max(0, x - 1), min(w, x + bw + 1))), settled


def _in_squares(whole: np.ndarray, side: int) -> np.ndarray:
    """The pixels of ``whole`` (bool) that lie in a ``side x side`` square of its pixels (inside the image)."""
    cv2 = load_cv2()
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
    cv2 = load_cv2()
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
    cv2 = load_cv2()
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
        w = (1.0 - compress(sel, c)) if weights is None else compress(sel, weights)  # same terms, same order
        mass = np.bincount(np.compress(sel, lab), weights=w, minlength=n)
        below |= open_ & (mass < min_area_px)
    return below


def _labels(mask: np.ndarray, connectivity: int) -> tuple[int, np.ndarray]:
    """``(n, labels)`` of a bool mask; 16-bit labels (a fast histogram) while they fit."""
    cv2 = load_cv2()
    u8 = mask.view(np.uint8)
    try:
        return cv2.connectedComponents(u8, connectivity=connectivity, ltype=cv2.CV_16U)
    except cv2.error:  # more than 65535 components
        return cv2.connectedComponents(u8, connectivity=connectivity)


def _class_counts(lab: np.ndarray, n: int, whole: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(pixels, whole pixels, half pixels)`` of each label, ``whole`` within ``half`` (bool images).

    One histogram of ``3 lab + whole + half`` (three classes per label) instead of one per count.
    """
    cv2 = load_cv2()
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
    return n, lab, load_cv2().calcHist([lab], [0], None, [n], [0, n]).ravel().astype(np.int64)


def remove_specks_mask(mask: np.ndarray, min_area_px: float) -> tuple[np.ndarray, int, int]:
    """:func:`remove_specks` on a bool mask, returning a bool mask (``mask`` itself when nothing changed).

    Component areas come from a histogram of the labels: OpenCV's labelling is
    several times faster without its statistics pass, and a hole's only other
    property needed, touching the border, is read off the border's labels.
    """
    cv2 = load_cv2()
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
    cv2 = load_cv2()
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
    cv2 = load_cv2()
    lookup = isinstance(coverage, Lookup)
    c = coverage if lookup else np.asarray(coverage, dtype=np.float32)
    k3 = np.ones((3, 3), np.uint8)
    out = c if isinstance(c, Lookup) else c.copy()
    field: Any  # a Lookup (tables, tests of its codes) exactly when ``coverage`` is one, else an array
    for field, to in ((c, 0.0), (1.0 - c, 1.0)):
        ext = _extremes_lookup(field, c.extremes3()) if isinstance(c, Lookup) else None
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
            assert ext is not None  # (kept is None only with the extremes)
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
    lo, hi, where, _ = load_cv2().minMaxLoc(field.codes, untouched.view(np.uint8))
    return where != (-1, -1) and bool(a_t[int(lo)] or a_t[int(hi)])
