"""The complexity budget, enforced BEFORE potrace runs (hostile or noisy images).

potrace's time and memory grow with the total length of the outlines it
follows (about 140 bytes per unit-pixel edge of boundary, measured), and a
speckled image (salt and pepper, a photo of gravel) has millions of them.
:func:`precheck` bounds both from the mask alone, in a few linear passes:

* ``boundary``: the number of unit pixel edges between subject and
  background on the working raster. More than
  ``BOUNDARY_EDGES_PER_SEGMENT * max_segments`` is refused: this caps
  potrace's memory (about 0.9 GB at the default budget) and time.
* ``min_segments``: a proven LOWER bound on the curve segments potrace will
  produce: every outline potrace keeps has at least
  ``MIN_SEGMENTS_PER_PATH`` segments, and at least one outline exists per
  8-connected component (subject or enclosed background) that holds a
  4-connected piece larger than ``turdsize``. Above ``max_segments`` the
  trace is refused without running it, since it would be refused after.

The exact B-rep (STEP) has a budget of its own, in :mod:`cad.budget`.

:func:`precheck` raises :class:`TooComplexError` with a message that says what to change.
"""

from __future__ import annotations

import numpy as np

from tracer.errors import TooComplexError
from tracer.opencv import load_cv2

__all__ = ["precheck", "boundary_edges", "min_segments", "BOUNDARY_EDGES_PER_SEGMENT", "MIN_SEGMENTS_PER_PATH"]

#: Boundary length (unit pixel edges) allowed per curve segment of the budget.
BOUNDARY_EDGES_PER_SEGMENT = 32
#: Every closed outline potrace returns has at least this many segments (a lone pixel gives 4).
MIN_SEGMENTS_PER_PATH = 2

_HINT = "raise --max-segments, or simplify with a larger --turdsize, --upsample 1 or a smaller --width"
_HINT_NOT_UPSAMPLED = "raise --max-segments, or simplify with a larger --turdsize or a smaller --width"


def boundary_edges(bits: np.ndarray, words: np.ndarray | None = None) -> int:
    """Unit edges between True and False pixels, the image border counting as False.

    ``words``: the same bitmap packed as potrace takes it (``tracer._potrace.pack_bitmap``), when the caller
    has it; the edges are then counted on the words (64 pixels per operation), to the same number.
    """
    if words is not None:
        return _boundary_edges_packed(words)
    b = np.ascontiguousarray(bits, dtype=bool)
    h, w = b.shape
    n = int(np.count_nonzero(b[1:] != b[:-1])) + int(np.count_nonzero(b[:, 1:] != b[:, :-1]))
    n += int(np.count_nonzero(b[0])) + int(np.count_nonzero(b[-1])) + int(np.count_nonzero(b[:, 0]))
    n += int(np.count_nonzero(b[:, -1]))
    return n


def _boundary_edges_packed(words: np.ndarray) -> int:
    """:func:`boundary_edges` of a bitmap packed in rows of unsigned words, leftmost pixel in the top bit,
    bits past the width zero.

    Vertical edges are the set bits of (row XOR next row), plus the set bits of the first and last rows (the
    border). Horizontal ones are the set bits of (row XOR row shifted right by one pixel, a 0 entering on
    the left): each pixel against its left neighbour, the first one against the border; the last pixel's
    edge with the right border is the 0 of the padding after it, or, when the width fills the last word,
    that word's lowest bit.
    """
    w = np.ascontiguousarray(words)
    nbits = 8 * w.itemsize
    n = int(np.bitwise_count(w[1:] ^ w[:-1]).sum(dtype=np.int64))
    n += int(np.bitwise_count(w[0]).sum(dtype=np.int64)) + int(np.bitwise_count(w[-1]).sum(dtype=np.int64))
    shifted = w >> w.dtype.type(1)
    shifted[:, 1:] |= w[:, :-1] << w.dtype.type(nbits - 1)
    shifted ^= w
    n += int(np.bitwise_count(shifted).sum(dtype=np.int64))
    n += int(np.count_nonzero(w[:, -1] & w.dtype.type(1)))
    return n


def _paths_at_least(bits: np.ndarray, turdsize: int, *, enclosed_only: bool) -> int:
    """8-components holding a 4-connected piece of more than ``turdsize`` pixels.

    Each such 8-component yields at least one kept potrace path: potrace joins
    diagonal neighbours of one colour or the other (never both), so an
    8-component is one or more paths, and each path encloses every pixel of
    the 4-connected pieces it contains (its area exceeds ``turdsize``).
    """
    cv2 = load_cv2()
    u8 = bits.view(np.uint8)
    n4, lab4, stats4, _ = cv2.connectedComponentsWithStats(u8, connectivity=4, ltype=cv2.CV_32S)
    big4 = stats4[:, cv2.CC_STAT_AREA] > turdsize
    big4[0] = False  # label 0 is the other colour
    if not big4.any():
        return 0
    n8, lab8 = cv2.connectedComponents(u8, connectivity=8, ltype=cv2.CV_32S)
    keep = np.zeros(n8, bool)
    keep[lab8[big4[lab4]]] = True
    keep[0] = False
    if enclosed_only:  # background touching the border is the outside, not a hole
        for edge in (lab8[0], lab8[-1], lab8[:, 0], lab8[:, -1]):
            keep[edge] = False
    return int(np.count_nonzero(keep))


def min_segments(bits: np.ndarray, turdsize: int) -> int:
    """A lower bound on the number of curve segments potrace will return for ``bits``."""
    b = np.ascontiguousarray(bits, dtype=bool)
    outer = _paths_at_least(b, turdsize, enclosed_only=False)
    holes = _paths_at_least(~b, turdsize, enclosed_only=True)
    return MIN_SEGMENTS_PER_PATH * (outer + holes)


def precheck(bits: np.ndarray, *, turdsize: int, max_segments: int, name: str = "",
             words: np.ndarray | None = None, upsampled: bool = True) -> dict:
    """Refuse (``TooComplexError``) a mask that is over budget, before potrace sees it.

    Returns ``{"boundary_edges": ..., "min_segments": ...}`` (``min_segments``
    is None when the cheap boundary count already shows it cannot matter).
    ``words``: ``bits`` packed for potrace, when the caller has it (see :func:`boundary_edges`).
    ``upsampled``: the mask is finer than the image (else ``--upsample 1`` is no way out).
    """
    prefix = f"{name}: " if name else ""
    hint = _HINT if upsampled else _HINT_NOT_UPSAMPLED
    edges = boundary_edges(bits, words)
    cap = BOUNDARY_EDGES_PER_SEGMENT * max_segments
    if edges > cap:
        raise TooComplexError(
            f"{prefix}the subject's outline is {edges} pixel edges long on the working raster, above the budget "
            f"of {cap} ({BOUNDARY_EDGES_PER_SEGMENT} x --max-segments {max_segments}); the image is probably "
            f"noise or speckle ({hint})")
    # Each path has >= 4 boundary edges, so at most edges/4 paths: skip the counting when even that fits.
    if MIN_SEGMENTS_PER_PATH * (edges // 4) <= max_segments:
        return {"boundary_edges": edges, "min_segments": None}
    low = min_segments(bits, turdsize)
    if low > max_segments:
        raise TooComplexError(
            f"{prefix}the outline would have at least {low} curve segments (separate specks and holes), above "
            f"the budget of {max_segments} ({hint})")
    return {"boundary_edges": edges, "min_segments": low}
