"""Tracing: :class:`Mask` -> :class:`Outlines` (potrace Bézier and corner outlines)."""

from __future__ import annotations

import numpy as np

from tracer import _potrace
from tracer.budget import precheck
from tracer.errors import EmptyMaskError, TooComplexError
from tracer.types import Contour, Mask, Outlines, TraceParams

__all__ = ["trace", "edge_noise_px", "is_noisy", "NOISE_MIN_PX", "LOSSY_DEAD_ZONE", "CLEAN_MEANDER"]


def _contour_arrays(tags: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """potrace curve -> ``(ctrl (m,4,2), is_line (m,))`` with corners split into two lines."""
    n = len(tags)
    prev_end = np.roll(c[:, 2], 1, axis=0)
    corner = tags == _potrace.CORNER
    # Each potrace segment yields 1 cubic (CURVETO) or 2 lines (CORNER).
    counts = np.where(corner, 2, 1)
    m = int(counts.sum())
    ctrl = np.empty((m, 4, 2), dtype=np.float64)
    is_line = np.zeros(m, dtype=bool)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cv = ~corner
    fi = first[cv]
    ctrl[fi, 0] = prev_end[cv]
    ctrl[fi, 1] = c[cv, 0]
    ctrl[fi, 2] = c[cv, 1]
    ctrl[fi, 3] = c[cv, 2]
    fc = first[corner]
    a, v, b = prev_end[corner], c[corner, 1], c[corner, 2]
    for idx, p0, p1 in ((fc, a, v), (fc + 1, v, b)):
        ctrl[idx, 0] = p0
        ctrl[idx, 1] = p0 + (p1 - p0) / 3.0
        ctrl[idx, 2] = p0 + 2.0 * (p1 - p0) / 3.0
        ctrl[idx, 3] = p1
        is_line[idx] = True
    assert n == 0 or m >= n
    return _merge_collinear(ctrl, is_line)


def _merge_collinear(ctrl: np.ndarray, is_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join consecutive straight segments that lie on one line (a square has 4 sides, not 8)."""
    m = len(ctrl)
    if m < 3 or not is_line.any():
        return ctrl, is_line
    d = ctrl[:, 3] - ctrl[:, 0]
    nxt = np.roll(np.arange(m), -1)
    cross = d[:, 0] * d[nxt, 1] - d[:, 1] * d[nxt, 0]
    dot = (d * d[nxt]).sum(axis=1)
    scale = np.hypot(*d.T) * np.hypot(*d[nxt].T)
    joins = is_line & is_line[nxt] & (np.abs(cross) <= 1e-9 * scale) & (dot > 0)
    if not joins.any() or joins.all():
        return ctrl, is_line
    # Rotate so that segment 0 starts a run (its predecessor does not join into it).
    start = int(np.flatnonzero(~joins)[0]) + 1
    order = np.roll(np.arange(m), -start)
    ctrl, is_line, joins = ctrl[order], is_line[order], joins[order]
    keep_start = np.concatenate([[True], ~joins[:-1]])
    first = np.flatnonzero(keep_start)
    last = np.concatenate([first[1:] - 1, [m - 1]])
    out = ctrl[first].copy()
    out_line = is_line[first].copy()
    merged = last > first
    p0, p1 = ctrl[first[merged], 0], ctrl[last[merged], 3]
    out[merged, 0] = p0
    out[merged, 1] = p0 + (p1 - p0) / 3.0
    out[merged, 2] = p0 + 2.0 * (p1 - p0) / 3.0
    out[merged, 3] = p1
    return out, out_line


def trace(mask: Mask, *, params: TraceParams = TraceParams()) -> Outlines:
    """Trace a mask with potrace into closed Bézier outlines with holes and nesting.

    Coordinates are returned in **source pixels** (mask pixels times
    ``mask.scale``), y down. Contours are listed parents first.

    Raises
    ------
    EmptyMaskError
        If potrace finds no outline (everything was below ``turdsize``).
    TooComplexError
        If the outline has more than ``params.max_segments`` segments.
    """
    words = _potrace.pack_bitmap(mask.pixels)  # potrace's layout, packed once for the budget and for potrace
    precheck(mask.pixels, turdsize=params.turdsize, max_segments=params.max_segments,
             words=words, upsampled=mask.scale < 1.0)  # before potrace: bounded cost
    paths = _potrace.trace_bitmap(
        mask.pixels, turdsize=params.turdsize, turnpolicy=params.turnpolicy,
        alphamax=params.alphamax, opttolerance=params.opttolerance, words=words)
    if not paths:
        raise EmptyMaskError("no outline left after tracing (everything was smaller than turdsize)")
    total = sum(int(np.count_nonzero(t == _potrace.CORNER)) + len(t) for _, _, _, t, _ in paths)
    if total > params.max_segments:
        raise TooComplexError(
            f"the traced outline has {total} curve segments, above the budget of {params.max_segments} "
            "(raise --max-segments, or simplify with a larger --turdsize / --min-area)")
    order = sorted(range(len(paths)), key=lambda i: paths[i][2])  # parents before children
    new_index = {old: new for new, old in enumerate(order)}
    contours = []
    for old in order:
        sign, parent, _depth, tags, c = paths[old]
        ctrl, is_line = _contour_arrays(tags, c * mask.scale)
        contours.append(Contour(ctrl=ctrl, is_line=is_line, is_hole=sign < 0,
                                parent=new_index[parent] if parent >= 0 else -1))
    info = {"potrace": _potrace.version(), "segments": total}
    noise = edge_noise_px(mask.info, mask.scale)
    if noise > 0:
        info["noise_px"] = noise
        info["noisy"] = is_noisy(mask.info)
    return Outlines(contours=tuple(contours), source_size=mask.source_size, info=info)


#: On a noisy image (a photo's grain, a compressed image's ringing) the edges meander over the image's
#: blur (``blur_sigma``, source pixels) and at least this many source pixels.
NOISE_MIN_PX = 0.75
#: An image is compressed (lossy) when the isolation's dead zone, 1.5 times the ringing next to its edges
#: (fraction of the ink/paper contrast), is above this: a JPEG at quality 35 rings by 3 to 7 %, while a clean
#: render reduced with a Lanczos filter overshoots by 2 % at most.
LOSSY_DEAD_ZONE = 0.03
#: The trace of a clean image meanders over this many pixels of the working raster: potrace follows the
#: residual staircase of the anti-aliased edge (a third of a source pixel on a 512 px icon, one on a 2048 px
#: render, which works at 2 sub-pixels a pixel).
CLEAN_MEANDER = 2.0


def edge_noise_px(info: dict, working_px: float = 0.0) -> float:
    """The length (source pixels) over which the noise of an image makes its traced edges meander, from the
    isolation's ``info`` (:func:`tracer.isolate`): on an image with pixel noise (``noise_sigma``) or
    compression ringing (a ``dead_zone`` above :data:`LOSSY_DEAD_ZONE`), its blur, at least
    :data:`NOISE_MIN_PX`; on a clean one, :data:`CLEAN_MEANDER` working pixels (``working_px`` source pixels
    each), the staircase of the working raster that the trace still follows."""
    return max(NOISE_MIN_PX, float(info.get("blur_sigma", 0.0))) if is_noisy(info) else CLEAN_MEANDER * working_px


def is_noisy(info: dict) -> bool:
    """Whether the isolation's ``info`` finds pixel noise (``noise_sigma``) or compression ringing (a
    ``dead_zone`` above :data:`LOSSY_DEAD_ZONE`) in the image."""
    return info.get("noise_sigma", 0.0) > 0 or info.get("dead_zone", 0.0) > LOSSY_DEAD_ZONE
