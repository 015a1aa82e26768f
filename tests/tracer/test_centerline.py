"""Centrelines of line art: topology (ends, junctions, branches) and geometry against known drawings."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString

import tracer
from shapes import line_art
from tracer.bezierfit import fit_beziers
from tracer.centerline import centerlines
from tracer.errors import EmptyMaskError
from tracer.skeleton import pixel_graph, thin
from tracer.types import Mask

CIRCLE = [(80 + 45 * np.cos(a), 80 + 45 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 241)]
# name: paths, junctions, endpoints, branches, centrelines (an X is two lines, a T a bar and a stem)
CASES = {
    "line": ([[(25, 40), (135, 120)]], 0, 2, 1, 1),
    "x": ([[(25, 25), (135, 135)], [(25, 135), (135, 25)]], 1, 4, 4, 2),
    # slightly slanted: a drawing of only horizontal and vertical lines with half-covered edge rows has
    # no full-ink pixels for the isolation to read the ink level from
    "t": ([[(20, 35), (140, 38)], [(80, 36.5), (82, 140)]], 1, 3, 3, 2),
    "loop": ([CIRCLE], 0, 0, 1, 1),
    # a single-stroke A: two legs meeting at the apex (a corner), a crossbar making two T junctions;
    # the legs run on through the junctions and the apex as one line
    "letter_a": ([[(30, 140), (80, 20), (130, 140)], [(50.833, 90), (109.167, 90)]], 2, 2, 4, 2),
}


def follow(paths, width: float):
    grey = line_art(paths, width)
    mask = tracer.isolate(tracer.Image(grey), params=tracer.IsolateParams(upsample=2))
    return centerlines(mask)


def distances(a_pts: np.ndarray, geom) -> np.ndarray:
    return shapely.distance(shapely.points(a_pts), geom)


@pytest.mark.parametrize("width", [3.0, 8.0])
@pytest.mark.parametrize("name", list(CASES))
def test_topology_and_geometry(name, width):
    paths, n_junctions, n_ends, n_branches, n_lines = CASES[name]
    cl = follow(paths, width)
    assert (len(cl.junctions), len(cl.endpoints), cl.branches) == (n_junctions, n_ends, n_branches)
    assert len(cl.strokes) == n_lines
    assert [s.closed for s in cl.strokes] == [name == "loop"] * n_lines
    truth = shapely.union_all([LineString(p) for p in paths])
    ours = shapely.union_all([LineString(s.points()) for s in cl.strokes])
    d_ours = distances(np.concatenate([s.points() for s in cl.strokes]), truth)
    d_truth = distances(np.asarray(truth.segmentize(0.5).coords if truth.geom_type == "LineString" else
                                   np.concatenate([g.segmentize(0.5).coords for g in truth.geoms])), ours)
    assert np.percentile(d_ours, 95) <= 0.5 and np.percentile(d_truth, 95) <= 0.5
    assert d_ours.max() <= 1.0 and d_truth.max() <= 1.0
    assert abs(cl.ink_width_px - width) <= 0.35
    # free ends: the centre of the round pen's cap, within a pixel of the drawn end
    true_ends = [p for q in paths for p in (q[0], q[-1]) if name not in ("loop",)
                 and not any(LineString(o).distance(shapely.Point(p)) < 0.01 for o in paths if o is not q)]
    for e in true_ends:
        assert np.hypot(*(cl.endpoints - e).T).min() <= 1.0


def test_junction_where_the_lines_meet():
    cl = follow(CASES["x"][0], 10.0)
    assert np.hypot(*(cl.junctions[0] - (80, 80))) <= 0.5
    cl = follow(CASES["t"][0], 10.0)
    assert np.hypot(*(cl.junctions[0] - (80, 36.5))) <= 1.0


def test_no_spurs_on_thick_lines():
    """A thick short bar thins to a line with forked ends; the forks are pruned."""
    cl = follow([[(40, 80), (120, 80)]], 14.0)
    assert (len(cl.junctions), len(cl.endpoints), cl.branches) == (0, 2, 1)
    assert np.allclose(sorted(cl.endpoints[:, 0]), [40, 120], atol=1.0)


def test_thin_keeps_topology_and_diagonals():
    ring = np.zeros((60, 60), bool)
    yy, xx = np.mgrid[:60, :60]
    ring[(np.hypot(xx - 30, yy - 30) < 22) & (np.hypot(xx - 30, yy - 30) > 12)] = True
    g = pixel_graph(thin(ring))
    assert g.kind == [] and len(g.branches) == 1 and g.branches[0].a == -1  # one loop, no node
    diag = np.zeros((40, 40), bool)
    for i in range(5, 35):  # a two-pixel-wide diagonal, which Zhang-Suen's rules erase
        diag[i, i] = diag[i, i + 1] = True
    skel = thin(diag)
    assert skel.sum() >= 25
    g = pixel_graph(skel)
    assert g.kind.count("end") == 2 and g.kind.count("junction") == 0


def test_empty_and_dot():
    with pytest.raises(EmptyMaskError):
        centerlines(Mask(np.zeros((20, 20), bool)))
    dot = np.zeros((20, 20), bool)
    dot[9:11, 9:11] = True
    cl = centerlines(Mask(dot))
    assert len(cl.strokes) == 1 and len(cl.endpoints) == 1
    assert np.allclose(cl.strokes[0].ctrl[0, 0], (10, 10), atol=1.0)


def test_bezier_fit_within_tolerance():
    a = np.linspace(0, 1.5 * np.pi, 400)
    pts = np.stack([50 * np.cos(a), 30 * np.sin(a)], axis=1)
    ctrl = fit_beziers(pts, 0.05)
    assert 2 <= len(ctrl) <= 12
    u = np.linspace(0, 1, 50)[:, None]
    curve = np.concatenate([(1 - u) ** 3 * c[0] + 3 * (1 - u) ** 2 * u * c[1] + 3 * (1 - u) * u * u * c[2] + u ** 3 * c[3]
                            for c in ctrl])
    assert distances(pts, LineString(curve)).max() <= 0.06
    assert np.allclose(ctrl[0, 0], pts[0]) and np.allclose(ctrl[-1, 3], pts[-1])
