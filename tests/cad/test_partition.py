"""Shared colour boundaries as curves: crossings between fitted arcs are found where they are,
and the fit keeps the polyline exactly near them."""

from __future__ import annotations

import numpy as np

from cad.geometry import fit_arc
from cad.partition import _crossing_arcs, _fit_pinned, _polyline_curve


def _key(p):
    return tuple(map(tuple, p))


def test_crossing_arcs_are_found_at_the_crossing_and_shared_ends_are_not_crossings():
    a = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = np.array([[0.0, 0.0], [1.0, -1.0], [2.0, 0.0]])        # same ends, no crossing
    c = np.array([[0.0, 0.5], [2.0, 0.5]])                     # crosses a twice
    arcs = {_key(p): _polyline_curve(p) for p in (a, b)}
    assert _crossing_arcs(arcs, 1e-3) == {}
    arcs[_key(c)] = _polyline_curve(c)
    out = _crossing_arcs(arcs, 1e-3)
    assert set(out) == {_key(a), _key(c)}
    xs = sorted(round(x, 6) for x, _ in out[_key(c)])
    assert xs == [0.5, 1.5]


def test_pinned_fit_keeps_the_polyline_near_the_pins_and_fits_elsewhere():
    t = np.linspace(0, np.pi, 200)
    p = np.c_[10 * np.cos(t), 10 * np.sin(t)]
    near = np.zeros(len(p), bool)
    near[95:105] = True
    ctrl, is_line, arcs = _fit_pinned(p, near, 0.01)
    assert arcs is None  # Béziers and lines only
    assert np.allclose(ctrl[0, 0], p[0]) and np.allclose(ctrl[-1, 3], p[-1])
    assert np.allclose(ctrl[1:, 0], ctrl[:-1, 3])  # continuous
    ends = {tuple(np.round(q, 9)) for q in ctrl[is_line][:, [0, 3]].reshape(-1, 2)}
    for q in p[95:105]:
        assert tuple(np.round(q, 9)) in ends  # every pinned vertex is a polyline vertex
    free, _ = fit_arc(p, 0.01)
    assert len(ctrl) < len(p) - 1 and len(free) < len(ctrl)  # fitted away from the pins
