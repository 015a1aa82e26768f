"""Whether two colour clusters are two colours or one colour and its noise, seen on the pixels.

A small cluster near a large one is either a colour of its own (a light grey beside white paper,
two greens of one fruit) or the large colour's noise (JPEG chroma noise, sensor noise, fringes
that passed the flatness test). Distance and size alone cannot tell them apart: the same light
grey is a few hundred pixels at 512 px and many thousand at 2048 px, next to a page that grows as
fast, and its pixels' spread changes with the resampling. The pixels can: along the line from the
large colour to the small one, a colour of its own is a second mode, with a valley of few pixels
between the two, while noise is a tail that thins out steadily away from its colour.
"""

from __future__ import annotations

import numpy as np

__all__ = ["separate_modes", "absorb_satellites"]

#: Bin width (CIE Delta E) of the histogram along the line between the two colours.
BIN_DELTA_E = 0.5
#: Two modes: the fewest pixels in the middle of the line (per bin) are at most this fraction of
#: the most near the small colour.
VALLEY_RATIO = 0.25
#: A cluster with 1/SATELLITE_RATIO of the flat pixels of a colour near it may be that colour's noise.
SATELLITE_RATIO = 20.0
#: Weight of the chroma (a*, b*) difference when telling a colour from a lossy image's noise.
LOSSY_CHROMA_WEIGHT = 0.35
#: The histogram is taken on at most about this many pixels (every s-th).
MAX_SAMPLES = 1 << 18


def separate_modes(samples: np.ndarray, big: np.ndarray, small: np.ndarray) -> bool:
    """True when the Lab ``samples`` (n, 3) form a mode at ``small`` apart from ``big``.

    The samples within a tube around the segment from ``big`` to ``small`` (within half their
    distance of it) are projected onto it; the histogram of the projections must have a valley
    in the middle third (at most VALLEY_RATIO of its highest bin in the last quarter, near ``small``).
    """
    big = np.asarray(big, np.float64)
    axis = np.asarray(small, np.float64) - big
    d = float(np.linalg.norm(axis))
    if d <= 2 * BIN_DELTA_E:
        return False
    step = max(1, int(np.ceil(len(samples) / MAX_SAMPLES)))
    x = np.asarray(samples[::step], np.float64) - big
    u = axis / d
    t = x @ u
    r = np.linalg.norm(x - t[:, None] * u, axis=1)
    near = (t >= 0) & (t <= d) & (r < 0.5 * d)
    n_bins = int(np.ceil(d / BIN_DELTA_E))
    hist, _ = np.histogram(t[near], bins=n_bins, range=(0.0, d))
    hist = np.convolve(hist, np.ones(3) / 3.0, mode="same")  # a little smoothing against empty bins
    peak = float(hist[int(0.75 * n_bins):].max())
    valley = float(hist[int(n_bins / 3):max(int(n_bins / 3) + 1, int(2 * n_bins / 3))].min())
    return peak > 0 and valley <= VALLEY_RATIO * peak


def absorb_satellites(centres: np.ndarray, counts: np.ndarray, samples: np.ndarray, *, max_distance: float,
                      min_mode_distance: float) -> np.ndarray:
    """Merge each cluster that is much smaller (SATELLITE_RATIO) than a neighbour closer than
    ``max_distance`` and forms no mode of its own beside it (:func:`separate_modes`
    on the flat ``samples``) into it, the smallest first. Returns the remaining centres.

    Only a cluster at least ``min_mode_distance`` away with the chroma difference weighted by
    LOSSY_CHROMA_WEIGHT can be a mode of its own: JPEG stores chroma at half resolution and
    quantises it coarser, and its blocks of shifted chroma in a dark or saturated area are modes
    too; a difference in lightness is not made that way."""
    cs, ws = [c.copy() for c in centres], [float(w) for w in counts]
    distinct: set[tuple[int, int]] = set()  # pairs (by centre bytes) found to be two modes
    while len(cs) > 1:
        c = np.array(cs)
        d = np.linalg.norm(c[:, None] - c[None], axis=2)
        np.fill_diagonal(d, np.inf)
        w = np.array(ws)
        cand = (d < max_distance) & (w[None, :] >= SATELLITE_RATIO * w[:, None])  # row i is a satellite of j
        for i, j in zip(*np.nonzero(cand)):
            key = (hash(cs[i].tobytes()), hash(cs[j].tobytes()))
            if key in distinct:
                cand[i, j] = False
            elif _lightness_apart(cs[i], cs[j], min_mode_distance) and separate_modes(samples, cs[j], cs[i]):
                distinct.add(key)
                cand[i, j] = False
        rows = np.flatnonzero(cand.any(axis=1))
        if not len(rows):
            break
        i = int(rows[np.argmin(w[rows])])
        j = int(np.flatnonzero(cand[i])[np.argmin(d[i][cand[i]])])
        cs[j] = (cs[j] * ws[j] + cs[i] * ws[i]) / (ws[i] + ws[j])
        ws[j] += ws[i]
        del cs[i], ws[i]
    return np.array(cs)


def _lightness_apart(a: np.ndarray, b: np.ndarray, distance: float) -> bool:
    """Lab colours ``a`` and ``b`` are ``distance`` apart with the chroma weighted by LOSSY_CHROMA_WEIGHT."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return float(np.hypot(d[0], LOSSY_CHROMA_WEIGHT * np.hypot(d[1], d[2]))) >= distance
