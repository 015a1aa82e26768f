"""A traced circle is a circle, not an ellipse: a trace that wobbles a little more than the circle's own test
allows, but passes the ellipse's, is two arcs when the circle passes that same test."""

from __future__ import annotations

import numpy as np
import pytest

from cad.fit import fit_ring


def _ring(rx: float, ry: float, wobble: float, n: int = 1200) -> np.ndarray:
    """A closed ring of line segments on an ellipse (rx, ry) whose radius wobbles by ``wobble`` about every
    6 px of its length, as cubic control points (n, 4, 2)."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    k = int(round(np.pi * (rx + ry) / 6))  # a wobble every six units of length
    f = 1 + wobble * np.sin(k * t) / max(rx, ry)
    p = np.column_stack([256 + rx * f * np.cos(t), 256 + ry * f * np.sin(t)])
    q = np.roll(p, -1, axis=0)
    return np.stack([p, p + (q - p) / 3, p + 2 * (q - p) / 3, q], axis=1)


@pytest.mark.parametrize("wobble", [0.05, 0.18])
def test_a_wobbling_circle_is_two_arcs(wobble):
    res = fit_ring(_ring(80, 80, wobble), 0.1, px=1.0)
    assert res is not None
    assert len(res.ctrl) == 2
    assert np.isfinite(res.arcs[:, 2]).all()  # arcs, no elliptic rows
    assert res.ellipses is None or not np.isfinite(res.ellipses[:, 5]).any()
    r = np.hypot(res.arcs[:, 0] - 256, res.arcs[:, 1] - 256)
    assert r.max() < 0.05


def test_an_ellipse_stays_an_ellipse():
    res = fit_ring(_ring(90, 70, 0.05), 0.1, px=1.0)
    assert res is not None and len(res.ctrl) == 2
    assert res.ellipses is not None and np.isfinite(res.ellipses[:, 5]).all()
