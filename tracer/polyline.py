"""Polyline geometry of the centrelines: length, resampling, smoothing, normals, fitted lines and where
lines meet. Points are ``(m, 2)`` arrays in any one frame."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["length", "resample", "smooth", "normals", "fit_line", "meet"]


def length(pts: NDArray) -> float:
    return float(np.hypot(*np.diff(pts, axis=0).T).sum()) if len(pts) > 1 else 0.0


def resample(pts: NDArray, step: float) -> NDArray:
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    if d[-1] <= step:
        return pts[[0, -1]] if len(pts) > 1 else pts
    n = max(int(round(d[-1] / step)), 1)
    s = np.linspace(0.0, d[-1], n + 1)
    return np.stack([np.interp(s, d, pts[:, 0]), np.interp(s, d, pts[:, 1])], axis=1)


def smooth(pts: NDArray, sigma: float, closed: bool) -> NDArray:
    """Gaussian smoothing of a polyline sampled at unit steps (ends kept where they are)."""
    if sigma <= 0 or len(pts) < 5:
        return pts
    r = min(int(math.ceil(2.5 * sigma)), len(pts) - 2)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    if closed:
        ext = np.concatenate([pts[-1 - r:-1], pts, pts[1:r + 1]])
        out = np.stack([np.convolve(ext[:, i], k, mode="valid") for i in range(2)], axis=1)
        return out
    # odd reflection about the ends keeps straight ends straight and the ends fixed
    head = 2 * pts[0] - pts[1:r + 1][::-1]
    tail = 2 * pts[-1] - pts[-r - 1:-1][::-1]
    ext = np.concatenate([head, pts, tail])
    return np.stack([np.convolve(ext[:, i], k, mode="valid") for i in range(2)], axis=1)


def normals(pts: NDArray, closed: bool) -> NDArray:
    if len(pts) < 2:
        return np.zeros_like(pts)
    if closed:
        t = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
        t[0] = t[-1] = pts[1] - pts[-2]
    else:
        t = np.gradient(pts, axis=0)
    n = np.stack([-t[:, 1], t[:, 0]], axis=1)
    return n / np.maximum(np.hypot(*n.T), 1e-12)[:, None]


def fit_line(pts: NDArray) -> tuple[NDArray, NDArray] | None:
    """A point on and the direction of the least-squares line through ``pts``."""
    if len(pts) < 2:
        return None
    c = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - c)
    return c, vt[0]


def meet(lines: list[tuple[NDArray, NDArray]]) -> NDArray | None:
    """The least-squares intersection of lines (point, unit direction); None when they are near parallel."""
    a = np.zeros((2, 2))
    b = np.zeros(2)
    for p, d in lines:
        m = np.eye(2) - np.outer(d, d)
        a += m
        b += m @ p
    if np.linalg.cond(a) > 1e3:
        return None
    return np.linalg.solve(a, b)
