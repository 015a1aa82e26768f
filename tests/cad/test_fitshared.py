"""cad.fitshared: one shared boundary chain fitted with lines, arcs and cubics, its ends kept on the junctions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from cad import geometry
from cad.fitshared import ACCEPT_TOL, ChainFitter, fit_chain, reverse_curve

TOL = 0.01
PX = 0.1


def _arc(r: float, a0: float, a1: float, n: int, c=(0.0, 0.0)) -> np.ndarray:
    t = np.linspace(a0, a1, n)
    return np.c_[c[0] + r * np.cos(t), c[1] + r * np.sin(t)]


def _points(curve, tol=TOL / 4) -> np.ndarray:
    ctrl, is_line, arcs = curve
    return np.vstack([geometry.flatten(ctrl, is_line, tol, arcs), ctrl[-1, 3][None]])


def _distance(curve, chain: np.ndarray) -> float:
    return shapely.hausdorff_distance(shapely.LineString(_points(curve)), shapely.LineString(chain), densify=0.05)


def test_a_half_circle_chain_is_one_arc_ending_on_its_junctions():
    rng = np.random.default_rng(1)
    chain = _arc(10.0, 0.0, math.pi, 80) + rng.normal(0, 0.002, (80, 2))
    (ctrl, is_line, arcs), dev = fit_chain(chain, TOL, px=PX)
    assert len(ctrl) == 1 and arcs is not None and np.isfinite(arcs[0, 2])
    assert np.hypot(*arcs[0, :2]) < 0.02 and arcs[0, 2] == pytest.approx(math.pi, abs=0.01)
    assert np.array_equal(ctrl[0, 0], chain[0]) and np.array_equal(ctrl[-1, 3], chain[-1])
    assert dev <= ACCEPT_TOL * TOL and _distance((ctrl, is_line, arcs), chain) <= ACCEPT_TOL * TOL


def test_a_bent_chain_is_two_lines_meeting_at_the_corner():
    chain = np.r_[np.c_[np.linspace(0, 10, 30), np.zeros(30)], np.c_[np.full(29, 10.0), np.linspace(0, 8, 30)[1:]]]
    (ctrl, is_line, arcs), _ = fit_chain(chain, TOL, px=PX)
    assert len(ctrl) == 2 and is_line.all() and arcs is None
    assert np.allclose(ctrl[0, 3], (10.0, 0.0), atol=1e-6)
    assert np.array_equal(ctrl[0, 0], chain[0]) and np.array_equal(ctrl[-1, 3], chain[-1])


def test_a_closed_circle_is_two_half_turns_from_its_first_point():
    chain = _arc(5.0, 0.3, 0.3 + 2 * math.pi, 120, c=(2.0, -1.0))
    chain[-1] = chain[0]
    (ctrl, is_line, arcs), _ = fit_chain(chain, TOL, px=PX)
    assert len(ctrl) == 2 and arcs is not None and np.isfinite(arcs[:, 2]).all()
    assert np.array_equal(ctrl[0, 0], chain[0]) and np.array_equal(ctrl[-1, 3], chain[0])
    assert abs(geometry.signed_area(ctrl, arcs)) == pytest.approx(math.pi * 25, rel=1e-3)


def test_a_long_curved_chain_keeps_its_ends_and_stays_close():
    # three quarters of a turn, then a straight run: arcs and a line, far fewer than the polyline's edges
    chain = np.r_[_arc(4.0, 0.0, 1.5 * math.pi, 90), np.c_[np.linspace(0, 6, 40)[1:], np.full(39, -4.0)]]
    (ctrl, is_line, arcs), _ = fit_chain(chain, TOL, px=PX)
    assert len(ctrl) <= 4 and is_line.any() and arcs is not None
    assert np.array_equal(ctrl[0, 0], chain[0]) and np.array_equal(ctrl[-1, 3], chain[-1])
    assert np.array_equal(ctrl[1:, 0], ctrl[:-1, 3])
    assert _distance((ctrl, is_line, arcs), chain) <= ACCEPT_TOL * TOL


def test_reversed_curve_traces_the_same_points_the_other_way():
    chain = np.r_[_arc(4.0, 0.0, 1.5 * math.pi, 90), np.c_[np.linspace(0, 6, 40)[1:], np.full(39, -4.0)]]
    curve, _ = fit_chain(chain, TOL, px=PX)
    back = reverse_curve(curve)
    assert np.array_equal(back[0][0, 0], chain[-1]) and np.array_equal(back[0][-1, 3], chain[0])
    assert shapely.LineString(_points(back)).equals_exact(shapely.LineString(_points(curve)[::-1]), 1e-6)
    assert np.array_equal(reverse_curve(back)[2], curve[2], equal_nan=True)


@pytest.mark.parametrize("chain", [
    np.array([[0.0, 0.0], [1.0, 0.0]]),                        # one edge
    np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),            # one point repeated
    np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]),            # there and back
    np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1e-12], [2.0, 0.0]]),
    np.c_[np.linspace(0, 1, 50), 0.3 * (np.arange(50) % 2)],   # a zigzag far beyond the tolerance
    np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]),  # a closed triangle
])
def test_degenerate_chains_are_declined_or_fitted_with_their_ends(chain):
    got = fit_chain(chain, TOL, px=PX)
    if got is not None:
        (ctrl, _, _), dev = got
        assert np.array_equal(ctrl[0, 0], chain[0]) and np.array_equal(ctrl[-1, 3], chain[-1])
        assert dev <= ACCEPT_TOL * TOL


def test_the_fitter_falls_back_where_the_fit_declines():
    calls = []

    def fallback(points, tol):
        calls.append(tol)
        return geometry.fit_arc(points, tol)

    fitter = ChainFitter(px=PX, fallback=fallback)
    zigzag = np.c_[np.linspace(0, 1, 50), 0.3 * (np.arange(50) % 2)]
    ctrl, is_line, arcs = fitter(zigzag, TOL)
    assert fitter.fell_back == 1 and arcs is None and calls[-1] == TOL
    assert np.array_equal(ctrl[0, 0], zigzag[0]) and np.array_equal(ctrl[-1, 3], zigzag[-1])
    fitter(_arc(10.0, 0.0, math.pi, 80), TOL)
    assert fitter.fitted == 1 and 0 < fitter.deviation <= ACCEPT_TOL * TOL


def test_a_fit_pushing_the_subjects_extent_out_is_seen():
    from cad.fitshared import pushes_extent

    box = (0.0, 0.0, 10.0, 10.0)
    chain = np.array([[5.0, 10.0], [0.2, 5.2], [0.0, 5.0], [0.2, 4.8], [5.0, 0.0]])  # a rounded tip on the left side
    tip = np.array([-0.3, 5.0])  # the two sides sharpened into a corner beyond the traced tip

    def line(a, b):
        return np.array([a, a + (b - a) / 3, a + 2 * (b - a) / 3, b])
    sharp = (np.array([line(chain[0], tip), line(tip, chain[-1])]), np.ones(2, bool), None)
    assert pushes_extent(sharp, chain, box, 0.1)       # the tip moved out by 0.3
    assert not pushes_extent(sharp, chain, box, 0.5)   # within the reach
    inside = (0.0 - 5.0, 0.0, 10.0, 10.0)              # the chain does not reach that side: nothing to push
    assert not pushes_extent(sharp, chain, inside, 0.1)


def test_a_wobbling_chain_is_fitted_at_its_own_tolerance_first():
    # a straight boundary that wobbles by more than the tolerance (an edge's ringing): every pixel, a fifth of one
    x = np.arange(0.0, 120.25, 0.5)
    wave = 0.2 * (x % 1.0 - 0.25)
    chain = np.c_[x, 0.05 * x + wave] * PX
    fitter = ChainFitter(px=PX, fallback=geometry.fit_arc)
    ctrl, is_line, _ = fitter(chain, 0.1 * PX)
    assert fitter.fitted == 1 and len(ctrl) <= 2 and is_line.all()
    assert np.array_equal(ctrl[0, 0], chain[0]) and np.array_equal(ctrl[-1, 3], chain[-1])
