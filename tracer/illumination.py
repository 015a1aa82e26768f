"""Uneven illumination: a smooth paper level fitted to the paper pixels (:class:`BackgroundFit`), and the
luminance with it divided out (:func:`flatten_illumination`)."""

from __future__ import annotations

import functools
import math

import numpy as np

from tracer.levels import otsu
from tracer.opencv import load_cv2

__all__ = ["BackgroundFit", "background_estimate", "flatten_illumination"]


def background_estimate(lum: np.ndarray, dark_ink: bool, *, degree: int = 2) -> np.ndarray:
    """Smooth paper level: a polynomial surface in x, y fitted to the paper pixels only.

    Fitted on a copy reduced to at most 128 px, re-classifying paper and ink
    against the surface three times, so large ink areas never pull the
    paper level down (as a grey closing would).
    """
    return BackgroundFit(lum, dark_ink, degree=degree).surface()


@functools.lru_cache(maxsize=8)
def _design_matrix(sh: int, sw: int, degree: int) -> np.ndarray:
    """(sh*sw, terms) float64 (from float32 pixel coordinates): the monomials x^i y^j of the background fit."""
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xs, ys = (xx + 0.5) / sw - 0.5, (yy + 0.5) / sh - 0.5
    terms = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    A = np.stack([xs.ravel() ** i * ys.ravel() ** j for i, j in terms], axis=1).astype(np.float64)
    A.flags.writeable = False
    return A


class BackgroundFit:
    """The fit of :func:`background_estimate`; its surface in full or on a grid of rows and columns only."""

    def __init__(self, lum: np.ndarray, dark_ink: bool, *, degree: int = 2):
        cv2 = load_cv2()
        h, w = lum.shape
        self.shape, self.degree = (h, w), degree
        d = max(1, int(math.ceil(max(h, w) / 128)))
        small = cv2.resize(lum, (max(2, w // d), max(2, h // d)), interpolation=cv2.INTER_AREA) if d > 1 else lum
        terms = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
        A = _design_matrix(*small.shape, degree)
        v = small.ravel().astype(np.float64)
        t = otsu(small)
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
        assert self.coef is not None  # (only called when the fit has coefficients)
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


def flatten_illumination(lum: np.ndarray, bg: np.ndarray, dark_ink: bool) -> np.ndarray:
    if dark_ink:  # multiplicative light: paper -> 1
        return np.clip(lum / np.maximum(bg, 1e-3), 0, 1).astype(np.float32)
    return np.clip(1.0 - (1.0 - lum) / np.maximum(1.0 - bg, 1e-3), 0, 1).astype(np.float32)
