"""Extremes as knots of the fit: the fitted outline keeps the traced bounding box, which sets the part's size
and centre, without turning a sharp corner round or splitting a straight edge."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tracer
from cad.fit import fit_ring
from cad.fit_knots import arc_centre
from cad.fit_rings import EXTREME_TOL, fit_rings
from cad.regions import Ring
from shapes import curve_png, geometric_png


def _contours(tmp_path, png: bytes, name: str):
    path = tmp_path / f"{name}.png"
    path.write_bytes(png)
    return tracer.trace(tracer.isolate(tracer.load_image(path))).contours


def _ring(res) -> Ring:
    return Ring(res.ctrl, res.is_line, True, res.arcs, res.ellipses)


@pytest.mark.parametrize("name", ["egg_small", "superellipse", "superellipse_small"])
def test_extremes_mid_curve_are_kept_exactly(tmp_path, name):
    # turned curves that are not ellipses: fitted piece by piece, their extremes lie inside curved stretches
    c = _contours(tmp_path, curve_png(name), name)[0]
    traced = Ring(c.ctrl, c.is_line).bounds()
    res = fit_ring(c.ctrl, 0.1, px=1.0, extremes=(0, 1, 2, 3))
    assert res is not None and len(res.ctrl) < len(c.ctrl)
    assert np.allclose(_ring(res).bounds(), traced, atol=1e-6)
    # the knots at the extremes are smooth: a cubic passes each one along the axis, so nothing runs past it
    cubic = ~res.is_line & ~np.isfinite(res.arcs[:, 2])
    for side in range(4):
        axis = side % 2
        for k in np.flatnonzero(np.abs(res.ctrl[:, 0, axis] - traced[side]) <= 1e-9):
            for d, is_cubic in ((res.ctrl[k - 1, 3] - res.ctrl[k - 1, 2], cubic[k - 1]),
                                (res.ctrl[k, 1] - res.ctrl[k, 0], cubic[k])):
                if is_cubic:
                    assert abs(d[axis]) <= 1e-9 * np.hypot(*d) + 1e-12


def test_fit_rings_keeps_every_side_of_the_outline(tmp_path):
    contours = _contours(tmp_path, curve_png("superellipse"), "superellipse")
    rings = {i: Ring(c.ctrl, c.is_line) for i, c in enumerate(contours)}
    before = rings[0].bounds()
    n, _ = fit_rings(rings, 0.1, 1.0)
    assert n == len(rings)
    assert np.allclose(rings[0].bounds(), before, atol=EXTREME_TOL * 0.1 + 1e-9)


def test_sharpened_square_corner_still_reaches_the_true_corner(tmp_path):
    # a square turned by 0.5 rad: its corners are its extremes; the trace rounds them, the fit sharpens them
    c = _contours(tmp_path, geometric_png("square"), "square")[0]
    res = fit_ring(c.ctrl, 0.1, px=1.0, extremes=(0, 1, 2, 3))
    assert res is not None and res.is_line.all() and len(res.ctrl) == 4
    true = np.array([(256 + 200 * math.cos(math.pi / 2 * k + 0.5), 256 + 200 * math.sin(math.pi / 2 * k + 0.5))
                     for k in range(4)])
    corners = res.ctrl[:, 0]
    assert np.hypot(*(corners[:, None] - true[None]).transpose(2, 0, 1)).min(axis=0).max() < 0.5
    traced = Ring(c.ctrl, c.is_line).bounds()
    fitted = _ring(res).bounds()
    assert fitted[0] < traced[0] and fitted[1] < traced[1] and fitted[2] > traced[2] and fitted[3] > traced[3]


def test_straight_edges_at_the_extremes_stay_lines(tmp_path):
    # the rounded rectangle's sides are its extremes: fitted as rings of an outline, they stay lines
    contours = _contours(tmp_path, geometric_png("rounded_rectangle"), "rounded_rectangle")
    rings = {i: Ring(c.ctrl, c.is_line) for i, c in enumerate(contours)}
    free = fit_ring(contours[0].ctrl, 0.1, px=1.0)
    assert free is not None
    fit_rings(rings, 0.1, 1.0)
    assert rings[0].n_segments <= len(free.ctrl) + 1 and rings[0].is_line.sum() >= 4  # at most one knot more


def test_arc_tangent_at_a_pin():
    # the arc through (0, 0) and (3, 1), tangent to the y axis at the first: its centre lies on the x axis
    q = np.array([[0.0, 0.0], [0.3, 0.8], [3.0, 1.0]])
    c = arc_centre(q, np.array([0.0, 1.0]), np.zeros(2), (True, False))
    assert c is not None and abs(c[1]) < 1e-12
    assert np.hypot(*c) == pytest.approx(np.hypot(*(q[-1] - c)))
    # both ends pinned to tangents no circle meets: no arc
    assert arc_centre(q, np.array([0.0, 1.0]), np.array([0.0, 1.0]), (True, True)) is None
